#include "collector/api/console_api.h"

#include <map>
#include <set>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::collector {

namespace {

net::HttpResponse error(int status, const std::string& message) {
  return {status, nlohmann::json{{"error", message}}.dump(), "application/json", false};
}

nlohmann::json agent_json(const AgentRecord& a) {
  return {{"id", a.id},           {"agency", a.agency},
          {"level", a.level},     {"host", a.host},
          {"version", a.version}, {"status", a.status},
          {"enrolled", a.enrolled.to_string()}, {"last_seen", a.last_seen.to_string()}};
}

nlohmann::json alert_json(const AlertRecord& a) {
  nlohmann::json j = {{"id", a.id},         {"time", a.time.to_string()}, {"severity", a.severity},
                      {"rule_id", a.rule_id}, {"rule_name", a.rule_name}, {"agent_id", a.agent_id},
                      {"agency", a.agency}, {"host", a.host},           {"status", a.status},
                      {"assignee", a.assignee}};
  if (!a.evidence.empty()) {
    auto ev = nlohmann::json::parse(a.evidence, nullptr, false);
    if (!ev.is_discarded()) j["evidence"] = std::move(ev);
  }
  return j;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; nullopt on a broken escape.
std::optional<std::string> url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
  std::string error;
};

Target split_target(const std::string& target) {
  Target t;
  size_t q = target.find('?');
  t.path = target.substr(0, q);
  if (q == std::string::npos) return t;
  std::string_view rest(target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = url_decode(pair.substr(0, eq));
    auto v = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!k || !v) {
      t.error = "malformed query string";
      return t;
    }
    t.query[*k] = *v;
  }
  return t;
}

std::optional<int64_t> to_int(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Severity words of rules, or 1-5.
std::optional<int> parse_severity(const std::string& s) {
  static const char* words[] = {"info", "low", "medium", "high", "critical"};
  for (int i = 0; i < 5; ++i) {
    if (s == words[i]) return i + 1;
  }
  auto n = to_int(s);
  if (n && *n >= 1 && *n <= 5) return static_cast<int>(*n);
  return std::nullopt;
}

}  // namespace

ConsoleApi::ConsoleApi(Store& store, std::string default_framework)
    : store_(store), default_framework_(std::move(default_framework)), log_(logging::get("console")) {}

