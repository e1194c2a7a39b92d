#include "collector/store/sqlite/fts_indexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/log/logging.h"

namespace vigil::collector::fts {

namespace {

Result<void> exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return make_error("sqlite: " + msg);
  }
  return {};
}

}  // namespace

Result<void> create_tables(sqlite3* db, const char* schema) {
  return exec(db, fmt::format(
                      "CREATE VIRTUAL TABLE IF NOT EXISTS {0}.event_fts USING fts5(original, keys, content='',"
                      " columnsize=0, tokenize='unicode61 remove_diacritics 2');"
                      "CREATE TABLE IF NOT EXISTS {0}.fts_state(id INTEGER PRIMARY KEY CHECK (id = 1),"
                      " indexed_block INTEGER NOT NULL);"
                      "INSERT OR IGNORE INTO {0}.fts_state(id, indexed_block) VALUES (1, 0);",
                      schema));
}

Result<std::unique_ptr<Indexer>> Indexer::open(const std::string& path, bool full_sync, std::atomic<int>* wal_pages) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string err = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return make_error(fmt::format("cannot open the full-text index {}: {}", path, err));
  }
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma : {full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                             "PRAGMA cache_size=-32768", "PRAGMA wal_autocheckpoint=0"}) {
    if (auto r = exec(db, pragma); !r) {
      sqlite3_close_v2(db);
      return make_error(fmt::format("cannot open the full-text index {}: {}", path, r.error()));
    }
  }
  std::unique_ptr<Indexer> out(new Indexer(db, wal_pages));
  {
    sqlite3_stmt* size = nullptr;
    int64_t page = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &size, nullptr) == SQLITE_OK && sqlite3_step(size) == SQLITE_ROW) {
      page = sqlite3_column_int64(size, 0);
    }
    sqlite3_finalize(size);
    out->self_checkpoint_pages_ = static_cast<int>(kSelfCheckpointBytes / (page > 0 ? page : 4096));
  }
  sqlite3_wal_hook(
      db,
      [](void* p, sqlite3* conn, const char*, int pages) -> int {
        auto* self = static_cast<Indexer*>(p);
        if (self->wal_pages_) *self->wal_pages_ = std::max(self->wal_pages_->load(), pages);
        if (pages >= self->self_checkpoint_pages_) {
          sqlite3_wal_checkpoint_v2(conn, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        }
        return SQLITE_OK;
      },
      out.get());
  out->thread_ = std::thread([p = out.get()] { p->run(); });
  return out;
}

Indexer::~Indexer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  sqlite3_close_v2(db_);
}

void Indexer::wait_room() {
  std::unique_lock lock(mutex_);
  if (queued_bytes_ < kMaxQueuedBytes) return;
  ++stats_.waits;
  room_.wait(lock, [&] { return queued_bytes_ < kMaxQueuedBytes; });
}

void Indexer::add(std::vector<TextRow> rows, int64_t hi_block, std::function<void()> then) {
  Work w{std::move(rows), hi_block, std::move(then), 0};
  for (const auto& r : w.rows) w.bytes += r.text.size() + r.keys.size() + sizeof(TextRow);
  {
    std::lock_guard lock(mutex_);
    queued_bytes_ += w.bytes;
    pending_rows_ += w.rows.size();
    stats_.queued_bytes = queued_bytes_;
    queue_.push_back(std::move(w));
  }
  wake_.notify_one();
}

void Indexer::barrier() {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  add({}, 0, [&] {
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

bool Indexer::rows_pending() {
  std::lock_guard lock(mutex_);
  return pending_rows_ > 0;
}

void Indexer::run() {
  auto log = logging::get("store");
  for (;;) {
    std::vector<Work> work;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued was written
      while (!queue_.empty()) {
        work.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // A failed transaction (a full disk, a lock held past the busy timeout) is tried again every
    // second: its agents wait for their answers meanwhile, and the writer for room (so agents
    // are told to come back). After kAttempts (or twice when stopping) it gives up, and then
    // writes nothing more until the collector starts again; what is queued is still answered
    // (the events are stored) and nothing waits for ever. The mark stays below every unwritten
    // row's block, so the next open indexes them all.
    for (int attempt = 1; !gave_up_; ++attempt) {
      auto r = write(work);
      if (r) break;
      ++stats_.failures;
      log->error("writing the full-text index failed (attempt {}): {}", attempt, r.error());
      std::unique_lock lock(mutex_);
      if (attempt >= kAttempts || (stopping_ && attempt >= 2)) {
        log->error("the full-text index is not written any more: new events are stored, and indexed from their "
                   "bodies when the collector starts again (restart it once the cause above is mended)");
        gave_up_ = true;
        stats_.gave_up = 1;
        break;
      }
      if (!stopping_) wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    }
    size_t bytes = 0, rows = 0;
    for (auto& w : work) {
      bytes += w.bytes;
      rows += w.rows.size();
      if (!w.then) continue;
      try {
        w.then();
      } catch (const std::exception& e) {
        log->error("after the full-text index: {}", e.what());
      }
    }
    {
      std::lock_guard lock(mutex_);
      queued_bytes_ -= bytes;
      pending_rows_ -= rows;
      stats_.queued_bytes = queued_bytes_;
    }
    room_.notify_all();
  }
}

Result<void> Indexer::write(std::vector<Work>& work) {
  // FTS5 writes out what it holds as a new segment whenever a rowid is not above the one before
  // (and when its pending data passes its hash size): the rows of every queued transaction
  // together, in id order, make few segments and few merges later.
  std::vector<const TextRow*> rows;
  int64_t hi_block = 0;
  for (const auto& w : work) {
    for (const auto& r : w.rows) rows.push_back(&r);
    hi_block = std::max(hi_block, w.hi_block);
  }
  if (rows.empty() && hi_block == 0) return {};  // only answers waiting: nothing to commit
  std::sort(rows.begin(), rows.end(), [](const TextRow* a, const TextRow* b) { return a->id < b->id; });
  if (auto r = exec(db_, "BEGIN IMMEDIATE"); !r) return r;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* mark = nullptr;
  auto fail = [&]() -> Result<void> {
    std::string err = sqlite3_errmsg(db_);
    sqlite3_finalize(insert);
    sqlite3_finalize(mark);
    (void)exec(db_, "ROLLBACK");
    return make_error("sqlite: " + err);
  };
  if (sqlite3_prepare_v2(db_, "INSERT INTO event_fts(rowid, original, keys) VALUES (?, ?, ?)", -1, &insert,
                         nullptr) != SQLITE_OK) {
    return fail();
  }
  for (const TextRow* r : rows) {
    sqlite3_bind_int64(insert, 1, r->id);
    sqlite3_bind_text(insert, 2, r->text.data(), static_cast<int>(r->text.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, r->keys.data(), static_cast<int>(r->keys.size()), SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) return fail();
    sqlite3_reset(insert);
  }
  if (sqlite3_prepare_v2(db_, "UPDATE fts_state SET indexed_block = MAX(indexed_block, ?) WHERE id = 1", -1, &mark,
                         nullptr) != SQLITE_OK) {
    return fail();
  }
  sqlite3_bind_int64(mark, 1, hi_block);
  if (sqlite3_step(mark) != SQLITE_DONE) return fail();
  sqlite3_finalize(insert);
  sqlite3_finalize(mark);
  insert = mark = nullptr;
  if (auto r = exec(db_, "COMMIT"); !r) {
    (void)exec(db_, "ROLLBACK");
    return r;
  }
  stats_.rows += rows.size();
  ++stats_.transactions;
  return {};
}

}  // namespace vigil::collector::fts
