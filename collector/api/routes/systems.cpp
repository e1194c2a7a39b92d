// Information systems: the unit the law gives a security level to, of one agency, served by
// agents (routes in endpoints.cpp; an agent's systems: agents.cpp).
#include <algorithm>

#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "common/log/logging.h"

namespace vigil::collector::routes {

namespace {

constexpr size_t kMaxName = 200;
constexpr size_t kMaxDescription = 2000;

nlohmann::json system_json(const SystemRecord& s) {
  return {{"name", s.name},   {"agency", s.agency},   {"level", s.level}, {"description", s.description},
          {"created", s.created.to_string()}, {"agents", s.agents}};
}

// The body's `description` when it is a clean text; else a complaint.
std::optional<std::string> description_of(const nlohmann::json& body, std::string& complaint) {
  const auto& d = body["description"];
  if (!d.is_string() || d.get<std::string>().size() > kMaxDescription ||
      (!d.get<std::string>().empty() && !clean_name(d.get<std::string>(), kMaxDescription))) {
    complaint = fmt::format("description: at most {} bytes, one line", kMaxDescription);
    return std::nullopt;
  }
  return d.get<std::string>();
}

}  // namespace

std::optional<std::string> check_systems(const Call& c, const std::string& agency, const nlohmann::json& names,
                                         std::vector<std::string>& out) {
  if (!names.is_array() || names.size() > 100) return "systems: a list of at most 100 system names";
  for (const auto& n : names) {
    if (!n.is_string()) return "systems: a list of system names";
    std::string name = n.get<std::string>();
    auto s = c.env.store.get_system(name);
    if (!s) return "store unavailable";
    if (!s->has_value() || !c.caller.sees((*s)->agency)) {
      return fmt::format("no system {} (vigilctl systems create {} --agency A --level N)", name, name);
    }
    if ((*s)->agency != agency) {
      return fmt::format("system {} belongs to agency {}, not {}", name, (*s)->agency, agency);
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return std::nullopt;
}

net::HttpResponse list_systems(const Call& c) {
  std::string agency;
  for (const auto& [k, v] : c.query) {
    if (k != "agency") return error(400, "unknown filter '" + k + "'");
    agency = v;
  }
  auto systems = c.env.store.list_systems();
  if (!systems) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : *systems) {
    if (c.caller.sees(s.agency) && (agency.empty() || s.agency == agency)) out.push_back(system_json(s));
  }
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse get_system(const Call& c) {
  const std::string& name = c.capture("name");
  auto s = c.env.store.get_system(name);
  if (!s) return error(503, "store unavailable");
  if (!s->has_value() || !c.caller.sees((*s)->agency)) return error(404, "no system " + name);
  auto j = system_json(**s);
  auto agents = c.env.store.list_agents();
  if (!agents) return error(503, "store unavailable");
  j["hosts"] = nlohmann::json::array();
  for (const auto& a : *agents) {
    if (std::find(a.systems.begin(), a.systems.end(), name) != a.systems.end()) {
      j["hosts"].push_back({{"id", a.id}, {"host", a.host}, {"status", a.status}, {"last_seen", a.last_seen.to_string()}});
    }
  }
  return {200, j.dump(), "application/json", false};
}

net::HttpResponse create_system(const Call& c) {
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      !body.contains("agency") || !body["agency"].is_string() || !body.contains("level") ||
      !body["level"].is_number_integer()) {
    return error(400, "expected {\"name\": string, \"agency\": string, \"level\": 1-5, \"description\"?: string}");
  }
  SystemRecord s;
  s.name = body["name"].get<std::string>();
  s.agency = body["agency"].get<std::string>();
  s.level = body["level"].get<int>();
  if (!clean_name(s.name, kMaxName)) return error(400, fmt::format("name: 1 to {} characters, one line", kMaxName));
  if (!clean_name(s.agency, 200)) return error(400, "agency: 1 to 200 characters, no control characters");
  if (s.level < 1 || s.level > 5) return error(400, "level: 1 to 5");
  std::string complaint;
  if (body.contains("description")) {
    auto d = description_of(body, complaint);
    if (!d) return error(400, complaint);
    s.description = *d;
  }
  if (!c.caller.sees(s.agency)) return error(403, "you are limited to other agencies");
  // A new agency is created as `tokens create` does.
  if (auto a = c.env.store.ensure_agency(s.agency, c.env.default_framework); !a) return error(503, "store unavailable");
  auto added = c.env.store.add_system(s);
  if (!added) return error(503, "store unavailable");
  if (!*added) return error(409, "system " + s.name + " exists");
  c.env.log->info("system {} (agency '{}', level {}) created by {}", s.name, s.agency, s.level, c.caller.name);
  c.env.audit(c.caller.name, "system.create", s.name, fmt::format("agency {}, level {}", s.agency, s.level));
  auto created = c.env.store.get_system(s.name);
  if (!created || !*created) return error(503, "store unavailable");
  return {201, system_json(**created).dump(), "application/json", false};
}

net::HttpResponse update_system(const Call& c) {
  const std::string& name = c.capture("name");
  auto current = c.env.store.get_system(name);
  if (!current) return error(503, "store unavailable");
  if (!current->has_value() || !c.caller.sees((*current)->agency)) return error(404, "no system " + name);
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || (!body.contains("level") && !body.contains("description"))) {
    return error(400, "expected {\"level\"?: 1-5, \"description\"?: string}");
  }
  std::optional<int> level;
  if (body.contains("level")) {
    if (!body["level"].is_number_integer() || body["level"].get<int>() < 1 || body["level"].get<int>() > 5) {
      return error(400, "level: 1 to 5");
    }
    level = body["level"].get<int>();
  }
  std::optional<std::string> description;
  std::string complaint;
  if (body.contains("description")) {
    description = description_of(body, complaint);
    if (!description) return error(400, complaint);
  }
  auto done = c.env.store.update_system(name, level, description);
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no system " + name);
  std::string what = level ? fmt::format("level {} -> {}", (*current)->level, *level) : "description";
  c.env.log->info("system {}: {} by {}", name, what, c.caller.name);
  c.env.audit(c.caller.name, "system.set", name, what);
  return {200, R"({"changed":true})", "application/json", false};
}

}  // namespace vigil::collector::routes