net::HttpResponse ConsoleApi::handle(const net::HttpRequest& r) {
  std::string auth = r.header("Authorization");
  if (auth.rfind("Bearer ", 0) != 0) return error(401, "missing API token (Authorization: Bearer ...)");
  auto role = store_.api_token_role(pki::sha256_hex(auth.substr(7)));
  if (!role) return error(503, "store unavailable");
  if (!role->has_value()) {
    log_->warn("{}: {} {} refused: unknown API token", r.remote, r.method, r.target);
    return error(401, "unknown API token");
  }
  const std::string& who = **role;
  auto require_admin = [&]() -> std::optional<net::HttpResponse> {
    if (who != "admin") return error(403, "this needs the admin role");
    return std::nullopt;
  };

  Target t = split_target(r.target);
  if (!t.error.empty()) return error(400, t.error);
  if (t.path == "/metrics" && r.method == "GET") return metrics();
  if (t.path == "/api/v1/alerts" || t.path.rfind("/api/v1/alerts/", 0) == 0) return alerts(r, t.path, t.query, who);
  if (r.method == "GET" && t.path == "/api/v1/compliance") {
    std::string agency;
    for (const auto& [k, v] : t.query) {
      if (k != "agency") return error(400, "unknown filter '" + k + "'");
      agency = v;
    }
    return compliance(agency);
  }
  if (r.method == "GET" && t.path == "/api/v1/agencies") {
    auto agencies = store_.list_agencies();
    if (!agencies) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : *agencies) out.push_back({{"name", a.name}, {"framework", a.framework}});
    return {200, out.dump(), "application/json", false};
  }
  if (r.method == "POST" && t.path.rfind("/api/v1/agencies/", 0) == 0 && t.path.ends_with("/framework")) {
    if (auto denied = require_admin()) return *denied;
    const size_t prefix_len = std::string_view("/api/v1/agencies/").size();
    const size_t suffix_len = std::string_view("/framework").size();
    if (t.path.size() <= prefix_len + suffix_len) return error(404, "no such endpoint");
    auto name = url_decode(t.path.substr(prefix_len, t.path.size() - prefix_len - suffix_len));
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (!name || body.is_discarded() || !body.is_object() || !body.contains("framework") ||
        !body["framework"].is_string() || body["framework"].get<std::string>().empty() ||
        body["framework"].get<std::string>().size() > 100) {
      return error(400, "expected {\"framework\": catalogue id}");
    }
    auto done = store_.set_agency_framework(*name, body["framework"].get<std::string>());
    if (!done) return error(503, "store unavailable");
    if (!*done) return error(404, "no agency " + *name);
    log_->info("agency '{}': framework set to {} by {}", *name, body["framework"].get<std::string>(), who);
    return {200, R"({"changed":true})", "application/json", false};
  }
  if (r.method == "GET" && t.path == "/api/v1/status") {
    auto agents = store_.list_agents();
    if (!agents) return error(503, "store unavailable");
    AlertFilter open;
    open.status = "new";
    auto fresh = store_.count_alerts(open);
    if (!fresh) return error(503, "store unavailable");
    size_t active = 0;
    for (const auto& a : *agents) active += a.status == "active";
    return {200,
            nlohmann::json{{"agents", agents->size()}, {"agents_active", active}, {"alerts_new", *fresh},
                           {"role", who}}
                .dump(),
            "application/json", false};
  }

  if (r.method == "POST" && t.path == "/api/v1/tokens") {
    if (auto denied = require_admin()) return *denied;
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("agency") || !body["agency"].is_string() ||
        !body.contains("level") || !body["level"].is_number_integer()) {
      return error(400, "expected {\"agency\": string, \"level\": 1-5, \"ttl_hours\": integer}");
    }
    std::string agency = body["agency"].get<std::string>();
    int level = body["level"].get<int>();
    int64_t ttl_hours = body.value("ttl_hours", int64_t{24});
    if (agency.empty() || agency.size() > 200) return error(400, "agency: 1 to 200 characters");
    if (level < 1 || level > 5) return error(400, "level: 1 to 5");
    if (ttl_hours < 1 || ttl_hours > 24 * 30) return error(400, "ttl_hours: 1 to 720");
    auto a = store_.ensure_agency(agency, default_framework_);
    if (!a) return error(503, "store unavailable");
    std::string token = pki::random_token();
    Timestamp expires{Timestamp::now().ns + ttl_hours * 3600LL * 1'000'000'000LL};
    auto added = store_.add_token(pki::sha256_hex(token), {agency, level}, expires);
    if (!added) return error(503, "store unavailable");
    log_->info("enrollment token created for agency '{}' at level {} (expires {})", agency, level, expires.to_string());
    return {200, nlohmann::json{{"token", token}, {"agency", agency}, {"level", level}, {"expires", expires.to_string()}}.dump(),
            "application/json", false};
  }
  if (r.method == "GET" && t.path == "/api/v1/agents") {
    auto agents = store_.list_agents();
    if (!agents) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : *agents) out.push_back(agent_json(a));
    return {200, out.dump(), "application/json", false};
  }
  const std::string prefix = "/api/v1/agents/";
  if (t.path.rfind(prefix, 0) == 0) {
    std::string rest = t.path.substr(prefix.size());
    bool revoke = false;
    bool level = false;
    if (rest.size() > 7 && rest.ends_with("/revoke")) {
      rest.resize(rest.size() - 7);
      revoke = true;
    } else if (rest.size() > 6 && rest.ends_with("/level")) {
      rest.resize(rest.size() - 6);
      level = true;
    }
    if (rest.empty() || rest.find('/') != std::string::npos) return error(404, "no such endpoint");
    if (revoke && r.method == "POST") {
      if (auto denied = require_admin()) return *denied;
      auto done = store_.revoke_agent(rest);
      if (!done) return error(503, "store unavailable");
      if (!*done) return error(404, "no agent " + rest);
      log_->info("agent {} revoked", rest);
      return {200, R"({"revoked":true})", "application/json", false};
    }
    if (level && r.method == "POST") {
      if (auto denied = require_admin()) return *denied;
      auto body = nlohmann::json::parse(r.body, nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body.contains("level") || !body["level"].is_number_integer() ||
          body["level"].get<int>() < 1 || body["level"].get<int>() > 5) {
        return error(400, "expected {\"level\": 1-5}");
      }
      auto done = store_.set_agent_level(rest, body["level"].get<int>());
      if (!done) return error(503, "store unavailable");
      if (!*done) return error(404, "no agent " + rest);
      log_->info("agent {}: security level set to {} by {}", rest, body["level"].get<int>(), who);
      return {200, R"({"changed":true})", "application/json", false};
    }
    if (!revoke && !level && r.method == "GET") {
      auto a = store_.get_agent(rest);
      if (!a) return error(503, "store unavailable");
      if (!a->has_value()) return error(404, "no agent " + rest);
      return {200, agent_json(**a).dump(), "application/json", false};
    }
  }
  return error(404, "no such endpoint");
}

