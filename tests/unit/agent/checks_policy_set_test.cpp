// Finding policies and their catalogues under policies.paths, and deciding which results the
// agent reports between full reports.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/checks/compliance_runner.h"
#include "tests/support/test_support.h"

namespace vigil::agent::checks {
namespace {

namespace fs = std::filesystem;

TEST(PolicySet, ShippedRulesDirectoryAsAWholeOrItsPoliciesFolder) {
  for (const auto& dir : {test::source_dir() / "rules", test::source_dir() / "rules" / "policies"}) {
    auto set = load_policy_set({dir.string()});
    ASSERT_TRUE(set) << dir << ": " << set.error();
    ASSERT_EQ(set->policies.size(), 1u) << dir;
    EXPECT_EQ(set->policies[0].id, "debian-baseline");
    EXPECT_GE(set->policies[0].checks.size(), 60u);
    EXPECT_EQ(set->frameworks.frameworks.size(), 3u) << dir;  // each catalogue once
  }
}

TEST(PolicySet, MissingPathIsAWarningBrokenPolicyAnError) {
  auto missing = load_policy_set({"/nonexistent/policies"});
  ASSERT_TRUE(missing) << missing.error();
  EXPECT_TRUE(missing->policies.empty());
  ASSERT_EQ(missing->diagnostics.items().size(), 1u);
  EXPECT_NE(missing->diagnostics.items()[0].to_string().find("/nonexistent/policies"), std::string::npos);

  auto tmp = test::TempDir();
  fs::create_directories(tmp.path() / "policies");
  std::ofstream(tmp.path() / "policies" / "p.yaml") << "policy: {id: p, title: P}\nchecks: [\n";
  auto broken = load_policy_set({tmp.path().string()});
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().find("p.yaml:"), std::string::npos) << broken.error();
}

struct Fixture {
  Policy policy;
  Fixture() {
    policy.id = "p";
    for (const char* id : {"a", "b"}) {
      Check c;
      c.id = id;
      c.title = i18n::Text::both(id);
      c.level = 1;
      policy.checks.push_back(c);
    }
  }
  std::vector<CheckResult> results(Outcome a, Outcome b, std::string evidence_b = "x") const {
    return {{&policy.checks[0], a, "e"}, {&policy.checks[1], b, std::move(evidence_b)}};
  }
};

TEST(ComplianceTracker, FullFirstThenChangesOnlyThenFullWhenDue) {
  auto tmp = test::TempDir();
  Fixture f;
  auto t0 = Timestamp::from_seconds(1'800'000'000);
  auto later = [&](int s) { return Timestamp::from_seconds(1'800'000'000 + s); };
  ComplianceTracker tracker(tmp.path() / "state.json", std::chrono::seconds(100));

  auto first = tracker.report(f.policy, f.results(Outcome::pass, Outcome::pass), "h", t0);
  EXPECT_TRUE(first.full);
  EXPECT_EQ(first.events.size(), 2u);
  tracker.full_done(t0);

  auto same = tracker.report(f.policy, f.results(Outcome::pass, Outcome::pass), "h", later(10));
  EXPECT_FALSE(same.full);
  EXPECT_TRUE(same.events.empty());

  // Same outcome, other evidence: reported (the evidence is what an auditor reads).
  auto evidence = tracker.report(f.policy, f.results(Outcome::pass, Outcome::pass, "y"), "h", later(20));
  ASSERT_EQ(evidence.events.size(), 1u);

  auto changed = tracker.report(f.policy, f.results(Outcome::fail, Outcome::pass, "y"), "h", later(30));
  ASSERT_EQ(changed.events.size(), 1u);
  EXPECT_EQ(*changed.events[0].get_string(fields::rule_id), "a");
  EXPECT_EQ(*changed.events[0].get_string(field("vigil.check.previous_result")), "pass");
  EXPECT_EQ(*changed.events[0].get_string(field("vigil.scan.report")), "change");
  ASSERT_TRUE(tracker.save());

  // A new tracker on the same state file remembers, and the full report falls due.
  ComplianceTracker again(tmp.path() / "state.json", std::chrono::seconds(100));
  EXPECT_TRUE(again.load_warning().empty());
  EXPECT_TRUE(again.report(f.policy, f.results(Outcome::fail, Outcome::pass, "y"), "h", later(40)).events.empty());
  auto full = again.report(f.policy, f.results(Outcome::fail, Outcome::pass, "y"), "h", later(100));
  EXPECT_TRUE(full.full);
  EXPECT_EQ(full.events.size(), 2u);
  EXPECT_EQ(full.changed, 0u);
}

TEST(ComplianceTracker, MalformedStateStartsAfreshWithAWarning) {
  auto tmp = test::TempDir();
  std::ofstream(tmp.path() / "state.json") << "{not json";
  Fixture f;
  ComplianceTracker tracker(tmp.path() / "state.json", std::chrono::seconds(100));
  EXPECT_NE(tracker.load_warning().find("reported again"), std::string::npos);
  auto r = tracker.report(f.policy, f.results(Outcome::pass, Outcome::pass), "h", Timestamp::from_seconds(1));
  EXPECT_TRUE(r.full);
  EXPECT_EQ(r.events.size(), 2u);
}

}  // namespace
}  // namespace vigil::agent::checks
