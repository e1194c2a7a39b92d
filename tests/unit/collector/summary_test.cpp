// The compliance summary: two agencies at different levels and frameworks, several agents with
// known results, waivers active, expired and created after the trend date; exact scores, counts,
// lists and self-assessment verdicts, worked out by hand in the comments.
#include "collector/report/compliance_summary.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "collector/report/builtin_frameworks.h"

namespace vigil::collector {
namespace {

using nlohmann::json;

Timestamp at(int64_t s) { return Timestamp::from_seconds(1'780'000'000 + s); }

constexpr const char* kFwA = R"(
framework: {id: fwA, title: "Framework A"}
controls:
  - {id: net.log, title: Logging, group: network, levels: [1, 2, 3, 4, 5], verified: true}
  - {id: srv.auth, title: Authentication, group: server, levels: [1, 2, 3, 4, 5], verified: true}
  - {id: srv.malware, title: Malware, group: server, levels: [3, 4, 5], verified: false, source_note: assumed}
  - {id: srv.time, title: Time, group: server, levels: [1, 2, 3, 4, 5], verified: true}
  - {id: srv.patch, title: Patching, group: server, levels: [1, 2, 3, 4, 5], verified: true}
  - {id: app.auth, title: App authentication, group: application, levels: [2, 3, 4, 5], verified: true}
  - {id: data.backup, title: Backup, group: data, levels: [4, 5], verified: true}
)";
constexpr const char* kFwB = R"(
framework: {id: fwB, title: "Framework B"}
controls:
  - {id: b.one, title: One, group: server, levels: [1, 2, 3, 4, 5], verified: true}
  - {id: b.two, title: Two, group: server, levels: [2, 3, 4, 5], verified: true}
)";

AgentRecord agent(const std::string& id, const std::string& agency, int level, Timestamp last_seen,
                  const std::string& status = "active") {
  AgentRecord a;
  a.id = id;
  a.agency = agency;
  a.level = level;
  a.host = "host-" + id;
  a.version = "1.0";
  a.last_seen = last_seen;
  a.status = status;
  return a;
}

ComplianceRow row(const AgentRecord& a, const std::string& check, int level, const std::string& result,
                  const std::string& controls, Timestamp t) {
  ComplianceRow r;
  r.agent_id = a.id;
  r.agency = a.agency;
  r.host = a.host;
  r.agent_level = a.level;
  r.policy = "pol";
  r.check_id = check;
  r.title = "title " + check;
  r.level = level;
  r.result = result;
  r.controls = controls;
  r.evidence = "evidence of " + check;
  r.remediation = "fix " + check;
  r.title_vi = "kiểm tra " + check;
  r.policy_version = "1";
  r.time = t;
  return r;
}

WaiverRecord waiver(int64_t id, const std::string& agency, const std::string& agent, const std::string& check,
                    Timestamp created, Timestamp expires) {
  WaiverRecord w;
  w.id = id;
  w.agency = agency;
  w.agent_id = agent;
  w.check_id = check;
  w.reason = "reason " + std::to_string(id);
  w.accepted_by = "ciso";
  w.created_by = "admin";
  w.created = created;
  w.expires = expires;
  return w;
}

class SummaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fws = compliance::load_frameworks_text({{"fwA.yaml", kFwA}, {"fwB.yaml", kFwB}});
    ASSERT_TRUE(fws) << fws.error();
    frameworks_ = std::move(*fws);

