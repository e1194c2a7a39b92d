#include "collector/api/console_api.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/api/password.h"
#include "collector/api/routes/endpoints.h"
#include "collector/console/web_console.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::collector {

using routes::client_address;
using routes::error;
using routes::kMaxPassword;
using routes::request_json;

namespace {

// A user name as it may appear in a log line: bounded and printable.
std::string loggable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  return out;
}

int64_t to_ns(std::chrono::nanoseconds d) { return d.count(); }

}  // namespace

ConsoleApi::ConsoleApi(Store& store, std::string default_framework)
    : store_(store),
      log_(logging::get("console")),
      env_{store, log_,
           [this](const std::string& who, const std::string& action, const std::string& target,
                  const std::string& detail) { audit(who, action, target, detail); },
           std::move(default_framework)},
      routes_(routes::endpoints()) {}

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

int64_t ConsoleApi::locked_for(const std::string& key, int free_failures, Timestamp now) {
  auto f = store_.login_failures(key);
  // Without the store there is no login either (get_user fails next): nothing to lock.
  if (!f || f->failures < free_failures || now.ns - f->last.ns > to_ns(kLoginForgetAfter)) return 0;
  const int doublings = static_cast<int>(std::min<int64_t>(f->failures - free_failures, 20));
  const auto wait = std::min<std::chrono::seconds>(kLoginLockBase * (int64_t{1} << doublings), kLoginLockMax);
  const std::chrono::nanoseconds left{f->last.ns + to_ns(wait) - now.ns};
  return left.count() > 0 ? std::chrono::ceil<std::chrono::seconds>(left).count() : 0;
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
  const Timestamp now = Timestamp::now();
  int64_t wait = std::max(locked_for(user_key, kLoginFreeFailures, now),
                          locked_for(addr_key, kLoginFreeFailuresPerAddress, now));
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
    auto dropped = store_.count_login_failures({user_key, addr_key}, now,
                                               Timestamp{now.ns - to_ns(kLoginForgetAfter)}, kLoginFailureKeys);
    if (dropped && *dropped > 0) {
      log_->warn("failed logins: more than {} user names and addresses failed within {} s; the {} that failed "
                 "longest ago were forgotten",
                 kLoginFailureKeys, kLoginForgetAfter.count(), *dropped);
    }
    log_->warn("login failed for user '{}' from {}: {}", loggable(name), address, reason);
    audit(name, "login.failure", address, reason);
    return error(401, "wrong user name or password");
  }
  (void)store_.clear_login_failures(user_key);
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

net::HttpResponse ConsoleApi::handle(const net::HttpRequest& r) {
  net::HttpResponse resp = route(r);
  console::add_security_headers(resp, r.target.substr(0, r.target.find('?')));
  return resp;
}

net::HttpResponse ConsoleApi::route(const net::HttpRequest& r) {
  routes::Target t = routes::split_target(r.target);
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
  return routes_.dispatch(env_, r, *principal, t.path, t.query);
}

namespace routes {

// The session this caller rides ends; its cookie goes.
net::HttpResponse logout(const Call& c) {
  if (c.caller.session_hash.empty()) return error(400, "an API token is not a session");
  auto done = c.env.store.delete_session(c.caller.session_hash);
  if (!done) return error(503, "store unavailable");
  c.env.audit(c.caller.name, "logout", client_address(c.request.remote), "");
  net::HttpResponse resp{200, R"({"logged_out":true})", "application/json", false};
  resp.headers.emplace_back("Set-Cookie", "vigil_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
  return resp;
}

}  // namespace routes
}  // namespace vigil::collector
