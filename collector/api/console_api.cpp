#include "collector/api/console_api.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/api/password.h"
#include "collector/console/web_console.h"
#include "collector/ingest/agent_identity.h"
#include "collector/report/compliance_report.h"
#include "collector/report/compliance_summary.h"
#include "common/ingest/bounded_json.h"
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

// A request's JSON body, nesting bounded (common/ingest/bounded_json.h); discarded when it is not
// JSON or nests too deep, as nlohmann's parse without exceptions answers.
nlohmann::json request_json(const std::string& body) {
  auto parsed = ingest::parse_bounded_json(body);
  return parsed ? std::move(*parsed) : nlohmann::json(nlohmann::json::value_t::discarded);
}

nlohmann::json alert_json(const AlertRecord& a) {
  nlohmann::json j = {{"id", a.id},         {"time", a.time.to_string()}, {"severity", a.severity},
                      {"rule_id", a.rule_id}, {"rule_name", a.rule_name}, {"agent_id", a.agent_id},
                      {"agency", a.agency}, {"host", a.host},           {"status", a.status},
                      {"assignee", a.assignee}};
  if (!a.evidence.empty()) {
    if (auto ev = ingest::parse_bounded_json(a.evidence)) {
      impose_agent_identity(*ev, a.agent_id, a.host);
      j["evidence"] = std::move(*ev);
    }
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

// RFC 3339, or a date (YYYY-MM-DD, taken as midnight UTC).
std::optional<Timestamp> parse_when(const std::string& s) {
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') return Timestamp::parse(s + "T00:00:00Z");
  return Timestamp::parse(s);
}

// The paging of every list: `before` (an id) and `limit` (1-1000). nullopt when `k` is neither;
// else the complaint about its value, empty when it is good.
std::optional<std::string> paging(const std::string& k, const std::string& v, int64_t& before_id, int& limit,
                                  const char* id_kind) {
  if (k == "before") {
    auto n = to_int(v);
    if (!n) return std::string("before: ") + id_kind;
    before_id = *n;
    return std::string();
  }
  if (k == "limit") {
    auto n = to_int(v);
    if (!n || *n < 1 || *n > 1000) return std::string("limit: 1 to 1000");
    limit = static_cast<int>(*n);
    return std::string();
  }
  return std::nullopt;
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

namespace {

// Names of users and agencies: printable, no control characters (they travel one per line).
bool clean_name(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool valid_user_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '@') return false;
  }
  return true;
}

bool valid_role(const std::string& r) { return r == "admin" || r == "analyst" || r == "auditor"; }

constexpr size_t kMinPassword = 12;
constexpr size_t kMaxPassword = 1024;

// The client's address without its port (IPv6 addresses keep their brackets).
std::string client_address(const std::string& remote) {
  size_t colon = remote.rfind(':');
  if (colon == std::string::npos) return remote;
  size_t bracket = remote.rfind(']');
  if (bracket != std::string::npos) return bracket < colon ? remote.substr(0, colon) : remote;
  if (remote.find(':') != colon) return remote;  // a bare IPv6 address, no port
  return remote.substr(0, colon);
}

// A user name as it may appear in a log line: bounded and printable.
std::string loggable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  return out;
}

int64_t to_ns(std::chrono::nanoseconds d) { return d.count(); }

nlohmann::json user_json(const UserRecord& u) {
  return {{"name", u.name},
          {"role", u.role},
          {"agencies", u.agencies},
          {"disabled", u.disabled},
          {"created", u.created.to_string()}};
}

}  // namespace

ConsoleApi::ConsoleApi(Store& store, std::string default_framework)
    : store_(store), default_framework_(std::move(default_framework)), log_(logging::get("console")) {}

void ConsoleApi::audit(const std::string& who, const std::string& action, const std::string& target,
                       const std::string& detail) {
  auto r = store_.add_audit({0, Timestamp::now(), who, action, target, detail});
  if (!r) log_->error("cannot write the audit log ({} {} by {}): {}", action, target, who, r.error());
}

// API tokens first, then sessions; the cookie carries sessions only.
std::optional<Principal> ConsoleApi::authenticate(const net::HttpRequest& r, std::string& why) {
  std::string auth = r.header("Authorization");
  std::string secret;
  bool bearer = false;
  if (auth.rfind("Bearer ", 0) == 0) {
    secret = auth.substr(7);
    bearer = true;
  } else {
    secret = console::session_cookie(r);
  }
  if (secret.empty()) {
    why = "missing credentials (Authorization: Bearer API token or session, or the vigil_session cookie)";
    return std::nullopt;
  }
  const std::string hash = pki::sha256_hex(secret);
  if (bearer) {
    auto token = store_.api_token(hash);
    if (!token) {
      why = "store unavailable";
      return std::nullopt;
    }
    if (token->has_value()) {
      const ApiTokenRecord& t = **token;
      if (!t.active(Timestamp::now())) {
        why = t.revoked.ns != 0 ? "API token revoked" : "API token expired";
        return std::nullopt;
      }
      return Principal{"token:" + t.name, t.role, t.agencies, ""};
    }
  }
  auto session = store_.get_session(hash);
  if (!session) {
    why = "store unavailable";
    return std::nullopt;
  }
  why = bearer ? "unknown API token or session" : "unknown or expired session";
  if (!session->has_value()) return std::nullopt;
  const Timestamp now = Timestamp::now();
  const SessionRecord& s = **session;
  if (now.ns - s.created.ns > to_ns(kSessionAbsolute) || now.ns - s.last_used.ns > to_ns(kSessionIdle)) {
    (void)store_.delete_session(hash);
    why = "session expired: log in again";
    return std::nullopt;
  }
  auto user = store_.get_user(s.user);
  if (!user) {
    why = "store unavailable";
    return std::nullopt;
  }
  if (!user->has_value() || (*user)->disabled) {
    why = "user disabled";
    return std::nullopt;
  }
  // Written at most once a minute per session: reads stay reads.
  if (now.ns - s.last_used.ns > to_ns(std::chrono::minutes(1))) (void)store_.touch_session(hash, now);
  return Principal{(*user)->name, (*user)->role, (*user)->agencies, hash};
}

