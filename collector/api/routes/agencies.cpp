// Agencies: list, and the control catalogue each is judged against (routes in endpoints.cpp).
#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "common/log/logging.h"

namespace vigil::collector::routes {

net::HttpResponse list_agencies(const Call& c) {
  auto agencies = c.env.store.list_agencies();
  if (!agencies) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : *agencies) {
    if (c.caller.sees(a.name)) out.push_back({{"name", a.name}, {"framework", a.framework}});
  }
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse set_agency_framework(const Call& c) {
  const std::string& name = c.capture("name");
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("framework") || !body["framework"].is_string() ||
      body["framework"].get<std::string>().empty() || body["framework"].get<std::string>().size() > 100) {
    return error(400, "expected {\"framework\": catalogue id}");
  }
  const std::string framework = body["framework"].get<std::string>();
  if (!c.caller.sees(name)) return error(404, "no agency " + name);
  auto done = c.env.store.set_agency_framework(name, framework);
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no agency " + name);
  c.env.log->info("agency '{}': framework set to {} by {}", name, framework, c.caller.name);
  c.env.audit(c.caller.name, "agency.framework", name, framework);
  return {200, R"({"changed":true})", "application/json", false};
}

}  // namespace vigil::collector::routes
