// The Store on PostgreSQL (libpq), for several collectors sharing one database behind a load
// balancer. Same semantics as the SQLite store: a batch is one transaction, records are stored
// once per (agent_id, epoch, seq) whichever collector gets them first. Every value travels as a
// parameter; libpq stays inside this file.
#include <libpq-fe.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <tuple>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <utility>
#include <variant>

#include "collector/search/search_sql.h"
#include "collector/store/agent_sql.h"
#include "collector/store/fleet_sql.h"
#include "collector/store/incident_sql.h"
#include "collector/store/system_sql.h"
#include "collector/store/common_sql.h"
#include "collector/store/compliance_sql.h"
#include "collector/store/retention_sql.h"
#include "collector/store/triage_sql.h"
#include "collector/store/identity_sql.h"
#include "collector/store/migrations.h"
#include "collector/store/store.h"

namespace vigil::collector {

namespace {

// The schema, one entry per version, numbered as the SQLite store's so both report the same

// SQLSTATEs after which a whole transaction may simply be run again.
bool retryable(const std::string& sqlstate) {
  return sqlstate == "40001" /* serialization_failure */ || sqlstate == "40P01" /* deadlock_detected */;
}

std::string trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown error" : s;
}

// One result; owns the PGresult.
class Res {
 public:
  explicit Res(PGresult* r) : r_(r) {}
  ~Res() { PQclear(r_); }
  Res(Res&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Res(const Res&) = delete;
  Res& operator=(const Res&) = delete;
  Res& operator=(Res&&) = delete;

  ExecStatusType status() const { return PQresultStatus(r_); }
  bool ok() const { return status() == PGRES_COMMAND_OK || status() == PGRES_TUPLES_OK; }
  int rows() const { return PQntuples(r_); }
  int columns() const { return PQnfields(r_); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  int64_t integer(int row, int col) const {
    const char* p = PQgetvalue(r_, row, col);
    int64_t v = 0;
    std::from_chars(p, p + PQgetlength(r_, row, col), v);
    return v;
  }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  // Rows an INSERT, UPDATE or DELETE touched.
  uint64_t affected() const {
    const char* p = PQcmdTuples(r_);
    uint64_t v = 0;
    std::from_chars(p, p + std::strlen(p), v);
    return v;
  }
  std::string sqlstate() const {
    const char* s = r_ ? PQresultErrorField(r_, PG_DIAG_SQLSTATE) : nullptr;
    return s ? s : "";
  }
  std::string error() const { return trimmed(r_ ? PQresultErrorMessage(r_) : "no result"); }

 private:
  PGresult* r_;
};

// PostgreSQL text cannot hold a NUL byte (and libpq would cut a text parameter there): one is
// stored as U+FFFD, in parameters and in COPY alike.
std::string without_nul(std::string_view v) {
  std::string s;
  s.reserve(v.size() + 8);
  for (char c : v) s += c == '\0' ? std::string_view("\xEF\xBF\xBD") : std::string_view(&c, 1);
  return s;
}

// Query parameters in text format.
class Params {
 public:
  Params& text(std::string_view v) {
    if (v.find('\0') == std::string_view::npos) {
      values_.emplace_back(v);
    } else {
      values_.push_back(without_nul(v));
    }
    nulls_.push_back(false);
    return *this;
  }
  Params& integer(int64_t v) {
    values_.push_back(std::to_string(v));
    nulls_.push_back(false);
    return *this;
  }
  Params& null() {
    values_.emplace_back();
    nulls_.push_back(true);
    return *this;
  }
  // Empty means "any" in filters: SQL NULL.
  Params& text_or_null(const std::string& v) { return v.empty() ? null() : text(v); }

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() {
    ptrs_.clear();
    for (size_t i = 0; i < values_.size(); ++i) ptrs_.push_back(nulls_[i] ? nullptr : values_[i].c_str());
    return ptrs_.data();
  }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<const char*> ptrs_;
};

// A statement prepared once per connection (on first use) under its name.
struct Prepared {
  const char* name;
  const char* sql;
};

// A batch is copied (COPY, binary) into a staging table of the session, then inserted from it
// in one statement: into events (body and search fields in one row) in the batch's order with
// the duplicates skipped, and the new alert records get their alert rows; the statement returns
// the seq of every record that was new. Measured against the records travelling as one array
// per column into the same tables (bench/agents_scale.py burst, alternating runs on one 2-core
// machine): 35,300 and 41,200 events/s against 32,000 and 30,300; the server parses no arrays
// (array_in was 4-5 % of its time) and unnests nothing. The dedup key holds the time
// (partitioning asks it): a record sent again has its time and kind; an alert's row stays one
// per (agent, epoch, seq).
constexpr const char* kStageTable =
    "CREATE TEMP TABLE IF NOT EXISTS vigil_batch(n BIGINT, seq BIGINT, kind TEXT, dataset TEXT, ts BIGINT, body TEXT,"
    " rule_id TEXT, rule_name TEXT, severity BIGINT, host_name TEXT, source_ip TEXT, source_port BIGINT,"
    " source_key TEXT, destination_ip TEXT, destination_port BIGINT, destination_key TEXT, user_name TEXT,"
    " event_action TEXT, event_outcome TEXT, any_rule_id TEXT, any_severity BIGINT, text TEXT, rule_name_vi TEXT)"
    " ON COMMIT DELETE ROWS";
constexpr int kStageColumns = 23;
constexpr size_t kCopyPiece = size_t{1} << 20;
constexpr Prepared kInsertStaged{
    "vigil_insert_staged",
    "WITH ins AS (INSERT INTO events(agent_id, epoch, seq, kind, dataset, ts, body, host_name, source_ip, source_port,"
    " destination_ip, destination_port, user_name, event_action, event_outcome, rule_id, severity, text_index)"
    " SELECT $1, $2, i.seq, i.kind, i.dataset, i.ts, i.body, NULLIF(i.host_name, ''), NULLIF(i.source_key, ''),"
    " NULLIF(i.source_port, 0), NULLIF(i.destination_key, ''), NULLIF(i.destination_port, 0),"
    " NULLIF(i.user_name, ''), NULLIF(i.event_action, ''), NULLIF(i.event_outcome, ''), NULLIF(i.any_rule_id, ''),"
    " NULLIF(i.any_severity, 0), CASE WHEN i.text = '' THEN NULL ELSE to_tsvector('simple', i.text) END"
    " FROM pg_temp.vigil_batch i ORDER BY i.n ON CONFLICT DO NOTHING RETURNING seq),"
    " al AS (INSERT INTO alerts(agent_id, epoch, seq, rule_id, rule_name, severity, ts, source_ip, source_key,"
    " source_port, destination_ip, destination_port, user_name, rule_name_vi)"
    " SELECT $1, $2, i.seq, i.rule_id, i.rule_name, i.severity, i.ts, CASE WHEN i.source_key = '' THEN '' ELSE"
    " i.source_ip END, NULLIF(i.source_key, ''), i.source_port, CASE WHEN i.destination_key = '' THEN '' ELSE"
    " i.destination_ip END, i.destination_port, i.user_name, i.rule_name_vi FROM pg_temp.vigil_batch i"
    " JOIN ins USING (seq) WHERE i.kind = 'alert' ORDER BY i.n ON CONFLICT DO NOTHING)"
    " SELECT seq FROM ins"};

// A batch in COPY's binary format: a header, per row the field count then each field as its
// length and bytes (integers big-endian), and a trailer.
class CopyRows {
 public:
  CopyRows() {
    out_.append("PGCOPY\n\xff\r\n\0", 11);
    u32(0);
    u32(0);
  }
  void row(uint16_t fields) { u16(fields); }
  void integer(int64_t v) {
    u32(8);
    for (int shift = 56; shift >= 0; shift -= 8) out_ += static_cast<char>((static_cast<uint64_t>(v) >> shift) & 0xff);
  }
  void text(std::string_view v) {
    if (v.find('\0') == std::string_view::npos) {
      u32(static_cast<uint32_t>(v.size()));
      out_.append(v);
      return;
    }
    const std::string clean = without_nul(v);
    u32(static_cast<uint32_t>(clean.size()));
    out_.append(clean);
  }
  const std::string& done() {
    u16(0xffff);
    return out_;
  }

 private:
  void u16(uint16_t v) {
    out_ += static_cast<char>(v >> 8);
    out_ += static_cast<char>(v & 0xff);
  }
  void u32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out_ += static_cast<char>((v >> shift) & 0xff);
  }
  std::string out_;
};

// Events go to one partition per UTC day (migration 18): the collector makes today's, the day
// before (late events after midnight) and this many days ahead, at start, on the first batch of
// a new day and at every retention round. A time outside them lands in the default partition,
// never lost; retention drops days whole. A bound on the tables a clock gone wrong could make.
constexpr int64_t kDayNs = 86'400'000'000'000;
constexpr int64_t kPartitionDaysAhead = 7;

class Conn {
 public:
  explicit Conn(PGconn* c) : c_(c) {}
  ~Conn() { PQfinish(c_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  PGconn* get() const { return c_; }
  bool bad() const { return broken_ || PQstatus(c_) != CONNECTION_OK; }
  void set_broken() { broken_ = true; }
  // Whether this session has its staging table for batches.
  bool staged() const { return staged_; }
  void set_staged() { staged_ = true; }

  Res exec(const char* sql) { return Res(PQexec(c_, sql)); }
  Res exec(const char* sql, Params& p) {
    return Res(PQexecParams(c_, sql, p.size(), nullptr, p.values(), nullptr, nullptr, 0));
  }
  Result<void> prepare(const Prepared& s) {
    if (prepared_.count(s.name)) return {};
    Res r(PQprepare(c_, s.name, s.sql, 0, nullptr));
    if (!r.ok()) return make_error(r.error());
    prepared_.insert(s.name);
    return {};
  }

 private:
  PGconn* c_;
  bool broken_ = false;
  bool staged_ = false;
  std::unordered_set<std::string> prepared_;
};

// Connects and sets the session up: UTF-8, and the schema when one is given.
Result<std::unique_ptr<Conn>> connect(const PostgresOptions& o) {
  // The DSN is expanded in place of dbname; pg_stat_activity names the collector unless the
  // DSN sets application_name itself.
  const char* const keys[] = {"dbname", "fallback_application_name", nullptr};
  const char* const values[] = {o.dsn.c_str(), "vigil-collector", nullptr};
  auto conn = std::make_unique<Conn>(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn->get()) return make_error("cannot connect: out of memory");
  if (PQstatus(conn->get()) != CONNECTION_OK) {
    return make_error("cannot connect: " + trimmed(PQerrorMessage(conn->get())));
  }
  // Errors without their DETAIL lines: those repeat key values (token hashes among them), and
  // the primary message names the table and constraint well enough for a log line.
  PQsetErrorVerbosity(conn->get(), PQERRORS_TERSE);
  // Notices ("relation already exists, skipping", "drop cascades to ...") are not errors and
  // libpq would print them on stderr.
  PQsetNoticeProcessor(
      conn->get(), [](void*, const char*) {}, nullptr);
  if (PQsetClientEncoding(conn->get(), "UTF8") != 0) {
    return make_error("cannot use UTF-8: " + trimmed(PQerrorMessage(conn->get())));
  }
  if (!o.schema.empty()) {
    // search_path takes an identifier list: the schema name quoted as an identifier, passed
    // as a parameter.
    char* ident = PQescapeIdentifier(conn->get(), o.schema.data(), o.schema.size());
    if (!ident) return make_error("bad schema name: " + trimmed(PQerrorMessage(conn->get())));
    Params p;
    p.text(ident);
    PQfreemem(ident);
    Res r = conn->exec("SELECT set_config('search_path', $1, false)", p);
    if (!r.ok()) return make_error("cannot select schema: " + r.error());
  }
  return conn;
}

// The connection interface the store's shared rules use (collector/store/sql_database.h), over
// one pooled connection.
class PgConnection final : public SqlConnection {
 public:
  explicit PgConnection(Conn& c) : c_(c) {}
  SqlDialect dialect() const override { return SqlDialect::postgres; }
  Result<SqlRows> run(const char* sql, const SqlParams& params) override {
    Params p;
    for (const auto& v : params.values()) {
      if (v.kind == SqlParams::Kind::null) {
        p.null();
      } else if (v.kind == SqlParams::Kind::text) {
        p.text(v.text);
      } else if (v.kind == SqlParams::Kind::boolean) {
        p.text(v.integer ? "true" : "false");
      } else {
        p.integer(v.integer);
      }
    }
    const std::string text = dollar_params(sql);
    Res r = c_.exec(text.c_str(), p);
    if (!r.ok()) {
      sqlstate_ = r.sqlstate();
      if (PQstatus(c_.get()) != CONNECTION_OK) c_.set_broken();
      return make_error(r.error());
    }
    SqlRows out;
    const int columns = r.columns();
    for (int i = 0; i < r.rows(); ++i) {
      std::vector<std::optional<std::string>> cells;
      for (int c = 0; c < columns; ++c) {
        if (r.is_null(i, c)) {
          cells.emplace_back();
        } else {
          cells.emplace_back(r.text(i, c));
        }
      }
      out.add_row(std::move(cells));
    }
    out.changed = r.affected();
    return out;
  }

  // The SQLSTATE of the last statement that failed (a deadlock or serialisation failure is
  // worth running again).
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  Conn& c_;
  std::string sqlstate_;
};

class PgStore final : public Store, public SqlAgentStore, public SqlIdentityStore, public SqlComplianceStore,
                      public SqlTriageStore, public SqlRetentionStore, public SqlFleetStore,
                          public SqlIncidentStore, public SqlSystemStore,
                          private SqlDatabase {
 public:
  explicit PgStore(PostgresOptions o) : options_(std::move(o)) {}

  // Opens the first connection now, so a bad DSN or an unreachable server fails at start.
  Result<void> open() {
    if (!options_.schema.empty()) {
      auto c = connect(PostgresOptions{options_.dsn, "", 1});
      if (!c) return make_error("postgres: " + c.error());
      char* ident = PQescapeIdentifier((*c)->get(), options_.schema.data(), options_.schema.size());
      if (!ident) return make_error("postgres: bad schema name: " + trimmed(PQerrorMessage((*c)->get())));
      std::string sql = std::string("CREATE SCHEMA IF NOT EXISTS ") + ident;
      PQfreemem(ident);
      Res r = (*c)->exec(sql.c_str());
      // Two collectors creating it at once: IF NOT EXISTS is not atomic in PostgreSQL, and the
      // loser sees a unique violation on the catalogue; the schema exists, which is what we want.
      if (!r.ok() && r.sqlstate() != "23505" && r.sqlstate() != "42P06") {
        return make_error("postgres: cannot create schema: " + r.error());
      }
    }
    auto c = connect(options_);
    if (!c) return make_error("postgres: " + c.error());
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(*c));
    ++open_;
    return {};
  }

  SqlDatabase& database() override { return *this; }

  Result<void> with_connection(const char* op, const Work& work) override {
    return with_conn<void>(op, [&](Conn& c) -> Result<void> {
      PgConnection pc(c);
      return work(pc);
    });
  }

  Result<void> in_transaction(const char* op, const Work& work) override {
    return with_conn<void>(op, [&](Conn& c) -> Result<void> {
      Res begin = c.exec("BEGIN");
      if (!begin.ok()) return failed(c, begin);
      PgConnection pc(c);
      auto r = work(pc);
      if (!r) {
        rollback(c);
        return r;
      }
      Res commit = c.exec("COMMIT");
      if (!commit.ok()) {
        rollback(c);
        return failed(c, commit);
      }
      return {};
    });
  }

  Result<int> schema_version() override {
    return with_conn<int>("schema_version", [&](Conn& c) { return version(c); });
  }

  Result<void> migrate() override {
    return with_conn<void>("migrate", [&](Conn& c) -> Result<void> {
      // Session-level lock named after the schema the tables go to: a second collector starting
      // now waits here, then finds the migrations applied.
      Res lock = c.exec("SELECT pg_advisory_lock(hashtextextended('vigil.migrate.' || current_schema(), 0))");
      if (!lock.ok()) return make_error("cannot take the migration lock: " + lock.error());
      auto r = migrate_locked(c);
      Res unlock = c.exec("SELECT pg_advisory_unlock(hashtextextended('vigil.migrate.' || current_schema(), 0))");
      if (r && !unlock.ok()) return make_error("cannot release the migration lock: " + unlock.error());
      return r;
    });
  }

  Result<uint64_t> store_batch(const std::string& agent_id, const std::string& epoch,
                               const std::vector<IncomingRecord>& records) override {
    return with_conn<uint64_t>("store_batch", [&](Conn& c) -> Result<uint64_t> {
      // The first batch of a new day makes the days ahead; should that fail (a lock held too
      // long), the batch still goes in: its day exists already, or the default partition takes it.
      (void)maybe_make_partitions(c);
      // Two collectors storing overlapping batches wait on each other's rows; should PostgreSQL
      // still pick this transaction as a deadlock victim, it is run again.
      for (int attempt = 1;; ++attempt) {
        std::string sqlstate;
        auto r = store_batch_once(c, agent_id, epoch, records, sqlstate);
        if (r || attempt == 3 || !retryable(sqlstate) || c.bad()) return r;
      }
    });
  }

  // One by one, each in its own transaction: PostgreSQL takes batches from several connections
  // at once, so the collector's writers run side by side instead.
  Result<std::vector<StoredBatch>> store_batches(const std::vector<BatchWrite>& batches, Timestamp received) override {
    std::vector<StoredBatch> out;
    out.reserve(batches.size());
    for (const auto& b : batches) {
      StoredBatch done;
      if (!b.quarantined.empty()) {
        auto q = quarantine(b.agent_id, b.quarantined, received);
        if (!q) return make_error(q.error());
        done.quarantined = *q;
      }
      if (!b.records.empty()) {
        auto added = store_batch(b.agent_id, b.epoch, b.records);
        if (!added) return make_error(added.error());
        done.records = *added;
      }
      if (!b.records.empty() || !b.quarantined.empty()) {
        if (auto t = touch_agent(b.agent_id, received); !t) return make_error(t.error());
      }
      out.push_back(done);
    }
    return out;
  }

  Result<StoredCounts> counts(const std::string& agent_id) override {
    return with_conn<StoredCounts>("counts", [&](Conn& c) -> Result<StoredCounts> {
      Params p;
      p.text(agent_id);
      Res r = c.exec("SELECT COUNT(*), COUNT(*) FILTER (WHERE kind = 'alert') FROM records WHERE agent_id = $1", p);
      if (!r.ok()) return failed(c, r);
      return StoredCounts{static_cast<uint64_t>(r.integer(0, 0)), static_cast<uint64_t>(r.integer(0, 1))};
    });
  }

  Result<uint64_t> quarantine(const std::string& agent_id, const std::vector<QuarantinedRecord>& records,
                              Timestamp received) override {
    return with_conn<uint64_t>("quarantine", [&](Conn& c) -> Result<uint64_t> {
      Res begin = c.exec("BEGIN");
      if (!begin.ok()) return failed(c, begin);
      uint64_t added = 0;
      for (const auto& q : records) {
        Params p;
        p.text(agent_id).text(q.epoch);
        p.integer(q.seq ? static_cast<int64_t>(*q.seq) : int64_t{-1});
        p.integer(static_cast<int64_t>(q.line)).text(q.reason).text(q.body).integer(received.ns);
        Res r = c.exec(
            "INSERT INTO quarantined(agent_id, epoch, seq, line, reason, body, received_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            p);
        if (!r.ok()) {
          rollback(c);
          return failed(c, r);
        }
        added += r.affected();
      }
      Res commit = c.exec("COMMIT");
      if (!commit.ok()) {
        rollback(c);
        return failed(c, commit);
      }
      return added;
    });
  }

  Result<uint64_t> count_quarantined() override {
    return with_conn<uint64_t>("count_quarantined", [&](Conn& c) -> Result<uint64_t> {
      Res r = c.exec("SELECT COUNT(*) FROM quarantined");
      if (!r.ok()) return failed(c, r);
      return static_cast<uint64_t>(r.integer(0, 0));
    });
  }

  Result<std::vector<QuarantinedRecord>> list_quarantined(const std::string& agent_id, int64_t before_id,
                                                          int limit) override {
    return with_conn<std::vector<QuarantinedRecord>>(
        "list_quarantined", [&](Conn& c) -> Result<std::vector<QuarantinedRecord>> {
          Params p;
          p.text_or_null(agent_id).integer(before_id).integer(std::clamp(limit, 1, 1000));
          Res r = c.exec(
              "SELECT id, agent_id, epoch, seq, line, reason, body, received_at FROM quarantined"
              " WHERE ($1::text IS NULL OR agent_id = $1) AND ($2::bigint = 0 OR id < $2) ORDER BY id DESC LIMIT $3",
              p);
          if (!r.ok()) return failed(c, r);
          std::vector<QuarantinedRecord> out;
          for (int i = 0; i < r.rows(); ++i) {
            QuarantinedRecord q;
            q.id = r.integer(i, 0);
            q.agent_id = r.text(i, 1);
            q.epoch = r.text(i, 2);
            if (r.integer(i, 3) >= 0) q.seq = static_cast<uint64_t>(r.integer(i, 3));
            q.line = static_cast<size_t>(r.integer(i, 4));
            q.reason = r.text(i, 5);
            q.body = r.text(i, 6);
            q.received = Timestamp{r.integer(i, 7)};
            out.push_back(std::move(q));
          }
          return out;
        });
  }

  Result<PurgeCounts> purge(const PurgeRequest& req) override {
    PurgeCounts out;
    const int64_t chunk = std::clamp(req.chunk_rows, 1, 1'000'000);
    // One statement per chunk (its own transaction), on a pooled connection taken for that
    // chunk only; runs until a chunk comes back short or the caller cancels. Several
    // collectors purging together delete disjoint or already deleted rows: harmless.
    auto drain = [&](uint64_t& counter, const char* sql, auto&& params, uint64_t* second = nullptr) -> Result<void> {
      while (!(req.cancelled && req.cancelled())) {
        auto n = with_conn<int64_t>("purge", [&](Conn& c) -> Result<int64_t> {
          Params p = params();
          Res r = c.exec(sql, p);
          if (!r.ok()) return failed(c, r);
          if (r.status() == PGRES_TUPLES_OK) {
            if (second) *second += static_cast<uint64_t>(r.integer(0, 1));
            return r.integer(0, 0);
          }
          return static_cast<int64_t>(r.affected());
        });
        if (!n) return make_error(n.error());
        counter += static_cast<uint64_t>(*n);
        if (*n < chunk) break;
      }
      return {};
    };
    auto before = [&](Timestamp t) {
      return [t, chunk] {
        Params p;
        p.integer(t.ns).integer(chunk);
        return p;
      };
    };

    // The retention round is also the timer that makes days ahead when no batch comes.
    if (auto made = with_conn<void>("partitions", [&](Conn& c) { return maybe_make_partitions(c); }); !made) {
      return make_error(made.error());
    }
    if (req.alerts_before.ns > 0) {
      // One statement: the chunk's alerts (locked, so a triage change waits and then finds them
      // gone), their history, their own records (in the alerts' partition, found by time), then
      // the alerts.
      auto r = drain(out.alerts,
                     "WITH doomed AS (SELECT id, agent_id, epoch, seq, ts FROM alerts WHERE ts < $1 ORDER BY ts, id"
                     " LIMIT $2 FOR UPDATE SKIP LOCKED),"
                     " h AS (DELETE FROM alert_history WHERE alert_id IN (SELECT id FROM doomed) RETURNING 1),"
                     " r AS (DELETE FROM events_alerts r USING doomed d WHERE r.ts = d.ts AND r.agent_id = d.agent_id"
                     " AND r.epoch = d.epoch AND r.seq = d.seq RETURNING 1),"
                     " a AS (DELETE FROM alerts WHERE id IN (SELECT id FROM doomed) RETURNING 1)"
                     " SELECT (SELECT COUNT(*) FROM a), (SELECT COUNT(*) FROM h), (SELECT COUNT(*) FROM r)",
                     before(req.alerts_before), &out.alert_history);
      if (!r) return make_error(r.error());
      // An alert record whose alert was never made (its seq had an alert already, under another
      // time) goes as an event once the alerts of its time go.
      r = drain(out.events,
                "WITH d AS (DELETE FROM events_alerts e USING (SELECT ts, agent_id, epoch, seq FROM events_alerts r"
                " WHERE ts < $1 AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.agent_id = r.agent_id"
                " AND a.epoch = r.epoch AND a.seq = r.seq AND a.ts = r.ts) LIMIT $2) k WHERE e.ts = k.ts"
                " AND e.agent_id = k.agent_id AND e.epoch = k.epoch AND e.seq = k.seq RETURNING 1)"
                " SELECT COUNT(*) FROM d",
                before(req.alerts_before));
      if (!r) return make_error(r.error());
    }

    // Events and health records: whole days first (their partitions dropped, once every row in
    // them is past both cutoffs; alerts' records live apart and stay), then row by row what is
    // left past a cutoff (the day the cutoff falls in, the default partition).
    if (req.events_before.ns > 0 && req.health_before.ns > 0) {
      const Timestamp cutoff{std::min(req.events_before.ns, req.health_before.ns)};
      auto days = with_conn<std::vector<std::string>>("purge", [&](Conn& c) -> Result<std::vector<std::string>> {
        Params p;
        p.integer(cutoff.ns);
        Res r = c.exec("SELECT vigil_events_partitions_before($1)", p);
        if (!r.ok()) return failed(c, r);
        std::vector<std::string> found;
        for (int i = 0; i < r.rows(); ++i) found.push_back(r.text(i, 0));
        return found;
      });
      if (!days) return make_error(days.error());
      for (const auto& day : *days) {
        if (req.cancelled && req.cancelled()) break;
        // Dropping a partition locks the events table: it waits at most a moment for a search
        // to finish (ingest would queue behind it), else the day goes at the next round.
        auto dropped = with_conn<bool>("purge", [&](Conn& c) -> Result<bool> {
          Res begin = c.exec("BEGIN; SET LOCAL lock_timeout = '2s'");
          if (!begin.ok()) return failed(c, begin);
          Params p;
          p.text(day);
          Res r = c.exec("SELECT total, health FROM vigil_drop_events_partition($1)", p);
          if (!r.ok()) {
            rollback(c);
            if (r.sqlstate() == "55P03") return false;  // lock_not_available
            return failed(c, r);
          }
          const auto health = static_cast<uint64_t>(r.integer(0, 1));
          const auto total = static_cast<uint64_t>(r.integer(0, 0));
          Res commit = c.exec("COMMIT");
          if (!commit.ok()) return failed(c, commit);
          out.health += health;
          out.events += total > health ? total - health : 0;
          return true;
        });
        if (!dropped) return make_error(dropped.error());
        if (!*dropped) break;
      }
    }
    // The rows left, by their time (the unique key leads with it; health by its partial index).
    auto rows_before = [&](uint64_t& counter, Timestamp t, const char* kind_condition) -> Result<void> {
      if (t.ns <= 0) return {};
      const std::string sql = fmt::format(
          "WITH d AS (DELETE FROM events_main e USING (SELECT ts, agent_id, epoch, seq FROM events_main WHERE ts < $1"
          " AND {0} LIMIT $2) k WHERE e.ts = k.ts AND e.agent_id = k.agent_id AND e.epoch = k.epoch AND e.seq = k.seq"
          " AND e.ts < $1 AND e.{0} RETURNING 1) SELECT COUNT(*) FROM d",
          kind_condition);
      return drain(counter, sql.c_str(), before(t));
    };
    if (auto r = rows_before(out.events, req.events_before, "kind <> 'metric'"); !r) return make_error(r.error());
    if (auto r = rows_before(out.health, req.health_before, "kind = 'metric'"); !r) return make_error(r.error());

    if (req.compliance_history_before.ns > 0) {
      // A change goes once a later change of the same check is older than the cutoff too: the
      // result each check had when the retained period begins stays.
      auto r = drain(out.compliance_history,
                     "DELETE FROM compliance_history WHERE ctid = ANY(ARRAY(SELECT h.ctid FROM compliance_history h"
                     " WHERE h.ts < $1 AND EXISTS (SELECT 1 FROM compliance_history n WHERE n.agent_id = h.agent_id"
                     " AND n.policy = h.policy AND n.check_id = h.check_id AND n.ts > h.ts AND n.ts < $1) LIMIT $2))",
                     before(req.compliance_history_before));
      if (!r) return make_error(r.error());
    }

    if (req.audit_before.ns > 0) {
      auto r = drain(out.audit, "DELETE FROM audit WHERE id = ANY(ARRAY(SELECT id FROM audit WHERE ts < $1 LIMIT $2))",
                     before(req.audit_before));
      if (!r) return make_error(r.error());
    }
    if (req.events_before.ns > 0) {
      auto r = drain(out.quarantined,
                     "DELETE FROM quarantined WHERE id = ANY(ARRAY(SELECT id FROM quarantined WHERE received_at < $1"
                     " LIMIT $2))",
                     before(req.events_before));
      if (!r) return make_error(r.error());
    }
    return out;
  }

  Result<EventPage> search_events(const EventQuery& q) override {
    // Searches run on a connection of their own (one at a time), read-only, under a statement
    // timeout: a search never takes a connection ingest is waiting for.
    std::lock_guard lock(search_mutex_);
    for (int attempt = 0;; ++attempt) {
      if (!search_conn_ || search_conn_->bad()) {
        search_conn_.reset();
        auto fresh = connect(options_);
        if (!fresh) return make_error(fmt::format("postgres: search: {}", fresh.error()));
        search_conn_ = std::move(*fresh);
      }
      Conn& c = *search_conn_;
      auto r = search_once(c, q);
      if (PQtransactionStatus(c.get()) != PQTRANS_IDLE) rollback(c);
      if (!r && c.bad() && attempt == 0) continue;
      if (!r) return make_error(fmt::format("postgres: search: {}", r.error()));
      return r;
    }
  }

  Result<EventPage> search_once(Conn& c, const EventQuery& q) {
    auto statements = search::search_statements(q, search::Dialect::postgres);
    // No JIT: compiling a search's plan took a second of a one-second budget (a day's common word),
    // and each search is planned afresh. work_mem: a day's bitmap of a common word's rows stays
    // exact (at the 4 MB default it turns lossy and every row of its pages is checked again). It
    // bounds each plan node (a day partition's bitmap), and one search runs at a time per collector.
    Res begin = c.exec(fmt::format("BEGIN READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL jit = off;"
                                   " SET LOCAL work_mem = '32MB'",
                                   q.timeout_ms > 0 ? q.timeout_ms : kSearchTimeoutMs)
                           .c_str());
    if (!begin.ok()) return failed(c, begin);
    EventPage page;
    auto params_of = [](const std::vector<search::SqlParam>& in) {
      Params p;
      for (const auto& v : in) {
        if (v.is_text) {
          p.text(v.text);
        } else {
          p.integer(v.number);
        }
      }
      return p;
    };
    auto refused = [&](const Res& r) {
      if (r.sqlstate() != "57014") return false;  // query_canceled: the statement timeout
      page = EventPage{};
      page.refused = "the search needs more work than one search may do: narrow the time window or add a field";
      return true;
    };
    Params hp = params_of(statements.hits.params);
    Res hits = c.exec(statements.hits.sql.c_str(), hp);
    if (!hits.ok()) {
      if (refused(hits)) return page;
      return failed(c, hits);
    }
    const int limit = std::clamp(q.limit, 1, 1000);
    for (int i = 0; i < hits.rows(); ++i) {
      if (i == limit) {
        page.more = true;
        break;
      }
      page.hits.push_back({hits.integer(i, 0), Timestamp{hits.integer(i, 1)}, hits.text(i, 2), hits.text(i, 3),
                           hits.text(i, 4), hits.text(i, 5)});
    }
    if (!statements.histogram.sql.empty()) {
      Params gp = params_of(statements.histogram.params);
      Res g = c.exec(statements.histogram.sql.c_str(), gp);
      if (!g.ok()) {
        if (refused(g)) return page;
        return failed(c, g);
      }
      page.histogram.assign(static_cast<size_t>(q.buckets), 0);
      page.bucket_ns = statements.bucket_ns;
      for (int i = 0; i < g.rows(); ++i) {
        int64_t b = g.integer(i, 0);
        if (b >= 0 && b < q.buckets) page.histogram[static_cast<size_t>(b)] += static_cast<uint64_t>(g.integer(i, 1));
      }
    }
    Res commit = c.exec("COMMIT");
    if (!commit.ok()) return failed(c, commit);
    return page;
  }

  Result<std::vector<AlertRecord>> list_alerts(const AlertFilter& f) override {
    return with_conn<std::vector<AlertRecord>>("list_alerts", [&](Conn& c) -> Result<std::vector<AlertRecord>> {
      static const std::string sql =
          std::string(kAlertList) + kAlertWhere + " AND ($9::bigint = 0 OR a.id < $9) ORDER BY a.id DESC LIMIT $10";
      Params p = filter_params(f, true);
      Res r = c.exec(sql.c_str(), p);
      if (!r.ok()) return failed(c, r);
      std::vector<AlertRecord> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(alert_row(r, i, false));
      return out;
    });
  }

  Result<uint64_t> count_alerts(const AlertFilter& f) override {
    return with_conn<uint64_t>("count_alerts", [&](Conn& c) -> Result<uint64_t> {
      static const std::string sql =
          std::string("SELECT COUNT(*) FROM alerts a LEFT JOIN agents g ON g.id = a.agent_id") + kAlertWhere +
          " AND $9::bigint = $9 AND $10::bigint = $10";
      Params p = filter_params(f, false);
      Res r = c.exec(sql.c_str(), p);
      if (!r.ok()) return failed(c, r);
      return static_cast<uint64_t>(r.integer(0, 0));
    });
  }

  Result<std::optional<AlertRecord>> get_alert(int64_t id) override {
    return with_conn<std::optional<AlertRecord>>("get_alert", [&](Conn& c) -> Result<std::optional<AlertRecord>> {
      static const std::string sql = std::string(kAlertSelect) + " WHERE a.id = $1";
      Params p;
      p.integer(id);
      Res r = c.exec(sql.c_str(), p);
      if (!r.ok()) return failed(c, r);
      if (r.rows() == 0) return std::optional<AlertRecord>();
      return std::optional<AlertRecord>(alert_row(r, 0, true));
    });
  }

 private:
  // --- the connection pool ------------------------------------------------------------------
  // Runs `fn` on a connection of its own; the collector's threads share the pool. A connection
  // that broke is replaced (once) before use. Errors name the operation.
  template <typename T, typename Fn>
  Result<T> with_conn(const char* op, Fn&& fn) {
    std::unique_ptr<Conn> conn;
    {
      std::unique_lock lock(mutex_);
      available_.wait(lock, [&] { return !idle_.empty() || open_ < options_.connections; });
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    // An idle connection may have died with the server (a restart, a failover) unnoticed: when
    // the operation failed because its connection is gone, it runs once more on a new one.
    for (bool reused = conn != nullptr;; reused = false) {
      if (!conn || conn->bad()) {
        conn.reset();
        auto fresh = connect(options_);
        if (!fresh) {
          release(nullptr);
          return make_error(fmt::format("postgres: {}: {}", op, fresh.error()));
        }
        conn = std::move(*fresh);
      }
      Result<T> r = fn(*conn);
      if (!r && reused && conn->bad()) continue;
      // Nothing leaves a transaction open on a pooled connection.
      if (PQtransactionStatus(conn->get()) != PQTRANS_IDLE) rollback(*conn);
      release(std::move(conn));
      if (!r) return make_error(fmt::format("postgres: {}: {}", op, r.error()));
      return r;
    }
  }

  void release(std::unique_ptr<Conn> conn) {
    {
      std::lock_guard lock(mutex_);
      if (conn) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;
      }
    }
    available_.notify_one();
  }

  // --- helpers ------------------------------------------------------------------------------
  static Error failed(Conn& c, const Res& r) {
    if (PQstatus(c.get()) != CONNECTION_OK) c.set_broken();
    return make_error(r.error());
  }

  static Result<void> command(Conn& c, const char* sql, Params& p) {
    Res r = c.exec(sql, p);
    if (!r.ok()) return failed(c, r);
    return {};
  }

  // For statements whose answer is whether they touched a row.
  static Result<bool> changed(Conn& c, const char* sql, Params& p) {
    Res r = c.exec(sql, p);
    if (!r.ok()) return failed(c, r);
    return r.affected() > 0;
  }

  static Result<int> version(Conn& c) {
    Res t = c.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!t.ok()) return failed(c, t);
    if (t.text(0, 0) != "t") return 0;
    Res r = c.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!r.ok()) return failed(c, r);
    return static_cast<int>(r.integer(0, 0));
  }

