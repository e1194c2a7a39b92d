// Information systems written once over the connection interface both stores give
// (collector/store/sql_database.h).
#pragma once

#include "collector/store/sql_database.h"
#include "collector/store/system_store.h"

namespace vigil::collector {

class SqlSystemStore : public virtual SystemStore {
 public:
  Result<bool> add_system(const SystemRecord& system) override;
  Result<std::vector<SystemRecord>> list_systems() override;
  Result<std::optional<SystemRecord>> get_system(const std::string& name) override;
  Result<bool> update_system(const std::string& name, std::optional<int> level,
                             std::optional<std::string> description) override;
  Result<bool> set_agent_systems(const std::string& agent_id, const std::vector<std::string>& systems) override;

 protected:
  virtual SqlDatabase& database() = 0;
};

}  // namespace vigil::collector
