// File integrity scanner on trees the tests build: entry kinds, symlinks never followed, special
// files never opened, ignore globs, the max_files cap, quick re-checks that read nothing, unreadable
// entries, read-rate pacing.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/fim/scanner.h"
#include "tests/support/test_support.h"

namespace vigil::agent::fim {
namespace {

namespace fs = std::filesystem;

// sha256("hello\n")
constexpr const char* kHelloSha = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

class Tree {
 public:
  std::string root() const { return dir_.path().string(); }
  std::string p(const std::string& rel) const { return root() + "/" + rel; }
  void file(const std::string& rel, const std::string& content, mode_t mode = 0644) const {
    fs::create_directories(fs::path(p(rel)).parent_path());
    std::ofstream(p(rel), std::ios::binary | std::ios::trunc) << content;
    ::chmod(p(rel).c_str(), mode);
  }
  void dir(const std::string& rel, mode_t mode = 0755) const {
    fs::create_directories(p(rel));
    ::chmod(p(rel).c_str(), mode);
  }
  void link(const std::string& rel, const std::string& target) const {
    fs::create_directories(fs::path(p(rel)).parent_path());
    fs::create_symlink(target, p(rel));
  }

 private:
  vigil::test::TempDir dir_;
};

ScanOptions options(const std::string& root, bool recursive = true, std::vector<std::string> ignore = {}) {
  ScanOptions o;
  o.roots.push_back(Root{root, recursive, std::move(ignore)});
  return o;
}

std::vector<FileInfo> scan(const ScanOptions& o, const Baseline* b = nullptr, ScanStats* stats = nullptr) {
  Scanner s(o);
  std::vector<FileInfo> out;
  auto r = s.run([&](const FileInfo& f) { out.push_back(f); }, b);
  EXPECT_TRUE(r) << (r ? "" : r.error());
  if (stats) *stats = s.stats();
  return out;
}

std::map<std::string, FileInfo> by_path(const std::vector<FileInfo>& v) {
  std::map<std::string, FileInfo> m;
  for (const auto& f : v) m[f.path] = f;
  return m;
}

Baseline baseline_of(const std::vector<FileInfo>& v) {
  Baseline b;
  for (const auto& f : v) b.add(f);
  b.finish();
  return b;
}

TEST(FimScanner, RecordsEveryKindInWalkOrderWithoutFollowingSymlinks) {
  Tree t;
  t.file("a/hello.txt", "hello\n");
  t.dir("a/b");
  t.link("a/b/loop", "..");                           // a loop if it were followed
  t.link("a/self", "self");                           // a link to itself
  t.link("etc", "/etc");                              // out of the tree
  ASSERT_EQ(::mkfifo(t.p("fifo").c_str(), 0600), 0);  // opening it would block the scan
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sp = t.p("sock");
  ASSERT_LT(sp.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, sp.c_str(), sp.size() + 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  ScanStats st;
  auto entries = scan(options(t.root()), nullptr, &st);
  ::close(sock);
  std::vector<std::string> paths;
  for (const auto& e : entries) paths.push_back(e.path.substr(t.root().size()));
  EXPECT_EQ(paths, (std::vector<std::string>{"", "/a", "/a/b", "/a/b/loop", "/a/hello.txt", "/a/self", "/etc", "/fifo",
                                             "/sock"}));
  auto m = by_path(entries);
  EXPECT_EQ(m[t.root()].type, EntryType::dir);
  EXPECT_EQ(m[t.p("a/b/loop")].type, EntryType::symlink);
  EXPECT_EQ(m[t.p("a/b/loop")].target, "..");
  EXPECT_EQ(m[t.p("a/self")].target, "self");
  EXPECT_EQ(m[t.p("etc")].target, "/etc");
  EXPECT_FALSE(m[t.p("etc")].has_hash);
  const auto& hello = m[t.p("a/hello.txt")];
  EXPECT_EQ(hello.type, EntryType::file);
  ASSERT_TRUE(hello.has_hash);
  EXPECT_EQ(to_hex(hello.sha256), kHelloSha);
  EXPECT_EQ(hello.size, 6u);
  EXPECT_EQ(hello.mode, 0644u);
  EXPECT_EQ(m[t.p("fifo")].type, EntryType::fifo);
  EXPECT_FALSE(m[t.p("fifo")].has_hash);
  EXPECT_EQ(m[t.p("fifo")].mode, 0600u);
  EXPECT_EQ(m[t.p("sock")].type, EntryType::socket);
  EXPECT_EQ(st.files, 1u);
  EXPECT_EQ(st.dirs, 3u);
  EXPECT_EQ(st.symlinks, 3u);
  EXPECT_EQ(st.special, 2u);
  EXPECT_EQ(st.hashed, 1u);
  EXPECT_EQ(st.errors, 0u);
}

TEST(FimScanner, RootThatIsASymlinkIsRecordedNotFollowed) {
  Tree t;
  t.file("real/x", "x");
  t.link("alias", "real");
  auto entries = scan(options(t.p("alias")));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].type, EntryType::symlink);
  EXPECT_EQ(entries[0].target, "real");
}

TEST(FimScanner, NonRecursiveRecordsTheFirstLevelOnly) {
  Tree t;
  t.file("top", "1");
  t.file("sub/inner", "2");
  auto m = by_path(scan(options(t.root(), false)));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_TRUE(m.count(t.p("top")));
  EXPECT_TRUE(m.count(t.p("sub")));
  EXPECT_FALSE(m.count(t.p("sub/inner")));
  Scanner s(options(t.root(), false));
  EXPECT_TRUE(s.in_scope(t.p("sub")));
  EXPECT_FALSE(s.in_scope(t.p("sub/inner")));
}

TEST(FimScanner, GlobsMatchNamesAnywhereAndPathsFromTheRoot) {
  EXPECT_TRUE(glob_match("cache/**", "cache/a"));
  EXPECT_TRUE(glob_match("cache/**", "cache/a/b/c"));
  EXPECT_FALSE(glob_match("cache/**", "cache"));  // the directory itself is still recorded
  EXPECT_FALSE(glob_match("cache/**", "x/cache/a"));
  EXPECT_TRUE(glob_match("**/tmp", "tmp"));
  EXPECT_TRUE(glob_match("**/tmp", "a/b/tmp"));
  EXPECT_TRUE(glob_match("uploads/*/tmp", "uploads/2024/tmp"));
  EXPECT_FALSE(glob_match("uploads/*/tmp", "uploads/2024/05/tmp"));
  EXPECT_TRUE(glob_match("/build", "build"));
  EXPECT_TRUE(glob_match("a/**/z", "a/z"));
  EXPECT_TRUE(glob_match("a/**/z", "a/b/c/z"));
  EXPECT_FALSE(glob_match("a/*", "a/b/c"));
}

TEST(FimScanner, IgnoreGlobsLeaveEntriesOutAndIgnoredDirectoriesUnentered) {
  Tree t;
  t.file("index.php", "<?php");
  t.file("error.log", "e");
  t.file("deep/x/access.log", "a");
  t.file("cache/page1", "p");
  t.file("cache/sub/page2", "p");
  t.file("tmp/t1", "t");
  t.file("keep/cache/page", "k");  // "cache/**" is anchored at the root
  ScanStats st;
  auto m = by_path(scan(options(t.root(), true, {"*.log", "cache/**", "tmp"}), nullptr, &st));
  EXPECT_TRUE(m.count(t.p("index.php")));
  EXPECT_FALSE(m.count(t.p("error.log")));
  EXPECT_FALSE(m.count(t.p("deep/x/access.log")));
  EXPECT_TRUE(m.count(t.p("deep/x")));
  EXPECT_TRUE(m.count(t.p("cache")));
  EXPECT_FALSE(m.count(t.p("cache/page1")));
  EXPECT_FALSE(m.count(t.p("cache/sub")));
  EXPECT_FALSE(m.count(t.p("tmp")));
  EXPECT_FALSE(m.count(t.p("tmp/t1")));
  EXPECT_TRUE(m.count(t.p("keep/cache/page")));
  // Ignored: error.log, access.log, cache/page1, cache/sub, tmp (its content never listed).
  EXPECT_EQ(st.ignored, 5u);
  Scanner s(options(t.root(), true, {"*.log", "cache/**", "tmp"}));
  EXPECT_FALSE(s.in_scope(t.p("tmp/t1")));
  EXPECT_FALSE(s.in_scope(t.p("cache/sub/page2")));
  EXPECT_FALSE(s.in_scope(t.p("a.log")));
  EXPECT_TRUE(s.in_scope(t.p("cache")));
  EXPECT_TRUE(s.in_scope(t.p("keep/cache/page")));
  EXPECT_FALSE(s.in_scope(t.root() + "-other/x"));
}

TEST(FimScanner, MaxFilesCapsTheRecordAndCountsTheRest) {
  Tree t;
  for (int i = 0; i < 10; ++i) t.file("d/f" + std::to_string(i), "x");
  ScanOptions o = options(t.root());
  o.max_files = 4;
  ScanStats st;
  auto entries = scan(o, nullptr, &st);
  EXPECT_EQ(entries.size(), 4u);
  EXPECT_EQ(st.entries, 4u);
  EXPECT_TRUE(st.capped);
  EXPECT_EQ(st.over_cap, 8u);  // 12 entries: the root, d and 10 files
  EXPECT_EQ(st.hashed, 2u);    // nothing past the cap is read
}

TEST(FimScanner, QuickRecheckReusesHashesWithoutReading) {
  Tree t;
  for (int i = 0; i < 20; ++i) t.file("f" + std::to_string(i), std::string(1000 + i, 'a' + static_cast<char>(i)));
  ScanStats first;
  auto entries = scan(options(t.root()), nullptr, &first);
  EXPECT_EQ(first.hashed, 20u);
  EXPECT_GT(first.read_calls, 0u);
  Baseline b = baseline_of(entries);

  ScanStats quick;
  auto again = scan(options(t.root()), &b, &quick);
  EXPECT_EQ(quick.read_calls, 0u);
  EXPECT_EQ(quick.bytes_read, 0u);
  EXPECT_EQ(quick.hashed, 0u);
  EXPECT_EQ(quick.reused, 20u);
  ASSERT_EQ(again.size(), entries.size());
  for (size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i].sha256, entries[i].sha256) << again[i].path;

