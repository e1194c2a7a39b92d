// File integrity in the running agent: notifications coalesced per path and the bounded pending
// set (times given, no sleeping), one path walked inside its tree, inotify watches, and the fim:
// section of agent.yaml.
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/config/agent_config.h"
#include "agent/fim/pending.h"
#include "agent/fim/scanner.h"
#include "agent/fim/watcher.h"
#include "tests/support/test_support.h"

namespace vigil::agent::fim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = PendingSet::Clock;

std::vector<std::string> paths_of(const std::vector<PendingSet::Due>& due) {
  std::vector<std::string> out;
  for (const auto& d : due) out.push_back(d.path);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FimPending, BurstOnOnePathFallsDueOnceWhenQuiet) {
  PendingSet p({});
  const auto t0 = Clock::time_point{} + 100s;
  // 1,000 writes within 100 ms.
  for (int i = 0; i < 1000; ++i) p.note("/w/a.txt", false, t0 + std::chrono::microseconds(i * 100));
  EXPECT_EQ(p.size(), 1u);
  std::vector<PendingSet::Due> due;
  EXPECT_EQ(p.take_due(t0 + 150ms, 100, due), 0u);  // written 50 ms ago: not quiet yet
  EXPECT_TRUE(p.contains("/w/a.txt"));
  EXPECT_EQ(p.take_due(t0 + 300ms, 100, due), 1u);  // quiet for 200 ms
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].path, "/w/a.txt");
  EXPECT_FALSE(due[0].subtree);
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(p.take_due(t0 + 5s, 100, due), 0u);
}

TEST(FimPending, PathNeverQuietFallsDueAfterMaxDelay) {
  PendingSet p({});
  const auto t0 = Clock::time_point{} + 100s;
  std::vector<PendingSet::Due> due;
  for (int ms = 0; ms < 1000; ms += 50) {
    p.note("/w/log", false, t0 + std::chrono::milliseconds(ms));
    EXPECT_EQ(p.take_due(t0 + std::chrono::milliseconds(ms), 10, due), 0u) << ms;
  }
  EXPECT_EQ(p.take_due(t0 + 1000ms, 10, due), 1u);  // one second after the first write
}

TEST(FimPending, SubtreeIsKeptWhenLaterNotesAreForTheEntryAlone) {
  PendingSet p({});
  const auto t0 = Clock::time_point{} + 100s;
  p.note("/w/new", true, t0);
  p.note("/w/new", false, t0 + 10ms);
  std::vector<PendingSet::Due> due;
  ASSERT_EQ(p.take_due(t0 + 1s, 10, due), 1u);
  EXPECT_TRUE(due[0].subtree);
}

TEST(FimPending, TakesAtMostTheRoomGiven) {
  PendingSet p({});
  const auto t0 = Clock::time_point{} + 100s;
  for (int i = 0; i < 10; ++i) p.note("/w/f" + std::to_string(i), false, t0);
  std::vector<PendingSet::Due> due;
  EXPECT_EQ(p.take_due(t0 + 1s, 4, due), 4u);
  EXPECT_EQ(p.size(), 6u);
  EXPECT_EQ(p.take_due(t0 + 1s, 100, due), 6u);
  EXPECT_EQ(due.size(), 10u);
}

TEST(FimPending, PastItsCapAPathFoldsIntoAWalkOfItsDirectory) {
  PendingSet::Options o;
  o.max_paths = 3;
  o.max_dirs = 2;
  PendingSet p(o);
  const auto t0 = Clock::time_point{} + 100s;
  p.note("/w/a", false, t0);
  p.note("/w/b", false, t0);
  p.note("/w/c", false, t0);
  p.note("/w/a", false, t0);    // already waiting: no fold
  p.note("/w/d/x", false, t0);  // full: its directory is walked instead
  p.note("/w/d/y", false, t0);  // same directory
  EXPECT_EQ(p.folded(), 2u);
  EXPECT_EQ(p.size(), 4u);
  EXPECT_TRUE(p.contains("/w/d/x"));  // covered by the directory's walk
  EXPECT_TRUE(p.contains("/w/d/zzz"));
  EXPECT_FALSE(p.contains("/w/e"));
  std::vector<PendingSet::Due> due;
  ASSERT_EQ(p.take_due(t0 + 1s, 10, due), 4u);
  EXPECT_EQ(due[0].path, "/w/d");  // directories first
  EXPECT_TRUE(due[0].subtree);
  EXPECT_EQ(paths_of(due), (std::vector<std::string>{"/w/a", "/w/b", "/w/c", "/w/d"}));
  EXPECT_FALSE(p.take_full_rescan());
}