  static Result<void> migrate_locked(Conn& c) {
    Res t =
        c.exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    if (!t.ok()) return failed(c, t);
    auto v = version(c);
    if (!v) return make_error(v.error());
    const int latest = static_cast<int>(migrations().size());
    if (*v > latest) {
      return make_error(
          fmt::format("the database has schema version {} but this collector knows only up to {}: "
                      "run a newer collector",
                      *v, latest));
    }
    for (int next = *v + 1; next <= latest; ++next) {
      Res begin = c.exec("BEGIN");
      if (!begin.ok()) return failed(c, begin);
      Res m = c.exec(migrations()[static_cast<size_t>(next - 1)].sql_for_postgres());
      Result<void> r;
      if (!m.ok()) {
        r = failed(c, m);
      } else {
        Params p;
        p.integer(next).integer(Timestamp::now().ns);
        r = command(c, "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)", p);
      }
      if (!r) {
        rollback(c);
        return make_error(fmt::format("migration {} failed: {}", next, r.error()));
      }
      Res commit = c.exec("COMMIT");
      if (!commit.ok()) return make_error(fmt::format("migration {} failed: {}", next, failed(c, commit).message));
    }
    return {};
  }

  // Makes the day partitions from yesterday to kPartitionDaysAhead days ahead of `today` (days
  // since 1970, UTC), a transaction each, so one day that cannot be made now does not undo the
  // others: a collector racing another waits on the function's lock, then finds them made.
  // Creating a partition locks the events table, so it waits at most a moment for a search to
  // finish rather than let ingest queue behind it. The first failure is returned.
  static Result<void> make_partitions(Conn& c, int64_t today) {
    Result<void> out;
    for (int64_t day = today - 1; day <= today + kPartitionDaysAhead; ++day) {
      Res begin = c.exec("BEGIN; SET LOCAL lock_timeout = '2s'");
      if (!begin.ok()) return failed(c, begin);
      Params p;
      p.integer(day);
      Res r = c.exec("SELECT vigil_events_partition($1::bigint)", p);
      Res commit = r.ok() ? c.exec("COMMIT") : Res(nullptr);
      if (!r.ok() || !commit.ok()) {
        auto why = failed(c, r.ok() ? commit : r);
        rollback(c);
        if (out) out = why;
      }
    }
    return out;
  }

