#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "common/event/json.h"
#include "tests/support/test_support.h"

namespace vigil::agent::rules {
namespace {

using namespace std::chrono_literals;

// Loads rules from YAML text written to a temp file; returns the set or the error text.
struct Loaded {
  std::shared_ptr<const RuleSet> set;
  std::string error;
  std::string file;
};

Loaded load_text(const vigil::test::TempDir& dir, const std::string& yaml, const std::string& name = "r.yaml") {
  auto path = dir.write(name, yaml);
  auto r = load_rules({path.string()});
  if (!r) return {nullptr, r.error(), path.string()};
  return {r->set, "", path.string()};
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

TEST(RuleLoader, ReportsErrorsAtTheirPosition) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: A
  title: t
  severity: high
  when:
    sorce.ip: 10.0.0.1
- id: B
  title: t
  severity: hihg
  when:
    url.original: {regex: "(unclosed"}
- id: C
  title: t
  severity: low
  when:
    source.ip: {cidr: 10.0.0.0/33}
    user.name: {beginswith: x}
- id: A
  title: dup
  severity: low
  when: {user.name: x}
)");
  ASSERT_EQ(l.set, nullptr);
  const std::string& e = l.error;
  EXPECT_NE(e.find(l.file + ":5:5: error: unknown field 'sorce.ip' (did you mean 'source.ip'?)"), std::string::npos) << e;
  EXPECT_NE(e.find(l.file + ":8:13: error: severity: expected one of info, low, medium, high, critical"), std::string::npos) << e;
  EXPECT_NE(e.find(l.file + ":10:27: error: url.original.regex: invalid regular expression"), std::string::npos) << e;
  EXPECT_NE(e.find(l.file + ":15:23: error: source.ip.cidr: '10.0.0.0/33' is not an address"), std::string::npos) << e;
  EXPECT_NE(e.find(l.file + ":16:17: error: unknown key 'user.name.beginswith'"), std::string::npos) << e;
  EXPECT_NE(e.find(l.file + ":17:7: error: duplicate rule id 'A'"), std::string::npos) << e;
}

TEST(RuleLoader, FileOfNoKnownKindIsAnError) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, "hello: world\n");
  ASSERT_EQ(l.set, nullptr);
  EXPECT_NE(l.error.find("not a rule file"), std::string::npos);
}

