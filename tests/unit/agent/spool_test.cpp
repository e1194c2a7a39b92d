#include "agent/spool/spool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <random>

#include "tests/support/test_support.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Spool> open_spool(const fs::path& dir, SpoolOptions o = {}) {
  auto s = Spool::open(dir, o);
  EXPECT_TRUE(s) << (s ? "" : s.error());
  return s ? std::move(s.value()) : nullptr;
}

std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".vsp") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Spool, AppendReadAckRoundTrip) {
  vigil::test::TempDir dir;
  auto s = open_spool(dir.path() / "spool");
  ASSERT_TRUE(s);
  for (int i = 1; i <= 100; ++i) {
    auto seq = s->append("record " + std::to_string(i), SpoolPriority::event);
    ASSERT_TRUE(seq) << seq.error();
    EXPECT_EQ(*seq, static_cast<uint64_t>(i));
  }
  auto batch = s->read(0, 30, 1 << 20);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 30u);
  EXPECT_EQ(batch->front().payload, "record 1");
  EXPECT_EQ(batch->back().seq, 30u);
  auto next = s->read(30, 1000, 1 << 20);
  ASSERT_EQ(next->size(), 70u);
  EXPECT_EQ(next->front().seq, 31u);
  ASSERT_TRUE(s->ack(30));
  EXPECT_EQ(s->acked(), 30u);
  EXPECT_EQ(s->stats().pending, 70u);
  EXPECT_EQ(s->epoch().size(), 16u);
}

TEST(Spool, ReadHonoursByteLimitButAlwaysReturnsOneRecord) {
  vigil::test::TempDir dir;
  auto s = open_spool(dir.path());
  ASSERT_TRUE(s->append(std::string(1000, 'a'), SpoolPriority::event));
  ASSERT_TRUE(s->append(std::string(1000, 'b'), SpoolPriority::event));
  auto b = s->read(0, 100, 10);
  ASSERT_EQ(b->size(), 1u);
  b = s->read(0, 100, 1500);
  ASSERT_EQ(b->size(), 1u);
  b = s->read(0, 100, 2000);
  ASSERT_EQ(b->size(), 2u);
}

TEST(Spool, ReopenKeepsEpochUnackedRecordsAndAckedOffset) {
  vigil::test::TempDir dir;
  std::string epoch;
  {
    auto s = open_spool(dir.path());
    epoch = s->epoch();
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(s->append("x" + std::to_string(i), SpoolPriority::alert));
    ASSERT_TRUE(s->ack(20));
  }
  auto s = open_spool(dir.path());
  EXPECT_EQ(s->epoch(), epoch);
  EXPECT_EQ(s->acked(), 20u);
  auto rest = s->read(s->acked(), 1000, 1 << 20);
  ASSERT_EQ(rest->size(), 30u);
  EXPECT_EQ(rest->front().payload, "x20");
  auto seq = s->append("after", SpoolPriority::event);
  EXPECT_EQ(*seq, 51u);
}

TEST(Spool, EpochAndAckedFilesAreReplacedWhole) {
  vigil::test::TempDir dir;
  auto s = open_spool(dir.path() / "spool");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append("a", SpoolPriority::event));
  ASSERT_TRUE(s->ack(1));
  std::ifstream epoch(dir.path() / "spool" / "epoch");
  std::string text((std::istreambuf_iterator<char>(epoch)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, s->epoch() + "\n");
  std::ifstream acked(dir.path() / "spool" / "acked");
  std::string acked_text((std::istreambuf_iterator<char>(acked)), std::istreambuf_iterator<char>());
  EXPECT_EQ(acked_text, "1\n");
  EXPECT_FALSE(fs::exists(dir.path() / "spool" / "epoch.tmp"));
  EXPECT_FALSE(fs::exists(dir.path() / "spool" / "acked.tmp"));
}

