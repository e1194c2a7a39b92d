// Event search targets (the investigation issue): over 10 M stored events on 2 cores, a field
// query over one day <= 200 ms p95 and full text over one day <= 1 s p95, on SQLite and on
// PostgreSQL; ingest with a search running >= 80 % of the rate without.
//
//   vigil_search_bench [--events N] [--days D] [--queries Q] [--dir DIR] [--reuse]
//                      [--sqlite-only | --postgres-only]
//
// For SQLite (DIR/vigil-search-bench.db, default DIR /tmp, synchronous=FULL as the collector
// runs it) and PostgreSQL (when VIGIL_TEST_PG_DSN is set; schema vigil_search_bench, a partition
// per day made before the fill as the collector makes them ahead):
//   1. fill: N log events (default 10,000,000; sshd 60 %, nginx 30 %, firewall 10 %) from 200
//      agents of 10 agencies, spread over D days (default 10), stored with store_batch in
//      batches of 1,000 as ingest stores them, search index included: events/s;
//   2. queries over one day (a day chosen at random per run, Q runs per form, default 30): three
//      field queries (one address, one user, a /16 and a dataset) and three full-text ones (a
//      rare word, a phrase, a common word), p50 and p95 in ms, the first page of 100 hits and a
//      60-bucket histogram as the console asks; beside them the floor of reading the same day's
//      raw lines: `grep -c -F WORD` over them (page cache warm);
//   3. ingest of 100,000 more events alone, then 100,000 with searches running back to back on
//      another thread (an address, then a user, over the fill's last day), four times: the
//      ratio of each pair, their median and all pairs together, and the storing thread's CPU.
// With --reuse the database kept from an earlier run with N events is searched again (step 1
// skipped).
#include <libpq-fe.h>
#include <sys/wait.h>

#include <algorithm>
#include <ctime>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/store/store.h"