TEST(RuleLoader, PoliciesAndFrameworksAreLeftToTheirLoaders) {
  vigil::test::TempDir dir;
  dir.write("p.yaml", "policy: {id: x}\nchecks: []\n");
  dir.write("r.yaml", "- {id: A, title: t, severity: low, when: {user.name: x}}\n");
  auto r = load_rules({dir.path().string()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->set->rules.size(), 1u);
  EXPECT_EQ(r->set->files.size(), 1u);
  EXPECT_EQ(r->set->version.size(), 16u);
}

TEST(RuleLoader, SameFileReachedTwiceIsReadOnce) {
  vigil::test::TempDir dir;
  auto p = dir.write("r.yaml", "- {id: A, title: t, severity: low, when: {user.name: x}}\n");
  auto r = load_rules({dir.path().string(), p.string()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->set->rules.size(), 1u);
}

TEST(RuleLoader, ValueListsComeFromFilesBesideTheRule) {
  vigil::test::TempDir dir;
  dir.write("bad-ips.txt", "# known bad\n203.0.113.7\n\n198.51.100.0\n");
  auto l = load_text(dir, "- {id: A, title: t, severity: low, when: {source.ip: {in_file: bad-ips.txt}}}\n");
  ASSERT_NE(l.set, nullptr) << l.error;
  Engine eng(l.set);
  std::vector<Event> alerts;
  eng.process(ev("sshd", 0, {{"source.ip", *IpAddress::parse("203.0.113.7")}}), alerts);
  eng.process(ev("sshd", 0, {{"source.ip", *IpAddress::parse("203.0.113.8")}}), alerts);
  EXPECT_EQ(alerts.size(), 1u);
  auto missing = load_text(dir, "- {id: A, title: t, severity: low, when: {source.ip: {in_file: none.txt}}}\n", "m.yaml");
  EXPECT_NE(missing.error.find("cannot read"), std::string::npos);
}

struct MatchCase {
  const char* when;
  std::vector<std::pair<const char*, Value>> fields;
  bool expected;
};

TEST(RuleMatchers, EachMatcherMatchesAndRejects) {
  auto ip = [](const char* s) { return Value(*IpAddress::parse(s)); };
  std::vector<MatchCase> cases = {
      {"user.name: Root", {{"user.name", "root"}}, true},            // case-insensitive equals
      {"user.name: {equals: Root, cased: true}", {{"user.name", "root"}}, false},
      {"user.name: [admin, root]", {{"user.name", "ROOT"}}, true},
      {"user.name: [admin, root]", {{"user.name", "guest"}}, false},
      {"url.original: {contains: UNION}", {{"url.original", "/q?x=1 union select"}}, true},
      {"url.original: {startswith: /admin}", {{"url.original", "/ADMIN/login"}}, true},
      {"url.original: {endswith: [.php, .asp]}", {{"url.original", "/x.aspx"}}, false},
      {"url.original: {regex: '^/a+b$'}", {{"url.original", "/aaab"}}, true},
      {"url.original: {regex: '^/A+b$'}", {{"url.original", "/aaab"}}, false},  // regex as written
      {"source.ip: {cidr: 10.0.0.0/8}", {{"source.ip", ip("10.9.8.7")}}, true},
      {"source.ip: {cidr: 10.0.0.0/8}", {{"source.ip", ip("11.0.0.1")}}, false},
      {"source.ip: {cidr: '2001:db8::/32'}", {{"source.ip", ip("2001:db8:1::5")}}, true},
      {"source.ip: {cidr: '::/0'}", {{"source.ip", ip("10.0.0.1")}}, false},   // families apart
      {"source.ip: {cidr: 10.0.0.0/8}", {{"source.ip", "10.1.1.1"}}, true},    // IP given as text
      {"destination.port: {gte: 1024}", {{"destination.port", 1024}}, true},
      {"destination.port: {lt: 1024}", {{"destination.port", 1024}}, false},
      {"destination.port: 22", {{"destination.port", 22}}, true},
      {"user.name: {exists: true}", {}, false},
      {"user.name: {exists: false}", {}, true},
      {"threat.technique.id: T1046", {{"threat.technique.id", ValueList{Value("T1110"), Value("T1046")}}}, true},
      {"any: [{user.name: a}, {user.name: b}]", {{"user.name", "b"}}, true},
      {"all: [{user.name: b}, {source.port: 1}]", {{"user.name", "b"}, {"source.port", 2}}, false},
      {"not: {user.name: b}", {{"user.name", "b"}}, false},
      {"not: {user.name: b}", {{"user.name", "c"}}, true},
      {"url.original: {contains: a, endswith: z}", {{"url.original", "abc"}}, false},  // several ops: all
  };
  vigil::test::TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.when);
    auto l = load_text(dir, std::string("- id: T\n  title: t\n  severity: low\n  when: {") + c.when + "}\n");
    ASSERT_NE(l.set, nullptr) << l.error;
    Event e = ev("x", 0, {});
    for (const auto& [k, v] : c.fields) e.set(field(k), v);
    EXPECT_EQ(matches(l.set->rules[0]->when, e), c.expected);
  }
}