TEST(FimPending, PastBothCapsEverythingIsRescannedOnce) {
  PendingSet::Options o;
  o.max_paths = 1;
  o.max_dirs = 1;
  PendingSet p(o);
  const auto t0 = Clock::time_point{} + 100s;
  p.note("/w/a", false, t0);
  p.note("/x/b", false, t0);  // folded into /x
  p.note("/y/c", false, t0);  // no room for /y: a full rescan
  p.note("/z/d", false, t0);  // counted, nothing more to hold
  EXPECT_EQ(p.folded(), 3u);
  EXPECT_EQ(p.size(), 1u);  // /w/a; the folded directory is covered by the rescan
  EXPECT_TRUE(p.take_full_rescan());
  EXPECT_FALSE(p.take_full_rescan());
}

// --- One path inside its tree --------------------------------------------------------------

std::map<std::string, FileInfo> walk_path(Scanner& s, const std::string& path, bool subtree,
                                          std::vector<std::string>* dirs = nullptr) {
  std::map<std::string, FileInfo> out;
  s.run_path(
      path, subtree, [&](const FileInfo& f) { out[f.path] = f; }, nullptr,
      [&](const FileInfo& d) {
        if (dirs) dirs->push_back(d.path);
      });
  return out;
}

TEST(FimRunPath, WalksOnePathWithItsRootsIgnoreGlobsAndDepth) {
  test::TempDir t;
  const std::string root = t.path().string();
  fs::create_directories(t.path() / "a/b/cache");
  t.write("a/b/f.php", "x");
  t.write("a/b/f.log", "x");
  t.write("a/b/cache/c", "x");
  ScanOptions o;
  o.roots = {Root{root, true, {"*.log", "a/b/cache/**"}}};
  Scanner s(o);
  std::vector<std::string> dirs;
  auto seen = walk_path(s, root + "/a", true, &dirs);
  std::vector<std::string> names;
  for (const auto& [p, f] : seen) names.push_back(p.substr(root.size()));
  EXPECT_EQ(names, (std::vector<std::string>{"/a", "/a/b", "/a/b/cache", "/a/b/f.php"}));
  EXPECT_TRUE(seen[root + "/a/b/f.php"].has_hash);
  EXPECT_EQ(dirs, (std::vector<std::string>{root + "/a", root + "/a/b", root + "/a/b/cache"}));
  // The entry alone; a path out of scope or gone gives nothing.
  EXPECT_EQ(walk_path(s, root + "/a", false).size(), 1u);
  EXPECT_TRUE(walk_path(s, root + "/a/b/f.log", false).empty());
  EXPECT_TRUE(walk_path(s, root + "/a/b/cache/c", false).empty());
  EXPECT_TRUE(walk_path(s, root + "/a/nothing", false).empty());
  EXPECT_TRUE(walk_path(s, "/elsewhere", false).empty());
}

TEST(FimRunPath, UnderAFlatRootADirectoryIsNotEntered) {
  test::TempDir t;
  fs::create_directories(t.path() / "d/e");
  t.write("d/e/f", "x");
  ScanOptions o;
  o.roots = {Root{t.path().string(), false, {}}};
  Scanner s(o);
  auto seen = walk_path(s, (t.path() / "d").string(), true);
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_EQ(walk_path(s, t.path().string(), true).size(), 2u);  // the root and d
}

// --- inotify ---------------------------------------------------------------------------------

TEST(FimWatcher, NamesTheEntriesOfWatchedDirectoriesAndForgetsMovedOnes) {
  test::TempDir t;
  Watcher w;
  if (w.fd() < 0) GTEST_SKIP() << "no inotify";
  const std::string dir = (t.path() / "d").string();
  fs::create_directories(dir + "/sub");
  ASSERT_TRUE(w.add(t.path().string()));
  ASSERT_TRUE(w.add(dir));
  ASSERT_TRUE(w.add(dir + "/sub"));
  EXPECT_EQ(w.watches(), 3u);
  t.write("d/sub/x", "1");
  std::map<std::string, uint32_t> got;
  w.drain([&](const std::string& p, uint32_t m) { got[p] |= m; });
  EXPECT_TRUE(got[dir + "/sub/x"] & IN_CREATE);
  EXPECT_TRUE(got[dir + "/sub/x"] & IN_CLOSE_WRITE);
  w.forget_under(dir);
  EXPECT_EQ(w.watches(), 1u);
  EXPECT_FALSE(w.add((t.path() / "missing").string()));
  EXPECT_EQ(w.failures(), 0u);  // gone is not a failure
}

