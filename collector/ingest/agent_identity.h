// An event's agent.* as the collector knows it: the id from the agent's certificate and the host
// it enrolled with. What an agent writes there is never trusted (a compromised server could claim
// another's identity), so ingest stores this instead and every reader (API, console, exports)
// imposes it again on what it shows.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vigil::collector {

inline void impose_agent_identity(nlohmann::json& event, const std::string& agent_id, const std::string& host) {
  if (!event.is_object()) return;
  event["agent"] = nlohmann::json{{"id", agent_id}, {"name", host}};
}

}  // namespace vigil::collector
