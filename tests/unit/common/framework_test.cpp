// Control catalogues (common/compliance/framework.h): the keys a control takes, every problem at
// file:line:column, and the shipped successor catalogue holding the facts of
// shared/COMPLIANCE-VN.md with the certainty the document gives them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/compliance/framework.h"
#include "tests/support/test_support.h"

namespace vigil::compliance {
namespace {

TEST(Framework, AControlWithAnUnknownFlagIsRefusedNamingTheKeyAndItsPosition) {
  auto r = load_frameworks_text({{"fw.yaml",
                                  "framework: {id: x, title: X}\n"
                                  "controls:\n"
                                  "  - id: a\n"
                                  "    title: A\n"
                                  "    group: server\n"
                                  "    levels: [1]\n"
                                  "    verified: true\n"
                                  "    recomended: true\n"
                                  "  - {id: b, title: B, group: server, levels: [1], verified: true, suggestd: true}\n"}});
  ASSERT_FALSE(r);
  const std::string& e = r.error();
  EXPECT_NE(e.find("fw.yaml:8:5: error: unknown key 'controls[0].recomended'"), std::string::npos) << e;
  EXPECT_NE(e.find("suggested, applies_to"), std::string::npos) << e;  // the keys a control takes
  EXPECT_NE(e.find("fw.yaml:9:67: error: unknown key 'controls[1].suggestd' (did you mean 'suggested'?)"),
            std::string::npos) << e;
}

TEST(Framework, ControlsSayWhetherAValueIsOnlySuggestedAndWhomTheyApplyTo) {
  auto r = load_frameworks_text(
      {{"fw.yaml",
        "framework: {id: x, title: X}\n"
        "controls:\n"
        "  - {id: plain, title: P, group: server, levels: [1], verified: true}\n"
        "  - {id: laptop, title: L, group: workstation, levels: [1, 2], verified: false, source_note: one source,\n"
        "     suggested: true, applies_to: workstation}\n"
        "  - {id: report, title: R, group: management, levels: [3], verified: true, suggested: false,\n"
        "     applies_to: organisation}\n"
        "  - {id: srv, title: S, group: server, levels: [1], verified: true, applies_to: system}\n"}});
  ASSERT_TRUE(r) << r.error();
  const Framework* fw = r->find("x");
  ASSERT_NE(fw, nullptr);
  ASSERT_EQ(fw->controls.size(), 4u);
  const Control& plain = fw->controls[0];
  EXPECT_FALSE(plain.suggested);  // by default a control is required, of the system itself
  EXPECT_EQ(plain.scope, ControlScope::system);
  const Control& laptop = fw->controls[1];
  EXPECT_TRUE(laptop.suggested);
  EXPECT_EQ(laptop.scope, ControlScope::workstation);
  EXPECT_EQ(scope_name(laptop.scope), "workstation");
  EXPECT_TRUE(laptop.applies_to(2));  // levels are still levels
  EXPECT_FALSE(laptop.applies_to(3));
  EXPECT_FALSE(fw->controls[2].suggested);
  EXPECT_EQ(fw->controls[2].scope, ControlScope::organisation);
  EXPECT_EQ(fw->controls[3].scope, ControlScope::system);
}

TEST(Framework, WrongValuesOfTheFlagsAreRefusedAtTheirPosition) {
  auto r = load_frameworks_text(
      {{"fw.yaml",
        "framework: {id: x, title: X}\n"
        "controls:\n"
        "  - {id: a, title: A, group: server, levels: [1], verified: true, suggested: maybe}\n"
        "  - {id: b, title: B, group: server, levels: [1], verified: true, applies_to: laptops}\n"
        "  - {id: c, title: C, group: server, levels: [1], verified: true, applies_to: server}\n"}});
  ASSERT_FALSE(r);
  const std::string& e = r.error();
  EXPECT_NE(e.find("fw.yaml:3:78: error: controls[0].suggested: expected true or false"), std::string::npos) << e;
  EXPECT_NE(e.find("fw.yaml:4:79: error: controls[1].applies_to: expected one of system, workstation, organisation"),
            std::string::npos) << e;
  EXPECT_NE(e.find("fw.yaml:5:79: error: controls[2].applies_to"), std::string::npos) << e;
}

// shared/COMPLIANCE-VN.md, "What was learned since (December 2026)".
TEST(Framework, TheSuccessorCatalogueCarriesTheDecember2026Corrections) {
  auto fws = load_frameworks({(test::source_dir() / "rules" / "frameworks").string()});
  ASSERT_TRUE(fws) << fws.error();
  const Framework* succ = fws->find("tcvn14423");
  ASSERT_NE(succ, nullptr);
  // The 2026 edition (levels 1-5), not the 2025 one on important information systems.
  EXPECT_EQ(succ->version, "2026");
  EXPECT_NE(succ->title.en.find("TCVN 14423:2026"), std::string::npos) << succ->title.en;
  // Decree 331's annual-report articles beside Circular 12's.
  EXPECT_NE(succ->source_note.find("35-36"), std::string::npos) << succ->source_note;
  EXPECT_NE(succ->source_note.find("Circular 12/2022 articles 13-14"), std::string::npos) << succ->source_note;
  // Every value comes from one source: none is stated as verified, each says where it comes from.
  for (const auto& c : succ->controls) {
    EXPECT_FALSE(c.verified) << c.id;
    EXPECT_FALSE(c.source_note.empty()) << c.id;
  }
  auto control = [&](const char* id) {
    const Control* c = succ->find(id);
    EXPECT_NE(c, nullptr) << id;
    return c ? *c : Control{};
  };
  EXPECT_TRUE(control("time-sync").applies_to(1));  // from level 1, not 2
  const Control lockout = control("lockout-10");    // a suggestion, for laptops
  EXPECT_TRUE(lockout.suggested);
  EXPECT_EQ(lockout.scope, ControlScope::workstation);
  EXPECT_EQ(control("patch-monthly").scope, ControlScope::workstation);  // user computers, not servers
  // Vulnerability scans: one cadence per level (yearly at 1-2, 6 months at 3, quarterly at 5).
  for (int level = 1; level <= 5; ++level) {
    std::vector<std::string> scans;
    for (const auto& c : succ->controls) {
      if (c.id.starts_with("vuln-scan-") && c.applies_to(level)) scans.push_back(c.id);
    }
    EXPECT_EQ(scans.size(), 1u) << "level " << level;
  }
  EXPECT_TRUE(control("vuln-scan-12m").applies_to(2));
  EXPECT_TRUE(control("vuln-scan-6m").applies_to(3));
  EXPECT_TRUE(control("vuln-scan-3m").applies_to(5));
  // Log retention: one value per level, so a level-5 system is not judged by the level-3 value.
  for (int level = 2; level <= 5; ++level) {
    size_t n = 0;
    for (const auto& c : succ->controls) n += c.id.starts_with("log-retention-") && c.applies_to(level);
    EXPECT_EQ(n, 1u) << "level " << level;
  }
}

}  // namespace
}  // namespace vigil::compliance