int64_t ConsoleApi::locked_for(const std::string& key, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(attempts_mutex_);
  auto it = attempts_.find(key);
  if (it == attempts_.end()) return 0;
  if (now - it->second.last_failure > kLoginForgetAfter) {
    attempts_.erase(it);
    return 0;
  }
  if (it->second.locked_until <= now) return 0;
  return std::chrono::ceil<std::chrono::seconds>(it->second.locked_until - now).count();
}

void ConsoleApi::count_failure(const std::string& key, int free_failures, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(attempts_mutex_);
  if (attempts_.size() > 100'000) {
    // Bounded: forget what no longer locks anything.
    std::erase_if(attempts_, [&](const auto& kv) {
      return kv.second.locked_until <= now && now - kv.second.last_failure > std::chrono::minutes(1);
    });
  }
  Attempts& a = attempts_[key];
  if (a.failures > 0 && now - a.last_failure > kLoginForgetAfter) a.failures = 0;
  ++a.failures;
  a.last_failure = now;
  if (a.failures >= free_failures) {
    int doublings = std::min(a.failures - free_failures, 20);
    auto wait = std::min<std::chrono::seconds>(kLoginLockBase * (int64_t{1} << doublings), kLoginLockMax);
    a.locked_until = now + wait;
  }
}

net::HttpResponse ConsoleApi::login(const net::HttpRequest& r) {
  auto body = request_json(r.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("user") || !body["user"].is_string() ||
      !body.contains("password") || !body["password"].is_string()) {
    return error(400, "expected {\"user\": string, \"password\": string}");
  }
  const std::string name = body["user"].get<std::string>();
  const std::string password = body["password"].get<std::string>();
  const std::string address = client_address(r.remote);
  if (name.empty() || name.size() > 200 || password.size() > kMaxPassword) {
    return error(400, "user: 1 to 200 characters; password: at most 1024");
  }
  const std::string user_key = "user:" + name;
  const std::string addr_key = "addr:" + address;
  auto now = std::chrono::steady_clock::now();
  int64_t wait = std::max(locked_for(user_key, now), locked_for(addr_key, now));
  if (wait > 0) {
    log_->warn("login refused for user '{}' from {}: locked for {} s after repeated failures", loggable(name),
               address, wait);
    audit(name, "login.locked", address, fmt::format("locked for {} s", wait));
    auto resp = error(429, fmt::format("too many failed logins: try again in {} s", wait));
    resp.headers.emplace_back("Retry-After", std::to_string(wait));
    return resp;
  }
  auto user = store_.get_user(name);
  if (!user) return error(503, "store unavailable");
  bool ok = false;
  std::string reason = "wrong password";
  if (user->has_value()) {
    ok = verify_password(password, (*user)->password);
    if (ok && (*user)->disabled) {
      ok = false;
      reason = "user disabled";
    }
  } else {
    // The same work as for a real user, so timing does not tell which names exist.
    static const std::string dummy = hash_password("not a password");
    (void)verify_password(password, dummy);
    reason = "unknown user";
  }
  if (!ok) {
    count_failure(user_key, kLoginFreeFailures, now);
    count_failure(addr_key, kLoginFreeFailuresPerAddress, now);
    log_->warn("login failed for user '{}' from {}: {}", loggable(name), address, reason);
    audit(name, "login.failure", address, reason);
    return error(401, "wrong user name or password");
  }
  {
    std::lock_guard lock(attempts_mutex_);
    attempts_.erase(user_key);
  }
  std::string token = pki::random_token(32);
  const Timestamp issued = Timestamp::now();
  auto added = store_.add_session(pki::sha256_hex(token), {name, issued, issued});
  if (!added) return error(503, "store unavailable");
  // Sessions past their time go when someone logs in; nothing else needs a timer.
  (void)store_.expire_sessions(Timestamp{issued.ns - to_ns(kSessionAbsolute)}, Timestamp{issued.ns - to_ns(kSessionIdle)});
  log_->info("user '{}' logged in from {}", name, address);
  audit(name, "login.success", address, "");
  const Timestamp expires{issued.ns + to_ns(kSessionAbsolute)};
  net::HttpResponse resp{200,
                         nlohmann::json{{"token", token},
                                        {"user", name},
                                        {"role", (*user)->role},
                                        {"agencies", (*user)->agencies},
                                        {"expires", expires.to_string()},
                                        {"csrf_token", console::csrf_token(token)},
                                        {"idle_timeout_s", std::chrono::seconds(kSessionIdle).count()}}
                             .dump(),
                         "application/json", false};
  resp.headers.emplace_back("Set-Cookie",
                            fmt::format("vigil_session={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
                                        token, std::chrono::seconds(kSessionAbsolute).count()));
  resp.headers.emplace_back("Cache-Control", "no-store");
  return resp;
}

