// File integrity: package upgrades told apart by dpkg's log (agent/fim/packages.h) -- a real
// dpkg.log-format file and file lists written by the test -- and the system binary rule
// (VGL-FIM-0009) on the marks they give.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "agent/fim/deploy.h"
#include "agent/fim/events.h"
#include "agent/fim/packages.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "tests/support/test_support.h"

namespace vigil::agent::fim {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

// 2026-12-01 10:00:00 local time, plus `s` seconds.
Clock::time_point at(int64_t s) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 11;
  tm.tm_mday = 1;
  tm.tm_hour = 10;
  tm.tm_isdst = -1;
  return Clock::from_time_t(std::mktime(&tm)) + std::chrono::seconds(s);
}

// A dpkg.log line at `s` seconds past 10:00, in dpkg's own format (local time).
std::string line(int64_t s, const std::string& rest) {
  const std::time_t t = Clock::to_time_t(at(s));
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{} {}\n", buf, rest);
}

// An upgrade of coreutils as apt runs it, at 10:00:00-10:00:03.
std::string coreutils_upgrade(int64_t s = 0) {
  return line(s, "startup archives unpack") + line(s, "upgrade coreutils:amd64 9.1-1 9.1-1+deb12u1") +
         line(s, "status half-configured coreutils:amd64 9.1-1") + line(s, "status unpacked coreutils:amd64 9.1-1") +
         line(s + 1, "status half-installed coreutils:amd64 9.1-1") +
         line(s + 2, "status unpacked coreutils:amd64 9.1-1+deb12u1") + line(s + 2, "startup packages configure") +
         line(s + 3, "configure coreutils:amd64 9.1-1+deb12u1 <none>") +
         line(s + 3, "status installed coreutils:amd64 9.1-1+deb12u1") +
         line(s + 3, "trigproc man-db:amd64 2.11.2-2 <none>") + line(s + 3, "status installed man-db:amd64 2.11.2-2");
}

class FimDpkg : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.path() / "info");
    tmp_.write("info/coreutils.list", "/.\n/usr\n/usr/bin\n/usr/bin/ls\n/usr/bin/cp\n/bin/cat\n");
    tmp_.write("info/man-db.list", "/.\n/usr/bin/man\n");
  }
  DpkgLog::Options options() const {
    return {(tmp_.path() / "dpkg.log").string(), (tmp_.path() / "info").string(), 10min};
  }
  void append(const std::string& text) const {
    std::ofstream out(tmp_.path() / "dpkg.log", std::ios::app);
    out << text;
  }
  vigil::test::TempDir tmp_;
};

TEST_F(FimDpkg, ActivityWithinTheWindowNamesThePackagesAndTheOwner) {
  append(coreutils_upgrade());
  DpkgLog log(options());
  log.refresh();
  EXPECT_EQ(log.lines(), 11u);
  EXPECT_EQ(log.malformed(), 0u);
  EXPECT_EQ(log.records(), 2u);  // one per package and burst

  auto a = log.near(at(2), "/usr/bin/ls");
  EXPECT_TRUE(a.any);
  EXPECT_EQ(a.packages, (std::vector<std::string>{"coreutils:amd64", "man-db:amd64"}));
  EXPECT_EQ(a.owner, "coreutils:amd64");
  // dpkg's temporary name and the merged-/usr name are the file's.
  EXPECT_EQ(log.near(at(1), "/usr/bin/cp.dpkg-new").owner, "coreutils:amd64");
  EXPECT_EQ(log.near(at(1), "/usr/bin/cat").owner, "coreutils:amd64");
  EXPECT_EQ(log.near(at(1), "/usr/bin/man").owner, "man-db:amd64");
  // Within 10 minutes either side, not beyond.
  EXPECT_TRUE(log.near(at(3 + 600), "/usr/bin/ls").any);
  EXPECT_TRUE(log.near(at(-600), "/usr/bin/ls").any);
  EXPECT_FALSE(log.near(at(3 + 601), "/usr/bin/ls").any);
  EXPECT_FALSE(log.near(at(-601), "/usr/bin/ls").any);
  // Activity, but no package of it lists the file.
  auto other = log.near(at(2), "/usr/bin/evil");
  EXPECT_TRUE(other.any);
  EXPECT_TRUE(other.owner.empty());
}

TEST_F(FimDpkg, ReadsWhatIsAppendedAndTheRestOfARotatedLog) {
  append(line(0, "install nginx:amd64 <none> 1.22.1-9"));
  DpkgLog log(options());
  log.refresh();
  EXPECT_TRUE(log.near(at(0), "/usr/sbin/nginx").any);
  EXPECT_FALSE(log.near(at(3600), "/usr/sbin/nginx").any);
  // An hour later: appended, half a line first.
  const std::string later = line(3600, "upgrade libc6:amd64 2.36-9 2.36-9+deb12u1");
  append(later.substr(0, 25));
  log.refresh();
  EXPECT_FALSE(log.near(at(3600), "/usr/lib/x").any);
  append(later.substr(25));
  log.refresh();
  EXPECT_EQ(log.near(at(3600), "/usr/lib/x").packages, std::vector<std::string>{"libc6:amd64"});
  // logrotate: more is written, the file is moved to dpkg.log.1 and a new one started.
  append(line(7200, "remove telnet:amd64 0.17-44 <none>"));
  fs::rename(tmp_.path() / "dpkg.log", tmp_.path() / "dpkg.log.1");
  append(line(9000, "purge ftp:amd64 0.17-34 <none>"));
  log.refresh();
  EXPECT_EQ(log.near(at(7200), "/usr/bin/telnet").packages, std::vector<std::string>{"telnet:amd64"});
  EXPECT_EQ(log.near(at(9000), "/usr/bin/ftp").packages, std::vector<std::string>{"ftp:amd64"});
  EXPECT_EQ(log.malformed(), 0u);
}

