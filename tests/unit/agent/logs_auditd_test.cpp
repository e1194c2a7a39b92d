// auditd records, on hand-written lines.
#include <gtest/gtest.h>

#include "agent/logs/auditd_parser.h"

namespace vigil::logs {
namespace {

std::string str(const Event& e, std::string_view name) {
  const std::string* s = e.get_string(field(name));
  return s ? *s : std::string("<absent>");
}

class AuditdTest : public ::testing::Test {
 protected:
  Event parse(std::string_view line, bool expect_parsed = true) {
    Event e;
    EXPECT_EQ(parser_.parse(line, ctx_, e), expect_parsed) << line;
    return e;
  }
  AuditdParser parser_;
  ParseContext ctx_ = ParseContext::at("auditd", Timestamp::from_seconds(1'700'000'000), 0);
};

TEST_F(AuditdTest, SyscallRecord) {
  Event e = parse(
      "type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7fffd19c5592 "
      "items=1 ppid=2686 pid=3538 auid=500 uid=500 comm=\"cat\" exe=\"/bin/cat\" key=\"sshd_config\"");
  EXPECT_EQ(str(e, "event.dataset"), "auditd");
  EXPECT_EQ(str(e, "auditd.message_type"), "SYSCALL");
  ASSERT_NE(e.get_int(field("auditd.sequence")), nullptr);
  EXPECT_EQ(*e.get_int(field("auditd.sequence")), 24287);
  EXPECT_EQ(e.time(), Timestamp::from_seconds(1364481363, 243'000'000));
  EXPECT_EQ(str(e, "auditd.data.syscall"), "2");
  EXPECT_EQ(str(e, "auditd.data.comm"), "cat");
  EXPECT_EQ(str(e, "auditd.data.key"), "sshd_config");
  EXPECT_EQ(str(e, "auditd.data.exit"), "-13");
  EXPECT_EQ(str(e, "event.outcome"), "failure");
  ASSERT_NE(e.get_int(fields::process_pid), nullptr);
  EXPECT_EQ(*e.get_int(fields::process_pid), 3538);
  EXPECT_EQ(str(e, "process.name"), "cat");
  EXPECT_EQ(str(e, "process.executable"), "/bin/cat");
}

TEST_F(AuditdTest, HexValuesAreDecodedOnlyForHexableUnquotedKeys) {
  Event e = parse(
      "type=PROCTITLE msg=audit(1364481363.243:24288): proctitle=636174002F6574632F7373682F737368645F636F6E666967");
  EXPECT_EQ(str(e, "auditd.data.proctitle"), "cat /etc/ssh/sshd_config");
  e = parse("type=EXECVE msg=audit(1.5:2): argc=1 a0=6C73 comm=\"abcd\" name=2F746D70");
  EXPECT_EQ(str(e, "auditd.data.a0"), "ls");  // EXECVE: an unquoted argument is hex (the kernel quotes safe ones)
  EXPECT_EQ(str(e, "auditd.data.comm"), "abcd");  // quoted: as written
  EXPECT_EQ(str(e, "auditd.data.name"), "/tmp");
  // SYSCALL's a0..a3 are numbers in hex: kept as written; the raw x86_64 call number gets its name.
  e = parse("type=SYSCALL msg=audit(1.5:3): arch=c000003e syscall=135 success=yes exit=0 a0=40000 a1=0 items=0");
  EXPECT_EQ(str(e, "auditd.data.a0"), "40000");
  EXPECT_EQ(str(e, "auditd.data.SYSCALL"), "personality");
  e = parse("type=SYSCALL msg=audit(1.5:4): arch=40000003 syscall=11 success=yes exit=0 a0=6C73 items=0");
  EXPECT_EQ(str(e, "auditd.data.a0"), "6C73");
  EXPECT_EQ(e.get(field("auditd.data.SYSCALL")), nullptr);  // i386 numbers differ: no name guessed
}

TEST_F(AuditdTest, UserRecordNestedMessageAndNode) {
  Event e = parse(
      "node=web1 type=USER_LOGIN msg=audit(1700000000.100:77): pid=4242 uid=0 auid=4294967295 ses=4294967295 "
      "msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.5 terminal=sshd res=failed'");
  EXPECT_EQ(str(e, "host.name"), "web1");
  EXPECT_EQ(str(e, "auditd.message_type"), "USER_LOGIN");
  EXPECT_EQ(str(e, "auditd.data.op"), "login");
  EXPECT_EQ(str(e, "auditd.data.acct"), "root");
  EXPECT_EQ(str(e, "user.name"), "root");
  EXPECT_EQ(str(e, "auditd.data.res"), "failed");
  EXPECT_EQ(str(e, "event.outcome"), "failure");
  const IpAddress* ip = e.get_ip(fields::source_ip);
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->to_string(), "203.0.113.5");
}

TEST_F(AuditdTest, EnrichedRecordsSplitAtTheGroupSeparator) {
  Event e = parse(
      "type=SYSCALL msg=audit(1700000000.1:5): syscall=59 auid=1000 ses=3\x1d"
      "AUID=\"alice\" UID=\"root\"");
  EXPECT_EQ(str(e, "auditd.data.ses"), "3");
  EXPECT_EQ(str(e, "auditd.data.AUID"), "alice");
  EXPECT_EQ(str(e, "auditd.data.UID"), "root");
}

TEST_F(AuditdTest, MalformedRecordsAreKeptUnparsed) {
  for (const char* line : {"type=SYSCALL", "type=SYSCALL msg=audit(abc:1): x=1", "msg=audit(1.2:3): a=b",
                           "type=X msg=audit(1.2:3", "type=X msg=audit(11171127600.1:3): a=b"}) {
    Event e = parse(line, false);
    EXPECT_EQ(str(e, "event.dataset"), "auditd");
    EXPECT_EQ(str(e, "event.original"), line);
  }
  EXPECT_EQ(parser_.counters().unparsed, 5u);
}

TEST_F(AuditdTest, DistinctKeysAreCapped) {
  std::string line = "type=X msg=audit(1.2:3):";
  for (size_t i = 0; i < AuditdParser::kMaxKeys + 10; ++i) line += " capk" + std::to_string(i) + "=v";
  Event e = parse(line);
  EXPECT_GT(parser_.dropped_keys(), 0u);
  EXPECT_LE(e.size(), AuditdParser::kMaxKeys + 10);
}

}  // namespace
}  // namespace vigil::logs
