#include "common/ingest/record_rules.h"

#include <gtest/gtest.h>

#include "common/event/json.h"
#include "common/ingest/bounded_json.h"

namespace vigil::ingest {
namespace {

TEST(RecordRules, AlertsNeedARuleAndChecksTheirResult) {
  EXPECT_TRUE(refuse_reason({"alert", "", "", "", ""}).has_value());
  EXPECT_FALSE(refuse_reason({"alert", "", "r1", "", ""}).has_value());
  EXPECT_FALSE(refuse_reason({"event", "sshd", "", "", ""}).has_value());
  EXPECT_TRUE(refuse_reason({"state", "compliance.check", "c1", "p1", "maybe"}).has_value());
  EXPECT_TRUE(refuse_reason({"state", "compliance.check", "c1", "", "pass"}).has_value());
  EXPECT_FALSE(refuse_reason({"state", "compliance.check", "c1", "p1", "not_applicable"}).has_value());
  std::string long_id(kMaxIdBytes + 1, 'x');
  EXPECT_TRUE(refuse_reason({"alert", "", long_id, "", ""}).has_value());
}

TEST(RecordRules, DepthIsCountedOutsideStringsOnly) {
  EXPECT_FALSE(json_depth_exceeded(R"({"a":[[[1]]]})", 4).has_value());
  EXPECT_EQ(json_depth_exceeded(R"({"a":[[[[1]]]]})", 4), 8u);
  // Brackets inside strings, escaped quotes included, do not count.
  EXPECT_FALSE(json_depth_exceeded(R"({"a":"[[[[[[\"[[[[["})", 2).has_value());
  std::string deep(1'000'000, '[');
  EXPECT_EQ(json_depth_exceeded(deep), kMaxJsonDepth);
}

TEST(RecordRules, BoundedParsingRefusesDeepJsonWithItsPosition) {
  std::string deep(65, '[');
  deep += std::string(65, ']');
  auto r = parse_bounded_json(deep);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("byte 64"), std::string::npos) << r.error();
  EXPECT_TRUE(parse_bounded_json(R"({"a":1})"));
  EXPECT_FALSE(parse_bounded_json("{"));
  // Events read from an inbox or a replay go through the same bound.
  EXPECT_FALSE(event_from_json_line(R"({"a":)" + std::string(100'000, '[')));
}

TEST(RecordRules, InvalidUtf8IsReplacedAndControlCharactersFound) {
  EXPECT_EQ(valid_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(valid_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(valid_utf8("\xe2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut short
  EXPECT_TRUE(printable("web-01.so-tttt.gov.vn"));
  EXPECT_FALSE(printable("web\n2024-01-01 INFO enrolled agent admin"));
  EXPECT_FALSE(printable(std::string("a\0b", 3)));
  EXPECT_FALSE(printable("web\xc2\x9b" "31m"));         // C1 CSI
  EXPECT_FALSE(printable("web\xe2\x80\xae" "10-bew"));   // right-to-left override
  EXPECT_TRUE(printable("m\xc3\xa1y-ch\xe1\xbb\xa7"));  // Vietnamese letters are fine
}

}  // namespace
}  // namespace vigil::ingest