namespace {

using namespace vigil;
using namespace vigil::collector;
using Clock = std::chrono::steady_clock;

constexpr int kAgents = 200;
constexpr int kAgencies = 10;
constexpr int kUsers = 20'000;
constexpr int kBatch = 1000;
constexpr int64_t kDayNs = 24LL * 3600 * 1'000'000'000;
const int64_t kStart = Timestamp::from_seconds(1'780'000'000).ns;

std::string agent_id(int i) { return fmt::format("agent-{:04d}", i); }
std::string agency(int i) { return fmt::format("So TTTT {:02d}", i % kAgencies); }

struct Gen {
  std::mt19937_64 rng{7};
  // Addresses: most traffic from a few, a long tail of many (as scans and brute force look).
  std::string address() {
    uint64_t r = rng();
    if (r % 10 < 3) return fmt::format("203.0.113.{}", r % 50 + 1);
    return fmt::format("10.{}.{}.{}", (r >> 8) % 64, (r >> 16) % 256, (r >> 24) % 254 + 1);
  }
  std::string user() { return fmt::format("user{}", rng() % kUsers); }
  static constexpr const char* kPaths[] = {"/", "/login", "/api/v1/items", "/static/app.js", "/admin", "/search"};
  static constexpr const char* kAgents[] = {"Mozilla/5.0", "curl/7.88.1", "python-requests/2.31", "Go-http-client/1.1"};

  IncomingRecord event(uint64_t seq, int64_t ts, int agent) {
    IncomingRecord r;
    r.seq = seq;
    r.kind = "event";
    r.time = Timestamp{ts};
    const uint64_t pick = rng() % 10;
    std::string src = address();
    const int64_t sport = static_cast<int64_t>(1024 + rng() % 60000);
    nlohmann::json ev;
    std::string original;
    SearchFields f;
    f.entity.source_ip = src;
    f.entity.source_port = sport;
    f.host_name = fmt::format("host-{:04d}", agent);
    if (pick < 6) {
      std::string u = user();
      const bool ok = rng() % 20 == 0;
      original = fmt::format("Dec  5 10:00:00 host-{:04d} sshd[{}]: {} password for {} from {} port {} ssh2", agent,
                             rng() % 90000 + 1000, ok ? "Accepted" : "Failed", u, src, sport);
      r.dataset = "sshd";
      ev = {{"event", {{"kind", "event"}, {"dataset", "sshd"}, {"action", "ssh_login"}, {"outcome", ok ? "success" : "failure"}, {"original", original}}},
            {"user", {{"name", u}}}};
      f.entity.user_name = u;
      f.event_action = "ssh_login";
      f.event_outcome = ok ? "success" : "failure";
    } else if (pick < 9) {
      const char* path = kPaths[rng() % std::size(kPaths)];
      const char* ua = kAgents[rng() % std::size(kAgents)];
      const int status = rng() % 8 == 0 ? 404 : 200;
      original = fmt::format("{} - - [05/Dec/2026:10:00:00 +0000] \"GET {}?id={} HTTP/1.1\" {} {} \"-\" \"{}\"", src, path,
                             rng() % 100000, status, rng() % 9000 + 100, ua);
      r.dataset = "nginx.access";
      ev = {{"event", {{"kind", "event"}, {"dataset", "nginx.access"}, {"original", original}}},
            {"url", {{"path", path}, {"domain", "portal.example.gov.vn"}}},
            {"http", {{"response", {{"status_code", status}}}}},
            {"user_agent", {{"original", ua}}}};
    } else {
      const int64_t dport = rng() % 2 ? 22 : 443;
      f.entity.destination_ip = "192.0.2.10";
      f.entity.destination_port = dport;
      original = fmt::format("kernel: IN=eth0 OUT= SRC={} DST=192.0.2.10 PROTO=TCP SPT={} DPT={} SYN", src, sport, dport);
      r.dataset = "firewall";
      ev = {{"event", {{"kind", "event"}, {"dataset", "firewall"}, {"original", original}}},
            {"destination", {{"ip", "192.0.2.10"}, {"port", dport}}},
            {"network", {{"transport", "tcp"}}}};
    }
    ev["@timestamp"] = Timestamp{ts}.to_string();
    ev["source"] = {{"ip", src}, {"port", sport}};
    ev["host"] = {{"name", f.host_name}};
    ev["agent"] = {{"id", agent_id(agent)}};
    ev["event"]["id"] = fmt::format("{}-{}", agent, seq);
    f.text = original;
    r.json = ev.dump();
    r.search = std::move(f);
    last_original = std::move(original);
    return r;
  }
  std::string last_original;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

// This thread's CPU time, in seconds.
double thread_cpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Stores `count` events from `gen` under `epoch`, time spread over [from, from + span); events
// stored per second of store_batch (a record stored before, same agent, epoch and seq, is not counted: a run
// on a kept database takes an epoch of its own, so that it measures inserts, not redeliveries).
// Also (when given) the storing thread's CPU microseconds per event stored, and the seconds spent
// in store_batch.
double fill(Store& store, Gen& gen, uint64_t count, int64_t from, int64_t span, uint64_t& seq, std::ofstream* day0,
            const std::string& epoch = "bench", double* cpu_us = nullptr, double* seconds = nullptr) {
  Clock::duration storing{};  // in store_batch: making the events is not the store's time
  double cpu = 0;
  uint64_t added = 0;
  std::vector<std::vector<IncomingRecord>> per_agent(kAgents);
  for (uint64_t i = 0; i < count;) {
    const int agent = static_cast<int>(gen.rng() % kAgents);
    auto& batch = per_agent[static_cast<size_t>(agent)];
    for (int k = 0; k < kBatch && i < count; ++k, ++i) {
      // Agents ship what they see as they see it: time moves on, a minute of jitter.
      const int64_t jitter = static_cast<int64_t>(gen.rng() % 120'000'000'000ULL) - 60'000'000'000LL;
      const int64_t ts = std::clamp<int64_t>(
          from + static_cast<int64_t>(static_cast<double>(span) * static_cast<double>(i) / static_cast<double>(count)) + jitter,
          from, from + span - 1);
      batch.push_back(gen.event(++seq, ts, agent));
      if (day0 && ts < kStart + kDayNs) *day0 << gen.last_original << '\n';
    }
    auto t0 = Clock::now();
    const double c0 = thread_cpu();
    auto r = store.store_batch(agent_id(agent), epoch, batch);
    cpu += thread_cpu() - c0;
    storing += Clock::now() - t0;
    if (!r) {
      fmt::print(stderr, "store_batch: {}\n", r.error());
      std::exit(1);
    }
    added += *r;
    batch.clear();
    if (count >= 1'000'000 && (i % 1'000'000) < kBatch) {
      fmt::print(stderr, "  {} M events stored\n", i / 1'000'000);
    }
  }
  if (added < count) fmt::print(stderr, "  {} of the {} events were stored before\n", count - added, count);
  if (cpu_us) *cpu_us = added ? cpu * 1e6 / static_cast<double>(added) : 0;
  if (seconds) *seconds = std::chrono::duration<double>(storing).count();
  return static_cast<double>(added) / std::chrono::duration<double>(storing).count();
}

// PostgreSQL: the day partitions of days first..last (days since 1970), as the collector makes
// each day's ahead of it (vigil_events_partition, migration 18).
void make_partitions(const char* pg_dsn, int64_t first, int64_t last) {
  PGconn* c = PQconnectdb(pg_dsn);
  PQclear(PQexec(c, fmt::format("SET search_path = vigil_search_bench; SELECT vigil_events_partition(d) FROM "
                                "generate_series({}, {}) d",
                                first, last)
                        .c_str()));
  PQfinish(c);
}

struct Form {
  const char* name;
  bool text;
  std::function<std::string(Gen&)> query;
};

double grep_floor(const std::string& file, const std::string& word) {
  std::vector<double> runs;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    // Not to /dev/null: GNU grep then stops at the first match.
    std::string cmd = fmt::format("grep -c -F -- '{}' '{}' >'{}.count'", word, file, file);
    if (std::system(cmd.c_str()) < 0) return 0;
    runs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return percentile(runs, 0.5);
}

void run(const char* label, Store& store, uint64_t events, int days, int queries, bool reuse, const std::string& dir,
         uint64_t existing, const char* pg_dsn = nullptr) {
  fmt::print("\n== {}: {} events over {} days\n", label, events, days);
  Gen gen;
  uint64_t seq = 0;
  const int64_t span = days * kDayNs;
  const std::string day0_path = dir + "/vigil-search-bench-day0.log";
  // `existing` is one agent's count times the agents (events go to agents at random): within 10 %.
  if (!reuse || existing < events / 10 * 9) {
    std::filesystem::remove(dir + "/vigil-search-bench." + (pg_dsn ? "pg" : "sqlite") + ".rounds");
    for (int i = 0; i < kAgents; ++i) {
      (void)store.ensure_agency(agency(i), "tcvn11930");
      (void)store.add_agent({agent_id(i), agency(i), 2, fmt::format("host-{:04d}", i), "bench", fmt::format("s{}", i),
                             Timestamp{kStart}, Timestamp{kStart}});
    }
    if (pg_dsn) {
      // The days' partitions, as a running collector makes each day's ahead of it (it makes
      // yesterday to a week ahead; these days are the bench's, not today's).
      make_partitions(pg_dsn, kStart / kDayNs, kStart / kDayNs + days);
    }
    std::ofstream day0(day0_path, std::ios::trunc);
    double rate = fill(store, gen, events, kStart, span, seq, &day0);
    if (pg_dsn) {
      // Statistics, as autovacuum gathers them after a bulk of inserts (the planner needs them
      // to weigh a common word against the time window).
      PGconn* c = PQconnectdb(pg_dsn);
      PQclear(PQexec(c, "ANALYZE vigil_search_bench.events"));
      PQfinish(c);
    }
    fmt::print("fill (ingest with the search index):  {:>10.0f} events/s   (collector-scale target: SQLite >= 100 k, PostgreSQL >= 50 k events/s)\n",
               rate);
  } else {
    fmt::print("reusing the stored {} events\n", existing);
    seq = existing + 1'000'000;
    gen.rng.seed(99);
  }

  std::vector<Form> forms = {
      {"field: source.ip (one address)", false, [](Gen& g) { return "source.ip:" + g.address(); }},
      {"field: user.name", false, [](Gen& g) { return "user.name:" + g.user(); }},
      {"field: /16 AND dataset", false,
       [](Gen& g) { return fmt::format("source.ip:10.{}.0.0/16 AND event.dataset:sshd", g.rng() % 64); }},
      {"text: rare word (a user)", true, [](Gen& g) { return g.user(); }},
      {"text: phrase", true, [](Gen& g) { return fmt::format("\"password for {}\"", g.user()); }},
      {"text: common word", true, [](Gen&) { return std::string("Failed"); }},
  };
  fmt::print("{:<34} {:>9} {:>9} {:>7}   {}\n", "query over one day (page + histogram)", "p50 ms", "p95 ms", "hits", "target");
  Gen qgen;
  qgen.rng.seed(1234);
  for (const auto& form : forms) {
    std::vector<double> ms;
    size_t hits = 0;
    int refused = 0;
    for (int i = 0; i < queries; ++i) {
      std::string text = form.query(qgen);
      auto parsed = search::parse(text);
      const int64_t day = static_cast<int64_t>(qgen.rng() % static_cast<uint64_t>(days));
      EventQuery q;
      q.query = &std::get<search::Node>(parsed);
      q.since = Timestamp{kStart + day * kDayNs};
      q.until = Timestamp{kStart + (day + 1) * kDayNs};
      q.limit = 100;
      q.buckets = 60;
      auto t0 = Clock::now();
      auto page = store.search_events(q);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (!page) {
        fmt::print(stderr, "search {}: {}\n", text, page.error());
        std::exit(1);
      }
      refused += !page->refused.empty();
      hits += page->hits.size();
    }
    fmt::print("{:<34} {:>9.1f} {:>9.1f} {:>7}   {}{}\n", form.name, percentile(ms, 0.5), percentile(ms, 0.95),
               hits / static_cast<size_t>(queries), form.text ? "<= 1000 ms" : "<= 200 ms",
               refused ? fmt::format(" ({} refused at the cost cap)", refused) : "");
  }
  if (std::filesystem::exists(day0_path)) {
    Gen w;
    w.rng.seed(1234);
    fmt::print("{:<34} {:>9.1f} {:>9} {:>7}   the floor: reading one day's raw lines\n", "grep -c -F user (one day, file)",
               grep_floor(day0_path, w.user() + " "), "", "");
    fmt::print("{:<34} {:>9.1f} {:>9} {:>7}\n", "grep -c -F Failed (one day, file)", grep_floor(day0_path, "Failed"),
               "", "");
  }

  // Ingest alone, then with searches running in a loop on their own connection, in alternating
  // pairs: the store has costs that come in bursts (a full-text segment merge, a checkpoint) and
  // fall in whichever phase is running, so one pair alone says little; the median pair does.
  constexpr int kPairs = 4;
  const uint64_t extra = 100'000;
  const std::string epoch = fmt::format("run-{}", std::chrono::system_clock::now().time_since_epoch().count());
  // Ingest appends, as a collector's does (events arrive about now): each run on a kept database
  // takes 2 * kPairs days after everything stored before (a count of runs kept beside it), never
  // the middle of an earlier run's days.
  int64_t round = 0;
  {
    const std::string rounds = dir + "/vigil-search-bench." + (pg_dsn ? "pg" : "sqlite") + ".rounds";
    std::ifstream in(rounds);
    in >> round;
    std::ofstream(rounds, std::ios::trunc) << (round + 1) << '\n';
  }
  const int64_t later = kStart + span + round * 2 * kPairs * kDayNs;
  if (pg_dsn) make_partitions(pg_dsn, later / kDayNs, later / kDayNs + 2 * kPairs);
  std::vector<double> ratios;
  double alone_s = 0, with_s = 0, alone_n = 0, with_n = 0, alone_cpu_sum = 0, with_cpu_sum = 0;
  int searches_total = 0;
  for (int pair = 0; pair < kPairs; ++pair) {
    double alone_cpu = 0, with_cpu = 0, alone_secs = 0, with_secs = 0;
    const int64_t day = later + 2 * pair * kDayNs;
    const double alone = fill(store, gen, extra, day, kDayNs, seq, nullptr, epoch, &alone_cpu, &alone_secs);
    std::atomic<bool> stop{false};
    std::atomic<int> searches{0};
    // Searches over the last day of the fill, a day of N / D events as the queries above search.
    std::thread searcher([&] {
      Gen sg;
      sg.rng.seed(5 + static_cast<unsigned>(pair));
      while (!stop) {
        std::string text = searches % 2 ? "source.ip:" + sg.address() : sg.user();
        auto parsed = search::parse(text);
        EventQuery q;
        q.query = &std::get<search::Node>(parsed);
        q.since = Timestamp{kStart + span - kDayNs};
        q.until = Timestamp{kStart + span};
        q.buckets = 60;
        (void)store.search_events(q);
        ++searches;
      }
    });
    const double with = fill(store, gen, extra, day + kDayNs, kDayNs, seq, nullptr, epoch, &with_cpu, &with_secs);
    stop = true;
    searcher.join();
    ratios.push_back(with / alone);
    alone_s += alone_secs;
    with_s += with_secs;
    alone_n += alone * alone_secs;  // the events stored
    with_n += with * with_secs;
    alone_cpu_sum += alone_cpu;
    with_cpu_sum += with_cpu;
    searches_total += searches.load();
    fmt::print("  pair {}: ingest alone {:.0f} events/s ({:.1f} us CPU/event), with searches ({} meanwhile) {:.0f} "
               "events/s ({:.1f} us CPU/event): {:.0f} %\n",
               pair + 1, alone, alone_cpu, searches.load(), with, with_cpu, 100.0 * with / alone);
  }
  std::sort(ratios.begin(), ratios.end());
  const double median = (ratios[kPairs / 2 - 1] + ratios[kPairs / 2]) / 2;
  fmt::print("ingest with searches running ({} searches): median of {} pairs {:.0f} % of ingest alone, all pairs "
             "together {:.0f} %   (target >= 80 %)\n",
             searches_total, kPairs, 100.0 * median, 100.0 * (with_n / with_s) / (alone_n / alone_s));
  fmt::print("  the storing thread's CPU per event: alone {:.1f} us, with searches {:.1f} us\n", alone_cpu_sum / kPairs,
             with_cpu_sum / kPairs);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 10'000'000;
  int days = 10, queries = 30;
  std::string dir = "/tmp";
  bool reuse = false, sqlite = true, postgres = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--events") {
      events = std::stoull(next());
    } else if (a == "--days") {
      days = std::max(1, std::stoi(next()));
    } else if (a == "--queries") {
      queries = std::max(1, std::stoi(next()));
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--reuse") {
      reuse = true;
    } else if (a == "--sqlite-only") {
      postgres = false;
    } else if (a == "--postgres-only") {
      sqlite = false;
    } else {
      fmt::print(stderr, "usage: vigil_search_bench [--events N] [--days D] [--queries Q] [--dir DIR] [--reuse] "
                         "[--sqlite-only | --postgres-only]\n");
      return 2;
    }
  }
  fmt::print("vigil_search_bench: {} hardware threads\n", std::thread::hardware_concurrency());
  if (sqlite) {
    const std::string path = dir + "/vigil-search-bench.db";
    if (!reuse) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
    auto store = open_sqlite_store(path);
    if (!store) {
      fmt::print(stderr, "sqlite: {}\n", store.error());
      return 1;
    }
    auto counts = (*store)->counts("agent-0000");
    uint64_t existing = counts ? counts->records * kAgents : 0;
    run("SQLite", **store, events, days, queries, reuse, dir, existing);
  }
  const char* dsn = std::getenv("VIGIL_TEST_PG_DSN");
  if (postgres && dsn && *dsn) {
    if (!reuse) (void)drop_postgres_schema(dsn, "vigil_search_bench");
    auto store = open_postgres_store({dsn, "vigil_search_bench", 4});
    if (!store) {
      fmt::print(stderr, "postgres: {}\n", store.error());
      return 1;
    }
    auto counts = (*store)->counts("agent-0000");
    uint64_t existing = counts ? counts->records * kAgents : 0;
    run("PostgreSQL", **store, events, days, queries, reuse, dir, existing, dsn);
  } else if (postgres) {
    fmt::print("\nPostgreSQL: skipped (set VIGIL_TEST_PG_DSN)\n");
  }
  return 0;
}