TEST_F(FimDpkg, MalformedLinesAreCountedAndSkipped) {
  append("garbage\n" + line(0, "upgrade") + "2026-13-01 10:00:00 upgrade x:amd64 1 2\n" +
         "2026-12-01 10:00:00upgrade x:amd64 1 2\n" + std::string(5000, 'x') + "\n" + line(0, "status installed") +
         line(0, "conffile /etc/nginx/nginx.conf keep") + line(0, "upgrade bash:amd64 5.2-1 5.2-2") + "\n");
  DpkgLog log(options());
  log.refresh();
  EXPECT_EQ(log.malformed(), 6u);
  EXPECT_EQ(log.lines(), 8u);  // the blank line is not one
  EXPECT_EQ(log.near(at(0), "/usr/bin/bash").packages, std::vector<std::string>{"bash:amd64"});
}

TEST_F(FimDpkg, MemoryIsBoundedOldestDroppedFirst) {
  std::string text;
  const size_t n = DpkgLog::kMaxRecords + 100;
  for (size_t i = 0; i < n; ++i)
    text += line(static_cast<int64_t>(i) * 120, fmt::format("install p{}:amd64 <none> 1", i));
  append(text);
  DpkgLog log(options());
  log.refresh();
  EXPECT_EQ(log.records(), DpkgLog::kMaxRecords);
  EXPECT_EQ(log.dropped(), 100u);
  EXPECT_FALSE(log.near(at(0), "/x").any);  // p0 was dropped
  EXPECT_EQ(log.near(at(static_cast<int64_t>(n - 1) * 120 + 500), "/x").packages,
            std::vector<std::string>{fmt::format("p{}:amd64", n - 1)});
  // 120 s apart, within 600 s either side: the last and the 5 before it, nearest first.
  auto last = log.near(at(static_cast<int64_t>(n - 1) * 120), "/x");
  ASSERT_EQ(last.packages.size(), 6u);
  EXPECT_EQ(last.packages[0], fmt::format("p{}:amd64", n - 1));
  EXPECT_EQ(last.packages[5], fmt::format("p{}:amd64", n - 6));
}

TEST_F(FimDpkg, AtMostSixteenPackagesAreNamedOnAChange) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += line(i, fmt::format("upgrade lib{}:amd64 1 2", i));
  append(text);
  DpkgLog log(options());
  log.refresh();
  auto a = log.near(at(0), "/usr/lib/x");
  ASSERT_EQ(a.packages.size(), DpkgLog::kMaxPackages);
  EXPECT_EQ(a.packages[0], "lib0:amd64");  // nearest first
}

TEST_F(FimDpkg, AnAbsentLogMarksNoActivity) {
  DpkgLog log(options());
  log.refresh();
  EXPECT_FALSE(log.near(at(0), "/usr/bin/ls").any);
  Event e;
  mark_packages(e, log.near(at(0), "/usr/bin/ls"));
  EXPECT_EQ(e.get(field("vigil.fim.package_activity"))->to_string(), "false");
  EXPECT_EQ(e.get(field("vigil.fim.packages")), nullptr);
}

// VGL-FIM-0009 on changes marked from a real log.
class FimBinaryRule : public FimDpkg {
 protected:
  void SetUp() override {
    FimDpkg::SetUp();
    auto loaded = rules::load_rules({(vigil::test::source_dir() / "rules" / "detection").string()});
    ASSERT_TRUE(loaded) << loaded.error();
    set_ = loaded->set;
  }
  std::multiset<std::string> alerts(DpkgLog* log, const std::string& path, Clock::time_point when) {
    Change c;
    c.type = ChangeType::change;
    c.now.path = path;
    c.now.type = EntryType::file;
    c.now.ctime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
    c.before = c.now;
    c.changed = attr::hash;
    Event e = to_event(c, "web1", Timestamp{c.now.ctime_ns});
    if (log) {
      log->refresh();
      mark_packages(e, log->near(when_changed(c, Clock::now()), path));
    }
    rules::Engine engine(set_);
    std::vector<Event> out;
    engine.process(e, out);
    std::multiset<std::string> ids;
    for (const auto& a : out) ids.insert(*a.get_string(fields::rule_id));
    return ids;
  }
  std::shared_ptr<const rules::RuleSet> set_;
};

TEST_F(FimBinaryRule, QuietDuringAnUpgradeAlertsOutsideOne) {
  append(coreutils_upgrade());
  DpkgLog log(options());
  using S = std::multiset<std::string>;
  EXPECT_TRUE(alerts(&log, "/usr/bin/ls", at(2)).empty());
  EXPECT_EQ(alerts(&log, "/usr/bin/ls", at(3 * 3600)), S{"VGL-FIM-0009"});  // three hours later
  EXPECT_EQ(alerts(&log, "/sbin/sshd-helper", at(-3600)), S{"VGL-FIM-0009"});
  // Without dpkg's log (another distribution, or fim.dpkg_log: ""), no mark: the rule fires.
  EXPECT_EQ(alerts(nullptr, "/usr/bin/ls", at(2)), S{"VGL-FIM-0009"});
}

}  // namespace
}  // namespace vigil::agent::fim
