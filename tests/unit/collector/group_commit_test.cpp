// Group commit over a real SQLite store: batches from several threads are all stored, grouped,
// each answered once after its write; a full queue refuses at once; stop writes what waits.
#include "collector/ingest/group_commit.h"

#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "collector/store/store.h"
#include "tests/support/test_support.h"

namespace vigil::collector {
namespace {

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = open_sqlite_store((dir_.path() / "vigil.db").string());
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
    for (int i = 0; i < 4; ++i) {
      AgentRecord a;
      a.id = "agt-" + std::to_string(i);
      a.agency = "A";
      a.host = "h" + std::to_string(i);
      a.cert_serial = "s" + std::to_string(i);
      ASSERT_TRUE(store_->add_agent(a));
    }
  }
  static BatchWrite batch(int agent, uint64_t first_seq, int n) {
    BatchWrite b;
    b.agent_id = "agt-" + std::to_string(agent);
    b.epoch = "e";
    for (int i = 0; i < n; ++i) {
      IncomingRecord r;
      r.seq = first_seq + static_cast<uint64_t>(i);
      r.kind = "event";
      r.dataset = "sshd";
      r.time = Timestamp::now();
      r.json = "{}";
      b.records.push_back(std::move(r));
    }
    return b;
  }
  vigil::test::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(GroupCommitTest, StoresEveryBatchFromManyThreadsAndAnswersEachOnce) {
  GroupCommit commit(*store_, {});
  constexpr int kThreads = 4, kBatches = 50, kRecords = 20;
  std::atomic<uint64_t> answered{0}, stored{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        std::promise<void> done;
        GroupCommit::Job job;
        job.bytes = 100;
        job.prepare = [t, i]() -> std::optional<BatchWrite> {
          return batch(t, static_cast<uint64_t>(i) * kRecords + 1, kRecords);
        };
        job.done = [&](const Result<StoredBatch>& r, const BatchWrite& b) {
          ASSERT_TRUE(r) << r.error();
          EXPECT_EQ(b.records.size(), static_cast<size_t>(kRecords));
          stored += r->records;
          ++answered;
          done.set_value();  // a second answer would throw here
        };
        while (!commit.submit(job)) std::this_thread::yield();
        done.get_future().wait();  // like an agent: the next batch after the answer
      }
    });
  }
  for (auto& t : senders) t.join();
  EXPECT_EQ(answered.load(), static_cast<uint64_t>(kThreads * kBatches));
  EXPECT_EQ(stored.load(), static_cast<uint64_t>(kThreads * kBatches * kRecords));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(store_->counts("agt-" + std::to_string(t))->records, static_cast<uint64_t>(kBatches * kRecords));
  }
  const auto& s = commit.stats();
  EXPECT_EQ(s.batches.load(), static_cast<uint64_t>(kThreads * kBatches));
  EXPECT_LE(s.groups.load(), s.batches.load());
  EXPECT_EQ(s.failed.load(), 0u);
}

TEST_F(GroupCommitTest, AFullQueueRefusesAtOnceAndStopWritesWhatWaits) {
  GroupCommitOptions o;
  o.max_queued = 3;
  GroupCommit commit(*store_, o);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> writing;
  std::atomic<int> answered{0};
  auto job_of = [&](int agent, bool block) {
    GroupCommit::Job job;
    job.bytes = 10;
    job.prepare = [&, agent, block]() -> std::optional<BatchWrite> {
      if (block) {
        writing.set_value();
        released.wait();  // the writer is busy: the queue fills
      }
      return batch(agent, 1, 5);
    };
    job.done = [&](const Result<StoredBatch>& r, const BatchWrite&) {
      EXPECT_TRUE(r);
      ++answered;
    };
    return job;
  };
  ASSERT_TRUE(commit.submit(job_of(0, true)));
  writing.get_future().wait();
  EXPECT_TRUE(commit.submit(job_of(1, false)));
  EXPECT_TRUE(commit.submit(job_of(2, false)));
  EXPECT_FALSE(commit.refuses(10));  // room for one more
  EXPECT_EQ(commit.stats().refused_full.load(), 0u);
  EXPECT_TRUE(commit.submit(job_of(3, false)));
  EXPECT_TRUE(commit.refuses(10));  // asked before the work: refused and counted
  EXPECT_FALSE(commit.submit(job_of(3, false)));  // the bound: refused, not queued
  EXPECT_EQ(commit.stats().refused_full.load(), 2u);
  release.set_value();
  commit.stop();  // the three waiting are written and answered before it returns
  EXPECT_EQ(answered.load(), 4);
  EXPECT_FALSE(commit.submit(job_of(1, false)));  // stopped
  for (int a = 0; a < 4; ++a) EXPECT_EQ(store_->counts("agt-" + std::to_string(a))->records, 5u);
}

}  // namespace
}  // namespace vigil::collector