// --- fim: in agent.yaml ----------------------------------------------------------------------

constexpr const char* kCollector = "collector:\n  addresses: [127.0.0.1:8443]\n";

TEST(FimConfig, OffByDefaultAndDefaultsFromOnePlace) {
  auto loaded = load_agent_config_string("agent.yaml", kCollector);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_FALSE(loaded->config.fim.enabled());
  EXPECT_EQ(loaded->config.fim.max_files, kDefaultMaxFiles);
  EXPECT_EQ(loaded->config.fim.max_read_rate, kDefaultMaxReadRate);
  EXPECT_EQ(loaded->config.fim.interval, std::chrono::hours(12));
  auto empty = load_agent_config_string("agent.yaml", std::string(kCollector) + "fim: {paths: []}\n");
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_FALSE(empty->config.fim.enabled());
}

TEST(FimConfig, ReadsTreesAndLimits) {
  auto loaded = load_agent_config_string("agent.yaml", std::string(kCollector) + R"(fim:
  interval: 1h
  max_files: 1000
  max_read_rate: 10MiB/s
  paths:
    - {path: /var/www/, ignore: ["*.log", "cache/**"]}
    - {path: /usr/bin, recursive: false, realtime: false}
)");
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& f = loaded->config.fim;
  ASSERT_EQ(f.paths.size(), 2u);
  EXPECT_EQ(f.paths[0].path, "/var/www");
  EXPECT_TRUE(f.paths[0].recursive);
  EXPECT_TRUE(f.paths[0].realtime);
  EXPECT_EQ(f.paths[0].ignore, (std::vector<std::string>{"*.log", "cache/**"}));
  EXPECT_FALSE(f.paths[1].recursive);
  EXPECT_FALSE(f.paths[1].realtime);
  EXPECT_EQ(f.interval, std::chrono::hours(1));
  EXPECT_EQ(f.max_files, 1000u);
  EXPECT_EQ(f.max_read_rate, 10u << 20);
}

TEST(FimConfig, EveryProblemWithItsPosition) {
  auto loaded = load_agent_config_string("agent.yaml", std::string(kCollector) + R"(fim:
  interval: 1s
  max_read_rate: fast
  max_file: 10
  paths:
    - {path: /etc, recursive: maybe}
    - {path: /etc/}
    - {recursive: true}
)");
  ASSERT_FALSE(loaded);
  const std::string& e = loaded.error();
  EXPECT_NE(e.find("agent.yaml:4:"), std::string::npos) << e;  // interval out of range
  EXPECT_NE(e.find("agent.yaml:5:18: error: fim.max_read_rate"), std::string::npos) << e;
  EXPECT_NE(e.find("max_file"), std::string::npos) << e;  // unknown key
  EXPECT_NE(e.find("fim.paths[0].recursive"), std::string::npos) << e;
  EXPECT_NE(e.find("'/etc' is listed twice"), std::string::npos) << e;
  EXPECT_NE(e.find("fim.paths[2]"), std::string::npos) << e;  // path missing
}

TEST(FimConfig, AChangeOfTreesIsAppliedByAReload) {
  auto a = load_agent_config_string("agent.yaml", std::string(kCollector) + "fim: {paths: [{path: /etc}]}\n");
  auto b = load_agent_config_string("agent.yaml", std::string(kCollector) + "fim: {paths: [{path: /srv}]}\n");
  ASSERT_TRUE(a && b);
  auto plan = plan_reload(a->config, b->config);
  EXPECT_TRUE(plan.needs_restart.empty());
  EXPECT_TRUE(plan.fim_changed);
  EXPECT_EQ(plan.applied.fim.paths[0].path, "/srv");
  auto same = plan_reload(a->config, a->config);
  EXPECT_FALSE(same.fim_changed);
}

}  // namespace
}  // namespace vigil::agent::fim
