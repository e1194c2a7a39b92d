#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <variant>

#include "collector/search/search_sql.h"
#include "collector/store/agent_sql.h"
#include "collector/store/fleet_sql.h"
#include "collector/store/incident_sql.h"
#include "collector/store/system_sql.h"
#include "collector/store/compliance_sql.h"
#include "collector/store/retention_sql.h"
#include "collector/store/triage_sql.h"
#include "collector/store/identity_sql.h"
#include "collector/ingest/batch_parser.h"
#include "collector/store/migrations.h"
#include "collector/store/sqlite/body_blocks.h"
#include "collector/store/sqlite/fts_indexer.h"
#include "common/log/logging.h"
#include "collector/store/store.h"

namespace vigil::collector {

namespace {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) error_ = sqlite3_errmsg(db);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  const std::string& error() const { return error_; }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // Empty means "any" in filters: SQL NULL.
  Stmt& bind_or_null(int i, const std::string& v) { return v.empty() ? bind_null(i) : bind(i, v); }
  // 0 means "absent" for ports and severities: SQL NULL.
  Stmt& bind_nonzero(int i, int64_t v) { return v == 0 ? bind_null(i) : bind(i, v); }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

// The connection interface the store's shared rules use (collector/store/sql_database.h), over
// the store's one connection.
class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  SqlDialect dialect() const override { return SqlDialect::sqlite; }
  Result<SqlRows> run(const char* sql, const SqlParams& params) override {
    Stmt s(db_, sql);
    if (!s.ok()) return make_error("sqlite: " + s.error());
    int i = 1;
    for (const auto& v : params.values()) {
      if (v.kind == SqlParams::Kind::null) {
        s.bind_null(i);
      } else if (v.kind == SqlParams::Kind::text) {
        s.bind(i, v.text);
      } else {
        s.bind(i, v.integer);
      }
      ++i;
    }
    SqlRows out;
    const int columns = sqlite3_column_count(s.get());
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      std::vector<std::optional<std::string>> cells;
      for (int c = 0; c < columns; ++c) {
        if (s.is_null(c)) {
          cells.emplace_back();
        } else {
          cells.emplace_back(s.text(c));
        }
      }
      out.add_row(std::move(cells));
    }
    if (rc != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    out.changed = static_cast<uint64_t>(sqlite3_changes(db_));
    return out;
  }

 private:
  sqlite3* db_;
};

