// Compliance written once over the connection interface both stores give
// (collector/store/sql_database.h): the latest result of every check and its history, the rule
// that decides between them, and waivers.
#pragma once

#include <string>

#include "collector/store/compliance_store.h"
#include "collector/store/ingest_store.h"
#include "collector/store/sql_database.h"

namespace vigil::collector {

// A compliance result as it arrives, inside the transaction storing its batch: the newest result
// of a check wins (an older one delivered late changes nothing) and a change of result goes to
// the check's history.
Result<void> store_compliance_result(SqlConnection& c, const std::string& agent_id, const IncomingRecord& record);

class SqlComplianceStore : public virtual ComplianceStore {
 public:
  Result<std::vector<ComplianceRow>> compliance_latest(const std::string& agency) override;
  Result<std::vector<ComplianceRow>> compliance_as_of(const std::string& agency, Timestamp at) override;
  Result<int64_t> add_waiver(const WaiverRecord& waiver) override;
  Result<std::vector<WaiverRecord>> list_waivers(const WaiverFilter& filter) override;
  Result<std::optional<WaiverRecord>> get_waiver(int64_t id) override;
  Result<bool> expire_waiver(int64_t id, Timestamp when, const std::string& who) override;

 protected:
  // The store's connections.
  virtual SqlDatabase& database() = 0;
};

}  // namespace vigil::collector
