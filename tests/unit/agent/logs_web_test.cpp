// Access and error logs of nginx and Apache, on hand-written lines.
#include <gtest/gtest.h>

#include "agent/logs/log_parser.h"

namespace vigil::logs {
namespace {

Timestamp at(const char* rfc3339) { return *Timestamp::parse(rfc3339); }

std::string str(const Event& e, std::string_view name) {
  const std::string* s = e.get_string(field(name));
  return s ? *s : std::string("<absent>");
}

std::string ip(const Event& e) {
  const IpAddress* a = e.get_ip(fields::source_ip);
  return a ? a->to_string() : std::string("<absent>");
}

int64_t num(const Event& e, FieldId id) {
  const int64_t* v = e.get_int(id);
  return v ? *v : -1;
}

Event parse(std::string_view format, std::string_view line, bool expect_parsed = true, int64_t utc_offset = 0) {
  auto parser = std::move(make_parser(format).value());
  Event e;
  EXPECT_EQ(parser->parse(line, ParseContext::at(std::string(format), at("2024-03-15T12:00:00Z"), utc_offset), e),
            expect_parsed)
      << line;
  return e;
}

TEST(AccessLog, CombinedFormat) {
  Event e = parse("apache",
                  "83.149.9.216 - frank [17/May/2015:10:05:03 +0200] \"GET /presentations/a.png?x=1&y=2 HTTP/1.1\" 200 "
                  "203023 \"http://semicomplete.com/\" \"Mozilla/5.0 (Macintosh)\"");
  EXPECT_EQ(str(e, "event.dataset"), "apache.access");
  EXPECT_EQ(e.time(), at("2015-05-17T08:05:03Z"));
  EXPECT_EQ(ip(e), "83.149.9.216");
  EXPECT_EQ(str(e, "user.name"), "frank");
  EXPECT_EQ(str(e, "http.request.method"), "GET");
  EXPECT_EQ(str(e, "url.original"), "/presentations/a.png?x=1&y=2");
  EXPECT_EQ(str(e, "url.path"), "/presentations/a.png");
  EXPECT_EQ(str(e, "url.query"), "x=1&y=2");
  EXPECT_EQ(str(e, "http.version"), "1.1");
  EXPECT_EQ(num(e, fields::http_response_status_code), 200);
  EXPECT_EQ(num(e, fields::http_response_body_bytes), 203023);
  EXPECT_EQ(str(e, "http.request.referrer"), "http://semicomplete.com/");
  EXPECT_EQ(str(e, "user_agent.original"), "Mozilla/5.0 (Macintosh)");
}

TEST(AccessLog, DashesAreAbsentAndCommonFormatWorks) {
  Event e = parse("nginx", "127.0.0.1 - - [30/Sep/2021:11:11:54 -0000] \"GET /foo HTTP/1.0\" 404 - \"-\" \"-\"");
  EXPECT_EQ(str(e, "event.dataset"), "nginx.access");
  EXPECT_EQ(str(e, "user.name"), "<absent>");
  EXPECT_EQ(num(e, fields::http_response_body_bytes), -1);
  EXPECT_EQ(str(e, "http.request.referrer"), "<absent>");
  EXPECT_EQ(str(e, "user_agent.original"), "<absent>");
  EXPECT_EQ(str(e, "url.query"), "<absent>");
  e = parse("nginx", "2001:db8::1 - - [01/Jan/2024:00:00:00 +0000] \"POST /login HTTP/2.0\" 302 12");
  EXPECT_EQ(ip(e), "2001:db8::1");
  EXPECT_EQ(str(e, "http.request.method"), "POST");
  EXPECT_EQ(str(e, "http.version"), "2.0");
  EXPECT_EQ(num(e, fields::http_response_status_code), 302);
}

TEST(AccessLog, VhostCombinedGivesUrlDomain) {
  Event e = parse(
      "apache", "www.example.org:443 192.0.2.10 - - [01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"");
  EXPECT_EQ(str(e, "url.domain"), "www.example.org");
  EXPECT_EQ(ip(e), "192.0.2.10");
  EXPECT_EQ(num(e, fields::http_response_status_code), 200);
}

TEST(AccessLog, EscapedQuotesAndGarbageRequests) {
  Event e = parse(
      "nginx", "10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] \"\\x16\\x03\\x01\" 400 157 \"-\" \"a \\\"quoted\\\" ua\"");
  EXPECT_EQ(num(e, fields::http_response_status_code), 400);
  EXPECT_EQ(str(e, "http.request.method"), "<absent>");
  EXPECT_EQ(str(e, "url.original"), "\\x16\\x03\\x01");
  EXPECT_EQ(str(e, "user_agent.original"), "a \\\"quoted\\\" ua");
}

TEST(AccessLog, BrokenLinesAreKeptUnparsed) {
  for (const char* line : {"not an access log", "1.2.3.4 - - [bad time] \"GET / HTTP/1.1\" 200 1",
                           "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1", "1.2.3.4"}) {
    Event e = parse("apache", line, false);
    EXPECT_EQ(str(e, "event.dataset"), "apache.access");
    EXPECT_EQ(str(e, "message"), line);
    EXPECT_EQ(str(e, "event.original"), line);
  }
}

TEST(ApacheError, Apache22Form) {
  Event e = parse("apache_error",
                  "[Sun Dec 04 04:47:44 2005] [error] [client 10.1.2.3] Directory index forbidden by rule: /var/www/",
                  true, 3600);
  EXPECT_EQ(str(e, "event.dataset"), "apache.error");
  EXPECT_EQ(e.time(), at("2005-12-04T03:47:44Z"));
  EXPECT_EQ(str(e, "log.level"), "error");
  EXPECT_EQ(ip(e), "10.1.2.3");
  EXPECT_EQ(str(e, "message"), "Directory index forbidden by rule: /var/www/");
  EXPECT_EQ(str(e, "event.outcome"), "<absent>");
}

TEST(ApacheError, Apache24FormWithModulePidAndPort) {
  Event e = parse("apache_error",
                  "[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 17512:tid 140123079128832] "
                  "[client 127.0.0.1:51386] AH01618: user bob not found: /basic/file, referer: http://x/");
  EXPECT_EQ(e.time(), at("2013-07-20T21:37:32.266605Z"));
  EXPECT_EQ(str(e, "log.level"), "error");
  EXPECT_EQ(str(e, "apache.error.module"), "auth_basic");
  EXPECT_EQ(num(e, fields::process_pid), 17512);
  EXPECT_EQ(ip(e), "127.0.0.1");
  EXPECT_EQ(num(e, fields::source_port), 51386);
  EXPECT_EQ(str(e, "error.code"), "AH01618");
  EXPECT_EQ(str(e, "http.request.referrer"), "http://x/");
  EXPECT_EQ(str(e, "event.action"), "user_not_found");
  EXPECT_EQ(str(e, "event.outcome"), "failure");
  EXPECT_EQ(str(e, "user.name"), "bob");
}

TEST(ApacheError, BracketedIpv6ClientAndSyslogForm) {
  Event e = parse("apache_error",
                  "[Sat Jul 20 22:11:44.147674 2013] [authz_owner:error] [pid 17540:tid 1] [client "
                  "[2001:db8::80da:af6b:8b2c]:51548] AH01637: Authorization of user t to access /x failed, reason: no");
  EXPECT_EQ(ip(e), "2001:db8::80da:af6b:8b2c");
  EXPECT_EQ(num(e, fields::source_port), 51548);
  EXPECT_EQ(str(e, "event.action"), "authorization_failure");
  e = parse("apache_error",
            "Feb 15 16:23:00 srv httpd[22034]: [authz_core:error] [pid 22034] [client 192.0.2.1:58585] AH01630: "
            "client denied by server configuration: /home/www/");
  EXPECT_EQ(str(e, "event.dataset"), "apache.error");
  EXPECT_EQ(str(e, "host.name"), "srv");
  EXPECT_EQ(ip(e), "192.0.2.1");
  EXPECT_EQ(str(e, "event.action"), "access_denied");
}

TEST(ApacheError, ClientInsideTheMessageCannotSpoofTheSourceOrTheOutcome) {
  Event e = parse("apache_error",
                  "[Sat Jun 01 02:17:42 2013] [error] [client 10.9.9.9] File does not exist: /site/[client 192.0.2.66] "
                  "user root not found");
  EXPECT_EQ(ip(e), "10.9.9.9");
  EXPECT_EQ(str(e, "event.outcome"), "<absent>");
  EXPECT_EQ(str(e, "user.name"), "<absent>");
}

TEST(NginxError, FieldsAfterTheMessage) {
  Event e = parse("nginx_error",
                  "2024/01/01 12:00:00 [error] 123#0: *1 open() \"/var/www/x\" failed (2: No such file or directory), "
                  "client: 192.0.2.7, server: example.org, request: \"GET /x?y HTTP/1.1\", host: \"example.org\"");
  EXPECT_EQ(str(e, "event.dataset"), "nginx.error");
  EXPECT_EQ(e.time(), at("2024-01-01T12:00:00Z"));
  EXPECT_EQ(str(e, "log.level"), "error");
  EXPECT_EQ(num(e, fields::process_pid), 123);
  EXPECT_EQ(ip(e), "192.0.2.7");
  EXPECT_EQ(str(e, "message"), "open() \"/var/www/x\" failed (2: No such file or directory)");
  EXPECT_EQ(str(e, "http.request.method"), "GET");
  EXPECT_EQ(str(e, "url.original"), "/x?y");
  EXPECT_EQ(str(e, "url.domain"), "example.org");
  e = parse("nginx_error",
            "2024/01/01 12:00:01 [error] 9#9: *3 user \"admin\": password mismatch, client: 192.0.2.8, server: s, "
            "request: \"GET / HTTP/1.1\"");
  EXPECT_EQ(str(e, "user.name"), "admin");
  EXPECT_EQ(str(e, "event.outcome"), "failure");
  e = parse("nginx_error", "2024/01/01 12:00:02 [notice] 1#1: signal process started");
  EXPECT_EQ(str(e, "log.level"), "notice");
  EXPECT_EQ(str(e, "message"), "signal process started");
  e = parse("nginx_error", "2024/13/01 12:00:02 [notice] 1#1: bad month", false);
  EXPECT_EQ(str(e, "event.dataset"), "nginx.error");
}

}  // namespace
}  // namespace vigil::logs
