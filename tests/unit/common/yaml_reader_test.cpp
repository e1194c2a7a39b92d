#include "common/config/yaml_reader.h"

#include <gtest/gtest.h>

namespace vigil::config {
namespace {

using namespace std::chrono_literals;

TEST(YamlReader, SyntaxErrorsCarryPosition) {
  YamlReader r("x.yaml");
  auto root = r.load_string("a: 1\nb: [1, 2\n");
  EXPECT_FALSE(root);
  ASSERT_EQ(r.diagnostics().items().size(), 1u);
  const auto& d = r.diagnostics().items()[0];
  EXPECT_EQ(d.file, "x.yaml");
  EXPECT_GT(d.line, 0);
  EXPECT_NE(d.message.find("YAML syntax"), std::string::npos);
}

TEST(YamlReader, TextsArePlainOrVietnameseAndEnglish) {
  YamlReader r("x.yaml");
  auto root = r.load_string(
      "plain: SSH root login is disabled\n"
      "both: {vi: \"Đăng nhập root qua SSH bị tắt\", en: SSH root login is disabled}\n"
      "no_en: {vi: \"Chỉ tiếng Việt\"}\n"
      "extra: {vi: a, en: b, fr: c}\n"
      "empty: {vi: \"\", en: b}\n"
      "list: [a, b]\n");
  ASSERT_TRUE(root);
  i18n::Text plain, both, untouched = i18n::Text::both("kept");
  EXPECT_TRUE(r.read((*root)["plain"], plain, "plain"));
  EXPECT_EQ(plain.en, "SSH root login is disabled");
  EXPECT_EQ(plain.vi, plain.en);  // one text serves both languages
  EXPECT_TRUE(r.read((*root)["both"], both, "both"));
  EXPECT_EQ(both.in(i18n::Lang::vi), "Đăng nhập root qua SSH bị tắt");
  EXPECT_EQ(both.in(i18n::Lang::en), "SSH root login is disabled");
  EXPECT_EQ(r.diagnostics().error_count(), 0u);
  // A mapping needs both languages, non-empty, and nothing else; the value stays as it was.
  EXPECT_FALSE(r.read((*root)["no_en"], untouched, "no_en"));
  EXPECT_FALSE(r.read((*root)["extra"], untouched, "extra"));
  EXPECT_FALSE(r.read((*root)["empty"], untouched, "empty"));
  EXPECT_FALSE(r.read((*root)["list"], untouched, "list"));
  EXPECT_EQ(untouched, i18n::Text::both("kept"));
  const std::string all = r.diagnostics().to_string();
  EXPECT_NE(all.find("x.yaml:3:8: error: no_en: missing required key 'en'"), std::string::npos) << all;
  EXPECT_NE(all.find("x.yaml:4:23: error: unknown key 'extra.fr'"), std::string::npos) << all;
  EXPECT_NE(all.find("x.yaml:5:13: error: empty.vi: empty"), std::string::npos) << all;
  EXPECT_NE(all.find("x.yaml:6:7: error: list: expected a string or {vi: ..., en: ...}"), std::string::npos) << all;
}

TEST(YamlReader, UnknownKeysAreReportedWithSuggestion) {
  YamlReader r("x.yaml");
  auto root = r.load_string("sec:\n  alpha: 1\n  betta: 2\n");
  ASSERT_TRUE(root);
  MapReader top(r, *root, "");
  MapReader sec(r, top.get("sec"), "sec");
  sec.get("alpha");
  sec.get("beta");
  sec.finish();
  top.finish();
  ASSERT_EQ(r.diagnostics().error_count(), 1u);
  EXPECT_EQ(r.diagnostics().items()[0].to_string(),
            "x.yaml:3:3: error: unknown key 'sec.betta' (did you mean 'beta'?); sec takes: alpha, beta");
}

TEST(YamlReader, DuplicateKeysAreErrors) {
  YamlReader r("x.yaml");
  auto root = r.load_string("a: 1\nb: 2\na: 3\n");
  ASSERT_TRUE(root);
  MapReader top(r, *root, "");
  top.get("a");
  top.get("b");
  top.finish();
  ASSERT_EQ(r.diagnostics().error_count(), 1u);
  EXPECT_EQ(r.diagnostics().items()[0].line, 3);
  EXPECT_NE(r.diagnostics().items()[0].message.find("first given on line 1"), std::string::npos);
}

TEST(YamlReader, AllErrorsAreCollectedBeforeFailing) {
  YamlReader r("x.yaml");
  auto root = r.load_string("n: abc\nd: 5y\ns: 10XB\nb: maybe\nc: purple\n");
  ASSERT_TRUE(root);
  MapReader top(r, *root, "");
  int64_t n = 7;
  std::chrono::milliseconds d = 1s;
  uint64_t s = 1;
  bool b = false;
  std::string c = "red";
  EXPECT_FALSE(r.read(top.get("n"), n, "n", 0, 10));
  EXPECT_FALSE(r.read_duration(top.get("d"), d, "d", 0ms, 1h));
  EXPECT_FALSE(r.read_size(top.get("s"), s, "s", 0, 100));
  EXPECT_FALSE(r.read(top.get("b"), b, "b"));
  EXPECT_FALSE(r.read_choice(top.get("c"), c, "c", {"red", "green"}));
  top.finish();
  EXPECT_EQ(r.diagnostics().error_count(), 5u);
  // Values are left unchanged on error.
  EXPECT_EQ(n, 7);
  EXPECT_EQ(d, 1s);
  EXPECT_EQ(c, "red");
  std::string all = r.diagnostics().to_string();
  EXPECT_NE(all.find("x.yaml:1:4: error: n: expected an integer"), std::string::npos) << all;
  EXPECT_NE(all.find("x.yaml:5:4: error: c: expected one of red, green, got 'purple'"), std::string::npos) << all;
}

TEST(YamlReader, RangesAreEnforced) {
  YamlReader r("x.yaml");
  auto root = r.load_string("n: 11\n");
  ASSERT_TRUE(root);
  MapReader top(r, *root, "");
  int64_t n = 0;
  EXPECT_FALSE(r.read(top.get("n"), n, "n", 0, 10));
  EXPECT_NE(r.diagnostics().items()[0].message.find("out of range (expected 0 to 10)"), std::string::npos);
}

TEST(YamlReader, RelativePathsResolveAgainstTheFile) {
  YamlReader r("/etc/vigil/agent.yaml");
  EXPECT_EQ(r.resolve("rules.d").string(), "/etc/vigil/rules.d");
  EXPECT_EQ(r.resolve("/var/lib/vigil").string(), "/var/lib/vigil");
}

TEST(YamlReader, NonMappingWhereMappingExpected) {
  YamlReader r("x.yaml");
  auto root = r.load_string("- a\n- b\n");
  ASSERT_TRUE(root);
  MapReader top(r, *root, "");
  EXPECT_FALSE(top.is_map());
  EXPECT_EQ(r.diagnostics().error_count(), 1u);
}

}  // namespace
}  // namespace vigil::config