TEST(RuleEngine, ThresholdCountsWithinTheWindowPerGroup) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: BF
  title: brute force
  severity: high
  when: {event.dataset: sshd, event.outcome: failure}
  threshold: {count: 3, within: 60s, group_by: [source.ip]}
  tags: [attack.credential_access, attack.t1110]
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  Engine eng(l.set);
  std::vector<Event> alerts;
  auto fail = [&](int64_t t, const char* ip) {
    eng.process(ev("sshd", t, {{"event.outcome", "failure"}, {"source.ip", *IpAddress::parse(ip)}}), alerts);
  };
  fail(0, "192.0.2.1");
  fail(10, "192.0.2.2");
  fail(20, "192.0.2.1");
  fail(100, "192.0.2.1");  // the first two fell out of the window
  EXPECT_TRUE(alerts.empty());
  fail(110, "192.0.2.1");
  fail(120, "192.0.2.1");
  ASSERT_EQ(alerts.size(), 1u);
  const Event& a = alerts[0];
  EXPECT_EQ(*a.get_string(fields::event_kind), "alert");
  EXPECT_EQ(*a.get_string(fields::rule_id), "BF");
  EXPECT_EQ(*a.get_int(fields::event_severity), 4);
  EXPECT_EQ(*a.get_string(fields::vigil_severity), "high");
  EXPECT_EQ(a.get_ip(fields::source_ip)->to_string(), "192.0.2.1");
  EXPECT_EQ(a.time(), Timestamp::from_seconds(1'700'000'120));
  EXPECT_EQ(a.get(fields::threat_technique_id)->as_list()->at(0), Value("T1110"));
  EXPECT_EQ(a.get(fields::evidence_ids)->as_list()->size(), 3u);
  EXPECT_EQ(a.get(fields::evidence_events)->as_list()->size(), 3u);
  EXPECT_FALSE(a.has(fields::event_original));
}

TEST(RuleEngine, SuppressKeepsOneAlertPerGroupPerWindow) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: S
  title: t
  severity: low
  when: {event.dataset: sshd}
  threshold: {count: 2, within: 60s, group_by: [source.ip]}
  suppress: 10m
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  Engine eng(l.set);
  std::vector<Event> alerts;
  for (int i = 0; i < 40; ++i) eng.process(ev("sshd", i * 10, {{"source.ip", "192.0.2.1"}}), alerts);
  // 400 s of activity: one alert, later ones suppressed until 10 minutes pass.
  EXPECT_EQ(alerts.size(), 1u);
  EXPECT_GT(eng.stats().suppressed, 0u);
  for (int i = 0; i < 2; ++i) eng.process(ev("sshd", 700 + i, {{"source.ip", "192.0.2.1"}}), alerts);
  EXPECT_EQ(alerts.size(), 2u);
}

TEST(RuleEngine, DistinctCountsDifferentValues) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: SCAN
  title: scan
  severity: medium
  when: {event.dataset: network.flow}
  distinct: {field: destination.port, count: 20, within: 10s, group_by: [source.ip]}
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  Engine eng(l.set);
  std::vector<Event> alerts;
  // The same port many times is not a scan.
  for (int i = 0; i < 50; ++i) {
    eng.process(ev("network.flow", 0, {{"source.ip", "198.51.100.1"}, {"destination.port", 443}}), alerts);
  }
  EXPECT_TRUE(alerts.empty());
  for (int p = 1; p <= 20; ++p) {
    eng.process(ev("network.flow", 1, {{"source.ip", "198.51.100.2"}, {"destination.port", p}}), alerts);
  }
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(*alerts[0].get_int(field("vigil.alert.count")), 20);
  // Evidence embeds at most 10 events but lists every id.
  EXPECT_EQ(alerts[0].get(fields::evidence_events)->as_list()->size(), 10u);
  EXPECT_EQ(alerts[0].get(fields::evidence_ids)->as_list()->size(), 20u);
}

TEST(RuleEngine, EvidenceIsTheEventsJsonWrittenOnceAndCitedAsItIs) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: SCAN
  title: scan
  severity: medium
  when: {event.dataset: network.flow}
  distinct: {field: destination.port, count: 5, within: 10s, group_by: [source.ip]}
