// Syslog headers (RFC 3164, RFC 5424) and the per-program readers, on hand-written lines.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "agent/config/agent_config.h"
#include "agent/logs/log_parser.h"
#include "agent/logs/program_messages.h"
#include "agent/logs/syslog_parser.h"
#include "tests/support/test_support.h"

namespace vigil::logs {
namespace {

Timestamp at(const char* rfc3339) { return *Timestamp::parse(rfc3339); }

std::string str(const Event& e, std::string_view name) {
  const std::string* s = e.get_string(field(name));
  return s ? *s : std::string("<absent>");
}

std::string ip(const Event& e, FieldId id = fields::source_ip) {
  const IpAddress* a = e.get_ip(id);
  return a ? a->to_string() : std::string("<absent>");
}

int64_t num(const Event& e, FieldId id) {
  const int64_t* v = e.get_int(id);
  return v ? *v : -1;
}

class SyslogTest : public ::testing::Test {
 protected:
  Event parse(std::string_view line, bool expect_parsed = true) {
    Event e;
    EXPECT_EQ(parser_->parse(line, ctx_, e), expect_parsed) << line;
    return e;
  }
  std::unique_ptr<LogParser> parser_ = std::move(make_parser("syslog").value());
  ParseContext ctx_ = ParseContext::at("syslog", at("2024-03-15T12:00:00Z"), 0, "defaulthost");
};

TEST_F(SyslogTest, Rfc3164HeaderGivesTimeHostProgramPidAndMessage) {
  Event e = parse("Mar 10 06:55:46 web1 cron[123]: (root) CMD (run-parts /etc/cron.hourly)");
  EXPECT_EQ(e.time(), at("2024-03-10T06:55:46Z"));
  EXPECT_EQ(str(e, "host.name"), "web1");
  EXPECT_EQ(str(e, "process.name"), "cron");
  EXPECT_EQ(num(e, fields::process_pid), 123);
  EXPECT_EQ(str(e, "message"), "(root) CMD (run-parts /etc/cron.hourly)");
  EXPECT_EQ(str(e, "event.dataset"), "syslog");
  EXPECT_EQ(str(e, "event.kind"), "event");
  EXPECT_EQ(str(e, "event.original"), "Mar 10 06:55:46 web1 cron[123]: (root) CMD (run-parts /etc/cron.hourly)");
}

TEST_F(SyslogTest, Rfc3164YearRollsBackWhenMonthIsAfterReferenceMonth) {
  ParseContext jan = ParseContext::at("syslog", at("2025-01-02T08:00:00Z"), 0);
  Event e;
  ASSERT_TRUE(parser_->parse("Dec 31 23:59:59 h sshd[1]: x", jan, e));
  EXPECT_EQ(e.time(), at("2024-12-31T23:59:59Z"));
  ASSERT_TRUE(parser_->parse("Jan  2 07:00:00 h sshd[1]: x", jan, e));
  EXPECT_EQ(e.time(), at("2025-01-02T07:00:00Z"));
}

TEST_F(SyslogTest, Rfc3164TimeIsTakenInTheLocalZone) {
  ParseContext hanoi = ParseContext::at("syslog", at("2024-03-15T12:00:00Z"), 7 * 3600);
  Event e;
  ASSERT_TRUE(parser_->parse("Mar 10 07:00:00 h sshd[1]: x", hanoi, e));
  EXPECT_EQ(e.time(), at("2024-03-10T00:00:00Z"));
}

TEST_F(SyslogTest, PriPrefixAndSingleDigitDay) {
  Event e = parse("<38>Feb  7 15:10:42 example sshd[5]: Server listening on 0.0.0.0 port 22.");
  EXPECT_EQ(e.time(), at("2024-02-07T15:10:42Z"));
  EXPECT_EQ(num(e, field("log.syslog.facility.code")), 4);
  EXPECT_EQ(num(e, field("log.syslog.severity.code")), 6);
  EXPECT_EQ(str(e, "event.dataset"), "sshd");
}

TEST_F(SyslogTest, RsyslogRfc3339Timestamp) {
  Event e = parse("2024-05-01T10:00:00.123456+07:00 db1 sudo: pam_unix(sudo:session): session closed for user root");
  EXPECT_EQ(e.time(), at("2024-05-01T03:00:00.123456Z"));
  EXPECT_EQ(str(e, "host.name"), "db1");
  EXPECT_EQ(str(e, "event.dataset"), "sudo");
  EXPECT_EQ(str(e, "event.action"), "session_closed");
}

TEST_F(SyslogTest, Rfc5424WithStructuredData) {
  Event e = parse(
      "<86>1 2024-01-02T03:04:05.678Z host5 sshd 4242 ID47 [exampleSDID@32473 iut=\"3\" eventID=\"10]11\"] "
      "Failed password for root from 192.0.2.9 port 5555 ssh2");
  EXPECT_EQ(e.time(), at("2024-01-02T03:04:05.678Z"));
  EXPECT_EQ(str(e, "host.name"), "host5");
  EXPECT_EQ(num(e, fields::process_pid), 4242);
  EXPECT_EQ(str(e, "log.syslog.msgid"), "ID47");
  EXPECT_EQ(str(e, "event.dataset"), "sshd");
  EXPECT_EQ(str(e, "event.outcome"), "failure");
  EXPECT_EQ(str(e, "user.name"), "root");
  EXPECT_EQ(ip(e), "192.0.2.9");
}

TEST_F(SyslogTest, Rfc5424NilValues) {
  Event e = parse("<13>1 - - - - - - hello");
  EXPECT_EQ(str(e, "message"), "hello");
  EXPECT_EQ(str(e, "host.name"), "defaulthost");
  EXPECT_EQ(e.time(), ctx_.reference_time);
}

TEST_F(SyslogTest, UnparsableLineIsKeptAndCounted) {
  Event e = parse("this is not syslog at all", false);
  EXPECT_EQ(str(e, "event.dataset"), "syslog");
  EXPECT_EQ(str(e, "message"), "this is not syslog at all");
  EXPECT_EQ(str(e, "event.original"), "this is not syslog at all");
  EXPECT_EQ(e.time(), ctx_.reference_time);
  EXPECT_EQ(parser_->counters().unparsed, 1u);
  EXPECT_EQ(parser_->counters().parsed, 0u);
}

TEST_F(SyslogTest, BlankLineMakesNoEventAndTrailingCrIsDropped) {
  Event e;
  EXPECT_FALSE(parser_->parse("   \r\n", ctx_, e));
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(parser_->counters().empty, 1u);
  EXPECT_EQ(parser_->counters().lines, 0u);
  e = parse("Mar 10 06:55:46 h x: y\r\n");
  EXPECT_EQ(str(e, "event.original"), "Mar 10 06:55:46 h x: y");
}

TEST_F(SyslogTest, ImpossibleDatesAreUnparsed) {
  parse("Feb 30 00:00:00 h p: m", false);
  parse("Feb 29 00:00:00 h p: m", true);  // 2024 is a leap year
  Event e;
  EXPECT_FALSE(parser_->parse("Feb 29 00:00:00 h p: m", ParseContext::at("syslog", at("2025-03-01T00:00:00Z"), 0), e));
  parse("Apr 31 00:00:00 h p: m", false);
  parse("Mar 10 24:00:00 h p: m", false);
}

TEST_F(SyslogTest, GarbageNeverCrashes) {
  const char* lines[] = {"<",
                         "<999>",
                         "<1>1",
                         "<1>1 ",
                         "Jan",
                         "Jan 1",
                         "Jan 01 00:00:0",
                         "Dec 32 00:00:00 h p: m",
                         "Mar 10 06:55:46",
                         "Mar 10 06:55:46 ",
                         "Mar 10 06:55:46 h",
                         "Mar 10 06:55:46 h p[",
                         "Mar 10 06:55:46 h p[1",
                         "<13>1 2024-01-02T03:04:05Z h a p m [unterminated",
                         "<13>1 9999-12-31T23:59:59Z h a p m - overflow",
                         "9999-12-31T23:59:59+00:00 h p: m",
                         "Dec 31 23:59:59 h p: m"};
  for (const char* l : lines) {
    Event e;
    parser_->parse(l, ctx_, e);
    EXPECT_EQ(str(e, "event.original"), l);
    EXPECT_TRUE(e.has(fields::timestamp));
    EXPECT_TRUE(e.has(fields::event_dataset));
  }
  // Years whose nanoseconds overflow 64 bits are not parsed (UBSan would flag the overflow).
  Event e;
  EXPECT_FALSE(parser_->parse("<13>1 9999-12-31T23:59:59Z h a p m - x", ctx_, e));
}

struct SshCase {
  const char* message;
  const char* action;
  const char* outcome;
  const char* user;
  const char* source_ip;
  int64_t port;
};

TEST(SshdMessages, KnownMessagesGiveActionOutcomeUserAndSource) {
  const SshCase cases[] = {
      {"Accepted password for fztu from 119.137.62.142 port 49116 ssh2", "ssh_login", "success", "fztu",
       "119.137.62.142", 49116},
      {"Accepted publickey for alice from 2001:db8::5 port 22 ssh2: RSA SHA256:abc", "ssh_login", "success", "alice",
       "2001:db8::5", 22},
      {"Failed password for root from 183.62.140.253 port 49534 ssh2", "ssh_login", "failure", "root", "183.62.140.253",
       49534},
      {"Failed password for invalid user admin from 103.99.0.122 port 53036 ssh2", "ssh_login", "failure", "admin",
       "103.99.0.122", 53036},
      {"Failed none for invalid user 0 from 185.190.58.151 port 55114 ssh2", "ssh_login", "failure", "0",
       "185.190.58.151", 55114},
      {"message repeated 5 times: [ Failed password for root from 183.62.140.253 port 56254 ssh2]", "ssh_login",
       "failure", "root", "183.62.140.253", 56254},
      {"Invalid user webmaster from 173.234.31.186", "invalid_user", "failure", "webmaster", "173.234.31.186", -1},
      {"Invalid user pascal from 35.188.49.176 port 53502", "invalid_user", "failure", "pascal", "35.188.49.176",
       53502},
      {"input_userauth_request: invalid user test9 [preauth]", "invalid_user", "failure", "test9", nullptr, -1},
      {"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  "
       "user=root",
       "authentication_failure", "failure", "root", "112.95.230.3", -1},
      {"PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=183.62.140.253  user=root",
       "authentication_failure", "failure", "root", "183.62.140.253", -1},
      {"Received disconnect from 112.95.230.3: 11: Bye Bye [preauth]", "disconnect", nullptr, nullptr, "112.95.230.3",
       -1},
      {"Received disconnect from 192.0.2.1 port 4000:11: Bye Bye [preauth]", "disconnect", nullptr, nullptr,
       "192.0.2.1", 4000},
      {"Disconnected from invalid user bob 192.0.2.2 port 4001 [preauth]", "disconnect", nullptr, "bob", "192.0.2.2",
       4001},
      {"Connection closed by 212.47.254.145 [preauth]", "connection_closed", nullptr, nullptr, "212.47.254.145", -1},
      {"Connection closed by authenticating user root 192.0.2.3 port 22 [preauth]", "connection_closed", nullptr,
       "root", "192.0.2.3", 22},
      {"Disconnecting: Too many authentication failures for admin [preauth]", "too_many_auth_failures", "failure",
       "admin", nullptr, -1},
      {"reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE "
       "BREAK-IN ATTEMPT!",
       "possible_break_in", nullptr, nullptr, "173.234.31.186", -1},
      {"Did not receive identification string from 123.235.32.19", "no_identification", nullptr, nullptr,
       "123.235.32.19", -1},
      {"maximum authentication attempts exceeded for invalid user kim from 192.0.2.4 port 61000 ssh2 [preauth]",
       "too_many_auth_failures", "failure", "kim", "192.0.2.4", 61000},
      {"error: PAM: Authentication failure for illegal user guest from 192.0.2.5", "authentication_failure", "failure",
       "guest", "192.0.2.5", -1},
      {"User root from 192.0.2.6 not allowed because not listed in AllowUsers", "user_not_allowed", "failure", "root",
       "192.0.2.6", -1},
      {"Unable to negotiate with 192.0.2.7 port 50000: no matching key exchange method found.", "negotiation_failed",
       nullptr, nullptr, "192.0.2.7", 50000},
      {"pam_unix(sshd:session): session opened for user fztu by (uid=0)", "session_opened", "success", "fztu", nullptr,
       -1},
  };
  for (const auto& c : cases) {
    Event e;
    parse_sshd_message(c.message, e);
    SCOPED_TRACE(c.message);
    EXPECT_EQ(str(e, "event.dataset"), "sshd");
    EXPECT_EQ(str(e, "event.action"), c.action);
    EXPECT_EQ(str(e, "event.outcome"), c.outcome ? c.outcome : "<absent>");
    EXPECT_EQ(str(e, "user.name"), c.user ? c.user : "<absent>");
    EXPECT_EQ(ip(e), c.source_ip ? c.source_ip : "<absent>");
    EXPECT_EQ(num(e, fields::source_port), c.port);
  }
}

TEST(PamFailure, RhostIsTheOneAtTheEndOrBeforeUser) {
  auto f = parse_pam_failure(" logname= uid=0 euid=0 tty=xxx ruser=test rhost=192.0.2.151 rhost=192.0.2.1");
  EXPECT_EQ(f.rhost, "192.0.2.1");
  f = parse_pam_failure(" logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 user=test rhost=192.0.2.152");
  EXPECT_EQ(f.rhost, "192.0.2.2");
  EXPECT_EQ(f.user, "test rhost=192.0.2.152");
  f = parse_pam_failure(" logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root");
  EXPECT_EQ(f.rhost, "");
  EXPECT_EQ(f.ruser, "alice");
  EXPECT_EQ(f.user, "root");
}

TEST(SudoMessages, CommandAndFailures) {
  Event e;
  parse_sudo_message("  alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt install x ; y", e);
  EXPECT_EQ(str(e, "event.dataset"), "sudo");
  EXPECT_EQ(str(e, "event.action"), "sudo_command");
  EXPECT_EQ(str(e, "event.outcome"), "success");
  EXPECT_EQ(str(e, "user.name"), "alice");
  EXPECT_EQ(str(e, "user.target.name"), "root");
  EXPECT_EQ(str(e, "process.command_line"), "/usr/bin/apt install x ; y");
  EXPECT_EQ(str(e, "process.working_directory"), "/home/alice");

  e.clear();
  parse_sudo_message("bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh", e);
  EXPECT_EQ(str(e, "event.action"), "sudo_auth_failure");
  EXPECT_EQ(str(e, "event.outcome"), "failure");
  EXPECT_EQ(str(e, "user.name"), "bob");

  e.clear();
  parse_sudo_message("eve : user NOT in sudoers ; TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/bin/id", e);
  EXPECT_EQ(str(e, "event.action"), "sudo_not_allowed");
  EXPECT_EQ(str(e, "event.outcome"), "failure");

  e.clear();
  parse_sudo_message(
      "pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/1 ruser=bob rhost=  "
      "user=bob",
      e);
  EXPECT_EQ(str(e, "event.action"), "authentication_failure");
  EXPECT_EQ(str(e, "user.name"), "bob");

  e.clear();
  parse_sudo_message("pam_unix(sudo:auth): auth could not identify password for [mallory]", e);
  EXPECT_EQ(str(e, "event.action"), "authentication_failure");
  EXPECT_EQ(str(e, "user.name"), "mallory");

  e.clear();
  parse_sudo_message("pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", e);
  EXPECT_EQ(str(e, "event.action"), "session_opened");
  EXPECT_EQ(str(e, "user.name"), "alice");
  EXPECT_EQ(str(e, "user.target.name"), "root");
}

TEST(SuMessages, SuccessAndFailureForms) {
  struct Case {
    const char* msg;
    const char* action;
    const char* outcome;
    const char* user;
    const char* target;
  } cases[] = {
      {"(to root) alice on pts/0", "su", "success", "alice", "root"},
      {"FAILED SU (to root) mallory on pts/3", "su", "failure", "mallory", "root"},
      {"FAILED su for root by mallory", "su", "failure", "mallory", "root"},
      {"Successful su for postgres by root", "su", "success", "root", "postgres"},
      {"pam_unix(su:auth): authentication failure; logname=mallory uid=1001 euid=0 tty=pts/3 ruser=mallory rhost=  "
       "user=root",
       "authentication_failure", "failure", "mallory", "root"},
      {"pam_unix(su:session): session opened for user root by alice(uid=1000)", "session_opened", "success", "alice",
       "root"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.msg);
    Event e;
    parse_su_message(c.msg, e);
    EXPECT_EQ(str(e, "event.dataset"), "su");
    EXPECT_EQ(str(e, "event.action"), c.action);
    EXPECT_EQ(str(e, "event.outcome"), c.outcome);
    EXPECT_EQ(str(e, "user.name"), c.user);
    EXPECT_EQ(str(e, "user.target.name"), c.target);
  }
}

TEST_F(SyslogTest, AccountToolsGiveDatasetAccounts) {
  Event e = parse(
      "Mar 10 10:00:00 h useradd[900]: new user: name=bob, UID=1001, GID=1001, home=/home/bob, "
      "shell=/bin/bash, from=/dev/pts/0");
  EXPECT_EQ(str(e, "event.dataset"), "accounts");
  EXPECT_EQ(str(e, "event.action"), "user_created");
  EXPECT_EQ(str(e, "user.target.name"), "bob");
  e = parse("Mar 10 10:00:00 h groupadd[901]: new group: name=devs, GID=1002");
  EXPECT_EQ(str(e, "event.action"), "group_created");
  EXPECT_EQ(str(e, "group.name"), "devs");
  e = parse("Mar 10 10:00:01 h usermod[902]: add 'bob' to group 'sudo'");
  EXPECT_EQ(str(e, "event.action"), "group_member_added");
  EXPECT_EQ(str(e, "user.target.name"), "bob");
  EXPECT_EQ(str(e, "group.name"), "sudo");
  e = parse("Mar 10 10:00:02 h passwd[903]: pam_unix(passwd:chauthtok): password changed for bob");
  EXPECT_EQ(str(e, "event.action"), "password_changed");
  EXPECT_EQ(str(e, "user.target.name"), "bob");
  e = parse("Mar 10 10:00:03 h userdel[904]: delete user 'bob'");
  EXPECT_EQ(str(e, "event.action"), "user_deleted");
  e = parse("Mar 10 10:00:03 h groupdel[906]: group 'devs' removed from /etc/group");
  EXPECT_EQ(str(e, "event.action"), "group_deleted");
  EXPECT_EQ(str(e, "group.name"), "devs");
  e = parse("Mar 10 10:00:04 h chage[905]: changed password expiry for bob");
  EXPECT_EQ(str(e, "event.action"), "password_expiry_changed");
}

TEST_F(SyslogTest, KernelFirewallLine) {
  Event e = parse(
      "Sep 30 10:09:23 scw-d95986 kernel: [19955416.516358] [UFW BLOCK] IN=ens2 OUT= "
      "MAC=de:1c:88:64:10:19:5e:e1:a4:3b:cf:f0:08:00 SRC=62.34.17.168 DST=10.73.140.49 LEN=44 TOS=0x00 PREC=0x00 "
      "TTL=43 ID=25313 PROTO=TCP SPT=52220 DPT=80 WINDOW=1024 RES=0x00 SYN URGP=0");
  EXPECT_EQ(str(e, "event.dataset"), "firewall");
  EXPECT_EQ(str(e, "observer.ingress.interface.name"), "ens2");
  EXPECT_EQ(str(e, "observer.egress.interface.name"), "<absent>");
  EXPECT_EQ(ip(e), "62.34.17.168");
  EXPECT_EQ(ip(e, fields::destination_ip), "10.73.140.49");
  EXPECT_EQ(num(e, fields::source_port), 52220);
  EXPECT_EQ(num(e, fields::destination_port), 80);
  EXPECT_EQ(str(e, "network.transport"), "tcp");
  EXPECT_EQ(str(e, "vigil.firewall.prefix"), "UFW BLOCK");
  EXPECT_EQ(str(e, "event.action"), "blocked");
  // Without the uptime stamp the first bracket is the prefix; AUDIT lines let the packet through.
  e = parse("Oct 30 10:09:23 vm-1 kernel: [UFW AUDIT] IN=lo OUT= SRC=127.0.0.1 DST=127.0.0.53 PROTO=TCP SPT=1 DPT=53");
  EXPECT_EQ(str(e, "vigil.firewall.prefix"), "UFW AUDIT");
  EXPECT_EQ(str(e, "event.action"), "allowed");
  e = parse("Oct 30 10:09:23 vm-1 kernel: [ 12.5] IPT-IN: IN=lo OUT= SRC=127.0.0.1 DST=127.0.0.53 PROTO=TCP SPT=1 DPT=53");
  EXPECT_EQ(str(e, "vigil.firewall.prefix"), "IPT-IN:");
  EXPECT_EQ(str(e, "event.action"), "<absent>");
}

TEST_F(SyslogTest, KernelLineWithoutFirewallFieldsIsPlainSyslog) {
  Event e = parse("Jun 14 15:16:01 combo kernel: Linux version 2.6.5-1.358");
  EXPECT_EQ(str(e, "event.dataset"), "syslog");
  EXPECT_EQ(str(e, "message"), "Linux version 2.6.5-1.358");
}

TEST_F(SyslogTest, OldPamProgramSuffixAndGenericPamFailure) {
  Event e = parse(
      "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 "
      "tty=NODEVssh ruser= rhost=218.188.2.4  user=root");
  EXPECT_EQ(str(e, "process.name"), "sshd");
  EXPECT_EQ(str(e, "event.dataset"), "sshd");
  EXPECT_EQ(str(e, "event.outcome"), "failure");
  EXPECT_EQ(ip(e), "218.188.2.4");
  EXPECT_EQ(str(e, "user.name"), "root");
  e = parse(
      "Jul 19 18:11:26 srv2 vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 "
      "tty=ftp ruser=an8767 rhost=www.example.com");
  EXPECT_EQ(str(e, "event.dataset"), "syslog");
  EXPECT_EQ(str(e, "event.action"), "authentication_failure");
  EXPECT_EQ(str(e, "source.domain"), "www.example.com");
  EXPECT_EQ(str(e, "user.name"), "an8767");
}

TEST(LogParserFactory, KnownAndUnknownFormats) {
  for (std::string_view f : kLogFormats) {
    auto p = make_parser(f);
    ASSERT_TRUE(p.ok()) << f;
    Event e;
    p.value()->parse("x", ParseContext::at(std::string(f), Timestamp::from_seconds(100), 0), e);
    EXPECT_EQ(str(e, "event.original"), "x") << f;
  }
  auto bad = make_parser("json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("json"), std::string::npos);
}

TEST(LogParserFactory, EveryFormatTheConfigAcceptsHasAParserAndBack) {
  for (std::string_view f : kLogFormats) {
    EXPECT_TRUE(make_parser(f).ok()) << f;
    std::string yaml =
        "collector: {addresses: [127.0.0.1:8443]}\nlogs:\n  - {path: /nonexistent/x.log, format: " + std::string(f) +
        "}\n";
    auto loaded = agent::load_agent_config_string("/nonexistent/agent.yaml", yaml);
    EXPECT_TRUE(loaded.ok()) << f << ": " << (loaded.ok() ? "" : loaded.error());
  }
  auto bad = agent::load_agent_config_string(
      "/nonexistent/agent.yaml",
      "collector: {addresses: [127.0.0.1:8443]}\nlogs:\n  - {path: /nonexistent/x.log, format: csv}\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(make_parser("csv").ok());
  EXPECT_FALSE(make_parser("journal").ok());  // the journal is an input of its own, not a line format
}

TEST(ParseContext, ReferenceYearAndMonthComeFromTheLocalDate) {
  // 2024-12-31T20:00Z is already 2025-01-01 at UTC+7.
  auto ctx = ParseContext::at("syslog", at("2024-12-31T20:00:00Z"), 7 * 3600);
  EXPECT_EQ(ctx.reference_year, 2025);
  EXPECT_EQ(ctx.reference_month, 1);
  EXPECT_EQ(ctx.infer_year(12), 2024);
  EXPECT_EQ(ctx.infer_year(1), 2025);
}

TEST(ParseContext, ForFileTakesTheYearFromTheModificationTime) {
  test::TempDir dir;
  auto path = dir.write("auth.log", "Dec 31 23:59:59 h sshd[1]: x\n").string();
  // 2025-01-01T12:00:00Z: a December line in that file is from 2024.
  struct timespec times[2] = {{1735732800, 0}, {1735732800, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  auto ctx = ParseContext::for_file(path, "syslog", "me");
  ASSERT_TRUE(ctx.ok()) << ctx.error();
  EXPECT_EQ(ctx->reference_time, at("2025-01-01T12:00:00Z"));
  EXPECT_EQ(ctx->utc_offset_s, ParseContext::local_utc_offset(at("2025-01-01T12:00:00Z")));
  EXPECT_EQ(ctx->host_name, "me");
  EXPECT_EQ(ctx->infer_year(12), 2024);
  auto missing = ParseContext::for_file((dir.path() / "nope.log").string(), "syslog");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("nope.log"), std::string::npos);
}

}  // namespace
}  // namespace vigil::logs