  ScanOptions full = options(t.root());
  full.full = true;
  ScanStats rehash;
  scan(full, &b, &rehash);
  EXPECT_EQ(rehash.hashed, 20u);
  EXPECT_EQ(rehash.reused, 0u);
  EXPECT_GT(rehash.read_calls, 0u);

  // Same size, mtime put back: the ctime still moves, so the file is read again.
  struct stat before {};
  ASSERT_EQ(::stat(t.p("f3").c_str(), &before), 0);
  t.file("f3", std::string(1003, 'z'));
  timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, t.p("f3").c_str(), times, 0), 0);
  ScanStats forged;
  auto m = by_path(scan(options(t.root()), &b, &forged));
  EXPECT_EQ(forged.hashed, 1u);
  EXPECT_EQ(forged.reused, 19u);
  EXPECT_NE(m[t.p("f3")].sha256, b.info(*b.find(t.p("f3"))).sha256);
  EXPECT_EQ(m[t.p("f3")].mtime_ns, b.info(*b.find(t.p("f3"))).mtime_ns);
}

// Runs `body` where permissions bind: as root, in a child that drops to nobody. Returns the
// child's exit status; 77 when privileges could not be dropped.
template <typename F>
int unprivileged(F body) {
  if (::geteuid() != 0) return body();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0 || ::geteuid() == 0) ::_exit(77);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

