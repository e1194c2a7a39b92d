// Group commit: batches from many agents stored together. A writer thread takes every batch that
// is waiting, prepares each (who sent it, its records: off the listener's threads), stores them
// in one call to IngestStore::store_batches (one transaction, one sync on SQLite) and only then
// lets each batch be answered, so an acknowledgement always follows a durable write. Batches
// arriving while a group is written make the next group: under load groups grow by themselves and
// alone a batch waits for no one.
// The queue is bounded in batches and bytes; over the bound a batch is refused at once (the agent
// sends it again) and counted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "collector/store/ingest_store.h"

namespace vigil::collector {

struct GroupCommitOptions {
  size_t max_queued = 4'096;              // batches waiting to be written
  size_t max_queued_bytes = 512ull << 20;  // their bodies together
  size_t max_group = 512;                 // batches in one transaction
  unsigned writers = 1;                   // SQLite: 1; PostgreSQL takes several at once
};

struct GroupCommitStats {
  std::atomic<uint64_t> groups{0};         // transactions written
  std::atomic<uint64_t> batches{0};        // batches stored through them
  std::atomic<uint64_t> largest_group{0};  // batches in the largest one
  std::atomic<uint64_t> refused_full{0};   // refused: the queue was at its bound
  std::atomic<uint64_t> failed{0};         // batches whose write failed (answered 503)
  std::atomic<uint64_t> queued{0};         // waiting now
  // Stored, their answers waiting for the store's durability (IngestStore::after_durable; bounded
  // by what the store holds back: SQLite's full-text indexer's queue).
  std::atomic<uint64_t> awaiting{0};
};

class GroupCommit {
 public:
  struct Job {
    size_t bytes = 0;  // what the job holds, for the queue's byte bound
    // On a writer thread, before the group's transaction: the batch to store, or nullopt when the
    // job was answered already (refused, or nothing to store).
    std::function<std::optional<BatchWrite>()> prepare;
    // After the transaction: what it added, or the error (nothing may be acknowledged). The batch
    // is the one prepare returned.
    std::function<void(const Result<StoredBatch>&, const BatchWrite&)> done;
  };

  GroupCommit(IngestStore& store, GroupCommitOptions options);
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // False when the queue is at its bound or the writers have stopped: the caller answers 503.
  bool submit(Job job);
  // True (and counted as refused) when a job of `bytes` would be refused now: the caller answers
  // 503 without doing the job's work first. False promises nothing; submit decides.
  bool refuses(size_t bytes);
  // Writes what is queued, then stops the writers; later submissions are refused.
  void stop();
  const GroupCommitStats& stats() const { return stats_; }

 private:
  void run();
  void write(std::vector<Job>& jobs);
  bool full_locked(size_t bytes) const;  // mutex_ held

  IngestStore& store_;
  GroupCommitOptions options_;
  GroupCommitStats stats_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> writers_;
};

}  // namespace vigil::collector
