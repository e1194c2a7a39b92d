// File integrity as compliance evidence: the baseline's fim-active check (rules/policies/
// debian-baseline.yaml) on prepared root trees -- /etc and a web root watched in agent.yaml, and
// a baseline the agent wrote lately -- and the YAML probe reading a key through a list of mappings.
#include <gtest/gtest.h>

#include "tests/unit/agent/checks_tree.h"

namespace vigil::agent::checks {
namespace {

using test::RootTree;

class FimActiveCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    fws_ = test::shipped_frameworks();
    auto loaded =
        load_policy((vigil::test::source_dir() / "rules" / "policies" / "debian-baseline.yaml").string(), fws_);
    ASSERT_TRUE(loaded) << loaded.error();
    for (auto& c : loaded->policy.checks) {
      if (c.id == "fim-active") {
        check_ = c;
        policy_.checks.push_back(std::move(c));
        break;
      }
    }
    ASSERT_EQ(policy_.checks.size(), 1u) << "no fim-active check";
    policy_.id = loaded->policy.id;
    tree_.dir("/etc");
    tree_.dir("/var/www/html");
    baseline_age(std::chrono::hours(13));
  }

  void agent_yaml(const std::string& fim) const {
    tree_.file("/etc/vigil/agent.yaml", "collector:\n  addresses: [c.example.gov.vn:8443]\n" + fim, 0640);
  }
  void baseline_age(std::chrono::hours age) const {
    tree_.file("/var/lib/vigil/fim.baseline", "vigil-fim-baseline\n", 0600);
    tree_.touch("/var/lib/vigil/fim.baseline", test::kScanNow - age);
  }
  CheckResult scan() const { return test::scan_by_id(policy_, tree_.root())["fim-active"]; }

  LoadedFrameworks fws_;
  Policy policy_;
  Check check_;
  RootTree tree_;
};

TEST_F(FimActiveCheck, MapsToTheIntegrityControlsItEvidencesOnly) {
  EXPECT_EQ(check_.compliance, (std::map<std::string, std::vector<std::string>>{
                                   {"tcvn11930", {"data.integrity", "server.intrusion-prevention"}}}));
  EXPECT_FALSE(check_.title.vi.empty());
  EXPECT_NE(check_.title.vi, check_.title.en);
}

TEST_F(FimActiveCheck, PassesWhenEtcAndAWebRootAreWatchedAndScannedLately) {
  agent_yaml("fim:\n  interval: 12h\n  paths:\n    - {path: /etc, realtime: true}\n    - {path: /var/www/html}\n");
  auto r = scan();
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_NE(r.evidence.find("/etc,/var/www/html"), std::string::npos) << r.evidence;
  // The whole file system covers both; so does /var for the web root.
  agent_yaml("fim:\n  paths: [{path: /}]\n");
  EXPECT_EQ(scan().outcome, Outcome::pass) << scan().evidence;
  agent_yaml("fim:\n  paths: [{path: /etc/}, {path: /var}]\n");
  EXPECT_EQ(scan().outcome, Outcome::pass) << scan().evidence;
}

TEST_F(FimActiveCheck, FailsWithoutEtcOrWithoutTheWebRootTheHostHas) {
  agent_yaml("fim:\n  paths: [{path: /var/www}]\n");
  auto no_etc = scan();
  EXPECT_EQ(no_etc.outcome, Outcome::fail);
  EXPECT_NE(no_etc.evidence.find("fim.paths.path: /var/www"), std::string::npos) << no_etc.evidence;
  agent_yaml("fim:\n  paths: [{path: /etc/ssh}]\n");  // part of /etc is not /etc
  EXPECT_EQ(scan().outcome, Outcome::fail);
  agent_yaml("fim:\n  paths: [{path: /etc}, {path: /var/lib/www}]\n");
  EXPECT_EQ(scan().outcome, Outcome::fail) << scan().evidence;
  agent_yaml("logs: []\n");  // no fim: at all
  auto none = scan();
  EXPECT_EQ(none.outcome, Outcome::fail);
  EXPECT_NE(none.evidence.find("fim.paths.path is not set"), std::string::npos) << none.evidence;
}

TEST_F(FimActiveCheck, AHostWithoutAWebRootNeedsOnlyEtc) {
  tree_.remove("/var/www");
  agent_yaml("fim:\n  paths: [{path: /etc}, {path: /usr/bin, recursive: false}]\n");
  auto r = scan();
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  tree_.dir("/srv/http");
  EXPECT_EQ(scan().outcome, Outcome::fail);
}

TEST_F(FimActiveCheck, ConfiguredButNotScanningIsNotActive) {
  agent_yaml("fim:\n  paths: [{path: /etc}, {path: /var/www}]\n");
  baseline_age(std::chrono::hours(24 * 3));  // the agent stopped three days ago
  auto stale = scan();
  EXPECT_EQ(stale.outcome, Outcome::fail);
  EXPECT_NE(stale.evidence.find("/var/lib/vigil/fim.baseline"), std::string::npos) << stale.evidence;
  tree_.remove("/var/lib/vigil/fim.baseline");  // never started
  EXPECT_EQ(scan().outcome, Outcome::fail);
}

}  // namespace
}  // namespace vigil::agent::checks