 public:
  // The day's partitions, once a day (a failure is tried again a minute later).
  Result<void> maybe_make_partitions(Conn& c) {
    const Timestamp now = Timestamp::now();
    const int64_t today = now.ns / kDayNs;
    if (partitions_day_.load() == today || now.ns < partitions_retry_.load()) return {};
    std::unique_lock lock(partitions_mutex_, std::try_to_lock);
    if (!lock.owns_lock() || partitions_day_.load() == today) return {};
    auto r = make_partitions(c, today);
    if (!r) {
      partitions_retry_ = now.ns + 60'000'000'000;
      return r;
    }
    partitions_day_ = today;
    return {};
  }
  Result<void> make_partitions_now() {
    partitions_day_ = -1;
    partitions_retry_ = 0;
    return with_conn<void>("partitions", [&](Conn& c) { return maybe_make_partitions(c); });
  }

 private:
  static void rollback(Conn& c) {
    if (PQtransactionStatus(c.get()) == PQTRANS_IDLE) return;
    Res r = c.exec("ROLLBACK");
    if (!r.ok()) c.set_broken();
  }

  // After the batch's statement: its compliance results, then the commit.
  Result<uint64_t> finish_batch(Conn& c, const std::string& agent_id, const std::vector<IncomingRecord>& records,
                                const Res& ins, std::string& sqlstate) {
    if (!ins.ok()) {
      sqlstate = ins.sqlstate();
      rollback(c);
      return failed(c, ins);
    }
    uint64_t added = static_cast<uint64_t>(ins.rows());
    // Compliance results after their records, in the batch's order (the newest one wins).
    std::unordered_set<int64_t> fresh;
    for (int i = 0; i < ins.rows(); ++i) fresh.insert(ins.integer(i, 0));
    for (const auto& rec : records) {
      // A seq's first record is the one stored; a later one under the same seq is not new.
      bool is_new = fresh.erase(static_cast<int64_t>(rec.seq)) > 0;
      if (!is_new || !rec.check) continue;
      PgConnection pc(c);
      auto r = store_compliance_result(pc, agent_id, rec);
      if (!r) {
        sqlstate = pc.sqlstate();
        rollback(c);
        return make_error(r.error());
      }
    }
    Res commit = c.exec("COMMIT");
    if (!commit.ok()) {
      sqlstate = commit.sqlstate();
      rollback(c);
      return failed(c, commit);
    }
    return added;
  }

