// The console listener's JSON API. Callers authenticate with an API token or a login session,
// either as "Authorization: Bearer ..." or (sessions, for the web console) the vigil_session
// cookie. A caller limited to some agencies sees and changes only their agents, alerts and
// compliance; what lies outside reads as not found. Every change is written to the audit log.
//   POST /api/v1/login                {user, password} -> {token, expires} + cookie   (anyone)
//   GET  /, /ui/NAME                  the web console's files (collector/console/web)  (anyone)
// Requests riding the session cookie that change something need X-CSRF-Token (from login or
// GET /api/v1/session) and no cross-site Origin/Sec-Fetch-Site; Bearer callers do not.
// Every endpoint after login (logout too), with the roles that may call it and whether a caller
// limited to agencies may: the table in collector/api/routes/endpoints.cpp, one file per resource
// beside it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "collector/api/routes/common.h"
#include "collector/api/routes/route_table.h"
#include "collector/store/store.h"
#include "common/compliance/framework.h"
#include "common/net/http_types.h"

namespace spdlog {
class logger;
}

namespace vigil::collector {

// Login limits: after kLoginFreeFailures failures of one user name (kLoginFreeFailuresPerAddress
// from one client address) each further attempt waits kLoginLockBase, doubling per failure up to
// kLoginLockMax. Failures older than kLoginForgetAfter are forgotten. The failures are kept in the
// store, so collectors sharing a database lock a user out together.
inline constexpr int kLoginFreeFailures = 5;
inline constexpr int kLoginFreeFailuresPerAddress = 20;
inline constexpr std::chrono::seconds kLoginLockBase{30};
inline constexpr std::chrono::seconds kLoginLockMax{3600};
inline constexpr std::chrono::seconds kLoginForgetAfter{3600};
// User names and addresses with failures kept at most; past it those that failed longest ago go
// (logged), so a flood from many addresses cannot grow the table without end.
inline constexpr uint64_t kLoginFailureKeys = 100'000;
// Sessions end after this long unused, and this long after login whatever happens.
inline constexpr std::chrono::hours kSessionIdle{12};
inline constexpr std::chrono::hours kSessionAbsolute{24 * 7};

class ConsoleApi {
 public:
  ConsoleApi(Store& store, std::string default_framework);
  // Routes the request (API, or the web console's files) and adds the security headers.
  net::HttpResponse handle(const net::HttpRequest& request);
  // Lines the service adds to /metrics (ingest counters, exports), in the text exposition format.
  void set_metrics_source(std::function<std::string()> source) { env_.metrics_source = std::move(source); }

 private:
  net::HttpResponse route(const net::HttpRequest& request);
  std::optional<Principal> authenticate(const net::HttpRequest& r, std::string& why);
  net::HttpResponse login(const net::HttpRequest& r);
  void audit(const std::string& who, const std::string& action, const std::string& target,
             const std::string& detail);
  // Seconds the key ("user:NAME", "addr:IP") must still wait (0: may try now).
  int64_t locked_for(const std::string& key, int free_failures, Timestamp now);

  Store& store_;
  std::shared_ptr<spdlog::logger> log_;
  routes::Env env_;  // what the handlers see: the store, the log, audit() and the settings below
  routes::RouteTable routes_;

 public:
  void set_silent_after(std::chrono::milliseconds d) { env_.silent_after = d; }
  // The reporting clock of new incidents, per severity (collector.yaml `incidents:`).
  void set_incidents(const IncidentsSection& s) { env_.incidents = s; }
  // collector.retention: what the log retention controls of summaries are judged against.
  void set_retention(const RetentionSection& r) { env_.retention = r; }
  // The control catalogues summaries and self-assessments are judged against.
  void set_frameworks(std::shared_ptr<const compliance::LoadedFrameworks> f) { env_.frameworks = std::move(f); }
  // The key bundles are signed with (null: pushes are refused with `problem`).
  void set_signing_key(std::shared_ptr<const pki::Key> key, std::string problem) {
    env_.signing_key = std::move(key);
    env_.signing_key_problem = std::move(problem);
  }
};

}  // namespace vigil::collector
