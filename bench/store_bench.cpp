// The collector's storage targets (the project's issue 10): "ingest >= 50 k events/s into each
// store on 2 cores; alert list with filters over 10 M alerts under 50 ms".
//
//   vigil_store_bench [--alerts N] [--ingest RECORDS] [--dir DIR] [--reuse] [--runs R]
//                     [--sqlite-only | --postgres-only]
//
// For SQLite (a file in DIR, default /tmp) and PostgreSQL (when VIGIL_TEST_PG_DSN is set; a
// schema made for the run and dropped after it, kept with --reuse):
//   1. ingest: store_batch of 1,000-record batches (3% alerts, 1% agent health, bodies of the
//      size agents send) from 200 agents, RECORDS records in all (default 300,000); records/s;
//   2. fill: N alerts (default 200,000; 10 M when run by hand) stored the same way, in batches
//      of 1,000 alert records, then a mix of triage states set with one SQL statement (the
//      store has no bulk triage, and a change per alert would take hours at 10 M);
//   3. list_alerts: the filters the console and vigilctl use, each run R times (default 15),
//      median, 90th percentile and worst in ms; and count_alerts as /metrics asks it.
// With --reuse the SQLite file (DIR/vigil-store-bench.db) or the schema vigil_store_bench is
// kept and, when it already holds N alerts, steps 1 and 2 are skipped: the same data measured
// before and after a change. Without it the run uses (and then drops) a database of its own.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "collector/config/postgres_dsn.h"
#include "collector/store/store.h"