class SqliteStore final : public Store, public SqlAgentStore, public SqlIdentityStore, public SqlComplianceStore,
                          public SqlTriageStore, public SqlRetentionStore, public SqlFleetStore,
                          public SqlIncidentStore, public SqlSystemStore,
                          private SqlDatabase {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override {
    indexer_.reset();  // writes what is queued (its answers may still use the store)
    {
      std::lock_guard lock(checkpoint_mutex_);
      stopping_ = true;
    }
    checkpoint_wake_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    sqlite3_close_v2(checkpoint_db_);
    sqlite3_close_v2(reader_);
    sqlite3_close_v2(db_);
  }

  // Checkpoints (copying the WAL into the database, and its sync) run on a thread and connection
  // of their own every 200 ms, so a commit (and the agents' answers waiting on it) never carries
  // one. Should that fall far behind, the writer checkpoints itself once the WAL holds
  // kWriterCheckpointBytes (4,000 pages of 4 KiB, 1,000 of the 16 KiB a new file has), as
  // SQLite's own auto-checkpoint would at 1,000 pages.
  static constexpr int64_t kWriterCheckpointBytes = int64_t{16} << 20;
  void start_checkpointer(sqlite3* conn) {
    checkpoint_db_ = conn;
    Stmt size(db_, "PRAGMA page_size");
    const int64_t page = size.step() == SQLITE_ROW ? size.integer(0) : 0;
    writer_checkpoint_pages_ = static_cast<int>(kWriterCheckpointBytes / (page > 0 ? page : 4096));
    sqlite3_wal_hook(
        db_,
        [](void* p, sqlite3* db, const char*, int pages) -> int {
          auto* self = static_cast<SqliteStore*>(p);
          self->wal_pages_ = pages;
          if (pages >= self->writer_checkpoint_pages_) {
            sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
          }
          return SQLITE_OK;
        },
        this);
    checkpointer_ = std::thread([this] {
      std::unique_lock lock(checkpoint_mutex_);
      while (!stopping_) {
        checkpoint_wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_; });
        if (stopping_ || wal_pages_.exchange(0) == 0) continue;
        lock.unlock();
        sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        lock.lock();
      }
    });
  }

  Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return make_error("sqlite: " + msg);
    }
    return {};
  }

  // A write transaction holding the store's file's write lock from its start (as BEGIN IMMEDIATE,
  // with the busy timeout), but not the full-text index's: BEGIN IMMEDIATE would take the write
  // lock of every attached database, and the index's own writer would wait for it. A statement
  // here that writes the index takes that lock as it starts.
  Result<void> begin_write() {
    if (auto r = exec("BEGIN"); !r) return r;
    if (auto r = exec("UPDATE search_blocks_from SET id = id WHERE 0"); !r) {
      (void)exec("ROLLBACK");
      return r;
    }
    return {};
  }

  SqlDatabase& database() override { return *this; }

  Result<void> with_connection(const char*, const Work& work) override {
    std::lock_guard lock(mutex_);
    SqliteConnection c(db_);
    return work(c);
  }

  Result<void> in_transaction(const char*, const Work& work) override {
    std::lock_guard lock(mutex_);
    auto r = begin_write();
    if (!r) return r;
    SqliteConnection c(db_);
    r = work(c);
    if (r) r = exec("COMMIT");
    if (!r) (void)exec("ROLLBACK");
    return r;
  }

  Result<int> schema_version() override {
    std::lock_guard lock(mutex_);
    return version_locked();
  }

  Result<int> version_locked() {
    auto r = exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (!r) return make_error(r.error());
    Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!s.ok()) return make_error("sqlite: " + s.error());
    if (s.step() != SQLITE_ROW) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return static_cast<int>(s.integer(0));
  }

  Result<void> migrate() override {
    std::lock_guard lock(mutex_);
    auto v = version_locked();
    if (!v) return make_error(v.error());
    const int latest = static_cast<int>(migrations().size());
    if (*v > latest) {
      return make_error(fmt::format("the database has schema version {} but this collector knows only up to {}: "
                                    "run a newer collector",
                                    *v, latest));
    }
    for (int next = *v + 1; next <= latest; ++next) {
      auto r = exec("BEGIN IMMEDIATE");
      if (!r) return r;
      // Another process may have applied it since the version was read: ask again under the
      // write lock.
      Stmt applied(db_, "SELECT 1 FROM schema_migrations WHERE version = ?");
      applied.bind(1, static_cast<int64_t>(next));
      if (applied.step() == SQLITE_ROW) {
        r = exec("COMMIT");
        if (!r) return r;
        continue;
      }
      r = exec(migrations()[static_cast<size_t>(next - 1)].sqlite);
      if (r) {
        Stmt s(db_, "INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)");
        s.bind(1, static_cast<int64_t>(next)).bind(2, Timestamp::now().ns);
        if (s.step() != SQLITE_DONE) r = make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
      }
      if (!r) {
        (void)exec("ROLLBACK");
        return make_error(fmt::format("migration {} failed: {}", next, r.error()));
      }
      r = exec("COMMIT");
      if (!r) return r;
    }
    Stmt from(db_, "SELECT id FROM search_blocks_from");
    if (from.step() != SQLITE_ROW) return make_error(std::string("sqlite: search_blocks_from: ") + sqlite3_errmsg(db_));
    blocks_from_ = from.integer(0);
    return {};
  }

  // The full-text rows of events (`s`) exactly as ingest gave them to the index (id, folded text,
  // key tokens), read again from their bodies and columns: a contentless index is given back
  // what it took to delete a row, and made again from these. The body is read leniently: a
  // block that cannot be read gives no text (retention still goes on; its words stay as hits
  // whose events are gone, which searches drop). The caller adds "AND ..." and an order.
  static std::string full_text_rows() {
    return std::string("SELECT s.id, CASE WHEN s.has_text & 1 THEN vigil_text(") + search::kSqliteBodyLenient +
           ") ELSE '' END, vigil_keys(s.source_ip, s.destination_ip, s.user_name, s.has_text & 2) FROM events s" +
           search::kSqliteBodyJoins +
           " WHERE (s.has_text & 1 OR s.source_ip IS NOT NULL OR s.destination_ip IS NOT NULL OR s.user_name IS NOT NULL)";
  }

  // The full-text index in its file, attached to the writer's connection as `fts` (after the
  // migrations, which made it in the store's own file before it had one): moved there from the
  // store's file, made again from the events' bodies if its file is missing, and brought up to
  // date with the events a stop left unindexed (fts_indexer.h). Then, for a store in a file,
  // its indexer, on `path` (empty: in memory, the writer indexes in its own transactions).
  Result<void> open_fts(const std::string& path, bool full_sync) {
    std::lock_guard lock(mutex_);
    auto log = logging::get("store");
    auto count = [&](const std::string& sql) -> Result<int64_t> {
      Stmt st(db_, sql.c_str());
      if (!st.ok()) return make_error("sqlite: " + st.error());
      if (st.step() != SQLITE_ROW) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
      return st.integer(0);
    };
    // The rows of every event as ingest indexed them (the same reading as retention's, which
    // gives them back to the index), in id order; `where` narrows the events.
    auto index = [&](const std::string& where) -> Result<int64_t> {
      const std::string sql =
          "INSERT INTO fts.event_fts(rowid, original, keys) " + full_text_rows() + where + " ORDER BY s.id";
      Stmt st(db_, sql.c_str());
      if (!st.ok()) return make_error("sqlite: " + st.error());
      if (auto d = done(st); !d) return make_error(d.error());
      return static_cast<int64_t>(sqlite3_changes(db_));
    };
    auto r = exec("BEGIN IMMEDIATE");
    if (!r) return r;
    auto step = [&]() -> Result<void> {
      // Asked under the write lock: another store may be opening the same file.
      auto in_main = count("SELECT COUNT(*) FROM main.sqlite_master WHERE name = 'event_fts'");
      if (!in_main) return make_error(in_main.error());
      auto in_file = count("SELECT COUNT(*) FROM fts.sqlite_master WHERE name = 'event_fts'");
      if (!in_file) return make_error(in_file.error());
      if (auto c = fts::create_tables(db_, "fts"); !c) return c;
      auto top = count("SELECT COALESCE(MAX(id), 0) FROM event_blocks");
      if (!top) return make_error(top.error());
      auto mark = count("SELECT indexed_block FROM fts.fts_state");
      if (!mark) return make_error(mark.error());
      int64_t n = 0;
      if (*in_main > 0 || *in_file == 0) {
        if (auto e = exec("INSERT INTO fts.event_fts(event_fts) VALUES ('delete-all')"); !e) return e;
        auto i = index("");
        if (!i) return make_error(i.error());
        n = *i;
        if (*in_main > 0) {
          if (auto e = exec("DROP TABLE main.event_fts"); !e) return e;
          if (n > 0) log->info("the full-text index moved into a file of its own ({}): {} events indexed", path, n);
        } else if (n > 0) {
          log->warn("the full-text index was missing ({}): made again from {} events' bodies", path, n);
        }
      } else if (*top > *mark) {
        auto i = index(" AND s.body_at >= " + std::to_string((*mark + 1) << body_blocks::kSlotBits));
        if (!i) return make_error(i.error());
        n = *i;
        log->warn("{} events stored before the last stop were not in the full-text index yet: indexed now", n);
      }
      Stmt set(db_, "UPDATE fts.fts_state SET indexed_block = ?1");
      set.bind(1, *top);
      return done(set);
    };
    if (auto e = step(); !e) {
      (void)exec("ROLLBACK");
      return make_error("the full-text index: " + e.error());
    }
    if (r = exec("COMMIT"); !r) {
      (void)exec("ROLLBACK");
      return r;
    }
    if (!path.empty()) {
      Stmt top(db_, "SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM event_blocks), (SELECT indexed_block FROM fts.fts_state))");
      if (top.step() != SQLITE_ROW) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
      block_floor_ = top.integer(0);
      auto indexer = fts::Indexer::open(path, full_sync, &wal_pages_);
      if (!indexer) return make_error(indexer.error());
      indexer_ = std::move(*indexer);
    }
    return {};
  }
  std::string metrics_text() const override {
    if (!indexer_) return {};
    const auto& st = indexer_->stats();
    std::string m;
    auto metric = [&](const char* name, const char* type, const char* help, uint64_t v) {
      m += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, v);
    };
    metric("vigil_fts_rows_total", "counter", "Full-text rows the index's own writer wrote.", st.rows.load());
    metric("vigil_fts_transactions_total", "counter", "Transactions of the full-text index's writer.",
           st.transactions.load());
    metric("vigil_fts_failures_total", "counter", "Full-text index transactions that failed (tried again).",
           st.failures.load());
    metric("vigil_fts_waits_total", "counter",
           "Times the store's writer waited for the full-text index (its queue at its bound).", st.waits.load());
    metric("vigil_fts_queued_bytes", "gauge", "Text waiting for the full-text index.", st.queued_bytes.load());
    metric("vigil_fts_stopped", "gauge",
           "1 once the full-text index stopped being written after failures (new events indexed at the next start).",
           st.gave_up.load());
    return m;
  }

  // `work` in one write transaction (mutex_ held): committed when it succeeds, rolled back when
  // not; `committed` runs after a commit, still under the lock.
  template <typename T, typename F>
  Result<T> write_transaction(F&& work, const std::function<void()>& committed = {}) {
    std::lock_guard lock(mutex_);
    auto r = begin_write();
    if (!r) return make_error(r.error());
    Result<T> out = work();
    if (out) r = exec("COMMIT");
    if (!out || !r) {
      (void)exec("ROLLBACK");
      if (out) return make_error(r.error());
      return out;
    }
    if (committed) committed();
    return out;
  }

  // A write transaction of new events: their full-text rows go to the indexer once it commits
  // (in commit order: handed over under the lock), or into the index inside it when the store
  // has no indexer (in memory).
  template <typename T, typename F>
  Result<T> events_transaction(F&& work) {
    if (indexer_) {
      std::unique_lock gate(gate_mutex_);
      gate_cv_.wait(gate, [&] { return !gate_closed_; });
      gate.unlock();
      indexer_->wait_room();
    }
    std::vector<TextRow> texts;
    int64_t hi_block = 0;
    return write_transaction<T>(
        [&]() -> Result<T> {
          auto out = work(texts, hi_block);
          if (out && !indexer_) {
            if (auto t = insert_texts_locked(texts); !t) return make_error(t.error());
          }
          return out;
        },
        [&] {
          if (indexer_ && (!texts.empty() || hi_block > 0)) indexer_->add(std::move(texts), hi_block, {});
        });
  }

  Result<uint64_t> store_batch(const std::string& agent_id, const std::string& epoch,
                               const std::vector<IncomingRecord>& records) override {
    auto added = events_transaction<uint64_t>([&](std::vector<TextRow>& texts, int64_t& hi_block) {
      return insert_records_locked(agent_id, epoch, records, Timestamp::now(), texts, hi_block);
    });
    if (added) wait_durable();  // searchable when this returns
    return added;
  }

  void after_durable(std::function<void()> then) override {
    if (indexer_) {
      indexer_->add({}, 0, std::move(then));
    } else {
      then();
    }
  }
  void wait_durable() override {
    if (indexer_) indexer_->barrier();
  }

  // Group commit: every batch's quarantined records, records and the agent's last contact in one
  // transaction, so one sync covers them all.
  Result<std::vector<StoredBatch>> store_batches(const std::vector<BatchWrite>& batches, Timestamp received) override {
    using Out = std::vector<StoredBatch>;
    return events_transaction<Out>([&](std::vector<TextRow>& texts, int64_t& hi_block) -> Result<Out> {
      Out out;
      out.reserve(batches.size());
      Stmt touch(db_, "UPDATE agents SET last_seen = ?1 WHERE id = ?2 AND last_seen < ?1");
      // Without an indexer the group's rows go into the index here, at most kPendingTextBytes at
      // a time, each time in one id order.
      size_t text_bytes = 0;
      for (const auto& b : batches) {
        StoredBatch done;
        if (!b.quarantined.empty()) {
          auto q = quarantine_locked(b.agent_id, b.quarantined, received);
          if (!q) return make_error(q.error());
          done.quarantined = *q;
        }
        if (!b.records.empty()) {
          const size_t before = texts.size();
          auto added = insert_records_locked(b.agent_id, b.epoch, b.records, received, texts, hi_block);
          if (!added) return make_error(added.error());
          done.records = *added;
          for (size_t i = before; i < texts.size(); ++i) text_bytes += texts[i].text.size() + texts[i].keys.size();
          if (!indexer_ && text_bytes >= kPendingTextBytes) {
            if (auto t = insert_texts_locked(texts); !t) return make_error(t.error());
            texts.clear();
            text_bytes = 0;
          }
        }
        if (!b.records.empty() || !b.quarantined.empty()) {
          touch.bind(1, received.ns).bind(2, b.agent_id);
          if (touch.step() != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
          touch.reset();
        }
        out.push_back(done);
      }
      return out;
    });
  }

  using TextRow = fts::TextRow;

  // The full-text rows of a transaction, in id order (mutex_ held), for a store without an
  // indexer. FTS5 writes out what it holds as a new segment whenever an id is not above the one
  // before (and whenever its pending data passes 1 MiB), so rows in batch order (a group's
  // batches interleave in time: each agent's events are in their own order) would cost a
  // segment at every batch, and merges later. A group's rows are held up to kPendingTextBytes,
  // then sorted and written.
  static constexpr size_t kPendingTextBytes = size_t{16} << 20;
  Result<void> insert_texts_locked(std::vector<TextRow>& texts) {
    Stmt& t = cached(fts_insert_, "INSERT INTO event_fts(rowid, original, keys) VALUES (?, ?, ?)");
    std::sort(texts.begin(), texts.end(), [](const TextRow& lhs, const TextRow& rhs) { return lhs.id < rhs.id; });
    for (const auto& [id, text, keys] : texts) {
      t.bind(1, id).bind(2, text).bind(3, keys);
      if (t.step() != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
      t.reset();
    }
    return {};
  }

  // What the writer stores of a record besides what it carries: its body's block and slot, its
  // search row and its full-text row's key tokens. Made by pack on ingest's thread, or by the
  // writer for records that were not.
  struct Prepared {
    body_blocks::Ref body;
    search::IndexRow row;
    std::string keys;
  };
  static std::vector<Prepared> prepare(const std::vector<IncomingRecord>& records) {
    auto refs = body_blocks::pack(records);
    std::vector<Prepared> out(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      out[i].body = std::move(refs[i]);
      out[i].row = search::index_row(records[i].search);
      out[i].keys = search::sqlite_keys(out[i].row.source_ip, out[i].row.destination_ip, out[i].row.user_name, true);
    }
    return out;
  }
  // Prepared records let go of their full text (the prepared row holds it folded): a queued
  // batch holds it once.
  void pack(std::vector<IncomingRecord>& records) const override {
    auto prepared = prepare(records);
    for (size_t i = 0; i < records.size(); ++i) {
      if (!prepared[i].body.block) continue;
      records[i].prepared = std::make_shared<const Prepared>(std::move(prepared[i]));
      std::string().swap(records[i].search.text);
    }
  }
  // The SQL here and in search (search::kSqliteBody, migration 20) reads body_at's slot as its
  // low 16 bits.
  static_assert(body_blocks::kSlotBits == 16 && body_blocks::kBlockRecords <= 65536);

  // A block of bodies into event_blocks (mutex_ held), with how many events rows point at it.
  Result<void> insert_block_locked(int64_t id, const std::string& data, int64_t live) {
    Stmt& k = cached(block_insert_, "INSERT INTO event_blocks(id, live, data) VALUES (?, ?, ?)");
    k.bind(1, id).bind(2, live);
    sqlite3_bind_blob(k.get(), 3, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
    const int rc = k.step();
    k.reset();
    if (rc != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return {};
  }

  // A batch's records inside the caller's transaction (mutex_ held); an error leaves the rollback
  // to the caller. Each new event is a row of events (keyed by its time-ordered id, so rows
  // append) that points at its body in a block of the batch's bodies (body_blocks.h), and a
  // full-text row of its text and key tokens. Records the caller did not pack are packed here.
  Result<uint64_t> insert_records_locked(const std::string& agent_id, const std::string& epoch,
                                         const std::vector<IncomingRecord>& records, Timestamp received,
                                         std::vector<TextRow>& texts, int64_t& hi_block) {
    // A record stored already (same agent, epoch and seq) is a redelivery: nothing changes. An id
    // taken (many events in one millisecond, or one stored before a restart) is not: it fails
    // on the primary key and takes the next counter value.
    Stmt& x = cached(event_insert_,
                     "INSERT INTO events(agent_id, epoch, seq, ts, kind, dataset, host_name, source_ip, source_port,"
                     " destination_ip, destination_port, user_name, event_action, event_outcome, rule_id, severity,"
                     " has_text, body_at, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                     " ON CONFLICT(agent_id, epoch, seq) DO NOTHING");
    Stmt& a = cached(alert_insert_,
                     "INSERT INTO alerts(agent_id, epoch, seq, rule_id, rule_name, severity, ts, source_ip, source_key,"
                     " source_port, destination_ip, destination_port, user_name, rule_name_vi)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    uint64_t added = 0;
    auto fail = [&]() { return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_)); };
    std::vector<Prepared> local;  // when the caller did not pack
    if (std::any_of(records.begin(), records.end(), [](const IncomingRecord& r) { return !r.prepared; })) {
      local = prepare(records);
      if (std::any_of(local.begin(), local.end(), [](const Prepared& p) { return !p.body.block; })) {
        return make_error("cannot compress the batch's event bodies");
      }
    }
    // The batch's blocks: each one's data, id (numbered from the table's highest, read in this
    // write transaction, so another writer of the file before it never collides) and how many
    // new events point at it; written after the records (a block whose records were all stored
    // before is not: its id is skipped).
    struct Block {
      const std::string* data;
      int64_t id;
      int64_t live;
    };
    std::vector<Block> blocks;
    int64_t next_block = 0;
    {
      Stmt& last = cached(next_block_, "SELECT COALESCE(MAX(id), 0) + 1 FROM event_blocks");
      if (last.step() != SQLITE_ROW) return fail();
      // Above any block id this process gave out or the index's mark covers: retention may have
      // removed the newest blocks, and an id given again at or below the mark would not be
      // indexed again after a stop between the two commits.
      next_block = std::max(last.integer(0), block_floor_ + 1);
      last.reset();
    }
    for (size_t i = 0; i < records.size(); ++i) {
      const IncomingRecord& rec = records[i];
      const Prepared& p = local.empty() ? *static_cast<const Prepared*>(rec.prepared.get()) : local[i];
      const search::IndexRow& row = p.row;
      const std::string* data = p.body.block.get();
      const uint32_t slot = p.body.slot;
      // A batch has a few blocks (one per 64 records and retention class): the last one first.
      auto block = std::find_if(blocks.rbegin(), blocks.rend(), [&](const Block& b) { return b.data == data; });
      if (block == blocks.rend()) {
        blocks.push_back(Block{data, next_block++, 0});
        block = blocks.rbegin();
      }
      x.bind(1, agent_id).bind(2, epoch).bind(3, static_cast<int64_t>(rec.seq)).bind(4, rec.time.ns);
      x.bind(5, rec.kind).bind(6, rec.dataset).bind_or_null(7, row.host_name).bind_or_null(8, row.source_ip);
      x.bind_nonzero(9, row.source_port).bind_or_null(10, row.destination_ip);
      x.bind_nonzero(11, row.destination_port).bind_or_null(12, row.user_name).bind_or_null(13, row.event_action);
      x.bind_or_null(14, row.event_outcome).bind_or_null(15, row.rule_id);
      // has_text: bit 1 the text is in the full-text table, bit 2 the address blocks are (always
      // from schema 19 on; rows stored before have not).
      x.bind_nonzero(16, row.severity).bind(17, int64_t{row.text.empty() ? 2 : 3});
      x.bind(18, block->id << body_blocks::kSlotBits | slot);
      // The id's time is the event's, or its arrival's when the event's cannot be an id's (none,
      // before 1970, after 2109): such events do not all crowd one millisecond.
      const Timestamp id_time =
          rec.time.ns > 0 && rec.time.ns / 1'000'000 <= search::kIdMaxMillis ? rec.time : received;
      int64_t id = search::sqlite_id(id_time, id_counter_++);
      for (int attempt = 0;; ++attempt) {
        x.bind(19, id);
        int rc = x.step();
        sqlite3_reset(x.get());
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_CONSTRAINT || attempt == 64) return fail();
        // Taken (ids stored before a restart, or a crowded millisecond): past the run of ids
        // taken from there, into the next millisecond if this one is full.
        Stmt& next = cached(next_id_, "SELECT COALESCE(MAX(id), ?1) + 1 FROM events WHERE id >= ?1 AND id < ?1 + 4194304");
        next.bind(1, id);
        if (next.step() != SQLITE_ROW) return fail();
        id = next.integer(0);
        next.reset();
      }
      x.reset();
      if (sqlite3_changes(db_) == 0) continue;  // stored already
      ++added;
      ++block->live;
      if (rec.check) {
        SqliteConnection conn(db_);
        auto c = store_compliance_result(conn, agent_id, rec);
        if (!c) return make_error(c.error());
      }
      if (rec.kind == "alert") {
        const Entity& e = rec.search.entity;
        a.bind(1, agent_id).bind(2, epoch).bind(3, static_cast<int64_t>(rec.seq)).bind(4, rec.rule_id);
        a.bind(5, rec.rule_name).bind(6, static_cast<int64_t>(rec.severity)).bind(7, rec.time.ns);
        a.bind(8, row.source_ip.empty() ? std::string() : e.source_ip).bind_or_null(9, row.source_ip);
        a.bind(10, e.source_port).bind(11, row.destination_ip.empty() ? std::string() : e.destination_ip);
        a.bind(12, e.destination_port).bind(13, e.user_name).bind(14, rec.rule_name_vi);
        if (a.step() != SQLITE_DONE) return fail();
        a.reset();
      }
      if (!row.text.empty() || !p.keys.empty()) texts.push_back(TextRow{id, row.text, p.keys});
    }
    for (const auto& b : blocks) {
      if (b.live == 0) continue;
      if (auto w = insert_block_locked(b.id, *b.data, b.live); !w) return make_error(w.error());
      hi_block = std::max(hi_block, b.id);
    }
    block_floor_ = std::max(block_floor_, next_block - 1);
    return added;
  }

  // A statement of the write path prepared once (mutex_ held).
  Stmt& cached(std::unique_ptr<Stmt>& slot, const char* sql) {
    if (!slot) slot = std::make_unique<Stmt>(db_, sql);
    return *slot;
  }

  Result<StoredCounts> counts(const std::string& agent_id) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT (SELECT COUNT(*) FROM events WHERE agent_id = ?1),"
           " (SELECT COUNT(*) FROM alerts WHERE agent_id = ?1)");
    s.bind(1, agent_id);
    if (s.step() != SQLITE_ROW) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return StoredCounts{static_cast<uint64_t>(s.integer(0)), static_cast<uint64_t>(s.integer(1))};
  }

  Result<uint64_t> quarantine(const std::string& agent_id, const std::vector<QuarantinedRecord>& records,
                              Timestamp received) override {
    return write_transaction<uint64_t>([&] { return quarantine_locked(agent_id, records, received); });
  }

  // Inside the caller's transaction (mutex_ held).
  Result<uint64_t> quarantine_locked(const std::string& agent_id, const std::vector<QuarantinedRecord>& records,
                                     Timestamp received) {
    Stmt s(db_,
           "INSERT OR IGNORE INTO quarantined(agent_id, epoch, seq, line, reason, body, received_at)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)");
    uint64_t added = 0;
    for (const auto& q : records) {
      s.bind(1, agent_id).bind(2, q.epoch);
      s.bind(3, q.seq ? static_cast<int64_t>(*q.seq) : int64_t{-1});
      s.bind(4, static_cast<int64_t>(q.line)).bind(5, q.reason).bind(6, q.body).bind(7, received.ns);
      if (s.step() != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
      added += sqlite3_changes(db_) > 0 ? 1 : 0;
      s.reset();
    }
    return added;
  }

  Result<uint64_t> count_quarantined() override {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT COUNT(*) FROM quarantined");
    if (s.step() != SQLITE_ROW) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return static_cast<uint64_t>(s.integer(0));
  }

  Result<std::vector<QuarantinedRecord>> list_quarantined(const std::string& agent_id, int64_t before_id,
                                                          int limit) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT id, agent_id, epoch, seq, line, reason, body, received_at FROM quarantined"
           " WHERE (?1 IS NULL OR agent_id = ?1) AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3");
    s.bind_or_null(1, agent_id).bind(2, before_id).bind(3, static_cast<int64_t>(std::clamp(limit, 1, 1000)));
    std::vector<QuarantinedRecord> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      QuarantinedRecord q;
      q.id = s.integer(0);
      q.agent_id = s.text(1);
      q.epoch = s.text(2);
      if (s.integer(3) >= 0) q.seq = static_cast<uint64_t>(s.integer(3));
      q.line = static_cast<size_t>(s.integer(4));
      q.reason = s.text(5);
      q.body = s.text(6);
      q.received = Timestamp{s.integer(7)};
      out.push_back(std::move(q));
    }
    if (rc != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return out;
  }

  Result<PurgeCounts> purge(const PurgeRequest& req) override {
    PurgeCounts out;
    const uint64_t unreadable_before = writer_bodies_ ? writer_bodies_->unreadable() : 0;
    const int64_t chunk = std::clamp(req.chunk_rows, 1, 1'000'000);
    // Runs `step` (one chunk, in its own transaction, under the lock) until a chunk comes back
    // short or the caller cancels; the lock is let go between chunks so ingest gets its turn.
    auto drain = [&](uint64_t& counter, auto&& step) -> Result<void> {
      while (!(req.cancelled && req.cancelled())) {
        // Rows on their way to the full-text index must be in it before retention may take
        // them out (a contentless index told to delete a row it does not hold keeps ghosts).
        // New events wait at the gate for the chunk; the indexer is waited for outside the
        // lock (what runs after it may take the lock), again if a writer was already past it.
        struct Gate {
          SqliteStore& s;
          explicit Gate(SqliteStore& store) : s(store) {
            std::lock_guard g(s.gate_mutex_);
            s.gate_closed_ = true;
          }
          ~Gate() {
            {
              std::lock_guard g(s.gate_mutex_);
              s.gate_closed_ = false;
            }
            s.gate_cv_.notify_all();
          }
        };
        std::optional<Gate> gate;
        if (indexer_) gate.emplace(*this);
        std::unique_lock lock(mutex_);
        for (int tries = 0; indexer_ && indexer_->rows_pending(); ++tries) {
          if (tries == 100) return make_error("retention: the full-text index does not catch up with ingest");
          lock.unlock();
          indexer_->barrier();
          lock.lock();
        }
        auto r = begin_write();
        if (!r) return r;
        auto n = step();
        if (!n) {
          (void)exec("ROLLBACK");
          return make_error(n.error());
        }
        r = exec("COMMIT");
        if (!r) {
          (void)exec("ROLLBACK");
          return r;
        }
        counter += static_cast<uint64_t>(*n);
        if (*n < chunk) break;
      }
      return {};
    };
    // A statement that deletes at most `chunk` rows older than `before`; returns how many.
    auto deleter = [&](const char* sql, Timestamp before) {
      return [this, sql, before, chunk]() -> Result<int64_t> {
        Stmt s(db_, sql);
        s.bind(1, before.ns).bind(2, chunk);
        if (auto d = done(s); !d) return make_error(d.error());
        return static_cast<int64_t>(sqlite3_changes(db_));
      };
    };

    // The events whose ids temp.doomed holds go: their full-text rows (a contentless index's row
    // is taken out by giving back what it was given: the folded text, read again from the body as
    // ingest read it, and the key tokens from the row's columns), bodies and rows. A block of
    // bodies goes with the last events row that points at it (its live count).
    auto purge_doomed = [&]() -> Result<int64_t> {
      static const std::string kSteps[] = {
          // The texts read in the order of their blocks (ids interleave many agents' batches, so
          // in id order nearly every body would be a block decompressed again), then given back
          // to the index in id order (FTS5 writes out what it holds whenever a rowid goes back).
          "INSERT INTO temp.doomed_text(id, original, keys) " + full_text_rows() +
              " AND s.id IN (SELECT id FROM temp.doomed) ORDER BY s.body_at",
          "INSERT INTO event_fts(event_fts, rowid, original, keys) SELECT 'delete', id, original, keys"
          " FROM temp.doomed_text ORDER BY id",
          "DELETE FROM temp.doomed_text",  // empty again for the next chunk (a rollback empties it too)
          "UPDATE event_blocks SET live = live - d.n FROM (SELECT body_at >> 16 AS block, COUNT(*) AS n FROM events"
          " WHERE id IN (SELECT id FROM temp.doomed) AND body_at IS NOT NULL GROUP BY 1) d WHERE event_blocks.id = d.block",
          "DELETE FROM event_blocks WHERE live <= 0 AND id IN (SELECT body_at >> 16 FROM events"
          " WHERE id IN (SELECT id FROM temp.doomed) AND body_at IS NOT NULL)",
          "DELETE FROM event_bodies WHERE id IN (SELECT id FROM temp.doomed)",
          "DELETE FROM events WHERE id IN (SELECT id FROM temp.doomed)",
      };
      int64_t n = 0;
      for (const auto& sql : kSteps) {
        Stmt st(db_, sql.c_str());
        if (auto d = done(st); !d) return make_error(d.error());
        n = sqlite3_changes(db_);
      }
      if (auto r = exec("DELETE FROM temp.doomed"); !r) return make_error(r.error());
      return n;
    };
    {
      std::lock_guard lock(mutex_);
      if (auto r = exec("CREATE TEMP TABLE IF NOT EXISTS doomed(id INTEGER PRIMARY KEY)"); !r) return make_error(r.error());
      if (auto r = exec("CREATE TEMP TABLE IF NOT EXISTS doomed_text(id INTEGER PRIMARY KEY, original TEXT, keys TEXT)"); !r) {
        return make_error(r.error());
      }
      if (auto r = exec("DELETE FROM temp.doomed"); !r) return make_error(r.error());
    }

    if (req.alerts_before.ns > 0) {
      // The same chunk (oldest first, ties by id) three times within one write transaction:
      // history first (it refers to the alert), then the alert's own record, then the alert.
      auto step = [&]() -> Result<int64_t> {
        constexpr const char* kDoomed = "SELECT id FROM alerts WHERE ts < ?1 ORDER BY ts, id LIMIT ?2";
        static const std::string history = std::string("DELETE FROM alert_history WHERE alert_id IN (") + kDoomed + ")";
        static const std::string records =
            "INSERT OR IGNORE INTO temp.doomed(id) SELECT e.id FROM alerts a JOIN events e ON e.agent_id = a.agent_id"
            " AND e.epoch = a.epoch AND e.seq = a.seq WHERE a.id IN (" + std::string(kDoomed) + ")";
        static const std::string alerts = std::string("DELETE FROM alerts WHERE id IN (") + kDoomed + ")";
        auto h = deleter(history.c_str(), req.alerts_before)();
        if (!h) return h;
        out.alert_history += static_cast<uint64_t>(*h);
        if (auto r = deleter(records.c_str(), req.alerts_before)(); !r) return r;
        if (auto r = purge_doomed(); !r) return r;
        return deleter(alerts.c_str(), req.alerts_before)();
      };
      if (auto r = drain(out.alerts, step); !r) return make_error(r.error());
    }

    // Events by id, which is their time: what is older than its cutoff and not an alert's record
    // (that goes with its alert). Health records (metric) have their own cutoff and a partial
    // index of their own (a few per agent a minute). A cursor walks the ids, so the rows kept
    // below a cutoff are read once per purge, not once per chunk.
    auto purge_events = [&](bool health, Timestamp before, uint64_t& counter) -> Result<void> {
      if (before.ns <= 0) return {};
      int64_t cursor = -1;
      const int64_t cut = search::sqlite_first_id(before);
      auto step = [&]() -> Result<int64_t> {
        Stmt pick(db_, health ? "INSERT INTO temp.doomed(id) SELECT id FROM events INDEXED BY events_metric"
                                " WHERE kind = 'metric' AND id > ?1 AND id < ?2 ORDER BY id LIMIT ?3"
                              : "INSERT INTO temp.doomed(id) SELECT id FROM events WHERE id > ?1 AND id < ?2"
                                " AND kind NOT IN ('alert', 'metric') ORDER BY id LIMIT ?3");
        pick.bind(1, cursor).bind(2, cut).bind(3, chunk);
        if (auto d = done(pick); !d) return make_error(d.error());
        Stmt last(db_, "SELECT COALESCE(MAX(id), -1) FROM temp.doomed");
        if (last.step() != SQLITE_ROW) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
        cursor = std::max(cursor, last.integer(0));
        return purge_doomed();
      };
      return drain(counter, step);
    };
    if (auto r = purge_events(false, req.events_before, out.events); !r) return make_error(r.error());
    if (auto r = purge_events(true, req.health_before, out.health); !r) return make_error(r.error());

    if (req.compliance_history_before.ns > 0) {
      // A change goes once a later change of the same check is older than the cutoff too: the
      // result each check had when the retained period begins stays, so the history still
      // answers "what was the result at any time since".
      auto step = deleter(
          "DELETE FROM compliance_history WHERE rowid IN (SELECT h.rowid FROM compliance_history h WHERE h.ts < ?1"
          " AND EXISTS (SELECT 1 FROM compliance_history n WHERE n.agent_id = h.agent_id AND n.policy = h.policy"
          " AND n.check_id = h.check_id AND n.ts > h.ts AND n.ts < ?1) LIMIT ?2)",
          req.compliance_history_before);
      if (auto r = drain(out.compliance_history, step); !r) return make_error(r.error());
    }

    if (req.audit_before.ns > 0) {
      auto step = deleter("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts < ?1 LIMIT ?2)",
                          req.audit_before);
      if (auto r = drain(out.audit, step); !r) return make_error(r.error());
    }
    if (req.events_before.ns > 0) {
      auto step = deleter(
          "DELETE FROM quarantined WHERE id IN (SELECT id FROM quarantined WHERE received_at < ?1 LIMIT ?2)",
          req.events_before);
      if (auto r = drain(out.quarantined, step); !r) return make_error(r.error());
    }
    if (writer_bodies_) out.unreadable_bodies = writer_bodies_->unreadable() - unreadable_before;
    return out;
  }

  Result<std::vector<AlertRecord>> list_alerts(const AlertFilter& f) override {
    std::lock_guard lock(mutex_);
    Stmt* s = alert_query(f, true);
    if (!s->ok()) return make_error("sqlite: " + s->error());
    bind_filter(*s, f);
    s->bind(9, f.before_id).bind(10, static_cast<int64_t>(std::clamp(f.limit, 1, 10000)));
    std::vector<AlertRecord> out;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) out.push_back(alert_row(*s, false));
    s->reset();
    if (rc != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return out;
  }

  Result<EventPage> search_events(const EventQuery& q) override {
    // Searches read on their own connection (WAL: readers never wait for the writer, nor it for
    // them), one at a time; an in-memory database has only the one.
    sqlite3* db = reader_ ? reader_ : db_;
    std::unique_lock lock(reader_ ? reader_mutex_ : mutex_);
    auto fail = [&](const char* what) {
      return make_error(fmt::format("sqlite: {}: {}", what, sqlite3_errmsg(db)));
    };
    // The cost cap: virtual machine steps, counted by the progress handler, across the statements,
    // and the bodies decompressed from their blocks (a miss of the block reader's cache), a step
    // per kBodyBytesPerStep bytes: a 16 KiB block costs about what 2,000 steps do.
    const body_blocks::Reader* bodies = reader_ ? reader_bodies_ : writer_bodies_;
    struct Budget {
      int64_t left;
      const body_blocks::Reader* bodies;
      uint64_t decoded_before;
    } budget{(q.max_sqlite_steps > 0 ? q.max_sqlite_steps : kSearchMaxSqliteSteps) / 1000, bodies,
             bodies ? bodies->decoded_bytes() : 0};
    sqlite3_progress_handler(
        db, 1000,
        [](void* p) {
          auto* b = static_cast<Budget*>(p);
          const int64_t decoded =
              b->bodies ? static_cast<int64_t>(b->bodies->decoded_bytes() - b->decoded_before) : 0;
          return --b->left - decoded / (kBodyBytesPerStep * 1000) < 0 ? 1 : 0;
        },
        &budget);
    struct Reset {
      sqlite3* db;
      ~Reset() {
        sqlite3_progress_handler(db, 0, nullptr, nullptr);
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      }
    } reset{db};
    if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("begin");
    EventPage page;
    // Address blocks are read by their tokens when every event of the window has them.
    const auto statements = search::search_statements(
        q, search::Dialect::sqlite, search::sqlite_first_id(q.since) >= blocks_from_.load(std::memory_order_relaxed));
    auto refused = [&](int rc) {
      if (rc != SQLITE_INTERRUPT) return false;
      page = EventPage{};
      page.refused = "the search needs more work than one search may do: narrow the time window or add a field";
      return true;
    };
    auto bind_all = [](Stmt& st, const std::vector<search::SqlParam>& params) {
      for (size_t i = 0; i < params.size(); ++i) {
        if (params[i].is_text) {
          st.bind(static_cast<int>(i + 1), params[i].text);
        } else {
          st.bind(static_cast<int>(i + 1), params[i].number);
        }
      }
    };
    {
      Stmt st(db, statements.hits.sql.c_str());
      if (!st.ok()) return make_error("sqlite: search: " + st.error());
      bind_all(st, statements.hits.params);
      const size_t limit = static_cast<size_t>(std::clamp(q.limit, 1, 1000));
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) {
        if (page.hits.size() == limit) {
          page.more = true;
          break;
        }
        page.hits.push_back({st.integer(0), Timestamp{st.integer(1)}, st.text(2), st.text(3), st.text(4), st.text(5)});
      }
      if (refused(rc)) return page;
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail("search");
    }
    if (!statements.histogram.sql.empty()) {
      Stmt st(db, statements.histogram.sql.c_str());
      if (!st.ok()) return make_error("sqlite: histogram: " + st.error());
      bind_all(st, statements.histogram.params);
      page.histogram.assign(static_cast<size_t>(q.buckets), 0);
      page.bucket_ns = statements.bucket_ns;
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) {
        int64_t b = st.integer(0);
        if (b >= 0 && b < q.buckets) page.histogram[static_cast<size_t>(b)] += static_cast<uint64_t>(st.integer(1));
      }
      if (refused(rc)) return page;
      if (rc != SQLITE_DONE) return fail("histogram");
    }
    return page;
  }

  // The connection searches read on (the store owns it from here).
  void set_reader(sqlite3* reader, const body_blocks::Reader* bodies) {
    reader_ = reader;
    reader_bodies_ = bodies;
  }
  void set_writer_bodies(const body_blocks::Reader* bodies) { writer_bodies_ = bodies; }

  Result<uint64_t> count_alerts(const AlertFilter& f) override {
    std::lock_guard lock(mutex_);
    Stmt* s = alert_query(f, false);
    if (!s->ok()) return make_error("sqlite: " + s->error());
    bind_filter(*s, f);
    int rc = s->step();
    uint64_t n = rc == SQLITE_ROW ? static_cast<uint64_t>(s->integer(0)) : 0;
    s->reset();
    if (rc != SQLITE_ROW) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return n;
  }

  Result<std::optional<AlertRecord>> get_alert(int64_t id) override {
    std::lock_guard lock(mutex_);
    static const std::string sql = alert_select() + " WHERE a.id = ?";
    Stmt s(db_, sql.c_str());
    s.bind(1, id);
    int rc = s.step();
    if (rc == SQLITE_ROW) return std::optional<AlertRecord>(alert_row(s, true));
    if (rc == SQLITE_DONE) return std::optional<AlertRecord>();
    return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }


 private:
  // The list (or count) query for the filters `f` uses, prepared once per combination: a
  // filter not in use is not in the SQL, so the planner can take the index that serves the
  // ones that are. Parameters keep their numbers (?1..?10) whichever are present; binding one
  // the statement does not use is harmless.
  Stmt* alert_query(const AlertFilter& f, bool list) {
    unsigned mask = (f.min_severity > 0 ? 1u : 0u) | (f.status.empty() ? 0u : 2u) | (f.agency.empty() ? 0u : 4u) |
                    (f.agent_id.empty() ? 0u : 8u) | (f.rule_id.empty() ? 0u : 16u) | (f.from.ns ? 32u : 0u) |
                    (f.to.ns ? 64u : 0u) | (f.agencies_in.empty() ? 0u : 128u) |
                    (list && f.before_id ? 256u : 0u) | (list ? 512u : 0u) | (f.source ? 1024u : 0u);
    auto& slot = alert_queries_[mask];
    if (slot) return slot.get();
    std::string sql = std::string(list ? kAlertColumns : "SELECT COUNT(*)") + kAlertFrom;
    sql += " WHERE 1";
    // One index drives the query, chosen here rather than left to the planner (it has no
    // statistics, and sampled ones misled it): the most selective filter given, in the order
    // one agent, one rule, a closed time range (read through alerts_ts and sorted), a status;
    // without any of them alerts are read newest first by id. The others are checked row by
    // row (a leading + keeps a column's index out). Severity never drives: a range of
    // severities is not in id order.
    const bool by_agent = mask & 8u;
    const bool by_rule = !by_agent && (mask & 16u);
    const bool by_time = !by_agent && !by_rule && (mask & 96u) == 96u;
    const bool by_status = !by_agent && !by_rule && !by_time && (mask & 2u);
    if (mask & 1u) sql += " AND +a.severity >= ?1";
    if (mask & 2u) sql += by_status ? " AND a.status = ?2" : " AND +a.status = ?2";
    // The agency's agents, as a set each alert is checked against while alerts are read newest
    // first (not as a join that would read every alert of the agency and sort them).
    if (mask & 4u) sql += " AND +a.agent_id IN (SELECT id FROM agents WHERE agency = ?3)";
    if (mask & 8u) sql += " AND a.agent_id = ?4";
    if (mask & 16u) sql += by_rule ? " AND a.rule_id = ?5" : " AND +a.rule_id = ?5";
    if (mask & 32u) sql += by_time ? " AND a.ts >= ?6" : " AND +a.ts >= ?6";
    if (mask & 64u) sql += by_time ? " AND a.ts < ?7" : " AND +a.ts < ?7";
    // ?8: the agencies the caller is limited to, one per line.
    if (mask & 128u) sql += " AND instr(char(10) || ?8 || char(10), char(10) || g.agency || char(10)) > 0";
    if (mask & 256u) sql += " AND a.id < ?9";
    // ?11, ?12: the source address range (keys in address order).
    if (mask & 1024u) sql += " AND a.source_key BETWEEN ?11 AND ?12";
    if (list) sql += " ORDER BY a.id DESC LIMIT ?10";
    slot = std::make_unique<Stmt>(db_, sql.c_str());
    return slot.get();
  }

  // Binds every filter, used by the statement or not (a number beyond its parameters is ignored).
  static void bind_filter(Stmt& s, const AlertFilter& f) {
    auto opt = [&](int i, const std::string& v) { s.bind_or_null(i, v); };
    s.bind(1, static_cast<int64_t>(f.min_severity));
    opt(2, f.status);
    opt(3, f.agency);
    opt(4, f.agent_id);
    opt(5, f.rule_id);
    s.bind(6, f.from.ns).bind(7, f.to.ns);
    opt(8, join_lines(f.agencies_in));
    if (f.source) s.bind(11, f.source->lo).bind(12, f.source->hi);
  }

  static constexpr const char* kAlertColumns =
      "SELECT a.id, a.agent_id, COALESCE(g.agency, ''), COALESCE(g.host, ''), a.rule_id, a.rule_name, a.severity,"
      " a.ts, a.status, a.assignee, a.source_ip, a.source_port, a.destination_ip, a.destination_port, a.user_name,"
      " a.rule_name_vi";
  static constexpr const char* kAlertFrom = " FROM alerts a LEFT JOIN agents g ON g.id = a.agent_id";

  // An alert with its record's body (its evidence), read as search reads bodies.
  static std::string alert_select() {
    return std::string(kAlertColumns) + ", " + search::kSqliteBody + kAlertFrom +
           " LEFT JOIN events s ON s.agent_id = a.agent_id AND s.epoch = a.epoch AND s.seq = a.seq" +
           search::kSqliteBodyJoins;
  }

  static AlertRecord alert_row(const Stmt& s, bool with_evidence) {
    AlertRecord a;
    a.id = s.integer(0);
    a.agent_id = s.text(1);
    a.agency = s.text(2);
    a.host = s.text(3);
    a.rule_id = s.text(4);
    a.rule_name = s.text(5);
    a.severity = static_cast<int>(s.integer(6));
    a.time = Timestamp{s.integer(7)};
    a.status = s.text(8);
    a.assignee = s.text(9);
    a.entity.source_ip = s.text(10);
    a.entity.source_port = s.integer(11);
    a.entity.destination_ip = s.text(12);
    a.entity.destination_port = s.integer(13);
    a.entity.user_name = s.text(14);
    a.rule_name_vi = s.text(15);
    if (with_evidence) a.evidence = s.text(16);
    return a;
  }

  Result<void> done(Stmt& s) {
    if (!s.ok()) return make_error("sqlite: " + s.error());
    if (s.step() != SQLITE_DONE) return make_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return {};
  }

  sqlite3* db_;
  // Prepared list and count queries by the filters they serve (sqlite3_close_v2 lets the
  // database go once these are finalised).
  std::map<unsigned, std::unique_ptr<Stmt>> alert_queries_;
  std::unique_ptr<Stmt> event_insert_, block_insert_, next_block_, alert_insert_, fts_insert_, next_id_;  // the write path's
  std::unique_ptr<fts::Indexer> indexer_;  // the full-text index's writer (none in memory)
  int64_t block_floor_ = 0;                // the highest block id given out or indexed (mutex_)
  // Retention's gate: closed for a chunk, new events' transactions wait before it.
  std::mutex gate_mutex_;
  std::condition_variable gate_cv_;
  bool gate_closed_ = false;
  std::mutex mutex_;  // one writer; SQLite serialises anyway, this keeps statements tidy
  sqlite3* reader_ = nullptr;  // searches' connection (none for an in-memory database)
  // The block readers of the searches' and the writer's connections (their counts).
  const body_blocks::Reader* reader_bodies_ = nullptr;
  const body_blocks::Reader* writer_bodies_ = nullptr;
  static constexpr int64_t kBodyBytesPerStep = 8;
  // Low bits of the events' ids; from a random start, so a restart does not walk the ids of the
  // millisecond it stopped in.
  uint64_t id_counter_ = std::random_device{}();
  // The first id from which every event carries its address blocks' tokens (schema 19).
  std::atomic<int64_t> blocks_from_{std::numeric_limits<int64_t>::max()};
  std::mutex reader_mutex_;
  sqlite3* checkpoint_db_ = nullptr;  // the checkpointer's connection (none in memory)
  int writer_checkpoint_pages_ = 4'000;  // kWriterCheckpointBytes in this file's pages
  std::atomic<int> wal_pages_{0};     // pages in the WAL after the last commit
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool stopping_ = false;
  std::thread checkpointer_;
};

}  // namespace