  Result<uint64_t> store_batch_once(Conn& c, const std::string& agent_id, const std::string& epoch,
                                    const std::vector<IncomingRecord>& records, std::string& sqlstate) {
    if (!c.staged()) {
      Res t = c.exec(kStageTable);
      if (!t.ok()) return failed(c, t);
      c.set_staged();
    }
    if (auto r = c.prepare(kInsertStaged); !r) {
      if (PQstatus(c.get()) != CONNECTION_OK) c.set_broken();
      return make_error(r.error());
    }
    // A seq repeated within the batch counts once, its first record (as when each record was a
    // statement of its own); the others are left out here, so the insert needs no sort.
    CopyRows rows;
    int64_t n = 0;
    std::unordered_set<uint64_t> seen;
    seen.reserve(records.size());
    for (const auto& rec : records) {
      if (!seen.insert(rec.seq).second) continue;
      rows.row(kStageColumns);
      rows.integer(++n);
      rows.integer(static_cast<int64_t>(rec.seq));
      rows.text(rec.kind);
      rows.text(rec.dataset);
      rows.integer(rec.time.ns);
      rows.text(rec.json);
      rows.text(rec.rule_id);
      rows.text(rec.rule_name);
      rows.integer(rec.severity);
      const auto row = search::index_row(rec.search);
      const Entity& e = rec.search.entity;
      rows.text(row.host_name);
      rows.text(e.source_ip);
      rows.integer(e.source_port);
      rows.text(row.source_ip);
      rows.text(e.destination_ip);
      rows.integer(e.destination_port);
      rows.text(row.destination_ip);
      rows.text(row.user_name);
      rows.text(row.event_action);
      rows.text(row.event_outcome);
      rows.text(row.rule_id);
      rows.integer(row.severity);
      rows.text(row.text);
      rows.text(rec.rule_name_vi);
    }
    const std::string& data = rows.done();
    Res begin = c.exec("BEGIN");
    if (!begin.ok()) return failed(c, begin);
    Res copy = c.exec("COPY pg_temp.vigil_batch FROM STDIN (FORMAT binary)");
    if (copy.status() != PGRES_COPY_IN) {
      rollback(c);
      return failed(c, copy);
    }
    // In pieces of at most 1 MiB (libpq takes an int length; a batch is bounded by ingest anyway).
    bool sent = true;
    for (size_t at = 0; sent && at < data.size(); at += kCopyPiece) {
      const size_t piece = std::min(kCopyPiece, data.size() - at);
      sent = PQputCopyData(c.get(), data.data() + at, static_cast<int>(piece)) == 1;
    }
    if (!sent || PQputCopyEnd(c.get(), nullptr) != 1) {
      c.set_broken();
      return make_error("cannot send the batch: " + trimmed(PQerrorMessage(c.get())));
    }
    Res copied(PQgetResult(c.get()));
    while (PGresult* more = PQgetResult(c.get())) PQclear(more);
    if (!copied.ok()) {
      sqlstate = copied.sqlstate();
      rollback(c);
      return failed(c, copied);
    }
    Params p;
    p.text(agent_id).text(epoch);
    Res ins(PQexecPrepared(c.get(), kInsertStaged.name, p.size(), p.values(), nullptr, nullptr, 0));
    return finish_batch(c, agent_id, records, ins, sqlstate);
  }

