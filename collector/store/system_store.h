// Information systems (shared/DESIGN.md "Information systems"): the law gives a security level to a
// system (a public-service portal, a document system), not to a host; a system belongs to one
// agency and runs on the agents that serve it. An agent serves any number of systems of its own
// agency; one serving none keeps its own level ("unassigned").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

struct SystemRecord {
  std::string name;
  std::string agency;
  int level = 1;  // security level 1-5
  std::string description;
  Timestamp created{};
  int64_t agents = 0;  // active agents serving it
};

class SystemStore {
 public:
  virtual ~SystemStore() = default;

  // false when the name is taken (the agency must exist: ensure_agency).
  virtual Result<bool> add_system(const SystemRecord& system) = 0;
  // Every system, by agency then name, with its active agents counted.
  virtual Result<std::vector<SystemRecord>> list_systems() = 0;
  virtual Result<std::optional<SystemRecord>> get_system(const std::string& name) = 0;
  // Changes what is given; false when there is no such system.
  virtual Result<bool> update_system(const std::string& name, std::optional<int> level,
                                     std::optional<std::string> description) = 0;
  // The agent's systems become `systems` (which exist, of its agency: the caller checked);
  // false when the agent is unknown.
  virtual Result<bool> set_agent_systems(const std::string& agent_id, const std::vector<std::string>& systems) = 0;
};

}  // namespace vigil::collector