net::HttpResponse ConsoleApi::logout(const net::HttpRequest& r, const Principal& p) {
  if (p.session_hash.empty()) return error(400, "an API token is not a session");
  auto done = store_.delete_session(p.session_hash);
  if (!done) return error(503, "store unavailable");
  audit(p.name, "logout", client_address(r.remote), "");
  net::HttpResponse resp{200, R"({"logged_out":true})", "application/json", false};
  resp.headers.emplace_back("Set-Cookie", "vigil_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
  return resp;
}

net::HttpResponse ConsoleApi::users(const net::HttpRequest& r, const std::string& path, const Principal& p) {
  if (p.role != "admin" || !p.agencies.empty()) {
    return error(403, "managing users needs the admin role without agency limits");
  }
  auto read_password = [](const nlohmann::json& body, std::string& out) {
    if (!body.is_object() || !body.contains("password") || !body["password"].is_string()) return false;
    out = body["password"].get<std::string>();
    return out.size() >= kMinPassword && out.size() <= kMaxPassword;
  };
  if (path == "/api/v1/users") {
    if (r.method == "GET") {
      auto list = store_.list_users();
      if (!list) return error(503, "store unavailable");
      nlohmann::json out = nlohmann::json::array();
      for (const auto& u : *list) out.push_back(user_json(u));
      return {200, out.dump(), "application/json", false};
    }
    if (r.method != "POST") return error(405, "GET or POST");
    auto body = request_json(r.body);
    const char* usage =
        "expected {\"name\": [A-Za-z0-9._@-]{1,64}, \"password\": 12 to 1024 characters, \"role\": "
        "admin|analyst|auditor, \"agencies\": [names]}";
    if (body.is_discarded() || !body.is_object() || !body.contains("name") || !body["name"].is_string() ||
        !body.contains("role") || !body["role"].is_string()) {
      return error(400, usage);
    }
    UserRecord u;
    u.name = body["name"].get<std::string>();
    u.role = body["role"].get<std::string>();
    std::string password;
    if (!valid_user_name(u.name) || !valid_role(u.role) || !read_password(body, password)) return error(400, usage);
    if (body.contains("agencies")) {
      if (!body["agencies"].is_array()) return error(400, usage);
      for (const auto& a : body["agencies"]) {
        if (!a.is_string() || !clean_name(a.get<std::string>(), 200)) return error(400, "agencies: names of 1 to 200 characters");
        u.agencies.push_back(a.get<std::string>());
      }
    }
    for (const auto& a : body.items()) {
      if (a.key() != "name" && a.key() != "role" && a.key() != "password" && a.key() != "agencies") {
        return error(400, "unknown field '" + a.key() + "'");
      }
    }
    u.password = hash_password(password);
    u.created = Timestamp::now();
    auto added = store_.add_user(u);
    if (!added) return error(503, "store unavailable");
    if (!*added) return error(409, "user " + u.name + " exists");
    log_->info("user '{}' added with role {} by {}", u.name, u.role, p.name);
    audit(p.name, "user.add", u.name,
          u.agencies.empty() ? "role " + u.role : "role " + u.role + ", agencies " + nlohmann::json(u.agencies).dump());
    return {201, user_json(u).dump(), "application/json", false};
  }
  std::string rest = path.substr(std::string_view("/api/v1/users/").size());
  size_t slash = rest.find('/');
  if (slash == std::string::npos || r.method != "POST") return error(404, "no such endpoint");
  auto name = url_decode(rest.substr(0, slash));
  std::string action = rest.substr(slash + 1);
  if (!name || name->empty()) return error(404, "no such user");
  Result<bool> done = false;
  std::string audit_action;
  if (action == "disable" || action == "enable") {
    done = store_.set_user_disabled(*name, action == "disable");
    audit_action = "user." + action;
  } else if (action == "password") {
    auto body = request_json(r.body);
    std::string password;
    if (body.is_discarded() || !read_password(body, password)) {
      return error(400, "expected {\"password\": 12 to 1024 characters}");
    }
    done = store_.set_user_password(*name, hash_password(password));
    audit_action = "user.password";
  } else {
    return error(404, "no such endpoint");
  }
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no user " + *name);
  log_->info("user '{}': {} by {}", *name, audit_action, p.name);
  audit(p.name, audit_action, *name, "");
  return {200, R"({"changed":true})", "application/json", false};
}

// API tokens for scripts and other programs, each with a role and optionally limited to agencies.
net::HttpResponse ConsoleApi::create_api_token(const net::HttpRequest& r, const Principal& p) {
  if (p.role != "admin" || !p.agencies.empty()) {
    return error(403, "creating API tokens needs the admin role without agency limits");
  }
  auto body = request_json(r.body);
  const char* usage =
      "expected {\"name\": [A-Za-z0-9._@-]{1,64}, \"role\": admin|analyst|auditor, \"agencies\": [names]}";
  if (body.is_discarded() || !body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      !body.contains("role") || !body["role"].is_string()) {
    return error(400, usage);
  }
  ApiTokenRecord t{body["name"].get<std::string>(), body["role"].get<std::string>(), {}};
  if (!valid_user_name(t.name) || !valid_role(t.role)) return error(400, usage);
  if (body.contains("agencies")) {
    if (!body["agencies"].is_array()) return error(400, usage);
    for (const auto& a : body["agencies"]) {
      if (!a.is_string() || !clean_name(a.get<std::string>(), 200)) {
        return error(400, "agencies: names of 1 to 200 characters");
      }
      t.agencies.push_back(a.get<std::string>());
    }
  }
  const Timestamp now = Timestamp::now();
  if (auto e = body.find("expires"); e != body.end() && !e->is_null()) {
    auto until = e->is_string() ? parse_when(e->get<std::string>()) : std::nullopt;
    if (!until) return error(400, "expires: a date (YYYY-MM-DD) or an RFC 3339 time");
    if (*until <= now) return error(400, "expires: must be in the future");
    t.expires = *until;
  }
  t.created = now;
  t.created_by = p.name;
  std::string token = pki::random_token(32);
  auto added = store_.add_api_token(pki::sha256_hex(token), t);
  if (!added) return error(503, "store unavailable");
  t.id = *added;
  log_->info("API token '{}' (id {}) created with role {} by {}", t.name, t.id, t.role, p.name);
  std::string detail = "role " + t.role;
  if (!t.agencies.empty()) detail += ", agencies " + nlohmann::json(t.agencies).dump();
  if (t.expires.ns != 0) detail += ", expires " + t.expires.to_string();
  audit(p.name, "apitoken.create", fmt::format("{} (id {})", t.name, t.id), detail);
  auto out = api_token_json(t);
  out["token"] = token;
  return {200, out.dump(), "application/json", false};
}

nlohmann::json ConsoleApi::api_token_json(const ApiTokenRecord& t) const {
  const Timestamp now = Timestamp::now();
  return {{"id", t.id},
          {"name", t.name},
          {"role", t.role},
          {"agencies", t.agencies},
          {"created", t.created.to_string()},
          {"created_by", t.created_by},
          {"expires", t.expires.ns != 0 ? nlohmann::json(t.expires.to_string()) : nlohmann::json(nullptr)},
          {"revoked", t.revoked.ns != 0 ? nlohmann::json(t.revoked.to_string()) : nlohmann::json(nullptr)},
          {"bootstrap", t.bootstrap},
          {"state", t.revoked.ns != 0 ? "revoked" : t.active(now) ? "active" : "expired"}};
}

// GET /api/v1/api-tokens lists every token (never a secret or its hash); POST
// /api/v1/api-tokens/ID/revoke ends one now. Admins without agency limits only.
net::HttpResponse ConsoleApi::api_tokens(const net::HttpRequest& r, const std::string& path, const Principal& p) {
  if (p.role != "admin" || !p.agencies.empty()) {
    return error(403, "API tokens need the admin role without agency limits");
  }
  if (path == "/api/v1/api-tokens") {
    if (r.method == "POST") return create_api_token(r, p);
    if (r.method != "GET") return error(405, "GET or POST");
    auto list = store_.list_api_tokens();
    if (!list) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *list) out.push_back(api_token_json(t));
    return {200, out.dump(), "application/json", false};
  }
  const std::string prefix = "/api/v1/api-tokens/";
  const std::string rest = path.substr(prefix.size());
  const size_t slash = rest.find('/');
  auto id = to_int(rest.substr(0, slash));
  if (!id || slash == std::string::npos || rest.substr(slash) != "/revoke") return error(404, "no such endpoint");
  if (r.method != "POST") return error(405, "POST");
  auto revoked = store_.revoke_api_token(*id, Timestamp::now());
  if (!revoked) return error(503, "store unavailable");
  if (!*revoked) return error(404, fmt::format("no active API token {}", *id));
  log_->info("API token {} revoked by {}", *id, p.name);
  audit(p.name, "apitoken.revoke", std::to_string(*id), "");
  return {200, nlohmann::json{{"id", *id}, {"state", "revoked"}}.dump(), "application/json", false};
}