- id: FLOW
  title: any flow
  severity: low
  when: {event.dataset: network.flow}
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  Engine eng(l.set);
  std::vector<Event> alerts;
  std::vector<const std::string*> kept;
  std::vector<std::string> lines;
  for (int p = 1; p <= 5; ++p) {
    Event e = ev("network.flow", p, {{"source.ip", "198.51.100.2"}, {"destination.port", p}});
    eng.process(e, alerts);
    // Two rules keep the event: one text, the event's own JSON line.
    ASSERT_NE(eng.kept_json(), nullptr);
    EXPECT_EQ(*eng.kept_json(), to_json_line(e));
    kept.push_back(eng.kept_json());  // alive as long as a hit or an alert holds it
    lines.push_back(to_json_line(e));
  }
  // An event no rule keeps has no text written for it.
  eng.process(ev("network.http", 7, {{"source.ip", "198.51.100.2"}}), alerts);
  EXPECT_EQ(eng.kept_json(), nullptr);
  // FLOW's five alerts and SCAN's: its evidence cites the texts written at each match.
  ASSERT_EQ(alerts.size(), 6u);
  auto scan_at = std::find_if(alerts.begin(), alerts.end(),
                              [](const Event& a) { return *a.get_string(fields::rule_id) == "SCAN"; });
  ASSERT_NE(scan_at, alerts.end());
  const Event& scan = *scan_at;
  const ValueList& events = *scan.get(fields::evidence_events)->as_list();
  ASSERT_EQ(events.size(), 5u);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_NE(events[i].as_json(), nullptr);
    EXPECT_EQ(events[i].as_json()->text.get(), kept[i]) << i;  // the same text, not a copy
  }
  // Written out, the alert embeds each event as the event's own line: valid JSON, read back as
  // the events themselves.
  const std::string alert_line = to_json_line(scan);
  for (const std::string& line : lines) EXPECT_NE(alert_line.find(line), std::string::npos);
  auto back = event_from_json_line(alert_line);
  ASSERT_TRUE(back) << back.error();
  const ValueList& read = *back->get(fields::evidence_events)->as_list();
  ASSERT_EQ(read.size(), 5u);
  for (size_t i = 0; i < read.size(); ++i) {
    ASSERT_NE(read[i].as_event(), nullptr);
    EXPECT_EQ(to_json_line(**read[i].as_event()), lines[i]);
  }
  // The single-event rule cites its event the same way.
  ASSERT_NE(alerts[0].get(fields::evidence_events)->as_list()->at(0).as_json(), nullptr);
  EXPECT_EQ(alerts[0].get(fields::evidence_events)->as_list()->at(0).as_json()->text.get(), kept[0]);
}

TEST(RuleEngine, AggregationStateIsCappedAndEvictionCounted) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: G
  title: t
  severity: low
  when: {event.dataset: sshd}
  threshold: {count: 5, within: 1h, group_by: [source.ip]}
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  EngineLimits limits;
  limits.max_groups = 100;
  Engine eng(l.set, limits);
  std::vector<Event> alerts;
  for (int i = 0; i < 1000; ++i) {
    eng.process(ev("sshd", i, {{"source.ip", IpAddress::v4(0x0a000000u + static_cast<uint32_t>(i))}}), alerts);
  }
  EXPECT_EQ(eng.group_count(), 100u);
  EXPECT_EQ(eng.stats().groups_evicted, 900u);
}

TEST(RuleEngine, GroupsPastTheirWindowAndSuppressionAreDropped) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: G
  title: t
  severity: low
  when: {event.dataset: sshd}
  threshold: {count: 3, within: 10m, group_by: [source.ip]}
- id: L
  title: t
  severity: low
  when: {event.dataset: sshd}
  threshold: {count: 50, within: 1h, group_by: [source.ip]}
