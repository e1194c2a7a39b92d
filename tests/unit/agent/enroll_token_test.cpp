#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>

#include "agent/app/agent_cli.h"
#include "tests/support/test_support.h"

namespace vigil::agent {
namespace {

using Source = std::optional<std::string>;

EnrollTokenSources sources(Source option, Source file, Source env) {
  EnrollTokenSources s;
  s.option = std::move(option);
  s.file = std::move(file);
  s.env = std::move(env);
  return s;
}

TEST(EnrollToken, TakesTheFirstLineOfTheTokenFileTrimmed) {
  vigil::test::TempDir dir;
  auto file = dir.write("token", "  vgt_secret-1 \r\nsecond line ignored\n");
  auto t = enroll_token(sources({}, file.string(), {}));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "vgt_secret-1");
}

TEST(EnrollToken, TakesTheEnvironmentVariable) {
  auto t = enroll_token(sources({}, {}, "vgt_from_env\n"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "vgt_from_env");
}

TEST(EnrollToken, TakesTheOptionStill) {
  auto t = enroll_token(sources("vgt_arg", {}, {}));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "vgt_arg");
}

TEST(EnrollToken, NoSourceIsAnErrorNamingTheChoices) {
  auto t = enroll_token(sources({}, {}, {}));
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("--token-file"), std::string::npos) << t.error();
  EXPECT_NE(t.error().find("VIGIL_ENROLL_TOKEN"), std::string::npos) << t.error();
  EXPECT_FALSE(enroll_token(sources({}, {}, "")));  // an empty variable is no source
}

TEST(EnrollToken, MoreThanOneSourceIsAnErrorNamingThem) {
  auto t = enroll_token(sources("a", {}, "b"));
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("--token VIGIL_ENROLL_TOKEN"), std::string::npos) << t.error();
  vigil::test::TempDir dir;
  auto file = dir.write("token", "c\n");
  EXPECT_FALSE(enroll_token(sources("a", file.string(), {})));
  EXPECT_FALSE(enroll_token(sources({}, file.string(), "b")));
}

TEST(EnrollToken, UnreadableOrEmptyFileIsAnErrorNamingTheFile) {
  vigil::test::TempDir dir;
  auto missing = enroll_token(sources({}, (dir.path() / "absent").string(), {}));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("absent"), std::string::npos) << missing.error();
  auto blank = dir.write("blank", "   \nvgt_on_the_second_line\n");
  auto empty = enroll_token(sources({}, blank.string(), {}));
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("first line"), std::string::npos) << empty.error();
  EXPECT_FALSE(enroll_token(sources({}, dir.path().string(), {})));  // a directory
  EXPECT_FALSE(enroll_token(sources(" ", {}, {})));
}

}  // namespace
}  // namespace vigil::agent
