// File integrity: who changed a file, from the audit log (agent/fim/audit.h) -- a real
// audit.log-format file written by the test -- joined by path and time, and the deploy-user mark
// that follows from it (agent/fim/deploy.h).
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "agent/config/agent_config.h"
#include "agent/fim/audit.h"
#include "agent/fim/deploy.h"
#include "tests/support/test_support.h"

namespace vigil::agent::fim {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

constexpr int64_t kT = 1'780'000'000;  // the audit events' second

Clock::time_point at(std::chrono::milliseconds after) { return Clock::time_point(std::chrono::seconds(kT)) + after; }

// One audit event as the kernel writes it for a write under a watch: SYSCALL, CWD, PATH
// (the directory, then the file), PROCTITLE, EOE. `ms` after kT; `name` as the process gave it.
std::string event(uint64_t serial, int ms, const std::string& name, const std::string& cwd = "/var/www/html",
                  const std::string& ids = "auid=1001 uid=33 gid=33 euid=33", const std::string& enriched = "",
                  const std::string& success = "yes") {
  const std::string stamp = fmt::format("msg=audit({}.{:03}:{})", kT + ms / 1000, ms % 1000, serial);
  std::string out = fmt::format(
      "type=SYSCALL {}: arch=c000003e syscall=257 success={} exit=3 a0=ffffff9c a1=55d0c2a4 a2=241 a3=1b6 "
      "items=2 ppid=700 pid=812 {} suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=pts0 ses=3 comm=\"vim\" "
      "exe=\"/usr/bin/vim\" subj=unconfined key=\"vigil-fim\"{}\n",
      stamp, success, ids, enriched);
  out += fmt::format("type=CWD {}: cwd=\"{}\"\n", stamp, cwd);
  out += fmt::format(
      "type=PATH {}: item=0 name=\"{}/\" inode=131 dev=08:01 mode=040755 ouid=0 ogid=0 "
      "rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n",
      stamp, cwd);
  out += fmt::format(
      "type=PATH {}: item=1 name=\"{}\" inode=4242 dev=08:01 mode=0100644 ouid=33 ogid=33 "
      "rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n",
      stamp, name);
  out += fmt::format("type=PROCTITLE {}: proctitle=76696D00696E6465782E68746D6C\n", stamp);
  out += fmt::format("type=EOE {}: \n", stamp);
  return out;
}

class FimAudit : public ::testing::Test {
 protected:
  void SetUp() override { log_ = (tmp_.path() / "audit.log").string(); }
  void write(const std::string& text, std::ios::openmode mode = std::ios::trunc) {
    std::ofstream(log_, std::ios::binary | mode) << text;
  }
  AuditLog::Options options(size_t max_events = AuditLog::kMaxEvents) {
    return AuditLog::Options{log_, std::chrono::seconds(5), max_events};
  }
  vigil::test::TempDir tmp_;
  std::string log_;
};

TEST_F(FimAudit, JoinsAChangeToTheEventNamingItsPathAtItsTime) {
  // A relative name under the CWD record's directory; an ENRICHED log names the users.
  write("type=DAEMON_START msg=audit(1779999990.000:1): op=start ver=3.0.9 format=enriched res=success\n" +
        event(4242, 123, "index.html", "/var/www/html", "auid=1001 uid=33 gid=33 euid=33",
              "\x1d"
              "ARCH=x86_64 SYSCALL=openat AUID=\"ann\" UID=\"www-data\" GID=\"www-data\""));
  AuditLog audit(options());
  ASSERT_TRUE(audit.refresh());
  EXPECT_EQ(audit.lines(), 7u);
  EXPECT_EQ(audit.malformed(), 0u);
  EXPECT_EQ(audit.events(), 1u);

  auto who = audit.near(at(400ms), "/var/www/html/index.html");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->serial, 4242u);
  EXPECT_EQ(who->user_id, "1001");  // the login user (auid), not the web server's uid
  EXPECT_TRUE(who->from_auid);
  EXPECT_EQ(who->user_name, "ann");
  EXPECT_EQ(who->executable, "/usr/bin/vim");
  EXPECT_EQ(who->pid, 812);
  EXPECT_EQ(audit.joined(), 1u);

  // The directory is only looked through (PARENT): its changes are not this event's.
  EXPECT_FALSE(audit.near(at(400ms), "/var/www/html"));
  EXPECT_FALSE(audit.near(at(400ms), "/var/www/html/other.html"));

