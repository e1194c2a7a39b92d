// Triage written once over the connection interface both stores give
// (collector/store/sql_database.h): an alert's changes with their history, and alert tallies.
// Listing and counting alerts, and event search, stay with each store: their SQL is shaped for
// each planner (collector/store/sqlite, collector/store/postgres).
#pragma once

#include "collector/store/sql_database.h"
#include "collector/store/triage_store.h"

namespace vigil::collector {

class SqlTriageStore : public virtual TriageStore {
 public:
  Result<std::vector<AlertChange>> alert_history(int64_t id) override;
  Result<bool> change_alert(int64_t id, const AlertChange& change) override;
  Result<std::vector<AlertTally>> alert_tally(const std::string& agency, Timestamp since) override;
  Result<std::array<uint64_t, 6>> open_alert_counts() override;

 protected:
  // The store's connections.
  virtual SqlDatabase& database() = 0;
};

}  // namespace vigil::collector