// Per agency: the latest result of each check an agent must meet (check level at most the
// security level of the system it serves), counted, scored, and rolled up onto the controls of
// the agency's framework (a control fails when any of its checks fails anywhere).
net::HttpResponse ConsoleApi::compliance(const std::string& only_agency) {
  auto agencies = store_.list_agencies();
  if (!agencies) return error(503, "store unavailable");
  auto rows = store_.compliance_latest(only_agency);
  if (!rows) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  bool found = only_agency.empty();
  // Rows come ordered by agency; one pass splits them.
  std::map<std::string, std::vector<const ComplianceRow*>> by_agency;
  for (const auto& row : *rows) by_agency[row.agency].push_back(&row);
  static const std::vector<const ComplianceRow*> kNone;
  for (const auto& ag : *agencies) {
    if (!only_agency.empty() && ag.name != only_agency) continue;
    found = true;
    auto mine = by_agency.find(ag.name);
    const auto& agency_rows = mine == by_agency.end() ? kNone : mine->second;
    struct Tally {
      size_t pass = 0, fail = 0, error = 0, not_applicable = 0;
    };
    Tally total;
    std::map<std::string, Tally> controls;
    std::set<std::string> agents;
    nlohmann::json failing = nlohmann::json::array();
    size_t failing_dropped = 0;
    for (const ComplianceRow* r : agency_rows) {
      const ComplianceRow& row = *r;
      if (row.level > row.agent_level) continue;
      agents.insert(row.agent_id);
      auto bump = [&](Tally& t) {
        if (row.result == "pass") ++t.pass;
        if (row.result == "fail") ++t.fail;
        if (row.result == "error") ++t.error;
        if (row.result == "not_applicable") ++t.not_applicable;
      };
      bump(total);
      auto c = nlohmann::json::parse(row.controls, nullptr, false);
      if (c.is_object() && c.contains(ag.framework) && c[ag.framework].is_array()) {
        for (const auto& id : c[ag.framework]) {
          if (id.is_string()) bump(controls[id.get<std::string>()]);
        }
      }
      if (row.result == "fail" || row.result == "error") {
        if (failing.size() >= 500) {
          ++failing_dropped;
        } else {
          failing.push_back({{"agent_id", row.agent_id}, {"host", row.host}, {"check", row.check_id},
                             {"title", row.title}, {"level", row.level}, {"result", row.result},
                             {"evidence", row.evidence}, {"time", row.time.to_string()}});
        }
      }
    }
    nlohmann::json ctl = nlohmann::json::array();
    size_t controls_met = 0;
    for (const auto& [id, t] : controls) {
      const char* status = t.fail + t.error > 0 ? "fail" : t.pass > 0 ? "pass" : "not_applicable";
      controls_met += std::string_view(status) == "pass";
      ctl.push_back({{"id", id}, {"status", status}, {"pass", t.pass}, {"fail", t.fail + t.error}});
    }
    size_t judged = total.pass + total.fail + total.error;
    nlohmann::json a = {{"agency", ag.name},
                        {"framework", ag.framework},
                        {"agents", agents.size()},
                        {"pass", total.pass},
                        {"fail", total.fail},
                        {"error", total.error},
                        {"not_applicable", total.not_applicable},
                        {"score", judged ? nlohmann::json(static_cast<double>(total.pass) / judged) : nlohmann::json()},
                        {"controls_met", controls_met},
                        {"controls", std::move(ctl)},
                        {"failing", std::move(failing)},
                        {"failing_not_listed", failing_dropped}};
    out.push_back(std::move(a));
  }
  if (!found) return error(404, "no agency " + only_agency);
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse ConsoleApi::alerts(const net::HttpRequest& r, const std::string& path,
                                     const std::map<std::string, std::string>& q, const std::string& who) {
  if (path == "/api/v1/alerts") {
    if (r.method != "GET") return error(405, "GET only");
    AlertFilter f;
    for (const auto& [k, v] : q) {
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
      } else if (k == "from" || k == "to") {
        auto ts = Timestamp::parse(v);
        if (!ts) return error(400, k + ": an RFC 3339 time");
        (k == "from" ? f.from : f.to) = *ts;
      } else if (k == "before") {
        auto n = to_int(v);
        if (!n) return error(400, "before: an alert id");
        f.before_id = *n;
      } else if (k == "limit") {
        auto n = to_int(v);
        if (!n || *n < 1 || *n > 1000) return error(400, "limit: 1 to 1000");
        f.limit = static_cast<int>(*n);
      } else {
        return error(400, "unknown filter '" + k + "'");
      }
    }
    auto list = store_.list_alerts(f);
    if (!list) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : *list) out.push_back(alert_json(a));
    return {200, out.dump(), "application/json", false};
  }
  std::string rest = path.substr(std::string_view("/api/v1/alerts/").size());
  std::string action;
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    action = rest.substr(slash + 1);
    rest.resize(slash);
  }
  auto id = to_int(rest);
  if (!id) return error(404, "no such alert");
  if (action.empty() && r.method == "GET") {
    auto a = store_.get_alert(*id);
    if (!a) return error(503, "store unavailable");
    if (!a->has_value()) return error(404, "no alert " + rest);
    auto j = alert_json(**a);
    auto history = store_.alert_history(*id);
    if (!history) return error(503, "store unavailable");
    j["history"] = nlohmann::json::array();
    for (const auto& h : *history) {
      j["history"].push_back({{"time", h.time.to_string()}, {"who", h.who}, {"action", h.action}, {"value", h.value}});
    }
    return {200, j.dump(), "application/json", false};
  }
  if (r.method == "POST" && (action == "status" || action == "assign" || action == "comment")) {
    if (who == "auditor") return error(403, "auditors cannot change alerts");
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    const char* key = action == "status" ? "status" : action == "assign" ? "assignee" : "text";
    if (body.is_discarded() || !body.is_object() || !body.contains(key) || !body[key].is_string()) {
      return error(400, fmt::format("expected {{\"{}\": string}}", key));
    }
    std::string value = body[key].get<std::string>();
    if (action == "status" && !is_alert_status(value)) {
      return error(400, "status: new, acknowledged, resolved or false_positive");
    }
    if (value.size() > 4000) return error(400, "too long");
    auto done = store_.change_alert(*id, {Timestamp::now(), who, action, value});
    if (!done) return error(503, "store unavailable");
    if (!*done) return error(404, "no alert " + rest);
    log_->info("alert {}: {} set to '{}' by {}", *id, action, action == "comment" ? "(comment)" : value, who);
    return {200, R"({"changed":true})", "application/json", false};
  }
  return error(404, "no such endpoint");
}