  Event e;
  mark_attribution(e, *who);
  EXPECT_EQ(*e.get_string(field("user.id")), "1001");
  EXPECT_EQ(*e.get_string(field("vigil.fim.audit_user")), "auid");
  EXPECT_EQ(*e.get_string(fields::user_name), "ann");
  EXPECT_EQ(*e.get_string(fields::process_executable), "/usr/bin/vim");
  EXPECT_EQ(*e.get_int(fields::process_pid), 812);
  EXPECT_EQ(*e.get_string(field("vigil.fim.attribution")), "auditd");
  EXPECT_EQ(*e.get_int(field("vigil.fim.audit_serial")), 4242);
  // The deploy-user half of the defacement rule follows from it.
  mark_deploy(e, {}, {"deploy"}, at(400ms));
  ASSERT_NE(e.get(fields::fim_deploy_user), nullptr);
  EXPECT_EQ(e.get(fields::fim_deploy_user)->to_string(), "false");
}

TEST_F(FimAudit, WithoutALoginUserTheUidIsNamedAndSaidSo) {
  write(event(7, 0, "/var/www/html/./upload/../x.php", "/", "auid=4294967295 uid=33 gid=33 euid=33",
              "\x1d"
              "AUID=\"unset\" UID=\"www-data\""));
  AuditLog audit(options());
  audit.refresh();
  auto who = audit.near(at(0ms), "/var/www/html/x.php");  // the name made lexically normal
  ASSERT_TRUE(who);
  EXPECT_EQ(who->user_id, "33");
  EXPECT_FALSE(who->from_auid);
  EXPECT_EQ(who->user_name, "www-data");
  Event e;
  mark_attribution(e, *who);
  EXPECT_EQ(*e.get_string(field("vigil.fim.audit_user")), "uid");

  // A RAW log names no user: user.id only, and no deploy-user mark.
  write(event(8, 0, "/var/www/html/y.php"));
  AuditLog raw(options());
  raw.refresh();
  who = raw.near(at(0ms), "/var/www/html/y.php");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->user_id, "1001");
  EXPECT_TRUE(who->user_name.empty());
  Event r;
  mark_attribution(r, *who);
  mark_deploy(r, {}, {"deploy"}, at(0ms));
  EXPECT_EQ(r.get(fields::user_name), nullptr);
  EXPECT_EQ(r.get(fields::fim_deploy_user), nullptr);
}

TEST_F(FimAudit, EventsTooFarInTimeOrFailedAreNotJoined) {
  write(event(1, 0, "/var/www/html/a.html") +
        event(2, 0, "/var/www/html/b.html", "/var/www/html", "auid=1001 uid=33 gid=33 euid=33", "", "no"));
  AuditLog audit(options());
  audit.refresh();
  EXPECT_TRUE(audit.near(at(5000ms), "/var/www/html/a.html"));   // at the window's edge
  EXPECT_TRUE(audit.near(at(-5000ms), "/var/www/html/a.html"));  // the records may come late, or early
  EXPECT_FALSE(audit.near(at(5001ms), "/var/www/html/a.html"));
  EXPECT_FALSE(audit.near(at(-5001ms), "/var/www/html/a.html"));
  EXPECT_FALSE(audit.near(at(6s), "/var/www/html/a.html"));
  EXPECT_FALSE(audit.near(at(0ms), "/var/www/html/b.html"));  // the system call failed: it changed nothing
  EXPECT_EQ(audit.joined(), 2u);
}

TEST_F(FimAudit, TheNearestEventWins) {
  write(event(10, 0, "/etc/passwd", "/", "auid=1001 uid=0 gid=0 euid=0") +
        event(11, 2000, "/etc/passwd", "/", "auid=1002 uid=0 gid=0 euid=0") +
        event(12, 4000, "/etc/passwd", "/", "auid=1003 uid=0 gid=0 euid=0"));
  AuditLog audit(options());
  audit.refresh();
  EXPECT_EQ(audit.near(at(1900ms), "/etc/passwd")->serial, 11u);
  EXPECT_EQ(audit.near(at(3500ms), "/etc/passwd")->serial, 12u);
  EXPECT_EQ(audit.near(at(1000ms), "/etc/passwd")->serial, 11u);  // a tie: the later one
  EXPECT_EQ(audit.near(at(-100ms), "/etc/passwd")->user_id, "1001");
}

TEST_F(FimAudit, MalformedLinesAreCountedAndSkipped) {
  write(
      "this is not an audit record\n"
      "type=SYSCALL msg=audit(garbage): arch=c000003e\n"
      "type=PATH msg=audit(1780000000.5): item=0 name=\"/x\"\n"  // no serial
      "type=USER_LOGIN no msg here\n" +
      std::string(AuditLog::kMaxLine + 10, 'x') + "\n" + event(3, 0, "/var/www/html/c.html"));
  AuditLog audit(options());
  audit.refresh();
  EXPECT_EQ(audit.malformed(), 5u);
  EXPECT_EQ(audit.lines(), 11u);
  EXPECT_TRUE(audit.near(at(0ms), "/var/www/html/c.html"));
}

