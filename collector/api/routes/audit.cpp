// The audit log and the records quarantined at ingest, for callers not limited to agencies
// (routes in endpoints.cpp).
#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"

namespace vigil::collector::routes {

net::HttpResponse list_audit(const Call& c) {
  AuditFilter f;
  for (const auto& [k, v] : c.query) {
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
  auto list = c.env.store.list_audit(f);
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

net::HttpResponse list_quarantined(const Call& c) {
  std::string agent;
  int64_t before_id = 0;
  int limit = 100;
  for (const auto& [k, v] : c.query) {
    if (k == "agent") {
      agent = v;
    } else if (auto err = paging(k, v, before_id, limit, "a quarantined record id"); !err) {
      return error(400, "unknown filter '" + k + "'");
    } else if (!err->empty()) {
      return error(400, *err);
    }
  }
  auto list = c.env.store.list_quarantined(agent, before_id, limit);
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

}  // namespace vigil::collector::routes