- id: S
  title: t
  severity: low
  when: {event.dataset: su}
  threshold: {count: 1, within: 1m, group_by: [source.ip]}
  suppress: 1h
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  auto ip = [](int i) { return IpAddress::v4(0x0a000000u + static_cast<uint32_t>(i)); };
  std::vector<Event> alerts;
  {
    // One failure a second from 6,000 addresses: each rule keeps its own window's groups (and
    // those of the last 1,024-2,048 events, the horizon's lag), the ten-minute rule's expiring
    // behind the hour-long one's.
    Engine eng(l.set);
    for (int i = 0; i < 6000; ++i) eng.process(ev("sshd", i, {{"source.ip", ip(i)}}), alerts);
    EXPECT_GE(eng.stats().groups_expired, (6000u - 600u - 2048u - 8u) + (6000u - 3600u - 2048u - 8u));
    EXPECT_GE(eng.group_count(), 600u + 3600u);
    EXPECT_EQ(eng.stats().groups_evicted, 0u);
    // A group still counting is kept: two more from the newest address fire G.
    eng.process(ev("sshd", 6000, {{"source.ip", ip(5999)}}), alerts);
    eng.process(ev("sshd", 6001, {{"source.ip", ip(5999)}}), alerts);
    ASSERT_EQ(alerts.size(), 1u);
    alerts.clear();
  }
  {
    // A source behind the others (a backlog a day old read beside live lines): its groups are
    // not aged by the live events' time, and its third failure in ten minutes fires.
    Engine mixed(l.set);
    const int backlog = 1'000'000;  // an address of the backlog's
    int fired_at = -1;
    for (int i = 0; i < 3000 && fired_at < 0; ++i) {
      mixed.process(ev("sshd", 86'400 + i, {{"source.ip", ip(i)}}), alerts);
      if (i % 100 == 99) {
        mixed.process(ev("sshd", i / 100, {{"source.ip", ip(backlog)}}), alerts);
        for (const auto& a : alerts) {
          if (a.get(fields::source_ip) && *a.get(fields::source_ip) == Value(ip(backlog))) fired_at = i;
        }
      }
    }
    EXPECT_EQ(fired_at, 299);
    alerts.clear();
    // An event older than a group's newest hit does not shorten the group's life: after hits at
    // 1,000 and 1,001 s a delayed one at 400 s (out of the window, not counted), then the third.
    Engine late(l.set);
    late.process(ev("sshd", 1000, {{"source.ip", ip(7)}}), alerts);
    late.process(ev("sshd", 1001, {{"source.ip", ip(7)}}), alerts);
    late.process(ev("sshd", 400, {{"source.ip", ip(7)}}), alerts);
    for (int i = 0; i < 2100; ++i) late.process(ev("sshd", 1002, {{"source.ip", ip(100 + i)}}), alerts);
    late.process(ev("sshd", 1003, {{"source.ip", ip(7)}}), alerts);
    ASSERT_EQ(alerts.size(), 1u);
    alerts.clear();
  }
  {
    // A suppressing group outlives its window: the same address 30 minutes later stays
    // suppressed while groups around it expire (S's own, suppressed too, wait behind it).
    Engine sup(l.set);
    sup.process(ev("su", 0, {{"source.ip", ip(1)}}), alerts);
    ASSERT_EQ(alerts.size(), 1u);
    for (int i = 0; i < 1800; ++i) {
      sup.process(ev("sshd", i + 1, {{"source.ip", ip(100 + i)}}), alerts);
      sup.process(ev("su", i + 1, {{"source.ip", ip(100 + i)}}), alerts);
    }
    EXPECT_GE(sup.stats().groups_expired, 1800u - 600u - 1024u - 8u);  // two events a second: a lag of 512-1,024 s
    alerts.clear();
    sup.process(ev("su", 1801, {{"source.ip", ip(1)}}), alerts);
    EXPECT_EQ(alerts.size(), 0u);
    EXPECT_GE(sup.stats().suppressed, 1u);
  }
  {
    // A host whose clock runs a century ahead: its groups age by the wall clock, not by its
    // timestamps (3,000 lines a second apart would otherwise expire the ten-minute ones).
    Engine fut(l.set);
    const int64_t ahead_s = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count() -
                            1'700'000'000 + 100 * 365 * 86'400LL;
    for (int i = 0; i < 3000; ++i) fut.process(ev("sshd", ahead_s + i, {{"source.ip", ip(i)}}), alerts);
    EXPECT_EQ(fut.group_count(), 6000u);
    EXPECT_EQ(fut.stats().groups_expired, 0u);
    // Nor does a line at the end of time overflow (its window and suppression added to it).
    fut.process(ev("su", std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1'700'000'001, {{"source.ip", ip(1)}}),
                alerts);
    EXPECT_EQ(fut.group_count(), 6001u);
  }
}

TEST(RuleEngine, HeldEvidenceIsCappedLeastRecentlyUsedGroupsFirst) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- id: G
  title: t
  severity: low
  when: {event.dataset: sshd}
  threshold: {count: 3, within: 1h, group_by: [source.ip]}
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  EngineLimits limits;
  limits.max_held_events = 50;
  Engine eng(l.set, limits);
  std::vector<Event> alerts;
  auto hit = [&](int64_t t, uint32_t host) {
    eng.process(ev("sshd", t, {{"source.ip", IpAddress::v4(0x0a000000u + host)}}), alerts);
  };
  // 1,000 sources, two failures each: 2,000 events would be held; at most 50 are.
  for (uint32_t i = 0; i < 1000; ++i) {
    hit(i, i);
    hit(i, i);
    EXPECT_LE(eng.held_events(), 50u);
  }
  EXPECT_EQ(eng.group_count(), 1000u);
  EXPECT_EQ(eng.stats().evidence_shed, 2000u - eng.held_events());
  EXPECT_TRUE(alerts.empty());
  // An old group whose events were shed still counts and fires, its evidence as ids.
  hit(2000, 0);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].get(fields::evidence_ids)->as_list()->size(), 3u);
  EXPECT_EQ(alerts[0].get(fields::evidence_events)->as_list()->size(), 1u);  // only the newest was held
  // A recent group kept its events: all three are embedded.
  hit(2001, 999);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].get(fields::evidence_events)->as_list()->size(), 3u);
  // Firing clears the group's hits, and the count follows.
  EXPECT_LE(eng.held_events(), 50u);
  size_t before = eng.held_events();
  hit(2002, 998);  // the third of source 998: fires, its three held events go
  EXPECT_EQ(eng.held_events(), before - 2);
}

