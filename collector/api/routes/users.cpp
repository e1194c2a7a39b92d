// Console users: list, add, disable, enable, new password (routes in endpoints.cpp).
#include "collector/api/password.h"
#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "common/log/logging.h"

namespace vigil::collector::routes {

namespace {

nlohmann::json user_json(const UserRecord& u) {
  return {{"name", u.name},
          {"role", u.role},
          {"agencies", u.agencies},
          {"disabled", u.disabled},
          {"created", u.created.to_string()}};
}

bool read_password(const nlohmann::json& body, std::string& out) {
  if (!body.is_object() || !body.contains("password") || !body["password"].is_string()) return false;
  out = body["password"].get<std::string>();
  return out.size() >= kMinPassword && out.size() <= kMaxPassword;
}

// After a change to the user of the path's {name}: 404 when there is none, else logged and audited.
net::HttpResponse changed(const Call& c, const Result<bool>& done, const std::string& audit_action) {
  const std::string& name = c.capture("name");
  if (!done) return error(503, "store unavailable");
  if (!*done) return error(404, "no user " + name);
  c.env.log->info("user '{}': {} by {}", name, audit_action, c.caller.name);
  c.env.audit(c.caller.name, audit_action, name, "");
  return {200, R"({"changed":true})", "application/json", false};
}

net::HttpResponse set_disabled(const Call& c, bool disabled) {
  return changed(c, c.env.store.set_user_disabled(c.capture("name"), disabled),
                 disabled ? "user.disable" : "user.enable");
}

}  // namespace

net::HttpResponse list_users(const Call& c) {
  auto list = c.env.store.list_users();
  if (!list) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& u : *list) out.push_back(user_json(u));
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse add_user(const Call& c) {
  auto body = request_json(c.request.body);
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
      if (!a.is_string() || !clean_name(a.get<std::string>(), 200)) {
        return error(400, "agencies: names of 1 to 200 characters");
      }
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
  auto added = c.env.store.add_user(u);
  if (!added) return error(503, "store unavailable");
  if (!*added) return error(409, "user " + u.name + " exists");
  c.env.log->info("user '{}' added with role {} by {}", u.name, u.role, c.caller.name);
  c.env.audit(c.caller.name, "user.add", u.name,
              u.agencies.empty() ? "role " + u.role
                                 : "role " + u.role + ", agencies " + nlohmann::json(u.agencies).dump());
  return {201, user_json(u).dump(), "application/json", false};
}

net::HttpResponse disable_user(const Call& c) { return set_disabled(c, true); }

net::HttpResponse enable_user(const Call& c) { return set_disabled(c, false); }

net::HttpResponse set_user_password(const Call& c) {
  auto body = request_json(c.request.body);
  std::string password;
  if (body.is_discarded() || !read_password(body, password)) {
    return error(400, "expected {\"password\": 12 to 1024 characters}");
  }
  return changed(c, c.env.store.set_user_password(c.capture("name"), hash_password(password)), "user.password");
}

}  // namespace vigil::collector::routes
