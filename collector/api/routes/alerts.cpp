// Alerts: search, one with its evidence and history, triage (status, assignee, comments)
// (routes in endpoints.cpp).
#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "collector/ingest/agent_identity.h"
#include "common/i18n/json_text.h"
#include "common/ingest/bounded_json.h"
#include "common/log/logging.h"

namespace vigil::collector::routes {

namespace {

nlohmann::json alert_json(const AlertRecord& a) {
  nlohmann::json j = {{"id", a.id},         {"time", a.time.to_string()}, {"severity", a.severity},
                      {"rule_id", a.rule_id}, {"rule_name", a.rule_name}, {"agent_id", a.agent_id},
                      {"agency", a.agency}, {"host", a.host},           {"status", a.status},
                      {"assignee", a.assignee}, {"source_ip", a.entity.source_ip},
                      {"source_port", a.entity.source_port}, {"destination_ip", a.entity.destination_ip},
                      {"destination_port", a.entity.destination_port}, {"user_name", a.entity.user_name}};
  i18n::put_text(j, "rule_name", a.rule_name, a.rule_name_vi);
  if (!a.evidence.empty()) {
    if (auto ev = ingest::parse_bounded_json(a.evidence)) {
      impose_agent_identity(*ev, a.agent_id, a.host);
      j["evidence"] = std::move(*ev);
    }
  }
  return j;
}

// One change to the alert of the path's {id}: `action` (status, assign, comment) with the body's
// `key`; the alert must lie in the caller's agencies.
net::HttpResponse change_alert(const Call& c, const std::string& action, const char* key) {
  const std::string& rest = c.capture("id");
  auto id = to_int(rest);
  if (!id) return error(404, "no such alert");
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains(key) || !body[key].is_string()) {
    return error(400, fmt::format("expected {{\"{}\": string}}", key));
  }
  std::string value = body[key].get<std::string>();
  if (action == "status" && !is_alert_status(value)) {
    return error(400, "status: new, acknowledged, resolved or false_positive");
  }
  if (value.size() > 4000) return error(400, "too long");
  auto current = c.env.store.get_alert(*id);
  if (!current) return error(503, "store unavailable");
  if (!current->has_value() || !c.caller.sees((*current)->agency)) return error(404, "no alert " + rest);
  const std::string& who = c.caller.name;
  auto done = c.env.store.change_alert(*id, {Timestamp::now(), who, action, value});
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no alert " + rest);
  c.env.log->info("alert {}: {} set to '{}' by {}", *id, action, action == "comment" ? "(comment)" : value, who);
  c.env.audit(who, "alert." + action, "alert/" + rest, value);
  return {200, R"({"changed":true})", "application/json", false};
}

}  // namespace

net::HttpResponse list_alerts(const Call& c) {
  AlertFilter f;
  for (const auto& [k, v] : c.query) {
    if (k == "severity") {
      auto s = parse_severity(v);
      if (!s) return error(400, "severity: info, low, medium, high, critical or 1-5");
      f.min_severity = *s;
    } else if (k == "status") {
      if (!is_alert_status(v)) return error(400, "status: new, acknowledged, resolved or false_positive");
      f.status = v;
    } else if (k == "agency") {
      f.agency = v;
    } else if (k == "agent") {
      f.agent_id = v;
    } else if (k == "rule") {
      f.rule_id = v;
    } else if (k == "source") {
      f.source = search::ip_range(v);
      if (!f.source) return error(400, "source: an IPv4 or IPv6 address, or a CIDR block (10.0.0.0/8)");
    } else if (k == "from" || k == "to") {
      auto ts = Timestamp::parse(v);
      if (!ts) return error(400, k + ": an RFC 3339 time");
      (k == "from" ? f.from : f.to) = *ts;
    } else if (auto err = paging(k, v, f.before_id, f.limit, "an alert id"); !err) {
      return error(400, "unknown filter '" + k + "'");
    } else if (!err->empty()) {
      return error(400, *err);
    }
  }
  f.agencies_in = c.caller.agencies;
  auto list = c.env.store.list_alerts(f);
  if (!list) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : *list) out.push_back(alert_json(a));
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse get_alert(const Call& c) {
  const std::string& rest = c.capture("id");
  auto id = to_int(rest);
  if (!id) return error(404, "no such alert");
  auto a = c.env.store.get_alert(*id);
  if (!a) return error(503, "store unavailable");
  if (!a->has_value() || !c.caller.sees((*a)->agency)) return error(404, "no alert " + rest);
  auto j = alert_json(**a);
  auto history = c.env.store.alert_history(*id);
  if (!history) return error(503, "store unavailable");
  j["history"] = nlohmann::json::array();
  for (const auto& h : *history) {
    j["history"].push_back({{"time", h.time.to_string()}, {"who", h.who}, {"action", h.action}, {"value", h.value}});
  }
  return {200, j.dump(), "application/json", false};
}

net::HttpResponse set_alert_status(const Call& c) { return change_alert(c, "status", "status"); }

net::HttpResponse assign_alert(const Call& c) { return change_alert(c, "assign", "assignee"); }

net::HttpResponse comment_alert(const Call& c) { return change_alert(c, "comment", "text"); }

}  // namespace vigil::collector::routes
