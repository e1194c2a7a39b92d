#include "collector/api/console_api.h"

#include <nlohmann/json.hpp>

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

}  // namespace

ConsoleApi::ConsoleApi(Store& store, std::string default_framework)
    : store_(store), default_framework_(std::move(default_framework)), log_(logging::get("console")) {}

net::HttpResponse ConsoleApi::handle(const net::HttpRequest& r) {
  std::string auth = r.header("Authorization");
  if (auth.rfind("Bearer ", 0) != 0) return error(401, "missing API token (Authorization: Bearer ...)");
  auto role = store_.api_token_role(pki::sha256_hex(auth.substr(7)));
  if (!role) return error(503, "store unavailable");
  if (!role->has_value()) {
    log_->warn("{}: {} {} refused: unknown API token", r.remote, r.method, r.target);
    return error(401, "unknown API token");
  }
  const std::string& who = **role;
  auto require_admin = [&]() -> std::optional<net::HttpResponse> {
    if (who != "admin") return error(403, "this needs the admin role");
    return std::nullopt;
  };

  if (r.method == "POST" && r.target == "/api/v1/tokens") {
    if (auto denied = require_admin()) return *denied;
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("agency") || !body["agency"].is_string() ||
        !body.contains("level") || !body["level"].is_number_integer()) {
      return error(400, "expected {\"agency\": string, \"level\": 1-5, \"ttl_hours\": integer}");
    }
    std::string agency = body["agency"].get<std::string>();
    int level = body["level"].get<int>();
    int64_t ttl_hours = body.value("ttl_hours", int64_t{24});
    if (agency.empty() || agency.size() > 200) return error(400, "agency: 1 to 200 characters");
    if (level < 1 || level > 5) return error(400, "level: 1 to 5");
    if (ttl_hours < 1 || ttl_hours > 24 * 30) return error(400, "ttl_hours: 1 to 720");
    auto a = store_.ensure_agency(agency, default_framework_);
    if (!a) return error(503, "store unavailable");
    std::string token = pki::random_token();
    Timestamp expires{Timestamp::now().ns + ttl_hours * 3600LL * 1'000'000'000LL};
    auto t = store_.add_token(pki::sha256_hex(token), {agency, level}, expires);
    if (!t) return error(503, "store unavailable");
    log_->info("enrollment token created for agency '{}' at level {} (expires {})", agency, level, expires.to_string());
    return {200, nlohmann::json{{"token", token}, {"agency", agency}, {"level", level}, {"expires", expires.to_string()}}.dump(),
            "application/json", false};
  }
  if (r.method == "GET" && r.target == "/api/v1/agents") {
    auto agents = store_.list_agents();
    if (!agents) return error(503, "store unavailable");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : *agents) out.push_back(agent_json(a));
    return {200, out.dump(), "application/json", false};
  }
  const std::string prefix = "/api/v1/agents/";
  if (r.target.rfind(prefix, 0) == 0) {
    std::string rest = r.target.substr(prefix.size());
    bool revoke = false;
    if (rest.size() > 7 && rest.ends_with("/revoke")) {
      rest.resize(rest.size() - 7);
      revoke = true;
    }
    if (rest.empty() || rest.find('/') != std::string::npos) return error(404, "no such endpoint");
    if (revoke && r.method == "POST") {
      if (auto denied = require_admin()) return *denied;
      auto done = store_.revoke_agent(rest);
      if (!done) return error(503, "store unavailable");
      if (!*done) return error(404, "no agent " + rest);
      log_->info("agent {} revoked", rest);
      return {200, R"({"revoked":true})", "application/json", false};
    }
    if (!revoke && r.method == "GET") {
      auto a = store_.get_agent(rest);
      if (!a) return error(503, "store unavailable");
      if (!a->has_value()) return error(404, "no agent " + rest);
      return {200, agent_json(**a).dump(), "application/json", false};
    }
  }
  return error(404, "no such endpoint");
}

}  // namespace vigil::collector
