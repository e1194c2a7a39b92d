#include "agent/spool/admission.h"

#include <gtest/gtest.h>

#include "common/event/json.h"

namespace vigil::agent {
namespace {

std::optional<std::string> reason(std::string_view line) {
  auto e = event_from_json_line(line);
  EXPECT_TRUE(e) << line;
  return e ? spool_refuse_reason(*e) : std::optional<std::string>("unparsed");
}

TEST(SpoolAdmission, AlertWithoutRuleIdIsRefused) {
  // The inbox line that made the collector quarantine a batch.
  auto why = reason(R"({"event":{"kind":"alert"}})");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("rule.id"), std::string::npos) << *why;
}

TEST(SpoolAdmission, AlertWithRuleIdIsAccepted) {
  EXPECT_FALSE(reason(R"({"event":{"kind":"alert"},"rule":{"id":"VIGIL-1"}})"));
}

TEST(SpoolAdmission, NonStringRuleIdReadsAsAbsentAsTheCollectorReadsIt) {
  EXPECT_TRUE(reason(R"({"event":{"kind":"alert"},"rule":{"id":42}})"));
}

TEST(SpoolAdmission, OverlongRuleIdIsRefused) {
  std::string id(ingest::kMaxIdBytes + 1, 'r');
  EXPECT_TRUE(reason(R"({"event":{"kind":"alert"},"rule":{"id":")" + id + R"("}})"));
}

TEST(SpoolAdmission, ComplianceCheckNeedsPolicyAndAKnownResult) {
  EXPECT_TRUE(reason(R"({"event":{"kind":"state","dataset":"compliance.check"},"rule":{"id":"c1"},)"
                     R"("vigil":{"policy":{"id":"p"},"check":{"result":"maybe"}}})"));
  EXPECT_TRUE(reason(R"({"event":{"kind":"state","dataset":"compliance.check"},"rule":{"id":"c1"},)"
                     R"("vigil":{"check":{"result":"pass"}}})"));
  EXPECT_FALSE(reason(R"({"event":{"kind":"state","dataset":"compliance.check"},"rule":{"id":"c1"},)"
                      R"("vigil":{"policy":{"id":"p"},"check":{"result":"pass"}}})"));
}

TEST(SpoolAdmission, PlainEventsAndEventsWithoutKindAreAccepted) {
  EXPECT_FALSE(reason(R"({"message":"hello"})"));
  EXPECT_FALSE(reason(R"({"event":{"kind":"event","dataset":"syslog"}})"));
}

TEST(SpoolAdmission, FactsReadAnAbsentKindAsEvent) {
  Event e;
  auto f = record_facts(e);
  EXPECT_EQ(f.kind, "event");
  EXPECT_TRUE(f.rule_id.empty());
}

}  // namespace
}  // namespace vigil::agent