net::HttpResponse ConsoleApi::quarantine_list(const std::map<std::string, std::string>& q) {
  std::string agent;
  int64_t before_id = 0;
  int limit = 100;
  for (const auto& [k, v] : q) {
    if (k == "agent") {
      agent = v;
    } else if (auto err = paging(k, v, before_id, limit, "a quarantined record id"); !err) {
      return error(400, "unknown filter '" + k + "'");
    } else if (!err->empty()) {
      return error(400, *err);
    }
  }
  auto list = store_.list_quarantined(agent, before_id, limit);
  if (!list) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : *list) {
    out.push_back({{"id", e.id},
                   {"received", e.received.to_string()},
                   {"agent_id", e.agent_id},
                   {"epoch", e.epoch},
                   {"seq", e.seq ? nlohmann::json(*e.seq) : nlohmann::json(nullptr)},
                   {"line", e.line},
                   {"reason", e.reason},
                   {"body", e.body}});
  }
  return {200, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json", false};
}

net::HttpResponse ConsoleApi::audit_list(const std::map<std::string, std::string>& q) {
  AuditFilter f;
  for (const auto& [k, v] : q) {
    if (k == "who") {
      f.who = v;
    } else if (k == "action") {
      f.action = v;
    } else if (auto err = paging(k, v, f.before_id, f.limit, "an audit entry id"); !err) {
      return error(400, "unknown filter '" + k + "'");
    } else if (!err->empty()) {
      return error(400, *err);
    }
  }
  auto list = store_.list_audit(f);
  if (!list) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : *list) {
    out.push_back({{"id", e.id},
                   {"time", e.time.to_string()},
                   {"who", e.who},
                   {"action", e.action},
                   {"target", e.target},
                   {"detail", e.detail}});
  }
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse ConsoleApi::handle(const net::HttpRequest& r) {
  net::HttpResponse resp = route(r);
  console::add_security_headers(resp, r.target.substr(0, r.target.find('?')));
  return resp;
}