TEST(FimScanner, UnreadableEntriesAreReportedWithTheirError) {
  Tree t;
  ::chmod(t.root().c_str(), 0755);
  t.file("open.txt", "hello\n");
  t.file("secret", "s", 0);
  t.dir("locked", 0);
  int rc = unprivileged([&]() -> int {
    std::vector<FileInfo> entries;
    Scanner s(options(t.root()));
    if (!s.run([&](const FileInfo& f) { entries.push_back(f); })) return 2;
    auto m = by_path(entries);
    if (!m.count(t.p("secret")) || !m.count(t.p("locked"))) return 3;
    const auto& secret = m[t.p("secret")];
    if (secret.has_hash || secret.error.find("Permission denied") == std::string::npos) return 4;
    if (m[t.p("locked")].error.find("cannot list: Permission denied") == std::string::npos) return 5;
    if (!m[t.p("open.txt")].has_hash || !m[t.p("open.txt")].error.empty()) return 6;
    if (s.stats().errors != 2) return 7;
    return 0;
  });
  if (rc == 77) GTEST_SKIP() << "running as root and unable to drop to uid 65534: permissions cannot bind here";
  EXPECT_EQ(rc, 0) << "2: scan failed, 3: entries missing, 4: secret not reported unreadable, 5: locked dir not "
                      "reported, 6: readable file wrong, 7: error count";
}

