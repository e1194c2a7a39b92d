#include "collector/console/web_console.h"

#include <gtest/gtest.h>

namespace vigil::collector::console {
namespace {

net::HttpRequest request(std::string method, std::string target,
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = std::move(headers);
  return r;
}

std::string header(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(WebConsole, ServesTheEmbeddedFilesWithTypesAndEtags) {
  auto index = serve_file(request("GET", "/"), "/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("/ui/app.js"), std::string::npos);
  auto js = serve_file(request("GET", "/ui/app.js"), "/ui/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  std::string etag = header(*js, "ETag");
  ASSERT_EQ(etag.size(), 34u);  // quoted, 32 hex digits
  auto again = serve_file(request("GET", "/ui/app.js", {{"If-None-Match", "\"x\", W/" + etag}}), "/ui/app.js");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  auto css = serve_file(request("GET", "/ui/app.css"), "/ui/app.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  EXPECT_NE(header(*css, "ETag"), etag);
}

TEST(WebConsole, UnknownFilesAndOtherMethodsAreRefused) {
  EXPECT_EQ(serve_file(request("GET", "/ui/../vigil.db"), "/ui/../vigil.db")->status, 404);
  EXPECT_EQ(serve_file(request("GET", "/ui/"), "/ui/")->status, 404);
  EXPECT_EQ(serve_file(request("POST", "/"), "/")->status, 405);
  EXPECT_FALSE(serve_file(request("GET", "/api/v1/alerts"), "/api/v1/alerts"));
}

TEST(WebConsole, SecurityHeadersOnEveryResponse) {
  net::HttpResponse api{200, "[]", "application/json", false};
  add_security_headers(api, "/api/v1/alerts");
  EXPECT_EQ(header(api, "Content-Security-Policy"), kContentSecurityPolicy);
  EXPECT_EQ(header(api, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(api, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(header(api, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(api, "Cache-Control"), "no-store");
  // A handler's own policy (a self-contained report) is kept.
  net::HttpResponse report{200, "<html>", "text/html", false, {{"Content-Security-Policy", "default-src 'none'"}}};
  add_security_headers(report, "/api/v1/reports/compliance");
  int csp = 0;
  for (const auto& [k, v] : report.headers) csp += k == "Content-Security-Policy";
  EXPECT_EQ(csp, 1);
  EXPECT_EQ(header(report, "Content-Security-Policy"), "default-src 'none'");
  net::HttpResponse printable{200, "<html>", "text/html; charset=utf-8", false};
  add_security_headers(printable, "/api/v1/reports/compliance");
  EXPECT_EQ(header(printable, "Content-Security-Policy"), kReportContentSecurityPolicy);
  net::HttpResponse csv{200, "a,b", "text/csv", false};
  add_security_headers(csv, "/api/v1/reports/compliance");
  EXPECT_EQ(header(csv, "Content-Security-Policy"), kContentSecurityPolicy);
  auto file = *serve_file(request("GET", "/"), "/");
  add_security_headers(file, "/");
  EXPECT_EQ(header(file, "Cache-Control"), "no-cache");
}

TEST(WebConsole, CookieChangesNeedTheSessionsTokenFromThisOrigin) {
  const std::string secret = "s3cret-session";
  const std::string token = csrf_token(secret);
  EXPECT_EQ(token.size(), 64u);
  EXPECT_NE(token, csrf_token("other-session"));
  const std::string cookie = "theme=dark; vigil_session=" + secret;
  auto post = [&](std::vector<std::pair<std::string, std::string>> h) {
    return csrf_refusal(request("POST", "/api/v1/alerts/1/status", std::move(h)));
  };
  EXPECT_NE(post({{"Cookie", cookie}}), "");
  EXPECT_NE(post({{"Cookie", cookie}, {"X-CSRF-Token", csrf_token("other-session")}}), "");
  EXPECT_NE(post({{"Cookie", cookie}, {"X-CSRF-Token", token.substr(1)}}), "");
  EXPECT_EQ(post({{"Cookie", cookie}, {"X-CSRF-Token", token}}), "");
  EXPECT_EQ(post({{"Cookie", cookie}, {"X-CSRF-Token", token}, {"Host", "10.0.0.5:9443"},
                  {"Origin", "https://10.0.0.5:9443"}, {"Sec-Fetch-Site", "same-origin"}}),
            "");
  EXPECT_NE(post({{"Cookie", cookie}, {"X-CSRF-Token", token}, {"Host", "10.0.0.5:9443"},
                  {"Origin", "https://evil.example"}}),
            "");
  EXPECT_NE(post({{"Cookie", cookie}, {"X-CSRF-Token", token}, {"Host", "10.0.0.5:9443"}, {"Origin", "null"}}), "");
  EXPECT_NE(post({{"Cookie", cookie}, {"X-CSRF-Token", token}, {"Sec-Fetch-Site", "cross-site"}}), "");
  EXPECT_NE(post({{"Cookie", cookie}, {"X-CSRF-Token", token}, {"Sec-Fetch-Site", "same-site"}}), "");
  // Reads, and callers with a Bearer header, are not held to it.
  EXPECT_EQ(csrf_refusal(request("GET", "/api/v1/alerts", {{"Cookie", cookie}})), "");
  EXPECT_EQ(post({{"Cookie", cookie}, {"Authorization", "Bearer abc"}}), "");
  EXPECT_EQ(post({}), "");
}

TEST(WebConsole, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

}  // namespace
}  // namespace vigil::collector::console