// Prometheus text exposition: agents by state, open alerts by severity, the store's latency on
// the queries behind them, and what the service adds (ingest counters, exports).
net::HttpResponse ConsoleApi::metrics() {
  auto started = std::chrono::steady_clock::now();
  auto agents = store_.list_agents();
  if (!agents) return error(503, "store unavailable");
  const Timestamp now = Timestamp::now();
  const int64_t silent_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(silent_after_).count();
  uint64_t active = 0, revoked = 0, silent = 0;
  for (const auto& a : *agents) {
    if (a.status == "revoked") {
      ++revoked;
      continue;
    }
    ++active;
    if (now.ns - a.last_seen.ns > silent_ns) ++silent;
  }
  std::string out;
  out += "# HELP vigil_agents Enrolled agents by state (silent: active, no contact within silent_after).\n";
  out += "# TYPE vigil_agents gauge\n";
  out += fmt::format("vigil_agents{{state=\"active\"}} {}\nvigil_agents{{state=\"revoked\"}} {}\n", active, revoked);
  out += fmt::format("vigil_agents{{state=\"silent\"}} {}\n", silent);
  out += "# HELP vigil_alerts_open Alerts not yet resolved or marked false positive, by severity.\n";
  out += "# TYPE vigil_alerts_open gauge\n";
  static const char* kSeverities[] = {"info", "low", "medium", "high", "critical"};
  for (int sev = 1; sev <= 5; ++sev) {
    uint64_t open = 0;
    for (const char* status : {"new", "acknowledged"}) {
      AlertFilter f;
      f.min_severity = sev;
      f.status = status;
      auto at_least = store_.count_alerts(f);
      f.min_severity = sev + 1;
      auto above = sev < 5 ? store_.count_alerts(f) : Result<uint64_t>(uint64_t{0});
      if (!at_least || !above) return error(503, "store unavailable");
      open += *at_least - *above;
    }
    out += fmt::format("vigil_alerts_open{{severity=\"{}\"}} {}\n", kSeverities[sev - 1], open);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out += "# HELP vigil_store_query_seconds Time the store took to answer this scrape's queries.\n";
  out += "# TYPE vigil_store_query_seconds gauge\n";
  out += fmt::format("vigil_store_query_seconds {:.6f}\n", seconds);
  if (metrics_source_) out += metrics_source_();
  return {200, std::move(out), "text/plain; version=0.0.4"};
}

}  // namespace vigil::collector
