// Incidents written once over the connection interface both stores give
// (collector/store/sql_database.h).
#pragma once

#include "collector/store/incident_store.h"
#include "collector/store/sql_database.h"

namespace vigil::collector {

class SqlIncidentStore : public virtual IncidentStore {
 public:
  Result<int64_t> create_incident(const NewIncident& incident) override;
  Result<std::vector<IncidentRecord>> list_incidents(const IncidentFilter& filter) override;
  Result<std::optional<IncidentRecord>> get_incident(int64_t id) override;
  Result<bool> add_incident_alert(int64_t id, const AlertRecord& alert, const std::string& who, Timestamp now) override;
  Result<bool> change_incident(int64_t id, const IncidentEntry& entry) override;
  Result<bool> claim_overdue_notice(int64_t id, int which) override;

 protected:
  virtual SqlDatabase& database() = 0;
};

}  // namespace vigil::collector
