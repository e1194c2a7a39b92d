// The caller's session, the dashboard's status and the Prometheus metrics (routes in endpoints.cpp).
#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "collector/console/web_console.h"

namespace vigil::collector::routes {

// The web console's start: who is logged in, and the CSRF token of the cookie's session.
net::HttpResponse session(const Call& c) {
  std::string secret = console::authenticated_by_cookie(c.request) ? console::session_cookie(c.request) : "";
  return {200,
          nlohmann::json{{"user", c.caller.name},
                         {"role", c.caller.role},
                         {"agencies", c.caller.agencies},
                         {"csrf_token", secret.empty() ? "" : console::csrf_token(secret)}}
              .dump(),
          "application/json", false};
}

net::HttpResponse status(const Call& c) {
  const Principal& p = c.caller;
  auto agents = c.env.store.list_agents();
  if (!agents) return error(503, "store unavailable");
  AlertFilter open;
  open.status = "new";
  open.agencies_in = p.agencies;
  auto fresh = c.env.store.count_alerts(open);
  if (!fresh) return error(503, "store unavailable");
  auto quarantined = c.env.store.count_quarantined();
  if (!quarantined) return error(503, "store unavailable");
  size_t total = 0, active = 0;
  for (const auto& a : *agents) {
    if (!p.sees(a.agency)) continue;
    ++total;
    active += a.status == "active";
  }
  return {200,
          nlohmann::json{{"agents", total},
                         {"agents_active", active},
                         {"alerts_new", *fresh},
                         {"records_quarantined", *quarantined},
                         {"role", p.role},
                         {"user", p.name},
                         {"agencies", p.agencies}}
              .dump(),
          "application/json", false};
}

// Prometheus text exposition: agents by state, open alerts by severity, the store's latency on
// the queries behind them, and what the service adds (ingest counters, exports).
net::HttpResponse metrics(const Call& c) {
  Store& store = c.env.store;
  auto started = std::chrono::steady_clock::now();
  auto agents = store.list_agents();
  if (!agents) return error(503, "store unavailable");
  const Timestamp now = Timestamp::now();
  const int64_t silent_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(c.env.silent_after).count();
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
  auto open = store.open_alert_counts();
  if (!open) return error(503, "store unavailable");
  for (int sev = 1; sev <= 5; ++sev) {
    out += fmt::format("vigil_alerts_open{{severity=\"{}\"}} {}\n", kSeverities[sev - 1], (*open)[static_cast<size_t>(sev)]);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out += "# HELP vigil_store_query_seconds Time the store took to answer this scrape's queries.\n";
  out += "# TYPE vigil_store_query_seconds gauge\n";
  out += fmt::format("vigil_store_query_seconds {:.6f}\n", seconds);
  if (c.env.metrics_source) out += c.env.metrics_source();
  return {200, std::move(out), "text/plain; version=0.0.4"};
}

}  // namespace vigil::collector::routes
