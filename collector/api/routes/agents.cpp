// Agents: list, one, revoke, security level (routes in endpoints.cpp).
#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "common/log/logging.h"

namespace vigil::collector::routes {

namespace {

nlohmann::json agent_json(const AgentRecord& a) {
  return {{"id", a.id},           {"agency", a.agency},
          {"level", a.level},     {"host", a.host},
          {"version", a.version}, {"status", a.status},
          {"enrolled", a.enrolled.to_string()}, {"last_seen", a.last_seen.to_string()},
          {"group", a.group},     {"bundle_version", a.bundle_group == a.group ? a.bundle_version : 0},
          {"bundle_error", a.bundle_error}, {"systems", a.systems}};
}

// The agent of the path's {id} when the caller sees its agency: what lies outside the caller's
// agencies does not exist for the caller. Else the refusal.
struct Found {
  std::optional<AgentRecord> agent;
  net::HttpResponse refusal;
};
Found find_agent(const Call& c) {
  const std::string& id = c.capture("id");
  auto agent = c.env.store.get_agent(id);
  if (!agent) return {std::nullopt, error(503, "store unavailable")};
  if (!agent->has_value() || !c.caller.sees((*agent)->agency)) return {std::nullopt, error(404, "no agent " + id)};
  return {std::move(*agent), {}};
}

}  // namespace

net::HttpResponse list_agents(const Call& c) {
  auto agents = c.env.store.list_agents();
  if (!agents) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : *agents) {
    if (c.caller.sees(a.agency)) out.push_back(agent_json(a));
  }
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse get_agent(const Call& c) {
  Found found = find_agent(c);
  if (!found.agent) return found.refusal;
  return {200, agent_json(*found.agent).dump(), "application/json", false};
}

net::HttpResponse revoke_agent(const Call& c) {
  Found found = find_agent(c);
  if (!found.agent) return found.refusal;
  const std::string& id = c.capture("id");
  auto done = c.env.store.revoke_agent(id);
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no agent " + id);
  c.env.log->info("agent {} revoked by {}", id, c.caller.name);
  c.env.audit(c.caller.name, "agent.revoke", id, found.agent->agency);
  return {200, R"({"revoked":true})", "application/json", false};
}

net::HttpResponse set_agent_level(const Call& c) {
  Found found = find_agent(c);
  if (!found.agent) return found.refusal;
  const std::string& id = c.capture("id");
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("level") || !body["level"].is_number_integer() ||
      body["level"].get<int>() < 1 || body["level"].get<int>() > 5) {
    return error(400, "expected {\"level\": 1-5}");
  }
  const int level = body["level"].get<int>();
  auto done = c.env.store.set_agent_level(id, level);
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no agent " + id);
  c.env.log->info("agent {}: security level set to {} by {}", id, level, c.caller.name);
  c.env.audit(c.caller.name, "agent.level", id, fmt::format("{} -> {}", found.agent->level, level));
  return {200, R"({"changed":true})", "application/json", false};
}

// {group} -> the agent moves to the group; it fetches the group's bundle at its next heartbeat.
net::HttpResponse set_agent_group(const Call& c) {
  Found found = find_agent(c);
  if (!found.agent) return found.refusal;
  const std::string& id = c.capture("id");
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("group") || !body["group"].is_string()) {
    return error(400, "expected {\"group\": NAME}");
  }
  const std::string group = body["group"].get<std::string>();
  auto g = c.env.store.get_group(group);
  if (!g) return error(503, "store unavailable");
  if (!g->has_value()) return error(404, "no group " + group + " (vigilctl groups create " + group + ")");
  if (auto refused = group_not_managed(c, group)) return *refused;
  auto done = c.env.store.set_agent_group(id, group);
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no agent " + id);
  c.env.log->info("agent {}: moved to group {} by {}", id, group, c.caller.name);
  c.env.audit(c.caller.name, "agent.group", id, fmt::format("{} -> {}", found.agent->group, group));
  return {200, R"({"changed":true})", "application/json", false};
}

// {systems: [NAME...]} -> the agent's systems are these.
net::HttpResponse set_agent_systems(const Call& c) {
  Found found = find_agent(c);
  if (!found.agent) return found.refusal;
  const std::string& id = c.capture("id");
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("systems")) {
    return error(400, "expected {\"systems\": [NAME...]}");
  }
  std::vector<std::string> systems;
  if (auto complaint = check_systems(c, found.agent->agency, body["systems"], systems)) {
    return error(*complaint == "store unavailable" ? 503 : 400, *complaint);
  }
  auto done = c.env.store.set_agent_systems(id, systems);
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no agent " + id);
  std::string list = systems.empty() ? "(none)" : join_lines(systems);
  std::replace(list.begin(), list.end(), '\n', ',');
  c.env.log->info("agent {}: systems set to {} by {}", id, list, c.caller.name);
  c.env.audit(c.caller.name, "agent.systems", id, list);
  return {200, nlohmann::json({{"systems", systems}}).dump(), "application/json", false};
}

}  // namespace vigil::collector::routes
