// The console listener's JSON API (first part): API-token authentication and the endpoints that
// `vigilctl tokens` and `vigilctl agents` need.
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
//   GET  /api/v1/compliance?agency=   -> [per agency: counts, score, controls, failing checks]
//   GET  /metrics                     -> Prometheus text exposition                  (any role)
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "collector/store/store.h"
#include "common/net/http_types.h"

namespace spdlog {
class logger;
}

namespace vigil::collector {

class ConsoleApi {
 public:
  ConsoleApi(Store& store, std::string default_framework);
  net::HttpResponse handle(const net::HttpRequest& request);
  // Lines the service adds to /metrics (ingest counters, exports), in the text exposition format.
  void set_metrics_source(std::function<std::string()> source) { metrics_source_ = std::move(source); }

 private:
  net::HttpResponse alerts(const net::HttpRequest& r, const std::string& path,
                           const std::map<std::string, std::string>& query, const std::string& who);
  net::HttpResponse compliance(const std::string& agency);
  net::HttpResponse metrics();

  Store& store_;
  std::string default_framework_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<std::string()> metrics_source_;
  std::chrono::milliseconds silent_after_{90'000};

 public:
  void set_silent_after(std::chrono::milliseconds d) { silent_after_ = d; }
};

}  // namespace vigil::collector