namespace {

using namespace vigil;
using namespace vigil::collector;
using Clock = std::chrono::steady_clock;

constexpr int kAgents = 200;
constexpr int kAgencies = 10;
constexpr int kRules = 50;
constexpr int64_t kYearNs = 365LL * 24 * 3600 * 1'000'000'000;
constexpr int64_t kDayNs = 24LL * 3600 * 1'000'000'000;
const int64_t kStart = Timestamp::from_seconds(1'750'000'000).ns;  // alerts spread over a year from here

std::string agent_id(int i) { return fmt::format("agent-{:04d}", i); }
std::string agency(int i) { return fmt::format("So TTTT {:02d}", i % kAgencies); }
// Rules are not equally noisy: rule k fires about 1/(k+1) as often as rule 0.
std::string rule_id(int k) { return fmt::format("VGL-LOG-{:04d}", k); }

struct Gen {
  std::mt19937_64 rng{42};
  std::discrete_distribution<int> rule_pick;
  Gen() {
    std::vector<double> w;
    for (int k = 0; k < kRules; ++k) w.push_back(1.0 / (k + 1));
    rule_pick = std::discrete_distribution<int>(w.begin(), w.end());
  }

  IncomingRecord event(uint64_t seq, int64_t ts) {
    IncomingRecord r;
    r.seq = seq;
    r.kind = "event";
    r.dataset = "network.flow";
    r.time = Timestamp{ts};
    r.json = fmt::format(
        R"({{"@timestamp":"{}","event":{{"id":"{:016x}","kind":"event","dataset":"network.flow"}},)"
        R"("host":{{"name":"web-01"}},"source":{{"ip":"10.{}.{}.{}","port":{},"bytes":{},"packets":{}}},)"
        R"("destination":{{"ip":"192.168.{}.{}","port":443,"bytes":{},"packets":{}}},"network":{{"transport":"tcp",)"
        R"("community_id":"1:{:016x}="}},"vigil":{{"flow":{{"tcp_flags":"SAFR","end_reason":"fin"}}}}}})",
        Timestamp{ts}.to_string(), rng(), rng() % 256, rng() % 256, rng() % 256, 1024 + rng() % 60000, rng() % 100000,
        rng() % 100, rng() % 256, rng() % 256, rng() % 1000000, rng() % 1000, rng());
    return r;
  }

  IncomingRecord alert(uint64_t seq, int64_t ts) {
    IncomingRecord r;
    r.seq = seq;
    r.kind = "alert";
    r.dataset = "sshd";
    r.time = Timestamp{ts};
    int k = rule_pick(rng);
    r.rule_id = rule_id(k);
    r.rule_name = "SSH password guessing against this host (" + r.rule_id + ")";
    r.severity = static_cast<int>(rng() % 5) + 1;
    std::string src = fmt::format("203.0.{}.{}", rng() % 256, rng() % 256);
    std::string evidence;
    for (int i = 0; i < 3; ++i) {
      if (i) evidence += ',';
      evidence += fmt::format(
          R"({{"@timestamp":"{}","event":{{"id":"{:016x}","dataset":"sshd","outcome":"failure"}},)"
          R"("source":{{"ip":"{}","port":{}}},"user":{{"name":"root"}},"event.original":"Failed password for root from {} port {} ssh2"}})",
          Timestamp{ts}.to_string(), rng(), src, 40000 + i, src, 40000 + i);
    }
    r.json = fmt::format(
        R"({{"@timestamp":"{}","event":{{"id":"{:016x}","kind":"alert","dataset":"sshd","severity":{}}},)"
        R"("rule":{{"id":"{}","name":"{}"}},"threat":{{"technique":{{"id":"T1110"}}}},"source":{{"ip":"{}"}},)"
        R"("vigil":{{"evidence":{{"ids":["a","b","c"],"events":[{}]}}}}}})",
        Timestamp{ts}.to_string(), rng(), r.severity, r.rule_id, r.rule_name, src, evidence);
    return r;
  }

  IncomingRecord health(uint64_t seq, int64_t ts) {
    IncomingRecord r;
    r.seq = seq;
    r.kind = "metric";
    r.dataset = "agent.health";
    r.time = Timestamp{ts};
    r.json = fmt::format(R"({{"@timestamp":"{}","event":{{"kind":"metric","dataset":"agent.health"}},"vigil":{{"health":{{"spool_bytes":{}}}}}}})",
                         Timestamp{ts}.to_string(), rng() % 1000000);
    return r;
  }
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Result<void> add_agents(Store& store) {
  for (int i = 0; i < kAgencies; ++i) {
    if (auto r = store.ensure_agency(agency(i), "tcvn11930"); !r) return r;
  }
  auto existing = store.list_agents();
  if (!existing) return make_error(existing.error());
  if (!existing->empty()) return {};
  for (int i = 0; i < kAgents; ++i) {
    AgentRecord a;
    a.id = agent_id(i);
    a.agency = agency(i);
    a.host = fmt::format("host-{:04d}", i);
    a.version = "1";
    a.cert_serial = fmt::format("{:08x}", i);
    if (auto r = store.add_agent(a); !r) return r;
  }
  return {};
}

// Step 1: records/s of realistic batches.
void bench_ingest(Store& store, uint64_t records, Gen& g) {
  constexpr size_t kBatch = 1000;
  std::vector<std::vector<IncomingRecord>> batches;
  uint64_t seq = 0;
  int64_t ts = kStart;
  // Built before the clock starts: the figure is the store's alone.
  for (uint64_t done = 0; done < records; done += kBatch) {
    std::vector<IncomingRecord> b;
    b.reserve(kBatch);
    for (size_t i = 0; i < kBatch; ++i) {
      ++seq;
      ts += 1'000'000;
      uint64_t roll = g.rng() % 100;
      b.push_back(roll < 3 ? g.alert(seq, ts) : roll < 4 ? g.health(seq, ts) : g.event(seq, ts));
    }
    batches.push_back(std::move(b));
  }
  size_t bytes = 0;
  for (const auto& b : batches)
    for (const auto& r : b) bytes += r.json.size();
  auto t0 = Clock::now();
  uint64_t stored = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    // Each agent sends its own spool: a batch per agent in turn, each with its epoch.
    auto r = store.store_batch(agent_id(static_cast<int>(i % kAgents)), "ingest-epoch", batches[i]);
    if (!r) {
      fmt::print(stderr, "store_batch: {}\n", r.error());
      std::exit(1);
    }
    stored += *r;
  }
  double s = seconds_since(t0);
  fmt::print("  ingest: {} records ({} batches of {}, 3% alerts, {} bytes/record on average) in {:.2f} s: {:.0f} records/s\n",
             stored, batches.size(), kBatch, bytes / std::max<size_t>(1, seq), s, static_cast<double>(stored) / s);
}

// Step 2: N alerts, spread over a year, newest last.
void fill_alerts(Store& store, uint64_t n, Gen& g, const std::function<void()>& set_states) {
  constexpr size_t kBatch = 1000;
  auto t0 = Clock::now();
  uint64_t seq = 0, stored = 0;
  const int64_t step = std::max<int64_t>(1, kYearNs / static_cast<int64_t>(std::max<uint64_t>(1, n)));
  auto last_report = t0;
  while (stored < n) {
    std::vector<IncomingRecord> b;
    size_t count = std::min<uint64_t>(kBatch, n - stored);
    b.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      ++seq;
      b.push_back(g.alert(seq, kStart + static_cast<int64_t>(seq) * step));
    }
    auto r = store.store_batch(agent_id(static_cast<int>(g.rng() % kAgents)), "fill-epoch", b);
    if (!r) {
      fmt::print(stderr, "store_batch: {}\n", r.error());
      std::exit(1);
    }
    stored += *r;
    if (seconds_since(last_report) > 30) {
      last_report = Clock::now();
      fmt::print("    ... {} alerts, {:.0f} alerts/s\n", stored, static_cast<double>(stored) / seconds_since(t0));
      std::fflush(stdout);
    }
  }
  double s = seconds_since(t0);
  fmt::print("  fill: {} alerts (batches of {} alert records) in {:.1f} s: {:.0f} alerts/s\n", stored, kBatch, s,
             static_cast<double>(stored) / s);
  auto t1 = Clock::now();
  set_states();
  fmt::print("  triage states set in {:.1f} s\n", seconds_since(t1));
}

struct Query {
  std::string name;
  AlertFilter filter;
};

std::vector<Query> queries(int64_t max_id, int64_t newest_ts) {
  std::vector<Query> q;
  auto add = [&](std::string name, auto&& set) {
    AlertFilter f;
    set(f);
    q.push_back({std::move(name), f});
  };
  add("first page, no filter", [](AlertFilter&) {});
  add("severity >= high", [](AlertFilter& f) { f.min_severity = 4; });
  add("status new", [](AlertFilter& f) { f.status = "new"; });
  add("severity >= high, status new", [](AlertFilter& f) {
    f.min_severity = 4;
    f.status = "new";
  });
  add("agency", [](AlertFilter& f) { f.agency = agency(3); });
  add("agency, severity >= high, status new", [](AlertFilter& f) {
    f.agency = agency(3);
    f.min_severity = 4;
    f.status = "new";
  });
  add("agent", [](AlertFilter& f) { f.agent_id = agent_id(17); });
  add("agent, status new", [](AlertFilter& f) {
    f.agent_id = agent_id(17);
    f.status = "new";
  });
  add("rule (common)", [](AlertFilter& f) { f.rule_id = rule_id(0); });
  add("rule (rare)", [](AlertFilter& f) { f.rule_id = rule_id(kRules - 1); });
  add("rule (rare), severity critical", [](AlertFilter& f) {
    f.rule_id = rule_id(kRules - 1);
    f.min_severity = 5;
  });
  add("last 24 h", [&](AlertFilter& f) { f.from = Timestamp{newest_ts - kDayNs}; });
  add("one day, 6 months ago", [&](AlertFilter& f) {
    f.from = Timestamp{newest_ts - 183 * kDayNs};
    f.to = Timestamp{newest_ts - 182 * kDayNs};
  });
  add("one day 6 months ago, severity >= high, status new", [&](AlertFilter& f) {
    f.from = Timestamp{newest_ts - 183 * kDayNs};
    f.to = Timestamp{newest_ts - 182 * kDayNs};
    f.min_severity = 4;
    f.status = "new";
  });
  add("agent, one week 3 months ago", [&](AlertFilter& f) {
    f.agent_id = agent_id(17);
    f.from = Timestamp{newest_ts - 98 * kDayNs};
    f.to = Timestamp{newest_ts - 91 * kDayNs};
  });
  add("page in the middle (before_id), severity >= high", [&](AlertFilter& f) {
    f.before_id = max_id / 2;
    f.min_severity = 4;
  });
  add("page in the middle (before_id), agency, status new", [&](AlertFilter& f) {
    f.before_id = max_id / 2;
    f.agency = agency(5);
    f.status = "new";
  });
  add("caller limited to 2 agencies, status new", [](AlertFilter& f) {
    f.agencies_in = {agency(1), agency(2)};
    f.status = "new";
  });
  return q;
}

uint64_t count_or_zero(Store& store, const AlertFilter& f) {
  auto n = store.count_alerts(f);
  return n ? *n : 0;
}

struct Timing {
  double median, p90, worst;
};

template <typename Fn>
Timing time_runs(int runs, Fn&& fn) {
  fn();  // warm-up (and the cache a console user would have)
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t = Clock::now();
    fn();
    ms.push_back(seconds_since(t) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 9 / 10)], ms.back()};
}

