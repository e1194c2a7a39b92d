// File integrity baseline store: round trip, order, and refusal of damaged files with FILE:LINE.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "agent/fim/baseline.h"
#include "tests/support/test_support.h"

namespace vigil::agent::fim {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::filesystem::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

FileInfo file_entry(const std::string& path, uint8_t fill) {
  FileInfo f;
  f.path = path;
  f.type = EntryType::file;
  f.size = 1234;
  f.mode = 04755;
  f.uid = 1000;
  f.gid = 33;
  f.mtime_ns = 1'700'000'000'123'456'789;
  f.ctime_ns = 1'700'000'001'000'000'000;
  f.inode = 987654321012ULL;
  f.has_hash = true;
  f.sha256.fill(fill);
  return f;
}

Baseline sample() {
  Baseline b;
  b.roots.push_back(Root{"/srv/www", true, {"*.log", "cache/**"}});
  b.roots.push_back(Root{"/usr/bin", false, {}});
  FileInfo d;
  d.path = "/srv/www";
  d.type = EntryType::dir;
  d.mode = 0755;
  b.add(file_entry("/srv/www/index.php", 0xab));
  b.add(d);
  FileInfo l;
  l.path = "/srv/www/link\twith\ttabs\nand newline %";
  l.type = EntryType::symlink;
  l.mode = 0777;
  l.target = "../../etc/passwd";
  b.add(l);
  FileInfo bad = file_entry("/srv/www/secret", 0);
  bad.has_hash = false;
  bad.error = "open: Permission denied";
  b.add(bad);
  FileInfo fifo;
  fifo.path = "/srv/www-b/fifo";
  fifo.type = EntryType::fifo;
  fifo.mode = 0600;
  b.add(fifo);
  FileInfo sub;
  sub.path = "/srv/www/a/b";
  sub.type = EntryType::dir;
  b.add(sub);
  b.finish();
  return b;
}

TEST(FimBaseline, PathOrderIsDepthFirst) {
  EXPECT_TRUE(path_less("/a", "/a/x"));
  EXPECT_TRUE(path_less("/a/x", "/a-b"));
  EXPECT_TRUE(path_less("/a/zzz", "/a-b"));
  EXPECT_TRUE(path_less("/a-b", "/ab"));
  EXPECT_FALSE(path_less("/a", "/a"));
  EXPECT_TRUE(path_less("/a/\x01", "/a\x01"));
  EXPECT_TRUE(path_less("/z", "/\xc3\xa9"));  // bytes compare unsigned
}

TEST(FimBaseline, RoundTripKeepsEveryField) {
  vigil::test::TempDir dir;
  Baseline b = sample();
  ASSERT_EQ(b.size(), 6u);
  // Sorted in walk order: the directory before what is inside it, "/srv/www-b" after the tree.
  EXPECT_EQ(b.view(0).path, "/srv/www");
  EXPECT_EQ(b.view(1).path, "/srv/www/a/b");
  EXPECT_EQ(b.view(5).path, "/srv/www-b/fifo");
  auto file = (dir.path() / "baseline").string();
  auto w = write_baseline(b, file);
  ASSERT_TRUE(w) << w.error();
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Nothing but the baseline is left in the directory (the temporary file was renamed).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);

  auto r = read_baseline(file);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    FileInfo x = b.info(i), y = r->info(i);
    EXPECT_EQ(x.path, y.path);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.size, y.size);
    EXPECT_EQ(x.mode, y.mode);
    EXPECT_EQ(x.uid, y.uid);
    EXPECT_EQ(x.gid, y.gid);
    EXPECT_EQ(x.mtime_ns, y.mtime_ns);
    EXPECT_EQ(x.ctime_ns, y.ctime_ns);
    EXPECT_EQ(x.inode, y.inode);
    EXPECT_EQ(x.has_hash, y.has_hash);
    EXPECT_EQ(x.sha256, y.sha256);
    EXPECT_EQ(x.target, y.target);
    EXPECT_EQ(x.error, y.error);
  }
  ASSERT_EQ(r->roots.size(), 2u);
  EXPECT_EQ(r->roots[0].path, "/srv/www");
  EXPECT_TRUE(r->roots[0].recursive);
  EXPECT_EQ(r->roots[0].ignore, (std::vector<std::string>{"*.log", "cache/**"}));
  EXPECT_FALSE(r->roots[1].recursive);
  auto idx = r->find("/srv/www/link\twith\ttabs\nand newline %");
  ASSERT_TRUE(idx);
  EXPECT_EQ(r->view(*idx).target, "../../etc/passwd");
  EXPECT_FALSE(r->find("/srv/www/nope"));
  EXPECT_EQ(r->info(*r->find("/srv/www/secret")).error, "open: Permission denied");
}

TEST(FimBaseline, DuplicatePathsKeepTheFirst) {
  Baseline b;
  b.add(file_entry("/x", 1));
  b.add(file_entry("/x", 2));
  b.finish();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ((*b.view(0).sha256)[0], 1);
}

TEST(FimBaseline, EmptyBaselineRoundTrips) {
  vigil::test::TempDir dir;
  Baseline b;
  b.finish();
  auto file = (dir.path() / "b").string();
  ASSERT_TRUE(write_baseline(b, file));
  auto r = read_baseline(file);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->size(), 0u);
}

class FimBaselineCorrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = (dir_.path() / "baseline").string();
    ASSERT_TRUE(write_baseline(sample(), file_));
    text_ = slurp(file_);
  }
  // Reads `text` as a baseline and expects an error that starts with FILE:LINE and names `why`.
  void expect_refused(const std::string& text, int line, const std::string& why) {
    spit(file_, text);
    auto r = read_baseline(file_);
    ASSERT_FALSE(r) << "accepted:\n" << text;
    EXPECT_EQ(r.error().rfind(file_ + ":" + std::to_string(line) + ": ", 0), 0u) << r.error();
    EXPECT_NE(r.error().find(why), std::string::npos) << r.error();
  }
  vigil::test::TempDir dir_;
  std::string file_;
  std::string text_;
};

TEST_F(FimBaselineCorrupt, TruncatedFileIsRefusedAtItsLastLine) {
  // Cut in the middle of the fifth line (an entry): that line is malformed.
  size_t cut = 0;
  for (int i = 0; i < 4; ++i) cut = text_.find('\n', cut) + 1;
  expect_refused(text_.substr(0, cut + 5), 5, "fields");
  // Cut after a whole line: no end line.
  expect_refused(text_.substr(0, cut), 4, "truncated");
}

TEST_F(FimBaselineCorrupt, EveryPrefixIsRefusedWithoutCrashing) {
  for (size_t n = 0; n + 1 < text_.size(); n += 7) {
    spit(file_, text_.substr(0, n));
    auto r = read_baseline(file_);
    EXPECT_FALSE(r) << "prefix of " << n << " bytes accepted";
    if (!r) {
      EXPECT_EQ(r.error().rfind(file_ + ":", 0), 0u) << r.error();
    }
  }
}

TEST_F(FimBaselineCorrupt, AlteredEntryFailsTheChecksum) {
  std::string t = text_;
  auto pos = t.find("\t1234\t");
  ASSERT_NE(pos, std::string::npos);
  t.replace(pos, 6, "\t1235\t");
  int end_line = static_cast<int>(std::count(t.begin(), t.end(), '\n'));
  expect_refused(t, end_line, "checksum");
}

TEST_F(FimBaselineCorrupt, BadFieldsAreNamed) {
  auto replace_line = [&](int line, const std::string& with) {
    std::string t = text_;
    size_t start = 0;
    for (int i = 1; i < line; ++i) start = t.find('\n', start) + 1;
    t.replace(start, t.find('\n', start) - start, with);
    return t;
  };
  std::string good = "f\t/srv/www/index.php\t1\t644\t0\t0\t1\t1\t1\t\t\t";
  expect_refused(replace_line(4, good + "\textra"), 4, "fields");
  expect_refused(replace_line(4, "q\t/srv/www/index.php\t1\t644\t0\t0\t1\t1\t1\t\t\t"), 4, "unknown entry type");
  expect_refused(replace_line(4, "f\trelative\t1\t644\t0\t0\t1\t1\t1\t\t\t"), 4, "bad path");
  expect_refused(replace_line(4, "f\t/x\t-1\t644\t0\t0\t1\t1\t1\t\t\t"), 4, "bad size");
  expect_refused(replace_line(4, "f\t/x\t1\t999\t0\t0\t1\t1\t1\t\t\t"), 4, "bad mode");
  expect_refused(replace_line(4, "f\t/x\t1\t644\t0\t0\t1\t1\t1\tabc\t\t"), 4, "bad sha256");
  expect_refused(replace_line(4, "f\t/x%zz\t1\t644\t0\t0\t1\t1\t1\t\t\t"), 4, "bad path");
  expect_refused(replace_line(4, "f\t/x%4\t1\t644\t0\t0\t1\t1\t1\t\t\t"), 4, "bad path");
  expect_refused(replace_line(4, "f\t/zzz\t1\t644\t0\t0\t1\t1\t1\t\t\t"), 5, "out of order");
  expect_refused(replace_line(1, "vigil-fim-baseline\t9\t6"), 1, "version");
  expect_refused(replace_line(1, "something else"), 1, "not a Vigil file integrity baseline");
  expect_refused(replace_line(2, "root\trelative\trecursive"), 2, "bad root path");
}

TEST_F(FimBaselineCorrupt, OverlongLineIsRefused) {
  std::string t = text_;
  size_t start = 0;
  for (int i = 1; i < 4; ++i) start = t.find('\n', start) + 1;
  t.insert(start, std::string(kMaxLine + 10, 'x') + "\n");
  expect_refused(t, 4, "longer than");
}

TEST_F(FimBaselineCorrupt, EmptyAndMissingFiles) {
  spit(file_, "");
  auto r = read_baseline(file_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(file_ + ":1: empty"), std::string::npos) << r.error();
  auto m = read_baseline((dir_.path() / "absent").string());
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().find("absent"), std::string::npos) << m.error();
}

TEST_F(FimBaselineCorrupt, TextAfterTheEndIsRefused) {
  int lines = static_cast<int>(std::count(text_.begin(), text_.end(), '\n'));
  expect_refused(text_ + "f\t/zz\t1\t644\t0\t0\t1\t1\t1\t\t\t\n", lines + 1, "after the end");
}

}  // namespace
}  // namespace vigil::agent::fim
