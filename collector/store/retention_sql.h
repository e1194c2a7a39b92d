// Retention's rounds written once over the connection interface both stores give
// (collector/store/sql_database.h). The purge itself stays with each store: how to delete in
// chunks differs (SQLite by key in LIMITed subqueries, PostgreSQL by ctid arrays).
#pragma once

#include "collector/store/retention_store.h"
#include "collector/store/sql_database.h"

namespace vigil::collector {

class SqlRetentionStore : public virtual RetentionStore {
 public:
  Result<bool> claim_retention_round(Timestamp now, Timestamp last_before) override;

 protected:
  // The store's connections.
  virtual SqlDatabase& database() = 0;
};

}  // namespace vigil::collector