  // Every filter is a parameter; an unused one is NULL (or 0) and matches everything.
  static constexpr const char* kAlertWhere =
      " WHERE ($1::int = 0 OR a.severity >= $1) AND ($2::text IS NULL OR a.status = $2)"
      " AND ($3::text IS NULL OR g.agency = $3) AND ($4::text IS NULL OR a.agent_id = $4)"
      " AND ($5::text IS NULL OR a.rule_id = $5) AND ($6::bigint = 0 OR a.ts >= $6)"
      " AND ($7::bigint = 0 OR a.ts < $7)"
      // $8: the agencies the caller is limited to, one per line.
      " AND ($8::text IS NULL OR g.agency = ANY(string_to_array($8, E'\\n')))"
      // $11, $12: the source address range (keys in address order); the list's paging is $9, $10.
      " AND ($11::text IS NULL OR a.source_key BETWEEN $11 AND $12::text)";

  static Params filter_params(const AlertFilter& f, bool list) {
    Params p;
    p.integer(f.min_severity).text_or_null(f.status).text_or_null(f.agency).text_or_null(f.agent_id);
    p.text_or_null(f.rule_id).integer(f.from.ns).integer(f.to.ns).text_or_null(join_lines(f.agencies_in));
    p.integer(list ? f.before_id : 0).integer(list ? std::clamp(f.limit, 1, 10000) : 0);
    if (f.source) {
      p.text(f.source->lo).text(f.source->hi);
    } else {
      p.null().null();
    }
    return p;
  }

