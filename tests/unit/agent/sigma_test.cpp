// Sigma rules on the native engine: matching semantics, conditions, rejections and correlations,
// on rules written for the purpose (the public set has no correlation rules and uses only part of
// the modifiers; see tests/realdata/sigma_realdata_test.cpp for it).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "agent/rules/sigma.h"
#include "tests/support/test_support.h"

namespace vigil::agent::rules {
namespace {

struct Loaded {
  std::shared_ptr<const RuleSet> set;
  std::string error;
  std::vector<std::string> warnings;
};

Loaded load(const test::TempDir& dir, const std::string& yaml, const std::string& name = "rule.yml") {
  auto path = dir.write(name, yaml);
  auto r = load_rules({path.string()});
  if (!r) return {nullptr, r.error(), {}};
  Loaded l{r->set, "", {}};
  for (const auto& d : r->diagnostics.items()) l.warnings.push_back(d.to_string());
  return l;
}

Event ev(const std::string& dataset, int64_t t_s, std::initializer_list<std::pair<const char*, Value>> kv) {
  Event e;
  e.set(fields::timestamp, Timestamp::from_seconds(1'700'000'000 + t_s));
  e.set(fields::event_id, new_event_id());
  e.set(fields::event_kind, "event");
  e.set(fields::event_dataset, dataset);
  for (const auto& [k, v] : kv) e.set(field(k), v);
  return e;
}

// A one-rule Sigma file over web access logs with this detection block.
std::string web_rule(const std::string& detection) {
  return "title: test rule\nid: test-1\nauthor: Someone Else\nlevel: high\nlogsource:\n  category: webserver\n"
         "detection:\n" + detection;
}

bool fires(const Loaded& l, const Event& e) {
  EXPECT_TRUE(l.set) << l.error;
  if (!l.set) return false;
  Engine engine(l.set);
  std::vector<Event> alerts;
  engine.process(e, alerts);
  return !alerts.empty();
}

Event request(const std::string& target, std::initializer_list<std::pair<const char*, Value>> more = {}) {
  Event e = ev("nginx.access", 0, more);
  set_url_target(e, target);
  return e;
}

TEST(Sigma, WildcardsEscapesAndCase) {
  test::TempDir dir;
  auto l = load(dir, web_rule("  sel:\n    cs-uri-query:\n      - '/a*b'\n      - '/lit\\*x'\n      - '/q\\?'\n"
                              "      - '/one?'\n      - 'C:\\Windows'\n  condition: sel\n"));
  EXPECT_TRUE(fires(l, request("/aXYZb")));
  EXPECT_TRUE(fires(l, request("/A-B")));  // case-insensitive
  EXPECT_FALSE(fires(l, request("/aXYZbc")));  // whole value
  EXPECT_TRUE(fires(l, request("/lit*x")));
  EXPECT_FALSE(fires(l, request("/litYx")));
  EXPECT_TRUE(fires(l, request("/q?")));
  EXPECT_FALSE(fires(l, request("/qz")));
  EXPECT_TRUE(fires(l, request("/one1")));
  EXPECT_FALSE(fires(l, request("/one12")));
  EXPECT_TRUE(fires(l, request("c:\\windows")));  // a backslash before anything else is literal
}

TEST(Sigma, StringModifiers) {
  test::TempDir dir;
  auto l = load(dir, web_rule("  sel:\n    cs-uri-query|contains|all: [cmd=, 'x*y']\n"
                              "    cs-user-agent|startswith: 'curl/'\n    cs-method|endswith: ST\n"
                              "  condition: sel\n"));
  EXPECT_TRUE(fires(l, request("/p?cmd=1&xqqy", {{"user_agent.original", "CURL/8"}, {"http.request.method", "POST"}})));
  EXPECT_FALSE(fires(l, request("/p?cmd=1", {{"user_agent.original", "curl/8"}, {"http.request.method", "POST"}})));
  EXPECT_FALSE(fires(l, request("/p?cmd=1&xy", {{"user_agent.original", "wget"}, {"http.request.method", "POST"}})));
  EXPECT_FALSE(fires(l, request("/p?cmd=1&xy", {{"user_agent.original", "curl/8"}, {"http.request.method", "GET"}})));

  auto cased = load(dir, web_rule("  sel:\n    cs-user-agent|contains|cased: Nikto\n  condition: sel\n"), "c.yml");
  EXPECT_TRUE(fires(cased, request("/", {{"user_agent.original", "Mozilla (Nikto/2.1)"}})));
  EXPECT_FALSE(fires(cased, request("/", {{"user_agent.original", "mozilla (nikto/2.1)"}})));
}

TEST(Sigma, RegexCidrNumbersExistsNullAndEmpty) {
  test::TempDir dir;
  auto re = load(dir, web_rule("  sel:\n    cs-uri-query|re: '^/admin/[0-9]+$'\n  condition: sel\n"), "re.yml");
  EXPECT_TRUE(fires(re, request("/admin/42")));
  EXPECT_FALSE(fires(re, request("/ADMIN/42")));  // re is case-sensitive unless it says so
  auto rei = load(dir, web_rule("  sel:\n    cs-uri-query|re|i: '^/admin/[0-9]+$'\n  condition: sel\n"), "rei.yml");
  EXPECT_TRUE(fires(rei, request("/ADMIN/42")));

  auto cidr = load(dir, web_rule("  sel:\n    c-ip|cidr: [10.0.0.0/8, 'fc00::/7']\n  condition: sel\n"), "cidr.yml");
  EXPECT_TRUE(fires(cidr, request("/", {{"source.ip", *IpAddress::parse("10.2.3.4")}})));
  EXPECT_TRUE(fires(cidr, request("/", {{"source.ip", *IpAddress::parse("fd00::1")}})));
  EXPECT_FALSE(fires(cidr, request("/", {{"source.ip", *IpAddress::parse("192.0.2.1")}})));

  auto num = load(dir, web_rule("  sel:\n    sc-status|gte: 500\n    sc-bytes|lt: 100\n  condition: sel\n"), "n.yml");
  EXPECT_TRUE(fires(num, request("/", {{"http.response.status_code", int64_t{503}}, {"http.response.body.bytes", int64_t{5}}})));
  EXPECT_FALSE(fires(num, request("/", {{"http.response.status_code", int64_t{404}}, {"http.response.body.bytes", int64_t{5}}})));

  auto ints = load(dir, web_rule("  sel:\n    sc-status: [200, 301]\n  condition: sel\n"), "i.yml");
  EXPECT_TRUE(fires(ints, request("/", {{"http.response.status_code", int64_t{301}}})));
  EXPECT_FALSE(fires(ints, request("/", {{"http.response.status_code", int64_t{3010}}})));

  auto exists = load(dir, web_rule("  sel:\n    cs-referer|exists: false\n  condition: sel\n"), "e.yml");
  EXPECT_TRUE(fires(exists, request("/")));
  EXPECT_FALSE(fires(exists, request("/", {{"http.request.referrer", ""}})));

  auto null = load(dir, web_rule("  sel:\n    cs-referer: null\n  condition: sel\n"), "null.yml");
  EXPECT_TRUE(fires(null, request("/")));
  EXPECT_TRUE(fires(null, request("/", {{"http.request.referrer", ""}})));
  EXPECT_FALSE(fires(null, request("/", {{"http.request.referrer", "https://x/"}})));

  auto empty = load(dir, web_rule("  sel:\n    cs-referer: ''\n  condition: sel\n"), "empty.yml");
  EXPECT_FALSE(fires(empty, request("/")));
  EXPECT_TRUE(fires(empty, request("/", {{"http.request.referrer", ""}})));
}

TEST(Sigma, Base64OffsetAndWindash) {
  // The three encodings the Sigma specification gives for /bin/bash.
  EXPECT_EQ(sigma::base64_offsets("/bin/bash"), (std::vector<std::string>{"L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"}));
  test::TempDir dir;
  auto b64 = load(dir, web_rule("  sel:\n    cs-uri-query|base64offset|contains: '/bin/bash'\n  condition: sel\n"));
  // "x=/bin/bash -i", "xy=/bin/bash" and "=/bin/bash" base64-encoded (each offset once).
  EXPECT_TRUE(fires(b64, request("/?p=eD0vYmluL2Jhc2ggLWk=")));
  EXPECT_TRUE(fires(b64, request("/?p=eHk9L2Jpbi9iYXNo")));
  EXPECT_TRUE(fires(b64, request("/?p=PS9iaW4vYmFzaA==")));
  EXPECT_FALSE(fires(b64, request("/?p=L2Jpbi9zaA==")));  // /bin/sh

  auto plain = load(dir, web_rule("  sel:\n    cs-uri-query|base64|contains: 'admin'\n  condition: sel\n"), "b.yml");
  EXPECT_TRUE(fires(plain, request("/?u=YWRtaW4")));
  EXPECT_FALSE(fires(plain, request("/?u=ywrtaw4")));  // base64 is case-sensitive

  auto dash = load(dir, web_rule("  sel:\n    cs-uri-query|windash|contains: ' -enc '\n  condition: sel\n"), "w.yml");
  EXPECT_TRUE(fires(dash, request("/run?c=powershell -enc AAA ")));
  EXPECT_TRUE(fires(dash, request("/run?c=powershell /enc AAA ")));
  EXPECT_TRUE(fires(dash, request("/run?c=powershell \u2013enc AAA ")));
  EXPECT_FALSE(fires(dash, request("/run?c=powershell enc AAA ")));
}

TEST(Sigma, ConditionsFollowTheSpecificationsPrecedence) {
  test::TempDir dir;
  // a or b and not c == a or (b and (not c))
  auto l = load(dir, web_rule("  a:\n    cs-method: PUT\n  b:\n    cs-uri-query|contains: x\n"
                              "  c:\n    sc-status: 404\n  condition: a or b and not c\n"));
  EXPECT_TRUE(fires(l, request("/", {{"http.request.method", "PUT"}, {"http.response.status_code", int64_t{404}}})));
  EXPECT_TRUE(fires(l, request("/x", {{"http.request.method", "GET"}, {"http.response.status_code", int64_t{200}}})));
  EXPECT_FALSE(fires(l, request("/x", {{"http.request.method", "GET"}, {"http.response.status_code", int64_t{404}}})));

  auto paren = load(dir, web_rule("  a:\n    cs-method: PUT\n  b:\n    cs-uri-query|contains: x\n"
                                  "  c:\n    sc-status: 404\n  condition: (a or b) and not c\n"), "p.yml");
  EXPECT_FALSE(fires(paren, request("/", {{"http.request.method", "PUT"}, {"http.response.status_code", int64_t{404}}})));

  // `1 of them` / `all of them` leave out identifiers starting with '_'.
  auto them = load(dir, web_rule("  sel_a:\n    cs-method: PUT\n  sel_b:\n    cs-uri-query|contains: x\n"
                                 "  _helper:\n    sc-status: 500\n  condition: all of them\n"), "t.yml");
  EXPECT_TRUE(fires(them, request("/x", {{"http.request.method", "PUT"}, {"http.response.status_code", int64_t{200}}})));
  EXPECT_FALSE(fires(them, request("/", {{"http.request.method", "PUT"}})));
  auto one = load(dir, web_rule("  sel_a:\n    cs-method: PUT\n  sel_b:\n    cs-uri-query|contains: x\n"
                                "  other:\n    sc-status: 500\n  condition: 1 of sel_* and not other\n"), "o.yml");
  EXPECT_TRUE(fires(one, request("/x")));
  EXPECT_FALSE(fires(one, request("/x", {{"http.response.status_code", int64_t{500}}})));
  EXPECT_FALSE(fires(one, request("/")));

  // A list of maps is OR; keywords search the raw line.
  auto lists = load(dir, web_rule("  sel:\n    - cs-method: PUT\n    - cs-method: DELETE\n"
                                  "  kw:\n    - 'evil*payload'\n  condition: sel or kw\n"), "l.yml");
  EXPECT_TRUE(fires(lists, request("/", {{"http.request.method", "DELETE"}})));
  EXPECT_TRUE(fires(lists, request("/", {{"event.original", "1.2.3.4 - - \"GET /?q=EVIL--payload\""}})));
  EXPECT_FALSE(fires(lists, request("/", {{"http.request.method", "GET"}, {"event.original", "GET /?q=evil"}})));
}

TEST(Sigma, UnsupportedFeaturesAreRejectedWithAReasonAndInvalidOnesAreErrors) {
  test::TempDir dir;
  struct Case {
    std::string detection;
    std::string reason;
  };
  const Case cases[] = {
      {"  sel:\n    cs-method|fieldref: cs-host\n  condition: sel\n", "fieldref"},
      {"  sel:\n    cs-method|expand: '%methods%'\n  condition: sel\n", "placeholders"},
      {"  sel:\n    cs-method|wide|base64: x\n  condition: sel\n", "Windows"},
      {"  sel:\n    cs-method|sounds_like: x\n  condition: sel\n", "unknown modifier 'sounds_like'"},
      {"  sel:\n    cs-method: GET\n  condition: sel | count() by c-ip > 10\n", "legacy aggregation"},
      {"  sel:\n    cs-cookie|contains: x\n  condition: sel\n", "field 'cs-cookie' has no mapping"},
      {"  sel:\n    cs-uri-query|re: '(?<=a)b'\n  condition: sel\n", "not supported by RE2"},
  };
  int n = 0;
  for (const auto& c : cases) {
    auto l = load(dir, web_rule(c.detection), fmt::format("r{}.yml", n++));
    ASSERT_TRUE(l.set) << l.error;
    EXPECT_TRUE(l.set->rules.empty()) << c.detection;
    EXPECT_EQ(l.set->rejected, 1u);
    ASSERT_EQ(l.warnings.size(), 1u);
    EXPECT_NE(l.warnings[0].find("rejected: "), std::string::npos) << l.warnings[0];
    EXPECT_NE(l.warnings[0].find(c.reason), std::string::npos) << l.warnings[0];
  }
  auto windows = load(dir, "title: t\nid: w\nlogsource:\n  product: windows\n  category: process_creation\n"
                           "detection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n", "win.yml");
  ASSERT_TRUE(windows.set);
  ASSERT_EQ(windows.warnings.size(), 1u);
  EXPECT_NE(windows.warnings[0].find("logsource {product: windows, category: process_creation}"), std::string::npos);

  // Invalid Sigma fails the load with file:line:column (the agent keeps its previous rules).
  auto bad = load(dir, web_rule("  sel:\n    cs-method: GET\n  condition: sel and nothing\n"), "bad.yml");
  EXPECT_EQ(bad.set, nullptr);
  EXPECT_NE(bad.error.find("bad.yml:10:14: error: condition: 'nothing' is not a detection identifier"), std::string::npos)
      << bad.error;
}

// A brute-force correlation and its base rule in one multi-document file.
const char* kBruteForce = R"(title: SSH authentication failure
id: base-ssh-failure
name: ssh_failure
author: Test Author
logsource:
  product: linux
  service: sshd
detection:
  sel:
    event.outcome: failure
  condition: sel
level: low
---
title: SSH brute force
id: corr-ssh-brute
author: Test Author
license: MIT
correlation:
  type: event_count
  rules: [ssh_failure]
  group-by: [source.ip]
  timespan: 1m
  condition:
    gte: 5
level: high
tags: [attack.credential_access, attack.t1110]
)";

Event ssh_failure(int64_t t, const char* ip, const char* user = "root") {
  return ev("sshd", t, {{"event.outcome", "failure"}, {"source.ip", *IpAddress::parse(ip)}, {"user.name", user}});
}

TEST(SigmaCorrelation, EventCountFiresOnceAtTheThresholdPerGroup) {
  test::TempDir dir;
  auto l = load(dir, kBruteForce);
  ASSERT_TRUE(l.set) << l.error;
  ASSERT_EQ(l.set->rules.size(), 2u);
  Engine engine(l.set);
  std::vector<Event> alerts;
  for (int i = 0; i < 4; ++i) engine.process(ssh_failure(i, "198.51.100.1"), alerts);
  for (int i = 0; i < 4; ++i) engine.process(ssh_failure(i, "198.51.100.2"), alerts);
  EXPECT_TRUE(alerts.empty());  // the base rule generates no alert of its own (generate: false)
  engine.process(ssh_failure(70, "198.51.100.2"), alerts);  // outside the minute of the others
  EXPECT_TRUE(alerts.empty());
  engine.process(ssh_failure(10, "198.51.100.1"), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  const Event& a = alerts[0];
  EXPECT_EQ(*a.get_string(fields::rule_id), "corr-ssh-brute");
  EXPECT_EQ(*a.get_string(fields::rule_author), "Test Author");
  EXPECT_EQ(*a.get_string(fields::rule_license), "MIT");
  EXPECT_EQ(*a.get_string(fields::vigil_severity), "high");
  EXPECT_EQ(a.get(fields::source_ip)->to_string(), "198.51.100.1");
  EXPECT_EQ(a.get(fields::evidence_ids)->as_list()->size(), 5u);
  ASSERT_NE(a.get(fields::threat_technique_id), nullptr);
  EXPECT_EQ(a.get(fields::threat_technique_id)->as_list()->at(0).to_string(), "T1110");
}

TEST(SigmaCorrelation, GenerateTrueKeepsTheBaseRulesAlerts) {
  test::TempDir dir;
  std::string text = kBruteForce;
  text.replace(text.find("  condition:\n    gte: 5"), 0, "  generate: true\n");
  auto l = load(dir, text);
  ASSERT_TRUE(l.set) << l.error;
  Engine engine(l.set);
  std::vector<Event> alerts;
  engine.process(ssh_failure(0, "198.51.100.1"), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(*alerts[0].get_string(fields::rule_id), "base-ssh-failure");
  EXPECT_EQ(*alerts[0].get_string(fields::rule_license), "DRL-1.1");
}

TEST(SigmaCorrelation, ValueCountCountsDistinctValues) {
  test::TempDir dir;
  std::string text = kBruteForce;
  text.replace(text.find("type: event_count"), 17, "type: value_count");
  text.replace(text.find("    gte: 5"), 10, "    field: user.name\n    gt: 2");
  auto l = load(dir, text);
  ASSERT_TRUE(l.set) << l.error;
  Engine engine(l.set);
  std::vector<Event> alerts;
  for (int i = 0; i < 6; ++i) engine.process(ssh_failure(i, "198.51.100.1", i % 2 ? "root" : "admin"), alerts);
  EXPECT_TRUE(alerts.empty());  // two distinct users, many times
  engine.process(ssh_failure(7, "198.51.100.1", "oracle"), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].get(field("vigil.alert.count"))->to_string(), "3");
}

// A port scan (itself a value_count correlation over flows) followed by a successful SSH login
// from the same source: a temporal correlation over a correlation and a rule of another logsource.
const char* kScanThenLogin = R"(title: TCP connection attempt
id: base-flow
name: tcp_flow
logsource: {category: firewall}
detection:
  sel: {protocol: tcp}
  condition: sel
---
title: Port scan
id: corr-scan
name: port_scan
correlation:
  type: value_count
  rules: tcp_flow
  group-by: [src_ip]
  timespan: 10s
  condition: {field: dst_port, gte: 10}
---
title: SSH login accepted
id: base-ssh-ok
name: ssh_ok
logsource: {product: linux, service: sshd}
detection:
  sel: {event.outcome: success}
  condition: sel
---
title: Port scan then SSH login from the same source
id: corr-scan-login
correlation:
  type: TEMPORAL_KIND
  rules: [port_scan, ssh_ok]
  group-by: [attacker]
  aliases:
    attacker:
      port_scan: src_ip
      ssh_ok: source.ip
  timespan: 5m
level: critical
)";

void scan(Engine& engine, std::vector<Event>& alerts, const char* ip, int64_t t) {
  for (int port = 1; port <= 12; ++port) {
    engine.process(ev("network.flow", t, {{"network.transport", "tcp"}, {"source.ip", *IpAddress::parse(ip)},
                                          {"destination.port", int64_t{port}}}),
                   alerts);
  }
}

Event login(const char* ip, int64_t t) {
  return ev("sshd", t, {{"event.outcome", "success"}, {"source.ip", *IpAddress::parse(ip)}, {"user.name", "deploy"}});
}

TEST(SigmaCorrelation, TemporalPortScanThenLoginFromTheSameSource) {
  test::TempDir dir;
  std::string text = kScanThenLogin;
  text.replace(text.find("TEMPORAL_KIND"), 13, "temporal");
  auto l = load(dir, text);
  ASSERT_TRUE(l.set) << l.error;
  ASSERT_EQ(l.set->rules.size(), 4u);
  Engine engine(l.set);
  std::vector<Event> alerts;
  scan(engine, alerts, "203.0.113.5", 0);
  EXPECT_TRUE(alerts.empty());  // the scan alone: consumed by the temporal rule
  engine.process(login("203.0.113.6", 30), alerts);  // another source logs in
  EXPECT_TRUE(alerts.empty());
  engine.process(login("203.0.113.5", 400), alerts);  // same source, after the 5 minutes
  EXPECT_TRUE(alerts.empty());
  scan(engine, alerts, "203.0.113.5", 500);
  engine.process(login("203.0.113.5", 560), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(*alerts[0].get_string(fields::rule_id), "corr-scan-login");
  EXPECT_EQ(*alerts[0].get_string(fields::vigil_severity), "critical");
  EXPECT_EQ(alerts[0].get(fields::evidence_ids)->as_list()->size(), 2u);

  // Unordered: the login first, then the scan, also fires.
  engine.process(login("198.51.100.9", 1000), alerts);
  scan(engine, alerts, "198.51.100.9", 1010);
  EXPECT_EQ(alerts.size(), 2u);
}

TEST(SigmaCorrelation, TemporalOrderedNeedsTheListOrder) {
  test::TempDir dir;
  std::string text = kScanThenLogin;
  text.replace(text.find("TEMPORAL_KIND"), 13, "temporal_ordered");
  auto l = load(dir, text);
  ASSERT_TRUE(l.set) << l.error;
  Engine engine(l.set);
  std::vector<Event> alerts;
  engine.process(login("198.51.100.9", 0), alerts);
  scan(engine, alerts, "198.51.100.9", 10);
  EXPECT_TRUE(alerts.empty());  // login before the scan
  engine.process(login("198.51.100.9", 20), alerts);
  EXPECT_EQ(alerts.size(), 1u);
}

TEST(SigmaCorrelation, UnresolvableOrUnsupportedCorrelationsAreRejected) {
  test::TempDir dir;
  std::string missing = kBruteForce;
  missing.replace(missing.find("rules: [ssh_failure]"), 20, "rules: [nope]");
  auto l = load(dir, missing, "m.yml");
  ASSERT_TRUE(l.set) << l.error;
  EXPECT_EQ(l.set->rules.size(), 1u);
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_NE(l.warnings[0].find("refers to rule 'nope', which is not loaded"), std::string::npos) << l.warnings[0];

  std::string upper = kBruteForce;
  upper.replace(upper.find("    gte: 5"), 10, "    lte: 5");
  auto u = load(dir, upper, "u.yml");
  ASSERT_TRUE(u.set) << u.error;
  ASSERT_EQ(u.warnings.size(), 1u);
  EXPECT_NE(u.warnings[0].find("only gt and gte are supported"), std::string::npos) << u.warnings[0];

  std::string unmapped = kBruteForce;
  unmapped.replace(unmapped.find("group-by: [source.ip]"), 21, "group-by: [SourceIp]");
  auto g = load(dir, unmapped, "g.yml");
  ASSERT_TRUE(g.set) << g.error;
  ASSERT_EQ(g.warnings.size(), 1u);
  EXPECT_NE(g.warnings[0].find("group-by field 'SourceIp' has no mapping"), std::string::npos) << g.warnings[0];
}

}  // namespace
}  // namespace vigil::agent::rules
