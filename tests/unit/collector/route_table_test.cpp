#include "collector/api/routes/route_table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "collector/api/console_api.h"
#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "common/pki/pki.h"

namespace vigil::collector::routes {
namespace {

net::HttpResponse ok(const Call&) { return {200, "{}", "application/json", false}; }

// Answers with its captures and query as {"captures": {...}, "query": {...}}.
net::HttpResponse echo(const Call& c) {
  nlohmann::json j = {{"captures", nlohmann::json::object()}, {"query", c.query}};
  for (const auto& [k, v] : c.captures) j["captures"][k] = v;
  return {200, j.dump(), "application/json", false};
}

std::string header(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

std::string message(const net::HttpResponse& r) { return nlohmann::json::parse(r.body).value("error", ""); }

Principal caller(std::string role, std::vector<std::string> agencies = {}) {
  return Principal{"someone", std::move(role), std::move(agencies), ""};
}

std::unique_ptr<Store> memory_store() {
  auto opened = open_sqlite_store(":memory:");
  if (!opened) throw std::runtime_error(opened.error());
  return std::move(*opened);
}

// The table the dispatch tests share, over an empty in-memory store.
class Dispatch : public ::testing::Test {
 protected:
  net::HttpResponse call(const std::string& method, const std::string& path, const Principal& p,
                         const Query& query = {}) {
    net::HttpRequest r;
    r.method = method;
    r.target = path;
    return table_.dispatch(env_, r, p, path, query);
  }

  std::unique_ptr<Store> store_ = memory_store();
  Env env_{*store_, nullptr, {}, "tcvn11930"};
  RouteTable table_{{
      {"GET", "/things", Role::any, Scope::per_agency, ok},
      {"POST", "/things", Role::not_auditor, Scope::per_agency, ok, "auditors cannot add things"},
      {"GET", "/things/{id}", Role::any, Scope::per_agency, echo},
      {"POST", "/things/{id}/part/{part}", Role::admin, Scope::per_agency, echo},
      {"DELETE", "/things/{id}", Role::admin, Scope::per_agency, ok},
      {"GET", "/ledger", Role::admin_or_auditor, Scope::unlimited, ok},
      {"GET", "/totals", Role::any, Scope::unlimited, ok},
  }};
};

TEST(RouteTable, MatchesLiteralsAndCapturesUrlDecodedSegments) {
  RouteTable table({{"POST", "/api/v1/agents/{id}/revoke", Role::admin, Scope::per_agency, ok},
                    {"GET", "/api/v1/agents", Role::any, Scope::per_agency, ok}});
  auto m = table.match("POST", "/api/v1/agents/agt%2F1+x/revoke");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/agents/{id}/revoke");
  ASSERT_EQ(m.captures.size(), 1u);
  EXPECT_EQ(m.captures[0].first, "id");
  EXPECT_EQ(m.captures[0].second, "agt/1 x");
  EXPECT_NE(table.match("GET", "/api/v1/agents").route, nullptr);
  // Every segment counts: none more, none fewer, literals exactly.
  EXPECT_EQ(table.match("GET", "/api/v1/agents/").route, nullptr);
  EXPECT_EQ(table.match("POST", "/api/v1/agents/x/revoke/now").route, nullptr);
  EXPECT_EQ(table.match("POST", "/api/v1/agents/x").route, nullptr);
  EXPECT_EQ(table.match("POST", "/api/v1/Agents/x/revoke").route, nullptr);
  EXPECT_EQ(table.match("GET", "api/v1/agents").route, nullptr);
  EXPECT_EQ(table.match("GET", "").route, nullptr);
}

TEST(RouteTable, AnEmptySegmentOrABrokenEscapeCapturesNothing) {
  RouteTable table({{"GET", "/users/{name}/x", Role::any, Scope::per_agency, ok}});
  for (const char* path : {"/users//x", "/users/%zz/x", "/users/ab%2/x"}) {
    auto m = table.match("GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_TRUE(m.allowed.empty()) << path;
  }
}

TEST(RouteTable, NamesTheMethodsOfAPathTheMethodMisses) {
  RouteTable table({{"POST", "/a/{id}", Role::any, Scope::per_agency, ok},
                    {"GET", "/a/{id}", Role::any, Scope::per_agency, ok},
                    {"DELETE", "/a/{id}", Role::any, Scope::per_agency, ok},
                    {"GET", "/b", Role::any, Scope::per_agency, ok}});
  auto m = table.match("PUT", "/a/1");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"DELETE", "GET", "POST"}));
  EXPECT_TRUE(table.match("PUT", "/c").allowed.empty());
}

TEST(RouteTable, RefusesEntriesOfOneMethodThatCouldMatchOnePath) {
  auto build = [](std::vector<Route> routes) { RouteTable table(std::move(routes)); };
  // The same entry twice.
  EXPECT_THROW(build({{"GET", "/a/{id}", Role::any, Scope::per_agency, ok},
                      {"GET", "/a/{id}", Role::admin, Scope::unlimited, echo}}),
               std::invalid_argument);
  // Captures under other names, or a literal where the other captures.
  EXPECT_THROW(build({{"GET", "/a/{id}", Role::any, Scope::per_agency, ok},
                      {"GET", "/a/{name}", Role::any, Scope::per_agency, ok}}),
               std::invalid_argument);
  EXPECT_THROW(build({{"POST", "/a/{id}/x", Role::any, Scope::per_agency, ok},
                      {"POST", "/a/new/{what}", Role::any, Scope::per_agency, ok}}),
               std::invalid_argument);
  // Other methods, lengths or literals: no path meets both.
  EXPECT_NO_THROW(build({{"GET", "/a/{id}", Role::any, Scope::per_agency, ok},
                         {"POST", "/a/{id}", Role::any, Scope::per_agency, ok},
                         {"GET", "/a/{id}/x", Role::any, Scope::per_agency, ok},
                         {"GET", "/a/{id}/y", Role::any, Scope::per_agency, ok},
                         {"GET", "/a", Role::any, Scope::per_agency, ok}}));
}

TEST(RouteTable, RefusesMalformedEntries) {
  auto build = [](Route r) { RouteTable table({r}); };
  EXPECT_THROW(build({"GET", "a/b", Role::any, Scope::per_agency, ok}), std::invalid_argument);
  EXPECT_THROW(build({"GET", "", Role::any, Scope::per_agency, ok}), std::invalid_argument);
  EXPECT_THROW(build({"GET", "/a/{}", Role::any, Scope::per_agency, ok}), std::invalid_argument);
  EXPECT_THROW(build({"GET", "/a/x{id}", Role::any, Scope::per_agency, ok}), std::invalid_argument);
  EXPECT_THROW(build({"GET", "/a/{id}/{id}", Role::any, Scope::per_agency, ok}), std::invalid_argument);
  EXPECT_THROW(build({"", "/a", Role::any, Scope::per_agency, ok}), std::invalid_argument);
  EXPECT_THROW(build({"GET", "/a", Role::any, Scope::per_agency, nullptr}), std::invalid_argument);
}

TEST_F(Dispatch, AnswersAnUnknownPath404) {
  auto r = call("GET", "/nothing", caller("admin"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(message(r), "no such endpoint");
  EXPECT_EQ(call("GET", "/things/1/part", caller("admin")).status, 404);
}

TEST_F(Dispatch, AnswersAKnownPathWithAnotherMethod405WithAllow) {
  auto r = call("PUT", "/things/7", caller("admin"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "DELETE, GET");
  EXPECT_EQ(message(r), "DELETE or GET");
  auto one = call("GET", "/things/7/part/x", caller("admin"));
  EXPECT_EQ(one.status, 405);
  EXPECT_EQ(header(one, "Allow"), "POST");
  EXPECT_EQ(message(one), "POST only");
  // The method check comes before the role check: a 405 tells nothing about the caller.
  EXPECT_EQ(call("PUT", "/ledger", caller("analyst", {"A"})).status, 405);
}

TEST_F(Dispatch, PassesCapturesAndQueryToTheHandler) {
  auto r = call("POST", "/things/a%20b/part/%C3%A9", caller("admin"), {{"k", "v"}});
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["captures"]["id"], "a b");
  EXPECT_EQ(j["captures"]["part"], "\xC3\xA9");
  EXPECT_EQ(j["query"]["k"], "v");
}

TEST_F(Dispatch, RefusesRolesWithTheEntrysMessageOrOneSaidByItsRequirement) {
  EXPECT_EQ(call("GET", "/things", caller("auditor")).status, 200);
  auto auditor = call("POST", "/things", caller("auditor"));
  EXPECT_EQ(auditor.status, 403);
  EXPECT_EQ(message(auditor), "auditors cannot add things");
  EXPECT_EQ(call("POST", "/things", caller("analyst")).status, 200);
  auto analyst = call("DELETE", "/things/1", caller("analyst"));
  EXPECT_EQ(analyst.status, 403);
  EXPECT_EQ(message(analyst), "this needs the admin role");
  EXPECT_EQ(call("DELETE", "/things/1", caller("admin")).status, 200);
  EXPECT_EQ(call("GET", "/ledger", caller("auditor")).status, 200);
  auto ledger = call("GET", "/ledger", caller("analyst"));
  EXPECT_EQ(ledger.status, 403);
  EXPECT_EQ(message(ledger), "this needs the admin or auditor role without agency limits");
  // An unknown role meets every requirement but `any`.
  EXPECT_EQ(call("POST", "/things", caller("")).status, 200);
  EXPECT_EQ(call("DELETE", "/things/1", caller("root")).status, 403);
}

TEST_F(Dispatch, RefusesACallerLimitedToAgenciesWhatCoversThemAll) {
  auto limited_admin = caller("admin", {"A"});
  EXPECT_EQ(call("DELETE", "/things/1", limited_admin).status, 200);  // per agency: the handler's to judge
  auto ledger = call("GET", "/ledger", limited_admin);
  EXPECT_EQ(ledger.status, 403);
  EXPECT_EQ(message(ledger), "this needs the admin or auditor role without agency limits");
  auto totals = call("GET", "/totals", caller("analyst", {"A", "B"}));
  EXPECT_EQ(totals.status, 403);
  EXPECT_EQ(message(totals), "this covers every agency: not for a caller limited to some");
  EXPECT_EQ(call("GET", "/totals", caller("analyst")).status, 200);
}

TEST(ConsoleEndpoints, FormOneUnambiguousTable) {
  const std::vector<Route> all = endpoints();
  EXPECT_NO_THROW(RouteTable{all});
  for (const Route& r : all) EXPECT_TRUE(r.pattern.starts_with("/api/v1/") || r.pattern == "/metrics") << r.pattern;
}

// The console API end to end over an in-memory store: its refusals keep their words.
class ConsoleRoutes : public ::testing::Test {
 protected:

  // An API token with the role and agencies; returns its secret.
  std::string token(const std::string& role, std::vector<std::string> agencies = {}) {
    std::string secret = "secret-" + role + "-" + std::to_string(++tokens_);
    EXPECT_TRUE(store_->add_api_token(pki::sha256_hex(secret), {"t" + std::to_string(tokens_), role, agencies}));
    return secret;
  }

  net::HttpResponse call(const std::string& method, const std::string& target, const std::string& secret,
                         std::string body = "") {
    net::HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = std::move(body);
    r.headers.emplace_back("Authorization", "Bearer " + secret);
    r.remote = "127.0.0.1:1";
    return api_->handle(r);
  }

  std::unique_ptr<Store> store_ = memory_store();
  std::unique_ptr<ConsoleApi> api_ = std::make_unique<ConsoleApi>(*store_, "tcvn11930");
  int tokens_ = 0;
};

TEST_F(ConsoleRoutes, RefusesRolesInTheWordsOfEachEndpoint) {
  const std::string analyst = token("analyst");
  const std::string auditor = token("auditor");
  struct Case {
    const char* method;
    const char* target;
    const std::string& who;
    const char* refused;
  };
  for (const Case& c : std::vector<Case>{
           {"POST", "/api/v1/agents/agt-1/revoke", analyst, "this needs the admin role"},
           {"POST", "/api/v1/tokens", analyst, "this needs the admin role"},
           {"POST", "/api/v1/agencies/A/framework", auditor, "this needs the admin role"},
           {"POST", "/api/v1/alerts/1/status", auditor, "auditors cannot change alerts"},
           {"POST", "/api/v1/waivers/1/expire", analyst, "waivers need the admin role"},
           {"GET", "/api/v1/users", auditor, "managing users needs the admin role without agency limits"},
           {"POST", "/api/v1/api-tokens", analyst, "API tokens need the admin role without agency limits"},
           {"GET", "/api/v1/audit", analyst, "the audit log needs the admin or auditor role without agency limits"},
           {"GET", "/api/v1/quarantine", analyst,
            "quarantined records need the admin or auditor role without agency limits"},
       }) {
    auto r = call(c.method, c.target, c.who);
    EXPECT_EQ(r.status, 403) << c.method << " " << c.target;
    EXPECT_EQ(message(r), c.refused) << c.method << " " << c.target;
  }
}

TEST_F(ConsoleRoutes, RefusesACallerLimitedToAgenciesWhatCoversEveryAgency) {
  const std::string admin_of_a = token("admin", {"A"});
  EXPECT_EQ(message(call("GET", "/metrics", admin_of_a)), "metrics cover every agency: not for a caller limited to some");
  EXPECT_EQ(message(call("GET", "/api/v1/users", admin_of_a)), "managing users needs the admin role without agency limits");
  EXPECT_EQ(message(call("POST", "/api/v1/api-tokens/1/revoke", admin_of_a)),
            "API tokens need the admin role without agency limits");
  EXPECT_EQ(call("GET", "/api/v1/audit", admin_of_a).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/agents", admin_of_a).status, 200);
}

TEST_F(ConsoleRoutes, Answers404And405AfterAuthentication) {
  const std::string admin = token("admin");
  EXPECT_EQ(call("GET", "/api/v1/nothing", "not a token").status, 401);
  auto unknown = call("GET", "/api/v1/nothing", admin);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(message(unknown), "no such endpoint");
  auto wrong = call("DELETE", "/api/v1/users", admin);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(header(wrong, "Allow"), "GET, POST");
  EXPECT_EQ(header(call("GET", "/api/v1/agents/agt-1/revoke", admin), "Allow"), "POST");
  // Captures arrive decoded.
  EXPECT_EQ(message(call("GET", "/api/v1/agents/no%20agent", admin)), "no agent no agent");
  EXPECT_EQ(message(call("GET", "/api/v1/alerts/x", admin)), "no such alert");
  // Login stays before authentication.
  EXPECT_EQ(call("GET", "/api/v1/login", admin).status, 405);
}

}  // namespace
}  // namespace vigil::collector::routes
