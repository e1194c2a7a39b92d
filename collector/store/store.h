// Storage behind interfaces by concern (shared/DESIGN.md "Collector"): SQLite by default,
// PostgreSQL for several collectors sharing one database. Every statement is parameterised. A part
// of the collector takes the interface of its concern; the whole store is all of them.
#pragma once

#include <memory>
#include <string>

#include "collector/store/agent_store.h"
#include "collector/store/compliance_store.h"
#include "collector/store/fleet_store.h"
#include "collector/store/identity_store.h"
#include "collector/store/incident_store.h"
#include "collector/store/ingest_store.h"
#include "collector/store/retention_store.h"
#include "collector/store/system_store.h"
#include "collector/store/triage_store.h"
#include "common/result.h"

namespace vigil::collector {

// The bases are virtual so that a concern written once over the connection interface (e.g.
// SqlIdentityStore, collector/store/identity_sql.h) implements its part of every store.
class Store : public virtual AgentStore,
              public virtual IdentityStore,
              public virtual IngestStore,
              public virtual TriageStore,
              public virtual ComplianceStore,
              public virtual RetentionStore,
              public virtual FleetStore,
              public virtual IncidentStore,
              public virtual SystemStore {
 public:
  ~Store() override = default;

  // Brings the schema to the current version (idempotent; versioned migrations).
  virtual Result<void> migrate() = 0;
  virtual Result<int> schema_version() = 0;
};

// How SQLite syncs: `full` (the collector's) puts every commit on disk before it returns, so a
// batch acknowledged to an agent survives power loss; `normal` may lose the last commits then and
// exists for the store benchmark to show what `full` costs.
enum class SqliteSync { full, normal };

// Opens (creating, 0600) an SQLite database in WAL mode and migrates it. Its full-text index is a
// second database file beside it, sqlite_fts_path(path), written by a thread of its own
// (collector/store/sqlite/fts_indexer.h): a copy or backup of the store takes both files.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, SqliteSync sync = SqliteSync::full);
// The full-text index's file of the SQLite database at `path`: PATH-fts.
std::string sqlite_fts_path(const std::string& path);

struct PostgresOptions {
  std::string dsn;  // libpq connection string; may hold a password, so it is never logged
  // Schema the tables live in (created when missing); empty: the server's search_path.
  std::string schema;
  int connections = 4;  // the pool the collector's threads share
};

// Connects to PostgreSQL (libpq) and migrates the schema under an advisory lock, so several
// collectors starting together against one database do not race.
Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options);
// Drops a schema and everything in it (tests make one per test).
Result<void> drop_postgres_schema(const std::string& dsn, const std::string& schema);

}  // namespace vigil::collector

