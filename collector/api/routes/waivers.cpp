// Waivers: accepted exceptions to compliance checks, listed, added and expired (routes in
// endpoints.cpp).
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "collector/report/compliance_summary.h"
#include "common/compliance/framework.h"
#include "common/log/logging.h"

namespace vigil::collector::routes {

net::HttpResponse list_waivers(const Call& c) {
  const Timestamp now = Timestamp::now();
  WaiverFilter f;
  f.now = now;
  f.agencies_in = c.caller.agencies;
  for (const auto& [k, v] : c.query) {
    if (k == "agency") {
      f.agency = v;
    } else if (k == "active") {
      if (v != "1" && v != "0" && v != "true" && v != "false") return error(400, "active: 1 or 0");
      f.active_only = v == "1" || v == "true";
    } else {
      return error(400, "unknown filter '" + k + "'");
    }
  }
  if (!f.agency.empty() && !c.caller.sees(f.agency)) return {200, "[]", "application/json", false};
  auto list = c.env.store.list_waivers(f);
  if (!list) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& w : *list) out.push_back(waiver_json(w, now));
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse add_waiver(const Call& c) {
  const Timestamp now = Timestamp::now();
  const Principal& p = c.caller;
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object()) return error(400, "expected a JSON object");
  auto text = [&](const char* key, bool required, size_t max, std::string& out) -> std::optional<std::string> {
    if (!body.contains(key) || body[key].is_null()) {
      if (required) return fmt::format("{}: required", key);
      return std::nullopt;
    }
    if (!body[key].is_string()) return fmt::format("{}: a string", key);
    out = body[key].get<std::string>();
    if ((required && out.empty()) || out.size() > max) return fmt::format("{}: 1 to {} characters", key, max);
    for (unsigned char ch : out) {
      if (ch < 0x20 && ch != '\t') return fmt::format("{}: no control characters", key);
    }
    return std::nullopt;
  };
  WaiverRecord w;
  std::string expires;
  for (auto err : {text("agency", true, 200, w.agency), text("agent", false, 100, w.agent_id),
                   text("policy", false, 200, w.policy), text("check", true, 200, w.check_id),
                   text("reason", true, 2000, w.reason), text("accepted_by", true, 200, w.accepted_by),
                   text("expires", true, 40, expires)}) {
    if (err) return error(400, *err);
  }
  for (const auto& k : body.items()) {
    static const std::set<std::string> known = {"agency", "agent", "policy", "check", "reason", "accepted_by", "expires"};
    if (!known.count(k.key())) return error(400, "unknown field '" + k.key() + "'");
  }
  if (!compliance::valid_id(w.check_id)) return error(400, "check: a check id (letters, digits, '.', '_', ':', '-')");
  if (!w.policy.empty() && !compliance::valid_id(w.policy)) return error(400, "policy: a policy id");
  auto until = parse_when(expires);
  if (!until) return error(400, "expires: a date (YYYY-MM-DD) or an RFC 3339 time");
  if (*until <= now) return error(400, "expires: must be in the future");
  if (until->ns - now.ns > int64_t{5} * 366 * 24 * 3600 * 1'000'000'000) {
    return error(400, "expires: at most five years ahead (review waivers at least that often)");
  }
  if (!p.sees(w.agency)) return error(404, "no agency " + w.agency);
  auto agencies = c.env.store.list_agencies();
  if (!agencies) return error(503, "store unavailable");
  if (std::none_of(agencies->begin(), agencies->end(), [&](const AgencyRecord& a) { return a.name == w.agency; })) {
    return error(404, "no agency " + w.agency);
  }
  if (!w.agent_id.empty()) {
    auto agent = c.env.store.get_agent(w.agent_id);
    if (!agent) return error(503, "store unavailable");
    if (!*agent || (*agent)->agency != w.agency) return error(404, "no agent " + w.agent_id + " in " + w.agency);
  }
  w.expires = *until;
  w.created = now;
  w.created_by = p.name;
  auto id = c.env.store.add_waiver(w);
  if (!id) return error(503, "store unavailable");
  std::string scope = w.agent_id.empty() ? "agency " + w.agency : "agent " + w.agent_id;
  c.env.log->info("waiver {}: check {}{} waived for {} until {} by {} (accepted by {})", *id,
                  w.policy.empty() ? "" : w.policy + "/", w.check_id, scope, w.expires.to_string(), p.name,
                  w.accepted_by);
  c.env.audit(p.name, "waiver.add", std::to_string(*id),
              fmt::format("{}{} for {} until {}; accepted by {}; reason: {}", w.policy.empty() ? "" : w.policy + "/",
                          w.check_id, scope, w.expires.to_string(), w.accepted_by, w.reason));
  return {201, nlohmann::json{{"id", *id}}.dump(), "application/json", false};
}

net::HttpResponse expire_waiver(const Call& c) {
  auto id = to_int(c.capture("id"));
  if (!id) return error(404, "no such waiver");
  auto w = c.env.store.get_waiver(*id);
  if (!w) return error(503, "store unavailable");
  if (!*w || !c.caller.sees((*w)->agency)) return error(404, "no waiver " + std::to_string(*id));
  auto done = c.env.store.expire_waiver(*id, Timestamp::now(), c.caller.name);
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(409, "waiver " + std::to_string(*id) + " is no longer active");
  c.env.log->info("waiver {}: expired by {}", *id, c.caller.name);
  c.env.audit(c.caller.name, "waiver.expire", std::to_string(*id), "");
  return {200, R"({"expired":true})", "application/json", false};
}

}  // namespace vigil::collector::routes
