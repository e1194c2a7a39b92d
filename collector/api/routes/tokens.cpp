// Enrollment tokens: what an agent presents once to get its certificate (routes in endpoints.cpp).
#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::collector::routes {

net::HttpResponse create_enrollment_token(const Call& c) {
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("agency") || !body["agency"].is_string() ||
      (body.contains("level") && !body["level"].is_number_integer()) ||
      (!body.contains("level") && !body.contains("systems"))) {
    return error(400, "expected {\"agency\": string, \"level\": 1-5, \"systems\"?: [NAME...], \"ttl_hours\": integer}");
  }
  std::string agency = body["agency"].get<std::string>();
  int level = body.value("level", 0);
  if (body.contains("ttl_hours") && !body["ttl_hours"].is_number_integer()) return error(400, "ttl_hours: 1 to 720");
  int64_t ttl_hours = body.value("ttl_hours", int64_t{24});
  if (!clean_name(agency, 200)) return error(400, "agency: 1 to 200 characters, no control characters");
  std::vector<std::string> systems;
  if (body.contains("systems")) {
    if (auto complaint = check_systems(c, agency, body["systems"], systems)) {
      return error(*complaint == "store unavailable" ? 503 : 400, *complaint);
    }
    // Without a level of its own, the agent takes the highest of its systems'.
    if (level == 0) {
      for (const auto& name : systems) {
        auto s = c.env.store.get_system(name);
        if (s && *s) level = std::max(level, (*s)->level);
      }
    }
  }
  if (level < 1 || level > 5) return error(400, "level: 1 to 5");
  if (ttl_hours < 1 || ttl_hours > 24 * 30) return error(400, "ttl_hours: 1 to 720");
  if (!c.caller.sees(agency)) return error(403, "you are limited to other agencies");
  std::string group = kDefaultGroup;
  if (body.contains("group")) {
    if (!body["group"].is_string()) return error(400, "group: a group's name");
    group = body["group"].get<std::string>();
    auto g = c.env.store.get_group(group);
    if (!g) return error(503, "store unavailable");
    if (!g->has_value()) return error(404, "no group " + group + " (vigilctl groups create " + group + ")");
    if (auto refused = group_not_managed(c, group)) return *refused;
  }
  auto a = c.env.store.ensure_agency(agency, c.env.default_framework);
  if (!a) return error(503, "store unavailable");
  std::string token = pki::random_token();
  Timestamp expires{Timestamp::now().ns + ttl_hours * 3600LL * 1'000'000'000LL};
  auto added = c.env.store.add_token(pki::sha256_hex(token), {agency, level, group, systems}, expires);
  if (!added) return error(503, "store unavailable");
  c.env.log->info("enrollment token created for agency '{}' at level {} (expires {})", agency, level,
                  expires.to_string());
  std::string named;
  for (const auto& s : systems) named += (named.empty() ? "" : ",") + s;
  c.env.audit(c.caller.name, "token.create", agency,
              fmt::format("level {}, group {}, systems {}, expires {}", level, group, named.empty() ? "-" : named,
                          expires.to_string()));
  return {200,
          nlohmann::json{{"token", token}, {"agency", agency}, {"level", level}, {"group", group}, {"systems", systems},
                         {"expires", expires.to_string()}}
              .dump(),
          "application/json", false};
}

}  // namespace vigil::collector::routes
