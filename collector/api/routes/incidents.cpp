// Incidents: opened from alerts, worked through open → contained → resolved → reported with a
// timeline, and the reporting clock (first notification and full report, counted from detection;
// collector.yaml `incidents:`) (routes in endpoints.cpp).
#include <set>

#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "collector/ingest/agent_identity.h"
#include "collector/report/compliance_report.h"
#include "collector/report/incident_report.h"
#include "common/i18n/json_text.h"
#include "common/ingest/bounded_json.h"
#include "common/log/logging.h"

namespace vigil::collector::routes {

namespace {

constexpr size_t kMaxTitle = 200;
constexpr size_t kMaxText = 4000;
constexpr size_t kMaxAlertsAtOnce = 1000;

// One deadline of the clock: none (no deadline for this severity), pending, overdue, met, or
// met_late (done after it was due).
nlohmann::json clock_json(int64_t within_ns, Timestamp due, Timestamp done, Timestamp now) {
  nlohmann::json j = {{"within_seconds", within_ns / 1'000'000'000}};
  if (within_ns == 0) {
    j["state"] = "none";
  } else {
    j["due"] = due.to_string();
    if (done.ns != 0) {
      j["state"] = done.ns <= due.ns ? "met" : "met_late";
    } else {
      j["state"] = now.ns > due.ns ? "overdue" : "pending";
      j["seconds_left"] = (due.ns - now.ns) / 1'000'000'000;
    }
  }
  if (done.ns != 0) j["done_at"] = done.to_string();
  return j;
}

nlohmann::json incident_json(const IncidentRecord& i, Timestamp now, bool full) {
  nlohmann::json j = {{"id", i.id},
                      {"title", i.title},
                      {"severity", i.severity},
                      {"status", i.status},
                      {"assignee", i.assignee},
                      {"created_by", i.created_by},
                      {"created_at", i.created_at.to_string()},
                      {"detected_at", i.detected_at.to_string()},
                      {"updated_at", i.updated_at.to_string()},
                      {"agencies", i.agencies},
                      {"hosts", i.hosts},
                      {"alert_count", i.alert_count}};
  j["clock"] = {{"notify", clock_json(i.notify_within_ns, i.notify_due(), i.notified_at, now)},
                {"report", clock_json(i.report_within_ns, i.report_due(), i.reported_at, now)}};
  if (!full) return j;
  j["alerts"] = nlohmann::json::array();
  for (const auto& a : i.alerts) {
    nlohmann::json aj = {{"id", a.alert_id},       {"time", a.time.to_string()}, {"severity", a.severity},
                         {"rule_id", a.rule_id},   {"rule_name", a.rule_name},   {"agent_id", a.agent_id},
                         {"host", a.host},         {"agency", a.agency},         {"source_ip", a.source_ip},
                         {"user_name", a.user_name}, {"added_at", a.added_at.to_string()}, {"added_by", a.added_by}};
    i18n::put_text(aj, "rule_name", a.rule_name, a.rule_name_vi);
    if (auto ev = ingest::parse_bounded_json(a.evidence)) {
      impose_agent_identity(*ev, a.agent_id, a.host);
      aj["evidence"] = std::move(*ev);
    }
    j["alerts"].push_back(std::move(aj));
  }
  j["timeline"] = nlohmann::json::array();
  for (const auto& e : i.timeline) {
    j["timeline"].push_back({{"time", e.time.to_string()}, {"who", e.who}, {"action", e.action}, {"value", e.value}});
  }
  return j;
}

bool sees_all(const Principal& p, const std::vector<std::string>& agencies) {
  for (const auto& a : agencies) {
    if (!p.sees(a)) return false;
  }
  return true;
}

// The incident of the path's {id} as the caller may see it; else the answer to give.
struct Found {
  std::optional<IncidentRecord> incident;
  net::HttpResponse refusal;
};
Found find_incident(const Call& c) {
  const std::string& rest = c.capture("id");
  auto id = to_int(rest);
  if (!id) return {std::nullopt, error(404, "no such incident")};
  auto i = c.env.store.get_incident(*id);
  if (!i) return {std::nullopt, error(503, "store unavailable")};
  if (!i->has_value() || !sees_all(c.caller, (*i)->agencies)) return {std::nullopt, error(404, "no incident " + rest)};
  return {std::move(*i), {}};
}

// The alert `id` when the caller may see it (with its evidence); else the answer to give.
std::optional<AlertRecord> visible_alert(const Call& c, int64_t id, net::HttpResponse& refusal) {
  auto a = c.env.store.get_alert(id);
  if (!a) {
    refusal = error(503, "store unavailable");
    return std::nullopt;
  }
  if (!a->has_value() || !c.caller.sees((*a)->agency)) {
    refusal = error(404, fmt::format("no alert {}", id));
    return std::nullopt;
  }
  return std::move(**a);
}

std::optional<int64_t> alert_id_of(const nlohmann::json& v) {
  if (v.is_number_integer() && v.get<int64_t>() > 0) return v.get<int64_t>();
  if (v.is_string()) return to_int(v.get<std::string>());
  return std::nullopt;
}

// One change to the incident of the path's {id}: the entry is recorded in the timeline and the
// audit log.
net::HttpResponse change(const Call& c, const IncidentRecord& incident, const IncidentEntry& entry) {
  auto done = c.env.store.change_incident(incident.id, entry);
  if (!done) return error(503, "store unavailable");
  // Nothing changed: another change came first (the status moved on, the notification was
  // recorded); the checks before were made on what was read then.
  if (!*done) return error(409, fmt::format("incident {} changed meanwhile: read it again", incident.id));
  c.env.log->info("incident {}: {} by {}", incident.id, entry.action == "comment" ? "comment" : entry.action + " " + entry.value,
                  entry.who);
  c.env.audit(entry.who, "incident." + entry.action, fmt::format("incident/{}", incident.id), entry.value);
  return {200, R"({"changed":true})", "application/json", false};
}

// The body's string `key` (at most kMaxText bytes, no control characters but newlines and tabs).
std::optional<std::string> body_text(const nlohmann::json& body, const char* key, bool required, std::string& complaint) {
  if (!body.contains(key)) {
    if (required) complaint = fmt::format("expected {{\"{}\": string}}", key);
    return required ? std::nullopt : std::optional<std::string>(std::string());
  }
  if (!body[key].is_string()) {
    complaint = fmt::format("{}: expected a string", key);
    return std::nullopt;
  }
  std::string v = body[key].get<std::string>();
  if (v.size() > kMaxText) {
    complaint = fmt::format("{}: at most {} bytes", key, kMaxText);
    return std::nullopt;
  }
  for (unsigned char ch : v) {
    if ((ch < 32 && ch != '\n' && ch != '\t') || ch == 127) {
      complaint = fmt::format("{}: control characters are not allowed", key);
      return std::nullopt;
    }
  }
  return v;
}

}  // namespace

net::HttpResponse list_incidents(const Call& c) {
  IncidentFilter f;
  for (const auto& [k, v] : c.query) {
    if (k == "status") {
      if (v == "active") {
        f.open_only = true;
      } else if (incident_status_rank(v) < 0) {
        return error(400, "status: open, contained, resolved, reported or active (not yet reported)");
      } else {
        f.status = v;
      }
    } else if (auto err = paging(k, v, f.before_id, f.limit, "an incident id"); !err) {
      return error(400, "unknown filter '" + k + "'");
    } else if (!err->empty()) {
      return error(400, *err);
    }
  }
  f.agencies_in = c.caller.agencies;
  auto list = c.env.store.list_incidents(f);
  if (!list) return error(503, "store unavailable");
  const Timestamp now = Timestamp::now();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& i : *list) out.push_back(incident_json(i, now, false));
  return {200, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json", false};
}

net::HttpResponse create_incident(const Call& c) {
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object()) return error(400, "expected {title, severity, alerts: [id...]}");
  std::string complaint;
  auto title = body_text(body, "title", true, complaint);
  if (!title) return error(400, complaint);
  if (title->empty() || title->size() > kMaxTitle || !clean_name(*title, kMaxTitle)) {
    return error(400, fmt::format("title: 1 to {} bytes, one line", kMaxTitle));
  }
  std::optional<int> severity;
  if (body.contains("severity") && body["severity"].is_string()) severity = parse_severity(body["severity"].get<std::string>());
  if (body.contains("severity") && body["severity"].is_number_integer()) {
    severity = parse_severity(std::to_string(body["severity"].get<int64_t>()));
  }
  if (!severity) return error(400, "severity: info, low, medium, high, critical or 1-5");
  if (!body.contains("alerts") || !body["alerts"].is_array() || body["alerts"].empty()) {
    return error(400, "alerts: a list of one or more alert ids");
  }
  if (body["alerts"].size() > kMaxAlertsAtOnce) return error(400, fmt::format("alerts: at most {} at once", kMaxAlertsAtOnce));
  NewIncident n;
  n.title = *title;
  n.severity = *severity;
  n.created_by = c.caller.name;
  n.now = Timestamp::now();
  const auto& clock = c.env.incidents.deadlines[static_cast<size_t>(*severity)];
  n.notify_within_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock.notify).count();
  n.report_within_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock.report).count();
  for (const auto& v : body["alerts"]) {
    auto id = alert_id_of(v);
    if (!id) return error(400, "alerts: each an alert id");
    net::HttpResponse refusal;
    auto a = visible_alert(c, *id, refusal);
    if (!a) return refusal;
    n.alerts.push_back(std::move(*a));
  }
  auto id = c.env.store.create_incident(n);
  if (!id) {
    c.env.log->error("incident not stored: {}", id.error());
    return error(503, "store unavailable");
  }
  c.env.log->info("incident {} opened by {} ({} alerts)", *id, n.created_by, n.alerts.size());
  c.env.audit(n.created_by, "incident.create", fmt::format("incident/{}", *id), n.title);
  return {201, nlohmann::json({{"id", *id}}).dump(), "application/json", false};
}