TEST(RuleEngine, RulesMeetOnlyEventsOfTheirDataset) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, "- {id: A, title: t, severity: low, when: {event.dataset: sshd, user.name: x}}\n"
                          "- {id: B, title: t, severity: low, when: {user.name: x}}\n");
  ASSERT_NE(l.set, nullptr) << l.error;
  Engine eng(l.set);
  std::vector<std::string> hit;
  eng.set_match_callback([&](const Rule& r, const Event&) { hit.push_back(r.id); });
  std::vector<Event> alerts;
  eng.process(ev("sudo", 0, {{"user.name", "x"}}), alerts);
  EXPECT_EQ(hit, std::vector<std::string>{"B"});
  eng.process(ev("SSHD", 0, {{"user.name", "x"}}), alerts);
  EXPECT_EQ(hit, (std::vector<std::string>{"B", "A", "B"}));
}

}  // namespace
}  // namespace vigil::agent::rules

namespace vigil::agent::rules {
namespace {

// The engine's index (gates by equal values and by one RE2::Set per field) must pick exactly the
// rules a check of every rule would: same matches on a mix of events, rule for rule.
TEST(RuleEngine, IndexMatchesWhatCheckingEveryRuleWould) {
  vigil::test::TempDir dir;
  std::string yaml;
  const char* kMatchers[] = {
      "user.name: alice",
      "user.name: [bob, Carol]",
      "url.original: {contains: /admin}",
      "url.original: {startswith: /API}",
      "url.original: {endswith: .php}",
      "url.original: {regex: '^/x[0-9]+$'}",
      "url.original: {contains: Secret, cased: true}",
      "destination.port: [22, 2222]",
      "source.ip: {cidr: 10.0.0.0/8}",
      "labels.kind: [a, b]",
      "any: [{user.name: dave}, {url.original: {contains: /login}}]",
      "not: {user.name: alice}",
  };
  int n = 0;
  for (const char* m : kMatchers) {
    for (const char* ds : {"nginx.access", "sshd"}) {
      yaml += fmt::format("- id: R{}\n  title: t\n  severity: low\n  when:\n    event.dataset: {}\n    {}\n", n++, ds, m);
    }
    yaml += fmt::format("- id: R{}\n  title: t\n  severity: low\n  when:\n    {}\n", n++, m);  // no dataset
  }
  auto path = dir.write("r.yaml", yaml);
  auto loaded = load_rules({path.string()});
  ASSERT_TRUE(loaded) << loaded.error();
  Engine engine(loaded->set);
  std::set<std::string> got;
  engine.set_match_callback([&](const Rule& r, const Event&) { got.insert(r.id); });
  const char* users[] = {"alice", "BOB", "carol", "dave", "eve"};
  const char* urls[] = {"/admin/x", "/api/v1", "/index.php", "/x12", "/Secret", "/secret", "/login", "/"};
  const char* datasets[] = {"nginx.access", "sshd", "syslog"};
  size_t events = 0, matched = 0;
  for (const char* ds : datasets) {
    for (const char* u : users) {
      for (const char* url : urls) {
        for (int port : {22, 80}) {
          Event e = ev(ds, 0, {{"user.name", u}, {"url.original", url}, {"destination.port", int64_t{port}},
                               {"source.ip", *IpAddress::parse(port == 22 ? "10.1.1.1" : "192.0.2.1")}});
          if (port == 22) e.set(field("labels.kind"), ValueList{Value("x"), Value("b")});
          got.clear();
          std::vector<Event> alerts;
          engine.process(e, alerts);
          std::set<std::string> want;
          for (const auto& r : loaded->set->rules) {
            bool in_dataset = r->datasets.empty() ||
                              std::find(r->datasets.begin(), r->datasets.end(), std::string(ds)) != r->datasets.end();
            if (in_dataset && matches(r->when, e)) want.insert(r->id);
          }
          EXPECT_EQ(got, want) << ds << " " << u << " " << url << " " << port;
          ++events;
          matched += want.size();
        }
      }
    }
  }
  EXPECT_EQ(events, 240u);
  EXPECT_GT(matched, 300u);  // the mix exercises the rules, not only their misses
}

}  // namespace
}  // namespace vigil::agent::rules