std::string sqlite_fts_path(const std::string& path) {
  if (path.rfind("file:", 0) != 0) return path + "-fts";
  // A URI: its parameters stay at the end.
  const size_t q = path.find('?');
  return q == std::string::npos ? path + "-fts" : path.substr(0, q) + "-fts" + path.substr(q);
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, SqliteSync sync) {
  // SQLite counts every allocation under one process-wide mutex unless told not to; the writer
  // and a search on another thread then queue on it for each malloc. Only possible before the
  // library's first use (it answers SQLITE_MISUSE after, and keeps counting).
  static std::once_flag no_memstatus;
  std::call_once(no_memstatus, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  // The database holds token hashes, sessions and every agency's records: owner only. SQLite
  // creates it (and its -wal and -shm, which take the database's mode) 0644 less the umask, so
  // the file is made first, and one found wider is narrowed.
  // The full-text index's file beside the database (fts_indexer.h); none for one in memory.
  const bool in_memory = path == ":memory:" || path.find("mode=memory") != std::string::npos;
  const std::string fts_path = in_memory ? std::string() : sqlite_fts_path(path);
  if (path != ":memory:" && path.rfind("file:", 0) != 0) {
    for (const std::string& file : {path, fts_path}) {
      int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) return make_error(fmt::format("cannot open database {}: {}", file, std::strerror(errno)));
      ::fchmod(fd, 0600);
      ::close(fd);
      for (const char* suffix : {"-wal", "-shm"}) ::chmod((file + suffix).c_str(), 0600);
    }
  }
  sqlite3* db = nullptr;
  // NOMUTEX: every use of the writer's connection holds the store's own mutex_ (and each side
  // connection its own), so SQLite's per-call locking would only be paid twice (~6 % of ingest).
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string err = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return make_error(fmt::format("cannot open database {}: {}", path, err));
  }
  sqlite3_busy_timeout(db, 5000);
  const body_blocks::Reader* writer_bodies = body_blocks::add_sql_function(db);
  if (!writer_bodies) {
    sqlite3_close_v2(db);
    return make_error(fmt::format("cannot open database {}: cannot register vigil_body", path));
  }
  // The full text of a stored event exactly as ingest indexed it: the batch parser's own reading
  // (event.original, else message; escapes, \u0000 and escaped keys as it reads them), folded. A
  // contentless index given back other text than it took keeps the difference as ghosts.
  sqlite3_create_function_v2(
      db, "vigil_text", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
      [](sqlite3_context* ctx, int, sqlite3_value** argv) {
        const auto* body = sqlite3_value_text(argv[0]);
        std::string line = "{\"epoch\":\"e\",\"seq\":1,\"event\":";
        if (body) line.append(reinterpret_cast<const char*>(body), static_cast<size_t>(sqlite3_value_bytes(argv[0])));
        line += "}\n";
        auto parsed = parse_batch(line, 1, "a", "h");
        std::string text = parsed.records.size() == 1 ? search::index_row(parsed.records.front().search).text : "";
        sqlite3_result_text(ctx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
      },
      nullptr, nullptr, nullptr);
  // The key tokens of an event's full-text row from its columns (search::sqlite_keys), for the
  // same purpose and for filling the table in migration 17; a fourth argument, when true, adds
  // the address blocks (rows whose has_text has bit 2).
  sqlite3_create_function_v2(
      db, "vigil_keys", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
      [](sqlite3_context* ctx, int argc, sqlite3_value** argv) {
        if (argc != 3 && argc != 4) {
          sqlite3_result_error(ctx, "vigil_keys takes 3 or 4 arguments", -1);
          return;
        }
        auto arg = [&](int i) {
          const auto* text = sqlite3_value_text(argv[i]);
          return text ? std::string_view(reinterpret_cast<const char*>(text),
                                         static_cast<size_t>(sqlite3_value_bytes(argv[i])))
                      : std::string_view();
        };
        const bool blocks = argc == 4 && sqlite3_value_int64(argv[3]) != 0;
        std::string keys = search::sqlite_keys(arg(0), arg(1), arg(2), blocks);
        sqlite3_result_text(ctx, keys.data(), static_cast<int>(keys.size()), SQLITE_TRANSIENT);
      },
      nullptr, nullptr, nullptr);
  auto store = std::make_unique<SqliteStore>(db);
  store->set_writer_bodies(writer_bodies);
  // page_size=16384, for a new file only (an existing one keeps the size it was made with, as
  // SQLite does outside VACUUM): ingest appends rows of bodies of 600 bytes and more, and the WAL
  // takes a write per page and frame. Measured on one 2-core machine against 4 KiB pages: one
  // agent's 300,000-line backlog 37,500-43,600 events/s against 31,200-31,600 (bench/ingest.py
  // catch-up); 100 agents 68,600 and 71,800 against 58,400 and 58,400 in alternating pairs
  // (agents_scale.py burst).
  // synchronous=FULL: WAL is synced at every commit, so a batch acknowledged to an agent (which
  // then drops it) survives power loss, not only a crash of the process.
  for (const char* pragma : {"PRAGMA page_size=16384", "PRAGMA journal_mode=WAL",
                             sync == SqliteSync::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                             "PRAGMA foreign_keys=ON", "PRAGMA cache_size=-65536"}) {
    // Turning WAL on takes the file's exclusive lock, and SQLite answers "locked" there at once,
    // without the busy handler, while another collector process or test opens the same file: it
    // is asked again for as long as the busy timeout.
    auto r = store->exec(pragma);
    for (int tries = 0; !r && r.error().find("database is locked") != std::string::npos && tries < 250; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      r = store->exec(pragma);
    }
    if (!r) return make_error(r.error());
  }
  auto m = store->migrate();
  if (!m) return make_error(m.error());
  // The full-text index's file, attached as `fts`: its pages and WAL as the store's (a new file
  // takes the page size; the WAL and sync apply from here on).
  auto attach = [&](sqlite3* conn, const std::string& file) -> Result<void> {
    Stmt a(conn, "ATTACH DATABASE ?1 AS fts");
    a.bind(1, file.empty() ? std::string(":memory:") : file);
    if (a.step() != SQLITE_DONE) return make_error(fmt::format("cannot attach the full-text index {}: {}", file, sqlite3_errmsg(conn)));
    return {};
  };
  if (auto a = attach(db, fts_path); !a) return make_error(a.error());
  for (const char* pragma : {"PRAGMA fts.page_size=16384", "PRAGMA fts.journal_mode=WAL",
                             sync == SqliteSync::full ? "PRAGMA fts.synchronous=FULL" : "PRAGMA fts.synchronous=NORMAL"}) {
    auto r = store->exec(pragma);
    for (int tries = 0; !r && r.error().find("database is locked") != std::string::npos && tries < 250; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      r = store->exec(pragma);
    }
    if (!r) return make_error(r.error());
  }
  if (auto f = store->open_fts(fts_path, sync == SqliteSync::full); !f) return make_error(f.error());
  if (!in_memory) {
    // A connection of its own beside the writer's, for `purpose` (named in the error).
    auto side_connection = [&](int flags, int busy_ms, const char* purpose) -> Result<sqlite3*> {
      sqlite3* conn = nullptr;
      if (sqlite3_open_v2(path.c_str(), &conn, flags | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_URI, nullptr) != SQLITE_OK) {
        std::string err = conn ? sqlite3_errmsg(conn) : "out of memory";
        sqlite3_close_v2(conn);
        return make_error(fmt::format("cannot open database {} for {}: {}", path, purpose, err));
      }
      sqlite3_busy_timeout(conn, busy_ms);
      return conn;
    };
    auto reader = side_connection(SQLITE_OPEN_READONLY, 5000, "searches");
    if (!reader) return make_error(reader.error());
    sqlite3_exec(*reader, "PRAGMA cache_size=-65536", nullptr, nullptr, nullptr);
    const body_blocks::Reader* reader_bodies = body_blocks::add_sql_function(*reader);
    if (!reader_bodies) {
      sqlite3_close_v2(*reader);
      return make_error(fmt::format("cannot open database {} for searches: cannot register vigil_body", path));
    }
    if (auto a = attach(*reader, fts_path); !a) {
      sqlite3_close_v2(*reader);
      return make_error(a.error());
    }
    store->set_reader(*reader, reader_bodies);
    auto checkpointer = side_connection(SQLITE_OPEN_READWRITE, 1000, "checkpoints");
    if (!checkpointer) return make_error(checkpointer.error());
    // It checkpoints the full-text index's file too (every attached database).
    if (auto a = attach(*checkpointer, fts_path); !a) {
      sqlite3_close_v2(*checkpointer);
      return make_error(a.error());
    }
    // A connection that has read nothing has not opened the WAL yet, and would checkpoint nothing.
    sqlite3_exec(*checkpointer, "SELECT (SELECT COUNT(*) FROM main.sqlite_master) + (SELECT COUNT(*) FROM fts.sqlite_master)",
                 nullptr, nullptr, nullptr);
    store->start_checkpointer(*checkpointer);
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace vigil::collector