net::HttpResponse ConsoleApi::route(const net::HttpRequest& r) {
  Target t = split_target(r.target);
  if (!t.error.empty()) return error(400, t.error);
  if (auto file = console::serve_file(r, t.path)) return *file;
  if (t.path == "/api/v1/login") {
    if (r.method != "POST") return error(405, "POST only");
    if (console::cross_site(r)) return error(403, "cross-site login refused");
    return login(r);
  }
  std::string why;
  auto principal = authenticate(r, why);
  if (!principal) {
    if (why == "store unavailable") return error(503, why);
    log_->warn("{}: {} {} refused: {}", r.remote, r.method, t.path, why);
    return error(401, why);
  }
  // A browser's cookie rides along on requests other sites make it send: changes need the
  // session's CSRF token too.
  if (std::string refused = console::csrf_refusal(r); !refused.empty()) {
    log_->warn("{}: {} {} refused: {}", r.remote, r.method, t.path, refused);
    return error(403, refused);
  }
  const Principal& p = *principal;
  const std::string& who = p.name;
  auto require_admin = [&]() -> std::optional<net::HttpResponse> {
    if (p.role != "admin") return error(403, "this needs the admin role");
    return std::nullopt;
  };

  if (t.path == "/api/v1/logout" && r.method == "POST") return logout(r, p);
  if (t.path == "/api/v1/session" && r.method == "GET") {
    // The web console's start: who is logged in, and the CSRF token of the cookie's session.
    std::string secret = console::authenticated_by_cookie(r) ? console::session_cookie(r) : "";
    return {200,
            nlohmann::json{{"user", p.name},
                           {"role", p.role},
                           {"agencies", p.agencies},
                           {"csrf_token", secret.empty() ? "" : console::csrf_token(secret)}}
                .dump(),
            "application/json", false};
  }
  if (t.path == "/api/v1/api-tokens" || t.path.rfind("/api/v1/api-tokens/", 0) == 0) return api_tokens(r, t.path, p);
  if (t.path == "/api/v1/users" || t.path.rfind("/api/v1/users/", 0) == 0) return users(r, t.path, p);
  if (t.path == "/api/v1/audit" && r.method == "GET") {
    if ((p.role != "admin" && p.role != "auditor") || !p.agencies.empty()) {
      return error(403, "the audit log needs the admin or auditor role without agency limits");
    }
    return audit_list(t.query);
  }
  if (t.path == "/api/v1/quarantine" && r.method == "GET") {
    if ((p.role != "admin" && p.role != "auditor") || !p.agencies.empty()) {
      return error(403, "quarantined records need the admin or auditor role without agency limits");
    }
    return quarantine_list(t.query);
  }
  if (t.path == "/metrics" && r.method == "GET") {
    if (!p.agencies.empty()) return error(403, "metrics cover every agency: not for a caller limited to some");
    return metrics();
  }
  if (t.path == "/api/v1/alerts" || t.path.rfind("/api/v1/alerts/", 0) == 0) return alerts(r, t.path, t.query, p);
  if (r.method == "GET" && t.path == "/api/v1/compliance") return compliance(t.query, p);
  if (r.method == "GET" && t.path == "/api/v1/reports/compliance") return compliance_report(t.query, p);
  if (t.path == "/api/v1/waivers" || t.path.rfind("/api/v1/waivers/", 0) == 0) return waivers(r, t.path, t.query, p);
  if (r.method == "GET" && t.path == "/api/v1/agencies") {
    auto agencies = store_.list_agencies();
    if (!agencies) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : *agencies) {
      if (p.sees(a.name)) out.push_back({{"name", a.name}, {"framework", a.framework}});
    }
    return {200, out.dump(), "application/json", false};
  }
  if (r.method == "POST" && t.path.rfind("/api/v1/agencies/", 0) == 0 && t.path.ends_with("/framework")) {
    if (auto denied = require_admin()) return *denied;
    const size_t prefix_len = std::string_view("/api/v1/agencies/").size();
    const size_t suffix_len = std::string_view("/framework").size();
    if (t.path.size() <= prefix_len + suffix_len) return error(404, "no such endpoint");
    auto name = url_decode(t.path.substr(prefix_len, t.path.size() - prefix_len - suffix_len));
    auto body = request_json(r.body);
    if (!name || body.is_discarded() || !body.is_object() || !body.contains("framework") ||
        !body["framework"].is_string() || body["framework"].get<std::string>().empty() ||
        body["framework"].get<std::string>().size() > 100) {
      return error(400, "expected {\"framework\": catalogue id}");
    }
    if (!p.sees(*name)) return error(404, "no agency " + *name);
    auto done = store_.set_agency_framework(*name, body["framework"].get<std::string>());
    if (!done) return error(503, "store unavailable");
    if (!*done) return error(404, "no agency " + *name);
    log_->info("agency '{}': framework set to {} by {}", *name, body["framework"].get<std::string>(), who);
    audit(who, "agency.framework", *name, body["framework"].get<std::string>());
    return {200, R"({"changed":true})", "application/json", false};
  }
  if (r.method == "GET" && t.path == "/api/v1/status") {
    auto agents = store_.list_agents();
    if (!agents) return error(503, "store unavailable");
    AlertFilter open;
    open.status = "new";
    open.agencies_in = p.agencies;
    auto fresh = store_.count_alerts(open);
    if (!fresh) return error(503, "store unavailable");
    auto quarantined = store_.count_quarantined();
    if (!quarantined) return error(503, "store unavailable");
    size_t total = 0, active = 0;
    for (const auto& a : *agents) {
      if (!p.sees(a.agency)) continue;
      ++total;
      active += a.status == "active";
    }
    return {200,
            nlohmann::json{{"agents", total}, {"agents_active", active}, {"alerts_new", *fresh},
                           {"records_quarantined", *quarantined}, {"role", p.role},
                           {"user", p.name}, {"agencies", p.agencies}}
                .dump(),
            "application/json", false};
  }

  if (r.method == "POST" && t.path == "/api/v1/tokens") {
    if (auto denied = require_admin()) return *denied;
    auto body = request_json(r.body);
    if (body.is_discarded() || !body.is_object() || !body.contains("agency") || !body["agency"].is_string() ||
        !body.contains("level") || !body["level"].is_number_integer()) {
      return error(400, "expected {\"agency\": string, \"level\": 1-5, \"ttl_hours\": integer}");
    }
    std::string agency = body["agency"].get<std::string>();
    int level = body["level"].get<int>();
    if (body.contains("ttl_hours") && !body["ttl_hours"].is_number_integer()) return error(400, "ttl_hours: 1 to 720");
    int64_t ttl_hours = body.value("ttl_hours", int64_t{24});
    if (!clean_name(agency, 200)) return error(400, "agency: 1 to 200 characters, no control characters");
    if (level < 1 || level > 5) return error(400, "level: 1 to 5");
    if (ttl_hours < 1 || ttl_hours > 24 * 30) return error(400, "ttl_hours: 1 to 720");
    if (!p.sees(agency)) return error(403, "you are limited to other agencies");
    auto a = store_.ensure_agency(agency, default_framework_);
    if (!a) return error(503, "store unavailable");
    std::string token = pki::random_token();
    Timestamp expires{Timestamp::now().ns + ttl_hours * 3600LL * 1'000'000'000LL};
    auto added = store_.add_token(pki::sha256_hex(token), {agency, level}, expires);
    if (!added) return error(503, "store unavailable");
    log_->info("enrollment token created for agency '{}' at level {} (expires {})", agency, level, expires.to_string());
    audit(who, "token.create", agency, fmt::format("level {}, expires {}", level, expires.to_string()));
    return {200, nlohmann::json{{"token", token}, {"agency", agency}, {"level", level}, {"expires", expires.to_string()}}.dump(),
            "application/json", false};
  }
  if (r.method == "GET" && t.path == "/api/v1/agents") {
    auto agents = store_.list_agents();
    if (!agents) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : *agents) {
      if (p.sees(a.agency)) out.push_back(agent_json(a));
    }
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
    if ((revoke || level) && r.method != "POST") return error(404, "no such endpoint");
    if (!revoke && !level && r.method != "GET") return error(404, "no such endpoint");
    if (revoke || level) {
      if (auto denied = require_admin()) return *denied;
    }
    // What lies outside the caller's agencies does not exist for the caller.
    auto agent = store_.get_agent(rest);
    if (!agent) return error(503, "store unavailable");
    if (!agent->has_value() || !p.sees((*agent)->agency)) return error(404, "no agent " + rest);
    if (revoke) {
      auto done = store_.revoke_agent(rest);
      if (!done) return error(503, "store unavailable");
      if (!*done) return error(404, "no agent " + rest);
      log_->info("agent {} revoked by {}", rest, who);
      audit(who, "agent.revoke", rest, (*agent)->agency);
      return {200, R"({"revoked":true})", "application/json", false};
    }
    if (level) {
      auto body = request_json(r.body);
      if (body.is_discarded() || !body.is_object() || !body.contains("level") || !body["level"].is_number_integer() ||
          body["level"].get<int>() < 1 || body["level"].get<int>() > 5) {
        return error(400, "expected {\"level\": 1-5}");
      }
      auto done = store_.set_agent_level(rest, body["level"].get<int>());
      if (!done) return error(503, "store unavailable");
      if (!*done) return error(404, "no agent " + rest);
      log_->info("agent {}: security level set to {} by {}", rest, body["level"].get<int>(), who);
      audit(who, "agent.level", rest, fmt::format("{} -> {}", (*agent)->level, body["level"].get<int>()));
      return {200, R"({"changed":true})", "application/json", false};
    }
    return {200, agent_json(**agent).dump(), "application/json", false};
  }
  return error(404, "no such endpoint");
}