void bench_list(Store& store, int runs) {
  auto top = store.list_alerts(AlertFilter{});
  if (!top || top->empty()) {
    fmt::print(stderr, "no alerts to list\n");
    std::exit(1);
  }
  int64_t max_id = top->front().id;
  int64_t newest_ts = top->front().time.ns;
  fmt::print("  {:<55} {:>6} {:>9} {:>9} {:>9}\n", "list_alerts (limit 100)", "rows", "median", "p90", "worst");
  for (const auto& q : queries(max_id, newest_ts)) {
    size_t rows = 0;
    auto t = time_runs(runs, [&] {
      auto r = store.list_alerts(q.filter);
      if (!r) {
        fmt::print(stderr, "list_alerts: {}\n", r.error());
        std::exit(1);
      }
      rows = r->size();
    });
    fmt::print("  {:<55} {:>6} {:>7.2f}ms {:>7.2f}ms {:>7.2f}ms{}\n", q.name, rows, t.median, t.p90, t.worst,
               t.median > 50 ? "  (over 50 ms)" : "");
  }
  AlertFilter open;
  open.min_severity = 4;
  open.status = "new";
  uint64_t n = 0;
  auto t = time_runs(std::max(1, runs / 3), [&] { n = count_or_zero(store, open); });
  fmt::print("  {:<55} {:>6} {:>7.2f}ms {:>7.2f}ms {:>7.2f}ms\n", "count_alerts severity >= high, status new", n,
             t.median, t.p90, t.worst);
}