  // The list leaves the evidence (the record's body) out.
  static constexpr const char* kAlertList =
      "SELECT a.id, a.agent_id, COALESCE(g.agency, ''), COALESCE(g.host, ''), a.rule_id, a.rule_name, a.severity,"
      " a.ts, a.status, a.assignee, a.source_ip, a.source_port, a.destination_ip, a.destination_port, a.user_name,"
      " a.rule_name_vi FROM alerts a LEFT JOIN agents g ON g.id = a.agent_id";

  static constexpr const char* kAlertSelect =
      "SELECT a.id, a.agent_id, COALESCE(g.agency, ''), COALESCE(g.host, ''), a.rule_id, a.rule_name, a.severity,"
      " a.ts, a.status, a.assignee, a.source_ip, a.source_port, a.destination_ip, a.destination_port, a.user_name,"
      " a.rule_name_vi, r.body FROM alerts a LEFT JOIN agents g ON g.id = a.agent_id"
      " LEFT JOIN events_alerts r ON r.ts = a.ts AND r.agent_id = a.agent_id AND r.epoch = a.epoch AND r.seq = a.seq";

  static AlertRecord alert_row(const Res& r, int i, bool with_evidence) {
    AlertRecord a;
    a.id = r.integer(i, 0);
    a.agent_id = r.text(i, 1);
    a.agency = r.text(i, 2);
    a.host = r.text(i, 3);
    a.rule_id = r.text(i, 4);
    a.rule_name = r.text(i, 5);
    a.severity = static_cast<int>(r.integer(i, 6));
    a.time = Timestamp{r.integer(i, 7)};
    a.status = r.text(i, 8);
    a.assignee = r.text(i, 9);
    a.entity.source_ip = r.text(i, 10);
    a.entity.source_port = r.integer(i, 11);
    a.entity.destination_ip = r.text(i, 12);
    a.entity.destination_port = r.integer(i, 13);
    a.entity.user_name = r.text(i, 14);
    a.rule_name_vi = r.text(i, 15);
    if (with_evidence) a.evidence = r.text(i, 16);
    return a;
  }

