// The full-text index of a SQLite store, written beside its writer. The index (event_fts) lives
// in a database file of its own next to the store's (DB-fts, attached to the store's connections
// as `fts`), because SQLite writes one file at a time and tokenizing and indexing events' texts
// was a third of the one writer's time. The writer commits a group of batches' events, hands
// their full-text rows here and goes on with the next group; this thread writes them in a
// transaction of its own, and only once that is durable too are the group's agents answered
// (`then`), so an acknowledged event is both stored and findable.
//
// Each transaction here also records the highest block of bodies (event_blocks.id) whose events'
// rows it holds, in fts_state: the store's writer allocates block ids in ascending order, one
// range per transaction, and hands them here in that order. A crash between the two commits
// leaves events above that mark unindexed (their agents unanswered): the store indexes them again
// from their bodies when it opens (SqliteStore's open, "index_behind").
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"

namespace vigil::collector::fts {

// A new event's full-text row: its folded text and key tokens, under its id.
struct TextRow {
  int64_t id;
  std::string text, keys;
};

// The full-text table and the mark of what it holds, in the schema `schema` of `db`
// (idempotent). The table as the store's migrations made it before the index had its file.
Result<void> create_tables(sqlite3* db, const char* schema);

struct IndexerStats {
  std::atomic<uint64_t> rows{0};          // full-text rows written
  std::atomic<uint64_t> transactions{0};  // their transactions
  std::atomic<uint64_t> waits{0};         // times the writer waited for room in the queue
  std::atomic<uint64_t> failures{0};      // transactions that failed (tried again)
  std::atomic<uint64_t> queued_bytes{0};  // the texts waiting now
  std::atomic<uint64_t> gave_up{0};       // 1 once it stopped writing after failures
};

class Indexer {
 public:
  // The queue's bound in bytes of text; past it the writer waits (and counts it).
  static constexpr size_t kMaxQueuedBytes = size_t{64} << 20;

  // Opens `path` (the index's file, made by the store's open) on a connection of its own. Its
  // commits do not checkpoint: each sets `wal_pages` (the WAL's size in pages) for the store's
  // checkpointer, which copies this file's WAL as it does the store's, off this thread. Should
  // that fall far behind, a commit checkpoints once the WAL passes kSelfCheckpointBytes.
  static Result<std::unique_ptr<Indexer>> open(const std::string& path, bool full_sync, std::atomic<int>* wal_pages);
  static constexpr int64_t kSelfCheckpointBytes = int64_t{64} << 20;
  // Failed attempts at one transaction, a second apart, before the indexer gives up.
  static constexpr int kAttempts = 60;
  // Writes what is queued, then stops.
  ~Indexer();
  Indexer(const Indexer&) = delete;
  Indexer& operator=(const Indexer&) = delete;

  // Waits while the queue is at its bound (counted). The writer asks before its transaction,
  // outside its lock: what runs after the index (`then`) may need that lock.
  void wait_room();
  // Queues one committed transaction's rows, never waiting; `hi_block` is the highest block id
  // that transaction wrote (0: none). `then` (may be empty) runs on this thread once the rows
  // are durable, after everything queued before them.
  void add(std::vector<TextRow> rows, int64_t hi_block, std::function<void()> then);
  // Returns once everything queued before the call is written (or given up at stop).
  void barrier();
  // Rows queued or being written (none once add's callers, who hold the store's writer lock,
  // are held off and the indexer has caught up).
  bool rows_pending();
  const IndexerStats& stats() const { return stats_; }

 private:
  struct Work {
    std::vector<TextRow> rows;
    int64_t hi_block = 0;
    std::function<void()> then;
    size_t bytes = 0;
  };
  explicit Indexer(sqlite3* db, std::atomic<int>* wal_pages) : db_(db), wal_pages_(wal_pages) {}
  void run();
  Result<void> write(std::vector<Work>& work);

  sqlite3* db_;
  std::atomic<int>* wal_pages_;
  int self_checkpoint_pages_ = 4096;
  IndexerStats stats_;
  std::mutex mutex_;
  std::condition_variable wake_, room_;
  std::deque<Work> queue_;
  size_t queued_bytes_ = 0;
  size_t pending_rows_ = 0;  // rows queued or being written
  bool stopping_ = false;
  bool gave_up_ = false;  // the indexer's thread alone: set after kAttempts failures (2 at stop)
  std::thread thread_;
};

}  // namespace vigil::collector::fts