    const Timestamp now = at(10'000);
    in_.now = now;
    in_.silent_after = std::chrono::seconds(90);
    in_.frameworks = &frameworks_;
    in_.agencies = {{"A", "fwA"}, {"B", "fwB"}};
    AgentRecord a1 = agent("a1", "A", 3, now), a2 = agent("a2", "A", 1, at(9'990)),
                a3 = agent("a3", "A", 2, at(1'000)), a4 = agent("a4", "A", 3, now, "revoked"),
                b1 = agent("b1", "B", 2, now);
    in_.agents = {a1, a2, a3, a4, b1};
    const std::string ssh = R"({"fwA":["srv.auth"],"fwB":["b.one"]})", log = R"({"fwA":["net.log"]})",
                      av = R"({"fwA":["srv.malware"]})", fw = R"({"fwA":["net.log"],"fwB":["b.two"]})",
                      na = R"({"fwA":["srv.auth"]})", time = R"({"fwA":["srv.time"]})",
                      patch = R"({"fwA":["srv.patch"]})";
    const Timestamp t = at(9'000);
    in_.latest = {
        // a1 (level 3): every check.
        row(a1, "c-ssh", 1, "fail", ssh, t), row(a1, "c-log", 1, "pass", log, t), row(a1, "c-av", 3, "fail", av, t),
        row(a1, "c-fw", 2, "pass", fw, t), row(a1, "c-na", 1, "not_applicable", na, t),
        row(a1, "c-time", 1, "pass", time, t), row(a1, "c-patch", 1, "fail", patch, t),
        // a2 (level 1): c-av is above its level (ignored); c-na is required of it and missing.
        row(a2, "c-ssh", 1, "pass", ssh, t), row(a2, "c-log", 1, "error", log, t), row(a2, "c-av", 3, "fail", av, t),
        row(a2, "c-time", 1, "pass", time, t), row(a2, "c-patch", 1, "fail", patch, t),
        // a4 is revoked: left out.
        row(a4, "c-ssh", 1, "fail", ssh, t),
        // b1 (level 2).
        row(b1, "c-ssh", 1, "pass", ssh, t), row(b1, "c-fw", 2, "fail", fw, t)};
    in_.waivers = {
        waiver(1, "A", "a1", "c-av", at(5'000), at(20'000)),   // active: a1's c-av fail is waived
        waiver(2, "A", "", "c-log", at(1'000), at(8'000)),     // expired: a2's c-log error stays an error
        waiver(3, "A", "a2", "c-ssh", at(5'000), at(20'000)),  // covers a pass: it stays a pass
    };
    in_.alerts = {{"A", 5, "new", 2}, {"A", 4, "acknowledged", 1}, {"A", 3, "resolved", 5}, {"B", 1, "new", 7}};
  }

  json agency(const json& doc, const std::string& name) {
    for (const auto& a : doc["agencies"]) {
      if (a["agency"] == name) return a;
    }
    ADD_FAILURE() << "no agency " << name;
    return {};
  }
  static json find(const json& list, const char* key, const std::string& value) {
    for (const auto& x : list) {
      if (x[key] == value) return x;
    }
    ADD_FAILURE() << "nothing with " << key << " = " << value;
    return {};
  }

  compliance::LoadedFrameworks frameworks_;
  SummaryInput in_;
};

TEST_F(SummaryTest, CountsScoresAndListsPerAgency) {
  json doc = compliance_summary(in_);
  json a = agency(doc, "A");
  // a1: pass c-log c-fw c-time, fail c-ssh c-patch, waived c-av, n/a c-na.
  // a2: pass c-ssh c-time, error c-log, fail c-patch, not checked c-na.
  EXPECT_EQ(a["pass"], 5);
  EXPECT_EQ(a["fail"], 3);
  EXPECT_EQ(a["error"], 1);
  EXPECT_EQ(a["not_applicable"], 1);
  EXPECT_EQ(a["waived"], 1);
  EXPECT_EQ(a["not_checked"], 1);
  EXPECT_DOUBLE_EQ(a["score"].get<double>(), 5.0 / 8.0);
  EXPECT_EQ(a["framework_title"], "Framework A");

  // Agents: a4 (revoked) left out; a3 silent and never scanned.
  EXPECT_EQ(a["agents"], 3);
  EXPECT_EQ(a["agents_silent"], 1);
  EXPECT_EQ(a["agents_never_scanned"], 1);
  json a3 = find(a["agent_list"], "id", "a3");
  EXPECT_TRUE(a3["silent"].get<bool>());
  EXPECT_TRUE(a3["never_scanned"].get<bool>());
  EXPECT_TRUE(a3["last_scan"].is_null());
  json a2 = find(a["agent_list"], "id", "a2");
  EXPECT_FALSE(a2["silent"].get<bool>());
  EXPECT_EQ(a2["not_checked"], 1);
  EXPECT_DOUBLE_EQ(a2["score"].get<double>(), 2.0 / 3.0);

  // Per policy and per control group.
  ASSERT_EQ(a["policies"].size(), 1u);
  EXPECT_EQ(a["policies"][0]["version"], "1");
  EXPECT_DOUBLE_EQ(a["policies"][0]["score"].get<double>(), 5.0 / 8.0);
  EXPECT_EQ(a["policies"][0]["not_checked"], 1);
  json server = find(a["groups"], "group", "server");  // srv.auth p1 f1 na1, srv.malware w1, srv.time p2, srv.patch f2
  EXPECT_EQ(server["pass"], 3);
  EXPECT_EQ(server["fail"], 3);
  EXPECT_EQ(server["waived"], 1);
  EXPECT_EQ(server["not_applicable"], 1);
  EXPECT_DOUBLE_EQ(server["score"].get<double>(), 0.5);
  // c-fw maps to net.log only in fwA; a check on two controls of one group counts once there.
  json network = find(a["groups"], "group", "network");  // net.log: c-log p (a1), c-fw p (a1), c-log e (a2)
  EXPECT_EQ(network["pass"], 2);
  EXPECT_EQ(network["error"], 1);
  EXPECT_DOUBLE_EQ(network["score"].get<double>(), 1.0);

  // Controls.
  EXPECT_EQ(find(a["controls"], "id", "srv.auth")["status"], "fail");
  EXPECT_EQ(find(a["controls"], "id", "net.log")["status"], "fail");  // an error is not a pass
  EXPECT_EQ(find(a["controls"], "id", "srv.malware")["status"], "waived");
  EXPECT_EQ(find(a["controls"], "id", "srv.time")["status"], "pass");
  EXPECT_EQ(a["controls_met"], 1);

  // Failing checks with evidence and remediation; the waived one apart, with its waiver.
  std::set<std::string> failing;
  for (const auto& f : a["failing"]) {
    failing.insert(f["agent_id"].get<std::string>() + "/" + f["check"].get<std::string>());
    EXPECT_EQ(f["remediation"], "fix " + f["check"].get<std::string>());
    EXPECT_EQ(f["title_vi"], "kiểm tra " + f["check"].get<std::string>());
    EXPECT_FALSE(f.contains("remediation_vi"));  // none given: the English serves both
    EXPECT_EQ(f["evidence"], "evidence of " + f["check"].get<std::string>());
  }
  EXPECT_EQ(failing, (std::set<std::string>{"a1/c-ssh", "a1/c-patch", "a2/c-log", "a2/c-patch"}));
  ASSERT_EQ(a["waived_results"].size(), 1u);
  EXPECT_EQ(a["waived_results"][0]["check"], "c-av");
  EXPECT_EQ(a["waived_results"][0]["result"], "fail");
  EXPECT_EQ(a["waived_results"][0]["waiver"]["id"], 1);
  EXPECT_EQ(a["waived_results"][0]["waiver"]["reason"], "reason 1");
  // Every waiver of the agency, with its state.
  ASSERT_EQ(a["waivers"].size(), 3u);
  EXPECT_EQ(find(a["waivers"], "check", "c-log")["state"], "expired");
  EXPECT_EQ(find(a["waivers"], "check", "c-av")["state"], "active");

  // Open alerts by severity (resolved ones are not open).
  EXPECT_EQ(a["alerts_open"]["critical"], 2);
  EXPECT_EQ(a["alerts_open"]["high"], 1);
  EXPECT_EQ(a["alerts_open"]["medium"], 0);
  EXPECT_EQ(a["alerts_open"]["total"], 3);
  EXPECT_FALSE(a.contains("trend"));  // no date to compare with

  // Agency B at level 2 against framework B.
  json b = agency(doc, "B");
  EXPECT_EQ(b["pass"], 1);
  EXPECT_EQ(b["fail"], 1);
  EXPECT_DOUBLE_EQ(b["score"].get<double>(), 0.5);
  EXPECT_EQ(b["alerts_open"]["info"], 7);
  EXPECT_EQ(find(b["self_assessment"], "id", "b.one")["verdict"], "fully");
  EXPECT_EQ(find(b["self_assessment"], "id", "b.two")["verdict"], "not");

  // All agencies: pass 5 + 1, fail 3 + 1.
  EXPECT_EQ(doc["all"]["pass"], 6);
  EXPECT_EQ(doc["all"]["fail"], 4);
  EXPECT_EQ(doc["all"]["agents"], 4);
  EXPECT_DOUBLE_EQ(doc["all"]["score"].get<double>(), 0.6);
  EXPECT_EQ(doc["all"]["alerts_open"]["total"], 10);
}

TEST_F(SummaryTest, SelfAssessmentVerdictsPerRequirement) {
  json a = agency(compliance_summary(in_), "A");
  ASSERT_EQ(a["self_assessment"].size(), 7u);  // every control of the catalogue, in its order
  EXPECT_EQ(a["self_assessment"][0]["id"], "net.log");
  auto verdict = [&](const char* id) { return find(a["self_assessment"], "id", id)["verdict"].get<std::string>(); };
  EXPECT_EQ(verdict("net.log"), "partly");       // passes, and an error on a2
  EXPECT_EQ(verdict("srv.auth"), "partly");      // a2 passes, a1 fails; a1's n/a does not count
  EXPECT_EQ(verdict("srv.malware"), "partly");   // only a1 (level 3) is held to it: waived
  EXPECT_EQ(verdict("srv.time"), "fully");       // both pass
  EXPECT_EQ(verdict("srv.patch"), "not");        // both fail
  EXPECT_EQ(verdict("app.auth"), "not_assessed");  // required at levels 2-5, no check maps to it
  EXPECT_EQ(verdict("data.backup"), "not_required");  // no system at level 4 or 5
  json malware = find(a["self_assessment"], "id", "srv.malware");
  EXPECT_EQ(malware["systems"], 1);
  EXPECT_FALSE(malware["verified"].get<bool>());
  ASSERT_EQ(malware["waivers"].size(), 1u);
  EXPECT_EQ(malware["waivers"][0]["id"], 1);
  ASSERT_EQ(malware["evidence"].size(), 1u);
  EXPECT_EQ(malware["evidence"][0]["host"], "host-a1");
  EXPECT_EQ(malware["evidence"][0]["state"], "waived");
  json patch = find(a["self_assessment"], "id", "srv.patch");
  EXPECT_EQ(patch["fail"], 2);
  EXPECT_EQ(patch["evidence"].size(), 2u);
  EXPECT_EQ(find(a["self_assessment"], "id", "app.auth")["systems"], 2);  // a1 and a3
}

TEST_F(SummaryTest, WaiverExpiryReturnsResultsToTheirRealState) {
  // At 25,000 the active waiver has expired: a1's c-av counts as the fail it is.
  in_.now = at(25'000);
  json a = agency(compliance_summary(in_), "A");
  EXPECT_EQ(a["waived"], 0);
  EXPECT_EQ(a["fail"], 4);
  EXPECT_DOUBLE_EQ(a["score"].get<double>(), 5.0 / 9.0);
  EXPECT_EQ(find(a["self_assessment"], "id", "srv.malware")["verdict"], "not");
  EXPECT_EQ(a["waived_results"].size(), 0u);
  // Ended by hand: the same.
  in_.now = at(10'000);
  in_.waivers[0].ended = at(9'500);
  a = agency(compliance_summary(in_), "A");
  EXPECT_EQ(a["waived"], 0);
  EXPECT_EQ(find(a["waivers"], "check", "c-av")["state"], "ended");
}

TEST_F(SummaryTest, TrendAgainstAnEarlierDate) {
  const AgentRecord& a1 = in_.agents[0];
  const AgentRecord& a2 = in_.agents[1];
  in_.since = at(4'000);
  // As the results stood at 4,000 (before waiver 1 existed): a1 c-ssh pass, c-log pass, c-av fail,
  // c-fw pass, c-time pass, c-patch fail; a2 c-ssh pass, c-log pass.
  const Timestamp t = at(3'000);
  in_.previous = {row(a1, "c-ssh", 1, "pass", "{}", t),  row(a1, "c-log", 1, "pass", "{}", t),
                  row(a1, "c-av", 3, "fail", "{}", t),   row(a1, "c-fw", 2, "pass", "{}", t),
                  row(a1, "c-time", 1, "pass", "{}", t), row(a1, "c-patch", 1, "fail", "{}", t),
                  row(a2, "c-ssh", 1, "pass", "{}", t),  row(a2, "c-log", 1, "pass", "{}", t)};
  in_.alerts_since = {{"A", 5, "new", 1}};
  json doc = compliance_summary(in_);
  EXPECT_EQ(doc["since"], at(4'000).to_string());
  json a = agency(doc, "A");
  ASSERT_TRUE(a.contains("trend"));
  const json& tr = a["trend"];
  EXPECT_EQ(tr["previous"]["pass"], 6);
  EXPECT_EQ(tr["previous"]["fail"], 2);  // c-av was not waived yet
  EXPECT_EQ(tr["previous"]["waived"], 0);
  EXPECT_DOUBLE_EQ(tr["previous"]["score"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(tr["score_change"].get<double>(), 5.0 / 8.0 - 0.75);
  std::map<std::string, std::string> changes;
  for (const auto& c : tr["changes"]) {
    changes[c["agent_id"].get<std::string>() + "/" + c["check"].get<std::string>()] =
        c["from"].get<std::string>() + ">" + c["to"].get<std::string>();
  }
  EXPECT_EQ(changes, (std::map<std::string, std::string>{{"a1/c-ssh", "pass>fail"},
                                                         {"a1/c-na", "not_checked>not_applicable"},
                                                         {"a2/c-log", "pass>error"},
                                                         {"a2/c-time", "not_checked>pass"},
                                                         {"a2/c-patch", "not_checked>fail"}}));
  EXPECT_EQ(a["alerts_since"]["critical"], 1);
  EXPECT_EQ(a["alerts_since"]["total"], 1);
  // B had no results then: its previous score is unknown, so is the change.
  json b = agency(doc, "B");
  EXPECT_TRUE(b["trend"]["score_change"].is_null());
  EXPECT_EQ(b["trend"]["changes"].size(), 2u);
}

TEST_F(SummaryTest, ACheckCountsOnceInAGroupButInEachOfItsControls) {
  const AgentRecord& a1 = in_.agents[0];
  in_.agencies = {{"A", "fwA"}};
  in_.latest = {row(a1, "c-both", 1, "fail", R"({"fwA":["srv.auth","srv.time","net.log"]})", at(9'000))};
  json a = agency(compliance_summary(in_), "A");
  EXPECT_EQ(find(a["groups"], "group", "server")["fail"], 1);
  EXPECT_EQ(find(a["groups"], "group", "network")["fail"], 1);
  EXPECT_EQ(find(a["controls"], "id", "srv.auth")["fail"], 1);
  EXPECT_EQ(find(a["controls"], "id", "srv.time")["fail"], 1);
  EXPECT_EQ(a["fail"], 1);
}

TEST_F(SummaryTest, UnknownFrameworkHasNoSelfAssessment) {
  in_.agencies = {{"A", "no-such-catalogue"}};
  json a = agency(compliance_summary(in_), "A");
  EXPECT_FALSE(a["framework_known"].get<bool>());
  EXPECT_TRUE(a["self_assessment"].empty());
  EXPECT_EQ(a["pass"], 5);  // results are still counted
}

// Agency → system (level) → host: agency C runs a portal at level 3 and a document system at
// level 2; s1 (its own level 1) serves both, s2 serves the documents, u1 serves none (level 1).
constexpr const char* kFwS = R"(
framework: {id: fwS, title: "Framework S"}
controls:
  - {id: s.auth, title: Authentication, group: server, levels: [1, 2, 3, 4, 5], verified: true}
  - {id: s.av, title: Malware, group: server, levels: [3, 4, 5], verified: true}
  - {id: log-retention-1m, title: Logs kept a month, group: server, levels: [2], verified: true, retention: 31d}
  - {id: log-retention-3m, title: Logs kept three months, group: server, levels: [3], verified: true, retention: 92d}
)";

class SystemsSummaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fws = compliance::load_frameworks_text({{"fwS.yaml", kFwS}});
    ASSERT_TRUE(fws) << fws.error();
    frameworks_ = std::move(*fws);
    const Timestamp now = at(10'000);
    in_.now = now;
    in_.frameworks = &frameworks_;
    in_.agencies = {{"C", "fwS"}};
    SystemRecord portal, docs;
    portal.name = "portal";
    portal.agency = "C";
    portal.level = 3;
    portal.description = "Public services portal";
    docs.name = "docs";
    docs.agency = "C";
    docs.level = 2;
    in_.systems = {portal, docs};
    AgentRecord s1 = agent("s1", "C", 1, now), s2 = agent("s2", "C", 1, now), u1 = agent("u1", "C", 1, now);
    s1.systems = {"docs", "portal"};
    s2.systems = {"docs"};
    in_.agents = {s1, s2, u1};
    const std::string auth = R"({"fwS":["s.auth"]})", av = R"({"fwS":["s.av"]})";
    const Timestamp t = at(9'000);
    in_.latest = {row(s1, "c-auth", 1, "pass", auth, t), row(s1, "c-av", 3, "fail", av, t),
                  row(s2, "c-auth", 1, "pass", auth, t), row(s2, "c-av", 3, "pass", av, t),
                  row(u1, "c-auth", 1, "pass", auth, t), row(u1, "c-av", 3, "fail", av, t)};
  }

  json agency_c() { return compliance_summary(in_)["agencies"][0]; }
  static json system(const json& a, const std::string& name) {
    for (const auto& s : a["systems"]) {
      if (s["name"] == name) return s;
    }
    ADD_FAILURE() << "no system " << name;
    return {};
  }
  static std::string verdict(const json& section, const std::string& id) {
    for (const auto& c : section["self_assessment"]) {
      if (c["id"] == id) return c["verdict"].get<std::string>();
    }
    ADD_FAILURE() << "no requirement " << id;
    return {};
  }

  compliance::LoadedFrameworks frameworks_;
  SummaryInput in_;
};

TEST_F(SystemsSummaryTest, AgentsAreCountedForEachSystemTheyServeAtItsLevel) {
  json a = agency_c();
  ASSERT_EQ(a["systems"].size(), 2u);
  EXPECT_EQ(a["systems"][0]["name"], "docs");  // by name
  // The portal (level 3): s1's level-3 check counts here: c-auth pass, c-av fail.
  json portal = system(a, "portal");
  EXPECT_EQ(portal["level"], 3);
  EXPECT_EQ(portal["description"], "Public services portal");
  ASSERT_EQ(portal["hosts"].size(), 1u);
  EXPECT_EQ(portal["hosts"][0]["id"], "s1");
  EXPECT_EQ(portal["hosts"][0]["host"], "host-s1");
  EXPECT_EQ(portal["counts"]["pass"], 1);
  EXPECT_EQ(portal["counts"]["fail"], 1);
  EXPECT_EQ(portal["counts"]["not_checked"], 0);
  EXPECT_DOUBLE_EQ(portal["score"].get<double>(), 0.5);
  EXPECT_EQ(verdict(portal, "s.av"), "not");
  EXPECT_EQ(verdict(portal, "s.auth"), "fully");
  // The documents (level 2): the same s1 is held to level 2 there, its c-av does not count; s2's
  // c-av passing does not count either.
  json docs = system(a, "docs");
  EXPECT_EQ(docs["level"], 2);
  EXPECT_EQ(docs["agents"], 2);
  EXPECT_EQ(docs["counts"]["pass"], 2);
  EXPECT_EQ(docs["counts"]["fail"], 0);
  EXPECT_DOUBLE_EQ(docs["score"].get<double>(), 1.0);
  EXPECT_EQ(verdict(docs, "s.av"), "not_required");
  EXPECT_EQ(verdict(docs, "s.auth"), "fully");
  // Unassigned: u1 at its own level 1; its c-av (level 3) does not count.
  json un = a["unassigned"];
  EXPECT_TRUE(un["name"].is_null());
  ASSERT_EQ(un["hosts"].size(), 1u);
  EXPECT_EQ(un["hosts"][0]["id"], "u1");
  EXPECT_EQ(un["counts"]["pass"], 1);
  EXPECT_EQ(un["counts"]["fail"], 0);
  EXPECT_EQ(verdict(un, "s.av"), "not_required");
  // The agency: the union of its sections, s1's c-auth once for each of its two systems.
  EXPECT_EQ(a["pass"], 4);
  EXPECT_EQ(a["fail"], 1);
  EXPECT_DOUBLE_EQ(a["score"].get<double>(), 0.8);
  EXPECT_EQ(a["agents"], 3);
  // Lists name a host-check once; an agent's own counts hold it to its highest level.
  ASSERT_EQ(a["failing"].size(), 1u);
  EXPECT_EQ(a["failing"][0]["agent_id"], "s1");
  json s1;
  for (const auto& g : a["agent_list"]) {
    if (g["id"] == "s1") s1 = g;
  }
  EXPECT_EQ(s1["systems"], json({"docs", "portal"}));
  EXPECT_EQ(s1["level_held"], 3);
  EXPECT_EQ(s1["pass"], 1);
  EXPECT_EQ(s1["fail"], 1);
  EXPECT_EQ(compliance_summary(in_)["all"]["systems"], 2);
}

TEST_F(SystemsSummaryTest, AHostMissingACheckItsSystemRequiresIsNotChecked) {
  // p2 serves the portal and reports c-av; s1 leaves it out: the portal requires it of s1, the
  // documents do not.
  AgentRecord p2 = agent("p2", "C", 1, at(10'000));
  p2.systems = {"portal"};
  in_.agents.push_back(p2);
  in_.latest.push_back(row(p2, "c-auth", 1, "pass", R"({"fwS":["s.auth"]})", at(9'000)));
  in_.latest.push_back(row(p2, "c-av", 3, "pass", R"({"fwS":["s.av"]})", at(9'000)));
  in_.latest.erase(in_.latest.begin() + 1);
  json a = agency_c();
  EXPECT_EQ(system(a, "portal")["counts"]["not_checked"], 1);
  EXPECT_EQ(system(a, "docs")["counts"]["not_checked"], 0);
  EXPECT_EQ(a["unassigned"]["counts"]["not_checked"], 0);
  EXPECT_EQ(a["not_checked"], 1);
}

TEST_F(SystemsSummaryTest, LogRetentionIsEvidencedByTheCollectorPerSystemLevel) {
  // Unknown retention: judged like any other control, no check maps to it.
  json a = agency_c();
  EXPECT_EQ(verdict(system(a, "portal"), "log-retention-3m"), "not_assessed");

  in_.event_retention = std::chrono::hours(24 * 30);
  a = agency_c();
  json portal = system(a, "portal");
  EXPECT_EQ(verdict(portal, "log-retention-3m"), "not");
  EXPECT_EQ(verdict(portal, "log-retention-1m"), "not_required");
  EXPECT_EQ(verdict(system(a, "docs"), "log-retention-1m"), "not");  // 30d < 31d
  EXPECT_EQ(verdict(a["unassigned"], "log-retention-1m"), "not_required");  // level 1
  EXPECT_EQ(verdict(a["unassigned"], "log-retention-3m"), "not_required");
  json req;
  for (const auto& c : portal["self_assessment"]) {
    if (c["id"] == "log-retention-3m") req = c;
  }
  EXPECT_EQ(req["observed"], "30d");
  EXPECT_EQ(req["expected"], "≥ 92d");
  EXPECT_EQ(req["systems"], 1);
  ASSERT_EQ(req["evidence"].size(), 1u);
  EXPECT_EQ(req["evidence"][0]["source"], "collector");
  EXPECT_EQ(req["evidence"][0]["state"], "fail");
  json ctl;
  for (const auto& c : portal["controls"]) {
    if (c["id"] == "log-retention-3m") ctl = c;
  }
  EXPECT_EQ(ctl["status"], "fail");
  EXPECT_EQ(ctl["observed"], "30d");
  // Not a host check: the scores stand.
  EXPECT_DOUBLE_EQ(portal["score"].get<double>(), 0.5);
  EXPECT_EQ(verdict(a, "log-retention-3m"), "not");

  in_.event_retention = std::chrono::hours(24 * 92);
  a = agency_c();
  EXPECT_EQ(verdict(system(a, "portal"), "log-retention-3m"), "fully");
  EXPECT_EQ(verdict(system(a, "docs"), "log-retention-1m"), "fully");
  EXPECT_EQ(verdict(a, "log-retention-1m"), "fully");
  EXPECT_EQ(verdict(a["unassigned"], "log-retention-3m"), "not_required");
}

TEST_F(SystemsSummaryTest, AnAgencyWithoutSystemsHasEveryAgentUnassigned) {
  in_.systems.clear();
  json a = agency_c();
  EXPECT_TRUE(a["systems"].empty());
  EXPECT_EQ(a["unassigned"]["hosts"].size(), 3u);
  // Each at its own level 1: the c-av results do not count.
  EXPECT_EQ(a["pass"], 3);
  EXPECT_EQ(a["fail"], 0);
}

TEST(BuiltinFrameworks, TheShippedCataloguesLoadAndCoverTheVietnameseGroups) {
  auto fws = compliance::load_frameworks_text(builtin_framework_texts());
  ASSERT_TRUE(fws) << fws.error();
  const auto* tcvn = fws->find("tcvn11930");
  ASSERT_NE(tcvn, nullptr);
  std::set<std::string> groups;
  for (const auto& c : tcvn->controls) groups.insert(c.group);
  EXPECT_EQ(groups, (std::set<std::string>{"network", "server", "application", "data"}));
  EXPECT_NE(fws->find("tcvn14423"), nullptr);
  EXPECT_NE(fws->find("cis-debian12"), nullptr);
  // A catalogue given in configuration replaces the shipped one with the same id.
  auto mine = compliance::load_frameworks_text(
      {{"mine.yaml", "framework: {id: tcvn11930, title: Corrected}\ncontrols:\n  - {id: x.y, title: X, group: "
                     "server, levels: [1], verified: true}\n"}});
  ASSERT_TRUE(mine) << mine.error();
  auto replaced = compliance::overlay_frameworks(*fws, std::move(*mine));
  EXPECT_EQ(replaced, std::vector<std::string>{"tcvn11930"});
  EXPECT_EQ(fws->find("tcvn11930")->title.en, "Corrected");
  EXPECT_EQ(fws->frameworks.size(), 3u);
}

}  // namespace
}  // namespace vigil::collector