// The triage mix (60% resolved, 10% acknowledged, 5% false positive, the rest new), by id so
// every backend gets the same.
constexpr const char* kStatesSql =
    "UPDATE alerts SET status = CASE WHEN id % 20 < 12 THEN 'resolved' WHEN id % 20 < 14 THEN 'acknowledged'"
    " WHEN id % 20 = 14 THEN 'false_positive' ELSE 'new' END";

struct Options {
  uint64_t alerts = 200'000;
  uint64_t ingest = 300'000;
  std::string dir = "/tmp";
  bool reuse = false;
  int runs = 15;
  bool sqlite = true;
  bool postgres = true;
};

void run(const std::string& name, Store& store, const Options& o, const std::function<void()>& set_states) {
  fmt::print("{}\n", name);
  std::fflush(stdout);
  Gen g;
  if (auto r = add_agents(store); !r) {
    fmt::print(stderr, "agents: {}\n", r.error());
    std::exit(1);
  }
  AlertFilter all;
  uint64_t have = count_or_zero(store, all);
  if (have < o.alerts) {
    if (o.ingest > 0) bench_ingest(store, o.ingest, g);
    fill_alerts(store, o.alerts, g, set_states);
  } else {
    fmt::print("  reusing {} stored alerts (ingest and fill skipped)\n", have);
  }
  // A retention run with every cutoff at the oldest record: what a run that finds nothing to
  // purge costs at this size (the data stays for the list timings).
  auto t = Clock::now();
  PurgeRequest nothing;
  nothing.events_before = nothing.alerts_before = nothing.health_before = Timestamp{kStart};
  nothing.compliance_history_before = nothing.audit_before = Timestamp{kStart};
  if (auto p = store.purge(nothing); !p) fmt::print(stderr, "purge: {}\n", p.error());
  fmt::print("  retention run (nothing to purge) in {:.2f} s\n", seconds_since(t));
  fmt::print("  alerts stored: {}\n", count_or_zero(store, all));
  std::fflush(stdout);
  bench_list(store, o.runs);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--alerts") {
      o.alerts = std::stoull(next());
    } else if (a == "--ingest") {
      o.ingest = std::stoull(next());
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "--reuse") {
      o.reuse = true;
    } else if (a == "--runs") {
      o.runs = std::max(1, std::stoi(next()));
    } else if (a == "--sqlite-only") {
      o.postgres = false;
    } else if (a == "--postgres-only") {
      o.sqlite = false;
    } else {
      fmt::print(stderr,
                 "usage: vigil_store_bench [--alerts N] [--ingest RECORDS] [--dir DIR] [--reuse] [--runs R] "
                 "[--sqlite-only | --postgres-only]\n");
      return 1;
    }
  }
  // SQLite as the collector runs it (synchronous=FULL: an acknowledged batch is on disk), then
  // as it ran before (NORMAL: the last commits may go on power loss), to show what durability costs.
  for (auto sync : {SqliteSync::full, SqliteSync::normal}) {
    if (!o.sqlite) break;
    const char* sync_name = sync == SqliteSync::full ? "synchronous=FULL" : "synchronous=NORMAL (for comparison)";
    // A run without --reuse has a database of its own and never touches the kept one.
    auto path = std::filesystem::path(o.dir) / (o.reuse ? "vigil-store-bench.db" : "vigil-store-bench-fresh.db");
    if (!o.reuse) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    }
    auto store = open_sqlite_store(path.string(), sync);
    if (!store) {
      fmt::print(stderr, "{}\n", store.error());
      return 1;
    }
    run(fmt::format("SQLite {} {}", sync_name, path.string()), **store, o, [&] {
      sqlite3* db = nullptr;
      sqlite3_open(path.c_str(), &db);
      sqlite3_busy_timeout(db, 60000);
      char* err = nullptr;
      if (sqlite3_exec(db, kStatesSql, nullptr, nullptr, &err) != SQLITE_OK) fmt::print(stderr, "states: {}\n", err);
      sqlite3_free(err);
      sqlite3_close(db);
    });
    store->reset();
    if (!o.reuse) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    }
  }
  const char* dsn = std::getenv("VIGIL_TEST_PG_DSN");
  if (o.postgres && dsn && *dsn) {
    const std::string schema = o.reuse ? "vigil_store_bench" : "vigil_store_bench_fresh";
    if (!o.reuse) (void)drop_postgres_schema(dsn, schema);
    PostgresOptions pg;
    pg.dsn = dsn;
    pg.schema = schema;
    auto store = open_postgres_store(pg);
    if (!store) {
      fmt::print(stderr, "{}\n", store.error());
      return 1;
    }
    run("PostgreSQL " + describe_postgres_dsn(dsn), **store, o, [&] {
      PGconn* c = PQconnectdb(dsn);
      // VACUUM cannot run in the implicit transaction of a multi-statement string: one at a time.
      for (const std::string& s : {"SET search_path TO " + schema, std::string(kStatesSql), std::string("VACUUM ANALYZE alerts")}) {
        PGresult* r = PQexec(c, s.c_str());
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
          fmt::print(stderr, "states: {}\n", PQresultErrorMessage(r));
        }
        PQclear(r);
      }
      PQfinish(c);
    });
    store->reset();
    if (!o.reuse) (void)drop_postgres_schema(dsn, schema);
  } else if (o.postgres) {
    fmt::print("PostgreSQL: VIGIL_TEST_PG_DSN is not set (tests/support/pg_server.sh starts a server)\n");
  }
  return 0;
}
