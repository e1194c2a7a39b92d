// An event's agent.* as the collector knows it: the id from the agent's certificate and the host
// it enrolled with. What an agent writes there is never trusted (a compromised server could claim
// another's identity), so ingest stores this instead and every reader (API, console, exports)
// imposes it again on what it shows.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vigil::collector {

inline nlohmann::json agent_identity(const std::string& agent_id, const std::string& host) {
  return nlohmann::json{{"id", agent_id}, {"name", host}};
}

inline void impose_agent_identity(nlohmann::json& event, const std::string& agent_id, const std::string& host) {
  if (!event.is_object()) return;
  event["agent"] = agent_identity(agent_id, host);
}

// The same agent object as JSON text, for ingest, which splices it into the event's bytes.
inline std::string agent_identity_json(const std::string& agent_id, const std::string& host) {
  return agent_identity(agent_id, host).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vigil::collector