TEST_F(FimAudit, MemoryIsBoundedOldestDroppedFirst) {
  std::string text;
  for (int i = 0; i < 6; ++i) text += event(100 + i, 0, fmt::format("/srv/www/f{}.html", i % 3));
  write(text);
  AuditLog audit(options(4));
  audit.refresh();
  EXPECT_EQ(audit.events(), 4u);
  EXPECT_EQ(audit.dropped(), 2u);
  // f0 was written by events 100 (dropped) and 103, f1 by 101 (dropped) and 104, f2 by 102 and 105
  // (the later of two at the same time).
  EXPECT_EQ(audit.near(at(0ms), "/srv/www/f0.html")->serial, 103u);
  EXPECT_EQ(audit.near(at(0ms), "/srv/www/f1.html")->serial, 104u);
  EXPECT_EQ(audit.near(at(0ms), "/srv/www/f2.html")->serial, 105u);
  // Many more: the index stays at the cap and every path still finds its newest event.
  text.clear();
  for (int i = 0; i < 100; ++i) text += event(200 + i, 0, fmt::format("/srv/www/g{}.html", i));
  write(text, std::ios::app);
  audit.refresh();
  EXPECT_EQ(audit.events(), 4u);
  EXPECT_EQ(audit.dropped(), 102u);
  EXPECT_FALSE(audit.near(at(0ms), "/srv/www/f2.html"));
  EXPECT_FALSE(audit.near(at(0ms), "/srv/www/g95.html"));
  EXPECT_EQ(audit.near(at(0ms), "/srv/www/g99.html")->serial, 299u);
}

TEST_F(FimAudit, FollowsTheLogAsItGrowsAndWhenItIsRotated) {
  const std::string first = event(20, 0, "/var/www/html/one.html");
  const std::string second = event(21, 0, "/var/www/html/two.html");
  // Written up to the middle of the second event's SYSCALL line.
  write(first + second.substr(0, 40));
  AuditLog audit(options());
  audit.refresh();
  EXPECT_TRUE(audit.near(at(0ms), "/var/www/html/one.html"));
  EXPECT_FALSE(audit.near(at(0ms), "/var/www/html/two.html"));
  write(second.substr(40), std::ios::app);
  // Before its EOE the event is found too (its records may still be arriving).
  audit.refresh();
  EXPECT_TRUE(audit.near(at(0ms), "/var/www/html/two.html"));
  // Rotated by auditd: the rest of the old file from audit.log.1, then the new one.
  write(event(22, 0, "/var/www/html/three.html"), std::ios::app);
  fs::rename(log_, log_ + ".1");
  write(event(23, 0, "/var/www/html/four.html"));
  audit.refresh();
  EXPECT_EQ(audit.near(at(0ms), "/var/www/html/three.html")->serial, 22u);
  EXPECT_EQ(audit.near(at(0ms), "/var/www/html/four.html")->serial, 23u);
  EXPECT_EQ(audit.malformed(), 0u);
}

TEST_F(FimAudit, AnAbsentLogJoinsNothing) {
  AuditLog audit(options());
  EXPECT_TRUE(audit.refresh());  // not there yet: no error
  EXPECT_FALSE(audit.near(at(0ms), "/var/www/html/index.html"));
  EXPECT_EQ(audit.joined(), 0u);
}

constexpr const char* kCollector = "collector:\n  addresses: [127.0.0.1:8443]\n";

TEST(FimAuditConfig, AuditLogAndWindowAreReadWithDefaultsFromOnePlace) {
  auto loaded = load_agent_config_string("agent.yaml", std::string(kCollector) + R"(fim:
  audit_log: /tmp/audit.log
  audit_window: 2s
  paths: [{path: /var/www}]
)");
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->config.fim.audit_log, "/tmp/audit.log");
  EXPECT_EQ(loaded->config.fim.audit_window, std::chrono::seconds(2));
  auto defaults = load_agent_config_string("agent.yaml", std::string(kCollector) + "fim: {paths: [{path: /etc}]}\n");
  ASSERT_TRUE(defaults) << defaults.error();
  EXPECT_EQ(defaults->config.fim.audit_log, kDefaultAuditLog);
  EXPECT_EQ(defaults->config.fim.audit_window, AuditLog::Options{}.window);
  auto off = load_agent_config_string("agent.yaml", std::string(kCollector) + "fim: {audit_log: \"\"}\n");
  ASSERT_TRUE(off) << off.error();
  EXPECT_TRUE(off->config.fim.audit_log.empty());
}

TEST(FimAuditConfig, ProblemsWithTheirPositions) {
  auto loaded = load_agent_config_string("agent.yaml", std::string(kCollector) + R"(fim:
  audit_log: [a, b]
  audit_window: 5m
)");
  ASSERT_FALSE(loaded);
  const std::string& e = loaded.error();
  EXPECT_NE(e.find("agent.yaml:4:14: error: fim.audit_log"), std::string::npos) << e;
  EXPECT_NE(e.find("agent.yaml:5:17: error: fim.audit_window"), std::string::npos) << e;
}

}  // namespace
}  // namespace vigil::agent::fim
