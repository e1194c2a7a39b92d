// The journal sink (common/log/logging.h): entries in the journal's native protocol, written
// without libsystemd (issue 22), read back from a datagram socket standing in for journald's.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/log/logging.h"
#include "tests/support/test_support.h"

namespace vigil::logging {
namespace {

class FakeJournal {
 public:
  explicit FakeJournal(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~FakeJournal() { ::close(fd_); }
  bool bound() const { return bound_; }
  std::string next() {
    char buf[8192];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  int fd_;
  bool bound_ = false;
};

TEST(JournalSink, SendsMessagePriorityAndIdentifierOneDatagramPerEntry) {
  test::TempDir tmp;
  const std::string path = (tmp.path() / "journal.socket").string();
  FakeJournal journal(path);
  ASSERT_TRUE(journal.bound());
  spdlog::logger log("agent", journal_sink("vigil-agent", path));
  log.set_level(spdlog::level::trace);

  log.warn("policies loaded: {}", 3);
  EXPECT_EQ(journal.next(), "MESSAGE=policies loaded: 3\nPRIORITY=4\nSYSLOG_IDENTIFIER=vigil-agent\n");

  // A message with a line break travels whole, in the length-prefixed form.
  log.error("not loaded:\nfile.yaml:3:1: error");
  const std::string text = "not loaded:\nfile.yaml:3:1: error";
  std::string expected = "MESSAGE\n";
  for (int i = 0; i < 8; ++i) expected += static_cast<char>(i == 0 ? text.size() : 0);
  expected += text + "\nPRIORITY=3\nSYSLOG_IDENTIFIER=vigil-agent\n";
  EXPECT_EQ(journal.next(), expected);

  log.debug("d");
  EXPECT_EQ(journal.next(), "MESSAGE=d\nPRIORITY=7\nSYSLOG_IDENTIFIER=vigil-agent\n");
}

TEST(JournalSink, WithoutAJournalTheEntryGoesToStderrWithItsPriority) {
  test::TempDir tmp;
  spdlog::logger log("agent", journal_sink("vigil-agent", (tmp.path() / "no-journal.socket").string()));
  testing::internal::CaptureStderr();
  log.critical("cannot start");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "<2>cannot start\n");
}

}  // namespace
}  // namespace vigil::logging