  PostgresOptions options_;
  std::mutex partitions_mutex_;               // one thread makes partitions at a time
  std::atomic<int64_t> partitions_day_{-1};   // the day partitions were last made for
  std::atomic<int64_t> partitions_retry_{0};  // no new try before (ns)
  std::mutex search_mutex_;
  std::unique_ptr<Conn> search_conn_;  // searches' own connection
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_ = 0;  // connections in use or idle
};

// Whether libpq can read a connection string; the error never repeats it (it may hold a
// password), which libpq's own message on connecting would.
Result<void> check_dsn_syntax(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (!opts) {
    PQfreemem(err);
    return make_error("not a valid libpq connection string");
  }
  PQconninfoFree(opts);
  return {};
}

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options) {
  if (auto ok = check_dsn_syntax(options.dsn); !ok) return make_error("postgres: dsn: " + ok.error());
  if (options.connections < 1) return make_error("postgres: at least one connection is needed");
  auto store = std::make_unique<PgStore>(options);
  if (auto r = store->open(); !r) return make_error(r.error());
  auto m = store->migrate();
  if (!m) return make_error(m.error());
  // The days ahead exist before the first batch; should that fail now (another collector holds
  // the lock too long), batches try again.
  (void)store->make_partitions_now();
  return std::unique_ptr<Store>(std::move(store));
}

Result<void> drop_postgres_schema(const std::string& dsn, const std::string& schema) {
  auto c = connect(PostgresOptions{dsn, "", 1});
  if (!c) return make_error("postgres: " + c.error());
  char* ident = PQescapeIdentifier((*c)->get(), schema.data(), schema.size());
  if (!ident) return make_error("postgres: bad schema name: " + trimmed(PQerrorMessage((*c)->get())));
  std::string sql = std::string("DROP SCHEMA IF EXISTS ") + ident + " CASCADE";
  PQfreemem(ident);
  Res r = (*c)->exec(sql.c_str());
  if (!r.ok()) return make_error("postgres: drop schema: " + r.error());
  return {};
}

}  // namespace vigil::collector
