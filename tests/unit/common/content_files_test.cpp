// The one walk over rule, policy and framework paths (common/config/content_files.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/config/content_files.h"
#include "tests/support/test_support.h"

namespace vigil {
namespace {

using config::ContentKind;

TEST(ContentFiles, ClassifiesByTopLevelKeysEvenWhenBroken) {
  test::TempDir tmp;
  EXPECT_EQ(config::classify_content(tmp.write("a.yaml", "# rules\n---\n- id: x\n  when: {a: b}\n")),
            ContentKind::rules);
  EXPECT_EQ(config::classify_content(tmp.write("s.yml", "title: t\nlogsource: {}\ndetection:\n  sel: {a: b}\n")),
            ContentKind::sigma);
  EXPECT_EQ(config::classify_content(tmp.write("c.yml", "title: t\ncorrelation: {type: event_count}\n")),
            ContentKind::sigma);
  // A policy with a syntax error is still a policy, so its loader reports the error's position.
  EXPECT_EQ(config::classify_content(tmp.write("p.yaml", "policy:\n  id: [unclosed\nchecks: []\n")),
            ContentKind::policy);
  EXPECT_EQ(config::classify_content(tmp.write("f.yaml", "framework: {id: f}\ncontrols: []\n")),
            ContentKind::framework);
  EXPECT_EQ(config::classify_content(tmp.write("u.yaml", "something: else\n")), ContentKind::unknown);
  EXPECT_EQ(config::classify_content(tmp.write("n.yaml", "  - indented: list\n")), ContentKind::unknown);
}

TEST(ContentFiles, WalksEachFileOnceSortedPerPath) {
  test::TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "d" / "sub");
  tmp.write("d/b.yaml", "- id: b\n");
  tmp.write("d/a.yml", "policy: {id: a}\n");
  tmp.write("d/sub/c.yaml", "framework: {id: c}\n");
  tmp.write("d/notes.txt", "- not yaml\n");
  const std::string d = (tmp.path() / "d").string();
  auto all = config::walk_content({d, d + "/b.yaml", (tmp.path() / "missing").string()});
  ASSERT_EQ(all.files.size(), 3u);  // b.yaml once, notes.txt not taken
  EXPECT_EQ(all.files[0].path.filename(), "a.yml");
  EXPECT_EQ(all.files[0].kind, ContentKind::policy);
  EXPECT_EQ(all.files[1].path.filename(), "b.yaml");
  EXPECT_EQ(all.files[2].kind, ContentKind::framework);
  ASSERT_EQ(all.missing.size(), 1u);
  EXPECT_EQ(all.of(ContentKind::rules).size(), 1u);
  auto top = config::walk_content({d}, /*recursive=*/false);
  EXPECT_EQ(top.files.size(), 2u);  // not sub/c.yaml
}

}  // namespace
}  // namespace vigil