namespace vigil::agent::rules {
namespace {

// Rules look inside ECS lists of objects by path (dns.answers.data): a native rule through the
// index's equality and pattern gates, and a Sigma rule's `answer` field of category dns.
TEST(RuleEngine, FieldsInsideListsOfObjectsMatchWhenAnyObjectDoes) {
  vigil::test::TempDir dir;
  auto l = load_text(dir, R"(- {id: CNAME, title: t, severity: low, when: {event.dataset: network.dns, dns.answers.type: CNAME}}
- {id: DATA, title: t, severity: low, when: {event.dataset: network.dns, dns.answers.data: {endswith: .evil.example}}}
- {id: TTL, title: t, severity: low, when: {event.dataset: network.dns, dns.answers.ttl: {lt: 10}}}
- {id: NONE, title: t, severity: low, when: {event.dataset: network.dns, dns.answers.name: {exists: false}}}
)");
  ASSERT_NE(l.set, nullptr) << l.error;
  auto sigma = load_text(dir, R"(title: answer names a sinkhole
id: 3f1c6a52-8d5e-4c1b-9a51-5d2e0b7f1a11
logsource: {category: dns}
detection:
  sel: {answer|contains: sinkhole}
  condition: sel
level: high
)", "s.yml");
  ASSERT_NE(sigma.set, nullptr) << sigma.error;
  auto answer = [](const char* name, const char* type, int64_t ttl, const char* data) {
    auto a = std::make_shared<Event>();
    a->set(field("name"), name);
    a->set(field("type"), type);
    a->set(field("ttl"), ttl);
    a->set(field("data"), data);
    return Value(EventPtr(std::move(a)));
  };
  auto dns = [&](ValueList answers) {
    Event e = ev("network.dns", 0, {});
    if (!answers.empty()) e.set(fields::dns_answers, std::move(answers));
    return e;
  };
  auto hits = [&](const std::shared_ptr<const RuleSet>& set, const Event& e) {
    Engine eng(set);
    std::vector<std::string> hit;
    eng.set_match_callback([&](const Rule& r, const Event&) { hit.push_back(r.id); });
    std::vector<Event> alerts;
    eng.process(e, alerts);
    std::sort(hit.begin(), hit.end());
    return hit;
  };
  EXPECT_EQ(hits(l.set, dns({answer("a.gov.vn", "CNAME", 300, "b.evil.example"), answer("b.evil.example", "A", 5, "192.0.2.1")})),
            (std::vector<std::string>{"CNAME", "DATA", "TTL"}));
  EXPECT_EQ(hits(l.set, dns({answer("a.gov.vn", "A", 300, "192.0.2.1")})), std::vector<std::string>{});
  EXPECT_EQ(hits(l.set, dns({})), std::vector<std::string>{"NONE"});
  // The rule reads each answer's data, not its owner name.
  EXPECT_EQ(hits(l.set, dns({answer("x.evil.example", "A", 300, "192.0.2.9")})), std::vector<std::string>{});

  EXPECT_EQ(hits(sigma.set, dns({answer("a.gov.vn", "A", 300, "192.0.2.1"), answer("a.gov.vn", "CNAME", 300, "sinkhole.example")})).size(), 1u);
  EXPECT_TRUE(hits(sigma.set, dns({answer("a.gov.vn", "A", 300, "192.0.2.1")})).empty());

  // Grouping and counting need one value per event: a nested field is refused there.
  auto bad = load_text(dir, R"(- id: G
  title: t
  severity: low
  when: {event.dataset: network.dns}
  distinct: {field: dns.answers.data, count: 3, within: 1m}
)", "bad.yaml");
  EXPECT_EQ(bad.set, nullptr);
  EXPECT_NE(bad.error.find("bad.yaml:5:21: error: 'dns.answers.data' is inside a list of objects"), std::string::npos)
      << bad.error;
}

}  // namespace
}  // namespace vigil::agent::rules