net::HttpResponse get_incident(const Call& c) {
  auto found = find_incident(c);
  if (!found.incident) return found.refusal;
  auto j = incident_json(*found.incident, Timestamp::now(), true);
  // The information systems its hosts serve now (collector/store/system_store.h), one lookup per agent.
  std::set<std::string> agent_ids, systems;
  for (const auto& a : found.incident->alerts) agent_ids.insert(a.agent_id);
  for (const auto& id : agent_ids) {
    auto agent = c.env.store.get_agent(id);
    if (!agent) return error(503, "store unavailable");
    if (*agent) systems.insert((*agent)->systems.begin(), (*agent)->systems.end());
  }
  j["systems"] = systems;
  return {200, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json", false};
}

net::HttpResponse add_incident_alert(const Call& c) {
  auto found = find_incident(c);
  if (!found.incident) return found.refusal;
  auto body = request_json(c.request.body);
  auto id = body.is_object() && body.contains("alert") ? alert_id_of(body["alert"]) : std::nullopt;
  if (!id) return error(400, "expected {\"alert\": id}");
  net::HttpResponse refusal;
  auto a = visible_alert(c, *id, refusal);
  if (!a) return refusal;
  auto added = c.env.store.add_incident_alert(found.incident->id, *a, c.caller.name, Timestamp::now());
  if (!added) return error(503, "store unavailable");
  if (!*added) return error(409, fmt::format("alert {} is already in incident {}", *id, found.incident->id));
  c.env.log->info("incident {}: alert {} added by {}", found.incident->id, *id, c.caller.name);
  c.env.audit(c.caller.name, "incident.alert", fmt::format("incident/{}", found.incident->id), std::to_string(*id));
  return {200, R"({"changed":true})", "application/json", false};
}

net::HttpResponse set_incident_status(const Call& c) {
  auto found = find_incident(c);
  if (!found.incident) return found.refusal;
  auto body = request_json(c.request.body);
  std::string complaint;
  auto status = body.is_object() ? body_text(body, "status", true, complaint) : std::nullopt;
  if (!status) return error(400, "expected {\"status\": open|contained|resolved|reported}");
  const int to = incident_status_rank(*status);
  if (to < 0) return error(400, "status: open, contained, resolved or reported");
  const int from = incident_status_rank(found.incident->status);
  if (to <= from) {
    return error(409, fmt::format("incident {} is {}: it moves forward only (open, contained, resolved, reported)",
                                  found.incident->id, found.incident->status));
  }
  return change(c, *found.incident, {Timestamp::now(), c.caller.name, "status", *status});
}

net::HttpResponse assign_incident(const Call& c) {
  auto found = find_incident(c);
  if (!found.incident) return found.refusal;
  auto body = request_json(c.request.body);
  std::string complaint;
  auto who = body.is_object() ? body_text(body, "assignee", true, complaint) : std::nullopt;
  if (!who || !(who->empty() || valid_user_name(*who))) return error(400, "expected {\"assignee\": user name}");
  return change(c, *found.incident, {Timestamp::now(), c.caller.name, "assign", *who});
}

net::HttpResponse comment_incident(const Call& c) {
  auto found = find_incident(c);
  if (!found.incident) return found.refusal;
  auto body = request_json(c.request.body);
  std::string complaint;
  auto text = body.is_object() ? body_text(body, "text", true, complaint) : std::nullopt;
  if (!text || text->empty()) return error(400, complaint.empty() ? "expected {\"text\": string}" : complaint);
  return change(c, *found.incident, {Timestamp::now(), c.caller.name, "comment", *text});
}

net::HttpResponse incident_notified(const Call& c) {
  auto found = find_incident(c);
  if (!found.incident) return found.refusal;
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object()) body = nlohmann::json::object();
  std::string complaint;
  auto note = body_text(body, "note", false, complaint);
  if (!note) return error(400, complaint);
  Timestamp at = Timestamp::now();
  if (body.contains("at")) {
    auto when = body["at"].is_string() ? parse_when(body["at"].get<std::string>()) : std::nullopt;
    if (!when || when->ns > at.ns) return error(400, "at: an RFC 3339 time, not in the future");
    at = *when;
  }
  if (found.incident->notified_at.ns != 0) {
    return error(409, fmt::format("incident {}: the first notification was recorded at {}", found.incident->id,
                                  found.incident->notified_at.to_string()));
  }
  return change(c, *found.incident, {at, c.caller.name, "notified", *note});
}

net::HttpResponse incident_report(const Call& c) {
  auto found = find_incident(c);
  if (!found.incident) return found.refusal;
  std::string lang = "vi";
  for (const auto& [k, v] : c.query) {
    if (k != "lang") return error(400, "unknown parameter '" + k + "'");
    if (v != "vi" && v != "en") return error(400, "lang: vi or en");
    lang = v;
  }
  c.env.audit(c.caller.name, "incident.report", fmt::format("incident/{}", found.incident->id), lang);
  net::HttpResponse out{200, incident_report_html(*found.incident, lang, Timestamp::now()), "text/html; charset=utf-8", false};
  // One self-contained file like the compliance report: its own styles, nothing loaded, no script.
  out.headers.emplace_back("Content-Security-Policy", std::string(kReportCsp));
  return out;
}

}  // namespace vigil::collector::routes