namespace {

}  // namespace

ConsoleApi::Summary ConsoleApi::summary(const std::map<std::string, std::string>& query, const Principal& p) {
  Summary out;
  auto refuse = [&](int status, const std::string& message) {
    out.refusal = error(status, message);
    return std::move(out);
  };
  std::string only_agency;
  std::optional<Timestamp> since;
  if (auto it = query.find("agency"); it != query.end()) only_agency = it->second;
  if (auto it = query.find("since"); it != query.end()) {
    since = parse_when(it->second);
    if (!since) return refuse(400, "since: a date (YYYY-MM-DD) or an RFC 3339 time");
  }
  if (!only_agency.empty() && !p.sees(only_agency)) return refuse(404, "no agency " + only_agency);
  SummaryInput in;
  in.now = Timestamp::now();
  in.since = since;
  in.silent_after = silent_after_;
  in.frameworks = frameworks_.get();
  auto agencies = store_.list_agencies();
  auto agents = store_.list_agents();
  auto latest = store_.compliance_latest(only_agency);
  auto alerts = store_.alert_tally(only_agency, Timestamp{});
  WaiverFilter wf;
  wf.agency = only_agency;
  wf.agencies_in = p.agencies;
  auto waivers = store_.list_waivers(wf);
  if (!agencies || !agents || !latest || !alerts || !waivers) return refuse(503, "store unavailable");
  bool found = only_agency.empty();
  for (auto& ag : *agencies) {
    if ((!only_agency.empty() && ag.name != only_agency) || !p.sees(ag.name)) continue;
    found = true;
    in.agencies.push_back(std::move(ag));
  }
  if (!found) return refuse(404, "no agency " + only_agency);
  if (since) {
    auto previous = store_.compliance_as_of(only_agency, *since);
    auto raised = store_.alert_tally(only_agency, *since);
    if (!previous || !raised) return refuse(503, "store unavailable");
    in.previous = std::move(*previous);
    in.alerts_since = std::move(*raised);
  }
  in.agents = std::move(*agents);
  in.latest = std::move(*latest);
  in.alerts = std::move(*alerts);
  in.waivers = std::move(*waivers);
  out.json = compliance_summary(in);
  return out;
}

