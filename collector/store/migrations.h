// The schema's versions, one list for both stores: each numbered once, with what it brings, and
// its SQL for SQLite and for PostgreSQL where the dialects differ (types, identity columns, full
// text). A store applies every version above its own in order, one transaction each, and records
// it in schema_migrations.
#pragma once

#include <span>

namespace vigil::collector {

struct Migration {
  int version = 0;
  const char* what = "";
  const char* sqlite = "";
  const char* postgres = nullptr;  // nullptr: the same text as SQLite's
  const char* sql_for_postgres() const { return postgres ? postgres : sqlite; }
};

// Every version, oldest first; version N is at index N - 1.
std::span<const Migration> migrations();

}  // namespace vigil::collector