TEST(Spool, AnEpochThatCannotBeWrittenIsAnErrorNotAnException) {
  vigil::test::TempDir dir;
  fs::create_directories(dir.path() / "epoch" / "in-the-way");  // rename over it fails
  std::optional<Result<std::unique_ptr<Spool>>> s;
  EXPECT_NO_THROW(s.emplace(Spool::open(dir.path())));
  ASSERT_TRUE(s.has_value());
  ASSERT_FALSE(*s);
  EXPECT_NE(s->error().find("epoch"), std::string::npos) << s->error();
}

TEST(Spool, SyncFailsWhenANewSegmentsNameCannotBeMadeDurable) {
  // A new segment's directory entry is fsynced by sync(); were that impossible, sync() must not
  // report the records durable (the daemon would then commit inputs whose events could be lost).
  vigil::test::TempDir dir;
  SpoolOptions o;
  o.segment_size = 256;
  auto s = open_spool(dir.path() / "spool", o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append("first", SpoolPriority::event));
  ASSERT_TRUE(s->sync());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->append(std::string(100, 'e'), SpoolPriority::event));  // rolls
  ASSERT_GT(segment_files(dir.path() / "spool").size(), 1u);
  fs::remove_all(dir.path() / "spool");  // the directory can no longer be opened to fsync
  auto synced = s->sync();
  ASSERT_FALSE(synced);
  EXPECT_NE(synced.error().find("directory"), std::string::npos) << synced.error();
}

TEST(Spool, TornTailIsTruncatedAndEverythingBeforeKept) {
  vigil::test::TempDir dir;
  {
    auto s = open_spool(dir.path());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->append("rec" + std::to_string(i), SpoolPriority::event));
    ASSERT_TRUE(s->sync());
  }
  auto files = segment_files(dir.path());
  ASSERT_EQ(files.size(), 1u);
  auto size_before = fs::file_size(files[0]);
  {
    // Half a record: a header promising 100 bytes, then 5 of them.
    std::ofstream out(files[0], std::ios::binary | std::ios::app);
    uint32_t len = 100, crc = 0;
    uint64_t seq = 11;
    uint8_t prio = 0;
    out.write(reinterpret_cast<char*>(&len), 4).write(reinterpret_cast<char*>(&crc), 4);
    out.write(reinterpret_cast<char*>(&seq), 8).write(reinterpret_cast<char*>(&prio), 1);
    out.write("abcde", 5);
  }
  auto s = open_spool(dir.path());
  EXPECT_EQ(s->stats().recovered_truncated_bytes, 22u);
  EXPECT_EQ(fs::file_size(files[0]), size_before);
  auto all = s->read(0, 1000, 1 << 20);
  ASSERT_EQ(all->size(), 10u);
  EXPECT_EQ(all->back().payload, "rec9");
  EXPECT_EQ(*s->append("next", SpoolPriority::event), 11u);
}

TEST(Spool, CorruptRecordEndsTheValidPrefix) {
  vigil::test::TempDir dir;
  {
    auto s = open_spool(dir.path());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->append("payload-" + std::to_string(i), SpoolPriority::event));
  }
  auto file = segment_files(dir.path()).at(0);
  {
    // Flip one payload byte of the 6th record (records are 17 + 9 bytes here).
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5 * 26 + 17 + 3);
    f.put('X');
  }
  auto s = open_spool(dir.path());
  auto all = s->read(0, 1000, 1 << 20);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(s->stats().recovered_truncated_bytes, 5u * 26);
}

TEST(Spool, AcknowledgedSegmentsAreDeleted) {
  vigil::test::TempDir dir;
  SpoolOptions o;
  o.segment_size = 4096;
  auto s = open_spool(dir.path(), o);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(s->append(std::string(100, 'e'), SpoolPriority::event));
  size_t before = segment_files(dir.path()).size();
  EXPECT_GT(before, 20u);
  ASSERT_TRUE(s->ack(1000));
  EXPECT_EQ(segment_files(dir.path()).size(), 1u);
  EXPECT_EQ(s->read(1000, 10, 1 << 20)->size(), 0u);
}