// Per agency: scores, controls, failing checks, waivers, the self-assessment, agents and alerts
// (collector/report/compliance_summary.h says how each is counted).
net::HttpResponse ConsoleApi::compliance(const std::map<std::string, std::string>& q, const Principal& p) {
  for (const auto& [k, v] : q) {
    if (k != "agency" && k != "since") return error(400, "unknown filter '" + k + "'");
  }
  auto doc = summary(q, p);
  if (!doc.json) return doc.refusal;
  return {200, (*doc.json)["agencies"].dump(), "application/json", false};
}

net::HttpResponse ConsoleApi::compliance_report(const std::map<std::string, std::string>& q, const Principal& p) {
  std::string format = "json", lang = "vi";
  for (const auto& [k, v] : q) {
    if (k == "agency" || k == "since") {
      continue;
    } else if (k == "format") {
      if (v != "json" && v != "csv" && v != "html") return error(400, "format: json, csv or html");
      format = v;
    } else if (k == "lang") {
      if (v != "vi" && v != "en") return error(400, "lang: vi or en");
      lang = v;
    } else {
      return error(400, "unknown parameter '" + k + "'");
    }
  }
  auto doc = summary(q, p);
  if (!doc.json) return doc.refusal;
  const std::string stem = std::string("vigil-compliance-") + (q.count("agency") ? "agency" : "all");
  if (format == "csv") {
    net::HttpResponse out{200, compliance_csv(*doc.json), "text/csv; charset=utf-8", false};
    out.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + stem + ".csv\"");
    return out;
  }
  if (format == "html") {
    net::HttpResponse out{200, compliance_html(*doc.json, lang == "en" ? ReportLang::en : ReportLang::vi),
                          "text/html; charset=utf-8", false};
    // The report is one self-contained file: its own styles, nothing loaded, no script.
    out.headers.emplace_back("Content-Security-Policy", std::string(kReportCsp));
    return out;
  }
  return {200, doc.json->dump(), "application/json", false};
}