TEST(FimScanner, ReadRatePacesHashing) {
  Tree t;
  t.file("big", std::string(1 << 20, 'b'));
  ScanOptions o = options(t.root());
  o.max_read_rate = 2 << 20;  // 2 MiB/s: about 0.4 s for 1 MiB after the first 0.2 MiB
  ScanStats st;
  auto start = std::chrono::steady_clock::now();
  scan(o, nullptr, &st);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_GT(st.throttled, std::chrono::milliseconds(250));
  ScanStats fast;
  scan(options(t.root()), nullptr, &fast);
  EXPECT_EQ(fast.throttled, std::chrono::nanoseconds(0));
}

TEST(FimScanner, MissingRootIsAnErrorOnlyWhenAsked) {
  Tree t;
  ScanOptions o = options(t.p("absent"));
  Scanner strict(o);
  auto r = strict.run([](const FileInfo&) {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(t.p("absent")), std::string::npos);
  o.missing_root_is_error = false;
  Scanner lenient(o);
  EXPECT_TRUE(lenient.run([](const FileInfo&) {}));
}

TEST(FimScanner, NestedRootsAreRecordedOnce) {
  Tree t;
  t.file("a/b/c", "x");
  ScanOptions o = options(t.p("a/b"));
  o.roots.push_back(Root{t.root(), true, {}});
  o.roots.push_back(Root{t.root() + "/", true, {}});
  Scanner s(o);
  EXPECT_EQ(s.roots().size(), 1u);
  std::vector<std::string> paths;
  ASSERT_TRUE(s.run([&](const FileInfo& f) { paths.push_back(f.path); }));
  EXPECT_EQ(paths.size(), 4u);
}

}  // namespace
}  // namespace vigil::agent::fim

namespace vigil::agent::fim {
namespace {

TEST(FimScannerBounds, ATreeDeeperThanTheBoundIsRecordedButNotEntered) {
  vigil::test::TempDir dir;
  std::string rel;
  for (size_t i = 0; i < kMaxDepth + 5; ++i) rel += (rel.empty() ? "" : "/") + std::string("d");
  fs::create_directories(dir.path() / rel);
  ScanStats stats;
  auto got = scan(options(dir.path().string()), nullptr, &stats);
  EXPECT_EQ(stats.too_deep, 1u);
  size_t deepest = 0;
  for (const auto& e : got) deepest = std::max<size_t>(deepest, std::count(e.path.begin(), e.path.end(), '/'));
  const std::string root = dir.path().string();
  EXPECT_LE(deepest, static_cast<size_t>(std::count(root.begin(), root.end(), '/')) + kMaxDepth + 1);
  EXPECT_EQ(got.size(), kMaxDepth + 1);  // the root and kMaxDepth directories below it, the last one not entered
}

TEST(FimScannerBounds, ReadRatesAreBounded) {
  EXPECT_EQ(parse_read_rate("50MiB/s"), 50ULL << 20);
  EXPECT_EQ(parse_read_rate("64KiB"), 64ULL << 10);
  EXPECT_FALSE(parse_read_rate("1"));      // one byte a second would stall hashing for days
  EXPECT_FALSE(parse_read_rate("65GiB/s"));
  EXPECT_FALSE(parse_read_rate("fast"));
}

}  // namespace
}  // namespace vigil::agent::fim
