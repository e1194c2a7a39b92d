// API tokens for scripts and other programs, each with a role and optionally limited to agencies:
// list (never a secret or its hash), create, revoke (routes in endpoints.cpp).
#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::collector::routes {

namespace {

nlohmann::json api_token_json(const ApiTokenRecord& t) {
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

}  // namespace

net::HttpResponse list_api_tokens(const Call& c) {
  auto list = c.env.store.list_api_tokens();
  if (!list) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : *list) out.push_back(api_token_json(t));
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse create_api_token(const Call& c) {
  auto body = request_json(c.request.body);
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
  t.created_by = c.caller.name;
  std::string token = pki::random_token(32);
  auto added = c.env.store.add_api_token(pki::sha256_hex(token), t);
  if (!added) return error(503, "store unavailable");
  t.id = *added;
  c.env.log->info("API token '{}' (id {}) created with role {} by {}", t.name, t.id, t.role, c.caller.name);
  std::string detail = "role " + t.role;
  if (!t.agencies.empty()) detail += ", agencies " + nlohmann::json(t.agencies).dump();
  if (t.expires.ns != 0) detail += ", expires " + t.expires.to_string();
  c.env.audit(c.caller.name, "apitoken.create", fmt::format("{} (id {})", t.name, t.id), detail);
  auto out = api_token_json(t);
  out["token"] = token;
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse revoke_api_token(const Call& c) {
  auto id = to_int(c.capture("id"));
  if (!id) return error(404, "no such endpoint");
  auto revoked = c.env.store.revoke_api_token(*id, Timestamp::now());
  if (!revoked) return error(503, "store unavailable");
  if (!*revoked) return error(404, fmt::format("no active API token {}", *id));
  c.env.log->info("API token {} revoked by {}", *id, c.caller.name);
  c.env.audit(c.caller.name, "apitoken.revoke", std::to_string(*id), "");
  return {200, nlohmann::json{{"id", *id}, {"state", "revoked"}}.dump(), "application/json", false};
}

}  // namespace vigil::collector::routes