TEST(Spool, OverTheCapEventsGoFirstThenStatesAlertsLast) {
  vigil::test::TempDir dir;
  SpoolOptions o;
  o.segment_size = 4096;
  o.max_size = 64 * 1024;
  auto s = open_spool(dir.path(), o);
  uint64_t alerts = 0, events = 0;
  for (int i = 0; i < 2000; ++i) {
    bool alert = i % 10 == 0;
    ASSERT_TRUE(s->append(std::string(100, alert ? 'A' : 'e'), alert ? SpoolPriority::alert : SpoolPriority::event));
    (alert ? alerts : events)++;
  }
  auto st = s->stats();
  EXPECT_LE(st.bytes_on_disk, o.max_size);
  EXPECT_GT(st.dropped_events, 0u);
  EXPECT_EQ(st.dropped_alerts, 0u);
  auto left = s->read(0, 100000, 1 << 30);
  uint64_t kept_alerts = 0, kept_events = 0;
  for (const auto& r : *left) (r.priority == SpoolPriority::alert ? kept_alerts : kept_events)++;
  EXPECT_EQ(kept_alerts, alerts);  // every alert survived
  EXPECT_EQ(kept_events + st.dropped_events, events);
  // The records kept are in seq order with the newest events still there.
  EXPECT_TRUE(std::is_sorted(left->begin(), left->end(), [](auto& a, auto& b) { return a.seq < b.seq; }));
  EXPECT_EQ(left->back().seq, 2000u);

  // When only alerts remain, the oldest alerts go, counted.
  for (int i = 0; i < 1500; ++i) ASSERT_TRUE(s->append(std::string(100, 'A'), SpoolPriority::alert));
  st = s->stats();
  EXPECT_LE(st.bytes_on_disk, o.max_size);
  EXPECT_GT(st.dropped_alerts, 0u);
}

TEST(Spool, RecordLargerThanTheLimitIsRefusedAndCounted) {
  vigil::test::TempDir dir;
  SpoolOptions o;
  o.max_record = 1024;
  auto s = open_spool(dir.path(), o);
  EXPECT_FALSE(s->append(std::string(2000, 'x'), SpoolPriority::event));
  EXPECT_EQ(s->stats().refused_too_large, 1u);
  EXPECT_TRUE(s->append(std::string(1000, 'x'), SpoolPriority::event));
}

// A child process appends and syncs in a loop, telling the parent each synced seq; the parent
// kills it with SIGKILL at a random moment. Every seq reported as synced must be there after.
TEST(Spool, KillNineLosesNothingReportedAsWritten) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 5; ++round) {
    vigil::test::TempDir dir;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto s = Spool::open(dir.path());
      if (!s) _exit(3);
      for (uint64_t i = 0;; ++i) {
        if (!(*s)->append("event-" + std::to_string(i) + std::string(i % 300, 'p'), SpoolPriority::event)) _exit(4);
        if (i % 7 == 0) {
          auto synced = (*s)->sync();
          if (!synced) _exit(5);
          uint64_t v = *synced;
          if (write(fds[1], &v, sizeof(v)) != sizeof(v)) _exit(6);
        }
      }
    }
    close(fds[1]);
    uint64_t last = 0, v = 0;
    // The first sync first (a loaded machine may take longer than the sleep to fork and open),
    // then a random moment to kill it.
    if (read(fds[0], &v, sizeof(v)) == sizeof(v)) last = v;
    usleep(20'000 + rng() % 80'000);
    kill(pid, SIGKILL);
    while (read(fds[0], &v, sizeof(v)) == sizeof(v)) last = v;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    ASSERT_GT(last, 0u);
    auto s = open_spool(dir.path());
    auto all = s->read(0, 10'000'000, 1ULL << 40);
    ASSERT_TRUE(all);
    ASSERT_GE(all->size(), last) << "round " << round;
    for (uint64_t i = 0; i < last; ++i) {
      ASSERT_EQ((*all)[i].seq, i + 1);
      ASSERT_EQ((*all)[i].payload, "event-" + std::to_string(i) + std::string(i % 300, 'p'));
    }
  }
}

}  // namespace
}  // namespace vigil::agent