net::HttpResponse ConsoleApi::waivers(const net::HttpRequest& r, const std::string& path,
                                      const std::map<std::string, std::string>& q, const Principal& p) {
  const Timestamp now = Timestamp::now();
  if (path == "/api/v1/waivers" && r.method == "GET") {
    WaiverFilter f;
    f.now = now;
    f.agencies_in = p.agencies;
    for (const auto& [k, v] : q) {
      if (k == "agency") {
        f.agency = v;
      } else if (k == "active") {
        if (v != "1" && v != "0" && v != "true" && v != "false") return error(400, "active: 1 or 0");
        f.active_only = v == "1" || v == "true";
      } else {
        return error(400, "unknown filter '" + k + "'");
      }
    }
    if (!f.agency.empty() && !p.sees(f.agency)) return {200, "[]", "application/json", false};
    auto list = store_.list_waivers(f);
    if (!list) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& w : *list) out.push_back(waiver_json(w, now));
    return {200, out.dump(), "application/json", false};
  }
  if (r.method != "POST") return error(405, "GET /api/v1/waivers, POST to add or expire");
  if (p.role != "admin") return error(403, "waivers need the admin role");
  if (path == "/api/v1/waivers") {
    auto body = request_json(r.body);
    if (body.is_discarded() || !body.is_object()) return error(400, "expected a JSON object");
    auto text = [&](const char* key, bool required, size_t max, std::string& out) -> std::optional<std::string> {
      if (!body.contains(key) || body[key].is_null()) {
        if (required) return fmt::format("{}: required", key);
        return std::nullopt;
      }
      if (!body[key].is_string()) return fmt::format("{}: a string", key);
      out = body[key].get<std::string>();
      if ((required && out.empty()) || out.size() > max) return fmt::format("{}: 1 to {} characters", key, max);
      for (unsigned char c : out) {
        if (c < 0x20 && c != '\t') return fmt::format("{}: no control characters", key);
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
    auto agencies = store_.list_agencies();
    if (!agencies) return error(503, "store unavailable");
    if (std::none_of(agencies->begin(), agencies->end(), [&](const AgencyRecord& a) { return a.name == w.agency; })) {
      return error(404, "no agency " + w.agency);
    }
    if (!w.agent_id.empty()) {
      auto agent = store_.get_agent(w.agent_id);
      if (!agent) return error(503, "store unavailable");
      if (!*agent || (*agent)->agency != w.agency) return error(404, "no agent " + w.agent_id + " in " + w.agency);
    }
    w.expires = *until;
    w.created = now;
    w.created_by = p.name;
    auto id = store_.add_waiver(w);
    if (!id) return error(503, "store unavailable");
    std::string scope = w.agent_id.empty() ? "agency " + w.agency : "agent " + w.agent_id;
    log_->info("waiver {}: check {}{} waived for {} until {} by {} (accepted by {})", *id,
               w.policy.empty() ? "" : w.policy + "/", w.check_id, scope, w.expires.to_string(), p.name, w.accepted_by);
    audit(p.name, "waiver.add", std::to_string(*id),
          fmt::format("{}{} for {} until {}; accepted by {}; reason: {}", w.policy.empty() ? "" : w.policy + "/",
                      w.check_id, scope, w.expires.to_string(), w.accepted_by, w.reason));
    return {201, nlohmann::json{{"id", *id}}.dump(), "application/json", false};
  }
  const std::string prefix = "/api/v1/waivers/";
  if (path.rfind(prefix, 0) == 0 && path.ends_with("/expire")) {
    auto id = to_int(path.substr(prefix.size(), path.size() - prefix.size() - std::string_view("/expire").size()));
    if (!id) return error(404, "no such waiver");
    auto w = store_.get_waiver(*id);
    if (!w) return error(503, "store unavailable");
    if (!*w || !p.sees((*w)->agency)) return error(404, "no waiver " + std::to_string(*id));
    auto done = store_.expire_waiver(*id, now, p.name);
    if (!done) return error(503, "store unavailable");
    if (!*done) return error(409, "waiver " + std::to_string(*id) + " is no longer active");
    log_->info("waiver {}: expired by {}", *id, p.name);
    audit(p.name, "waiver.expire", std::to_string(*id), "");
    return {200, R"({"expired":true})", "application/json", false};
  }
  return error(404, "no such endpoint");
}

net::HttpResponse ConsoleApi::alerts(const net::HttpRequest& r, const std::string& path,
                                     const std::map<std::string, std::string>& q, const Principal& p) {
  const std::string& who = p.name;
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
      } else if (auto err = paging(k, v, f.before_id, f.limit, "an alert id"); !err) {
        return error(400, "unknown filter '" + k + "'");
      } else if (!err->empty()) {
        return error(400, *err);
      }
    }
    f.agencies_in = p.agencies;
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
    if (!a->has_value() || !p.sees((*a)->agency)) return error(404, "no alert " + rest);
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
    if (p.role == "auditor") return error(403, "auditors cannot change alerts");
    auto body = request_json(r.body);
    const char* key = action == "status" ? "status" : action == "assign" ? "assignee" : "text";
    if (body.is_discarded() || !body.is_object() || !body.contains(key) || !body[key].is_string()) {
      return error(400, fmt::format("expected {{\"{}\": string}}", key));
    }
    std::string value = body[key].get<std::string>();
    if (action == "status" && !is_alert_status(value)) {
      return error(400, "status: new, acknowledged, resolved or false_positive");
    }
    if (value.size() > 4000) return error(400, "too long");
    auto current = store_.get_alert(*id);
    if (!current) return error(503, "store unavailable");
    if (!current->has_value() || !p.sees((*current)->agency)) return error(404, "no alert " + rest);
    auto done = store_.change_alert(*id, {Timestamp::now(), who, action, value});
    if (!done) return error(503, "store unavailable");
    if (!*done) return error(404, "no alert " + rest);
    log_->info("alert {}: {} set to '{}' by {}", *id, action, action == "comment" ? "(comment)" : value, who);
    audit(who, "alert." + action, "alert/" + rest, value);
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
  // Open alerts at or above each severity (one count per severity and status), then the
  // differences between neighbours give each severity's own count.
  uint64_t at_least[7] = {};
  for (int sev = 1; sev <= 5; ++sev) {
    for (const char* status : {"new", "acknowledged"}) {
      AlertFilter f;
      f.min_severity = sev;
      f.status = status;
      auto n = store_.count_alerts(f);
      if (!n) return error(503, "store unavailable");
      at_least[sev] += *n;
    }
  }
  for (int sev = 1; sev <= 5; ++sev) {
    out += fmt::format("vigil_alerts_open{{severity=\"{}\"}} {}\n", kSeverities[sev - 1], at_least[sev] - at_least[sev + 1]);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out += "# HELP vigil_store_query_seconds Time the store took to answer this scrape's queries.\n";
  out += "# TYPE vigil_store_query_seconds gauge\n";
  out += fmt::format("vigil_store_query_seconds {:.6f}\n", seconds);
  if (metrics_source_) out += metrics_source_();
  return {200, std::move(out), "text/plain; version=0.0.4"};
}

}  // namespace vigil::collector
