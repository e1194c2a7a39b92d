// The console listener's JSON API. Callers authenticate with an API token or a login session,
// either as "Authorization: Bearer ..." or (sessions, for the web console) the vigil_session
// cookie. A caller limited to some agencies sees and changes only their agents, alerts and
// compliance; what lies outside reads as not found. Every change is written to the audit log.
//   POST /api/v1/login                {user, password} -> {token, expires} + cookie   (anyone)
//   POST /api/v1/logout               ends the calling session                       (session)
//   GET  /api/v1/session              -> {user, role, agencies, csrf_token}            (any role)
//   GET  /, /ui/NAME                  the web console's files (collector/console/web)  (anyone)
// Requests riding the session cookie that change something need X-CSRF-Token (from login or
// GET /api/v1/session) and no cross-site Origin/Sec-Fetch-Site; Bearer callers do not.
//   GET  /api/v1/users                -> [users]                                     (admin)
//   POST /api/v1/users                {name, password, role, agencies?}              (admin)
//   POST /api/v1/users/NAME/disable|enable                                           (admin)
//   POST /api/v1/users/NAME/password  {password}                                     (admin)
//   POST /api/v1/api-tokens           {name, role, agencies?} -> {token}             (admin)
//   GET  /api/v1/audit?who=&action=&before=&limit= -> [entries], newest first        (admin, auditor)
//   (users, API tokens and the audit log need a caller not limited to agencies)
//   POST /api/v1/tokens               {agency, level, ttl_hours?} -> {token, expires}   (admin)
//   GET  /api/v1/agents               -> [agents]                                    (any role)
//   GET  /api/v1/agents/ID            -> agent                                       (any role)
//   POST /api/v1/agents/ID/revoke     -> {revoked: true}                             (admin)
//   POST /api/v1/agents/ID/level      {level: 1-5}                                   (admin)
//   GET  /api/v1/agencies             -> [{name, framework}]                         (any role)
//   POST /api/v1/agencies/NAME/framework {framework}                                 (admin)
//   GET  /api/v1/status               -> {agents, agents_active, alerts_new, role}   (any role)
//   GET  /api/v1/alerts?severity=&status=&agency=&agent=&rule=&from=&to=&before=&limit=
//                                     -> [alerts], newest first                      (any role)
//   GET  /api/v1/alerts/ID            -> alert with evidence and history             (any role)
//   POST /api/v1/alerts/ID/status     {status}                                       (not auditor)
//   POST /api/v1/alerts/ID/assign     {assignee}                                     (not auditor)
//   POST /api/v1/alerts/ID/comment    {text}                                         (not auditor)
//   GET  /api/v1/compliance?agency=&since=
//                                     -> [per agency: counts, scores per policy and control group,
//                                        controls, failing checks, waivers, self-assessment,
//                                        agents, open alerts, trend since DATE]     (any role)
//   GET  /api/v1/reports/compliance?agency=&format=json|csv|html&lang=vi|en&since=
//                                     -> the report document or file (no agency: all) (any role)
//   GET  /api/v1/waivers?agency=&active=1 -> [waivers], newest first                 (any role)
//   POST /api/v1/waivers              {agency, agent?, policy?, check, reason, accepted_by,
//                                      expires (RFC 3339 or YYYY-MM-DD)} -> {id}       (admin)
//   POST /api/v1/waivers/ID/expire    ends the waiver now                            (admin)
//   GET  /metrics                     -> Prometheus text exposition                  (any role)
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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
// kLoginLockMax. Failures older than kLoginForgetAfter are forgotten.
inline constexpr int kLoginFreeFailures = 5;
inline constexpr int kLoginFreeFailuresPerAddress = 20;
inline constexpr std::chrono::seconds kLoginLockBase{30};
inline constexpr std::chrono::seconds kLoginLockMax{3600};
inline constexpr std::chrono::seconds kLoginForgetAfter{3600};
// Sessions end after this long unused, and this long after login whatever happens.
inline constexpr std::chrono::hours kSessionIdle{12};
inline constexpr std::chrono::hours kSessionAbsolute{24 * 7};

class ConsoleApi {
 public:
  ConsoleApi(Store& store, std::string default_framework);
  // Routes the request (API, or the web console's files) and adds the security headers.
  net::HttpResponse handle(const net::HttpRequest& request);
  // Lines the service adds to /metrics (ingest counters, exports), in the text exposition format.
  void set_metrics_source(std::function<std::string()> source) { metrics_source_ = std::move(source); }

 private:
  struct Attempts {
    int failures = 0;
    std::chrono::steady_clock::time_point last_failure{};
    std::chrono::steady_clock::time_point locked_until{};
  };

  net::HttpResponse route(const net::HttpRequest& request);
  std::optional<Principal> authenticate(const net::HttpRequest& r, std::string& why);
  net::HttpResponse login(const net::HttpRequest& r);
  net::HttpResponse logout(const net::HttpRequest& r, const Principal& p);
  net::HttpResponse users(const net::HttpRequest& r, const std::string& path, const Principal& p);
  net::HttpResponse create_api_token(const net::HttpRequest& r, const Principal& p);
  net::HttpResponse audit_list(const std::map<std::string, std::string>& query);
  net::HttpResponse quarantine_list(const std::map<std::string, std::string>& query);
  net::HttpResponse api_tokens(const net::HttpRequest& request, const std::string& path, const Principal& p);
  nlohmann::json api_token_json(const ApiTokenRecord& token) const;
  net::HttpResponse alerts(const net::HttpRequest& r, const std::string& path,
                           const std::map<std::string, std::string>& query, const Principal& p);
  net::HttpResponse compliance(const std::map<std::string, std::string>& query, const Principal& p);
  net::HttpResponse compliance_report(const std::map<std::string, std::string>& query, const Principal& p);
  net::HttpResponse waivers(const net::HttpRequest& r, const std::string& path,
                            const std::map<std::string, std::string>& query, const Principal& p);
  // The summary document of compliance_summary() for the `agency` (or every one the caller sees)
  // and `since` of the query; the refusal when it cannot be built.
  struct Summary {
    std::optional<nlohmann::json> json;
    net::HttpResponse refusal;
  };
  Summary summary(const std::map<std::string, std::string>& query, const Principal& p);
  net::HttpResponse metrics();
  void audit(const std::string& who, const std::string& action, const std::string& target,
             const std::string& detail);
  // Seconds the key must still wait (0: may try now); forgets old failures.
  int64_t locked_for(const std::string& key, std::chrono::steady_clock::time_point now);
  void count_failure(const std::string& key, int free_failures, std::chrono::steady_clock::time_point now);

  Store& store_;
  std::string default_framework_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<std::string()> metrics_source_;
  std::chrono::milliseconds silent_after_{90'000};
  std::shared_ptr<const compliance::LoadedFrameworks> frameworks_;
  std::mutex attempts_mutex_;
  std::map<std::string, Attempts> attempts_;  // "user:NAME" and "addr:IP"

 public:
  void set_silent_after(std::chrono::milliseconds d) { silent_after_ = d; }
  // The control catalogues summaries and self-assessments are judged against.
  void set_frameworks(std::shared_ptr<const compliance::LoadedFrameworks> f) { frameworks_ = std::move(f); }
};

}  // namespace vigil::collector
