// Fleet (groups and bundles) written once over the connection interface both stores give
// (collector/store/sql_database.h).
#pragma once

#include "collector/store/fleet_store.h"
#include "collector/store/sql_database.h"

namespace vigil::collector {

class SqlFleetStore : public virtual FleetStore {
 public:
  Result<bool> add_group(const std::string& name, const std::string& description) override;
  Result<std::vector<GroupRecord>> list_groups() override;
  Result<std::optional<GroupRecord>> get_group(const std::string& name) override;
  Result<bool> set_agent_group(const std::string& agent_id, const std::string& group) override;
  Result<BundleRecord> add_bundle(const std::string& group, const MakeBundle& make) override;
  Result<int64_t> bundle_version(const std::string& group) override;
  Result<std::optional<BundleRecord>> current_bundle(const std::string& group) override;
  Result<std::optional<BundleRecord>> get_bundle(const std::string& group, int64_t version) override;
  Result<std::vector<BundleRecord>> list_bundles(const std::string& group) override;
  Result<void> set_bundle_status(const std::string& agent_id, const BundleStatus& status,
                                 const std::string& agent_version) override;

 protected:
  virtual SqlDatabase& database() = 0;
};

}  // namespace vigil::collector
