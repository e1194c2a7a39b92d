#include "collector/config/collector_config.h"
#include "collector/report/catalogues.h"
#include "collector/retention/retention.h"
#include "collector/config/postgres_dsn.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace vigil::collector {
namespace {

using namespace std::chrono_literals;

// A data directory with the files `vigil-collector init` leaves in pki/.
struct CollectorDir {
  vigil::test::TempDir dir;
  CollectorDir() {
    for (const char* f : kPkiFiles) dir.write(std::string("pki/") + f, "x");
  }
  std::string write_config(const std::string& body) { return dir.write("collector.yaml", body).string(); }
};

TEST(CollectorConfig, RelativePathsAndDefaults) {
  CollectorDir d;
  auto loaded = load_collector_config(d.write_config("collector:\n  data_dir: .\n"));
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& c = loaded->config.collector;
  EXPECT_EQ(c.pki_dir, (d.dir.path() / "pki").string());
  EXPECT_EQ(c.storage.driver, "sqlite");
  EXPECT_EQ(c.storage.path, (d.dir.path() / "vigil.db").string());
  EXPECT_EQ(c.agents_listen.port, 8443);
  EXPECT_EQ(c.console_listen.port, 9443);
  EXPECT_EQ(c.silent_after, 90s);
  EXPECT_EQ(c.retention.alerts, 365 * 24h);
}

TEST(CollectorConfig, LimitsAreReadAndBounded) {
  CollectorDir d;
  auto loaded = load_collector_config(d.write_config(
      "collector:\n  data_dir: .\n  limits: {request_timeout: 2s, max_connections: 50, handshake_timeout: 500ms}\n"));
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& l = loaded->config.collector.limits;
  EXPECT_EQ(l.request_timeout, 2s);
  EXPECT_EQ(l.handshake_timeout, 500ms);
  EXPECT_EQ(l.max_connections, 50u);
  EXPECT_EQ(l.idle_timeout, 120s);  // default kept
  auto bad = load_collector_config(
      d.write_config("collector:\n  data_dir: .\n  limits:\n    request_timeout: 0s\n    max_conections: 5\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find(":4:22: error: collector.limits.request_timeout"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find(":5:5: error: unknown key 'collector.limits.max_conections' (did you mean"),
            std::string::npos)
      << bad.error();
}

TEST(CollectorConfig, ExportsAreReadAndChecked) {
  CollectorDir d;
  auto loaded = load_collector_config(d.write_config(
      "collector:\n  data_dir: .\n"
      "exports:\n"
      "  - {name: siem, kind: syslog, address: '127.0.0.1:6514', tls: true, ca: ca.pem, min_severity: medium}\n"
      "  - {name: archive, kind: jsonl, path: alerts.jsonl, start: beginning}\n"
      "  - {name: chat, kind: webhook, url: 'https://chat.example/hook'}\n"));
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& e = loaded->config.exports;
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].address.port, 6514);
  EXPECT_TRUE(e[0].tls);
  EXPECT_EQ(e[0].ca, (d.dir.path() / "ca.pem").string());
  EXPECT_EQ(e[0].min_severity, 3);
  EXPECT_EQ(e[1].path, (d.dir.path() / "alerts.jsonl").string());
  EXPECT_TRUE(e[1].from_beginning);
  EXPECT_FALSE(e[2].from_beginning);
  EXPECT_EQ(e[2].ca, "/etc/ssl/certs/ca-certificates.crt");
  auto bad = load_collector_config(d.write_config(
      "collector:\n  data_dir: .\n"
      "exports:\n"
      "  - {name: chat, kind: webhook, url: 'http://chat.example/hook'}\n"
      "  - {name: chat, kind: jsonl, path: a}\n"
      "  - {name: x, kind: email}\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find(":4:38: error: exports[0].url: an https:// URL"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find(":5:12: error: exports[1].name: 'chat' is used twice"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find(":6:21: error: exports[2].kind"), std::string::npos) << bad.error();
}

TEST(CollectorConfig, PostgresNeedsADsn) {
  CollectorDir d;
  auto loaded = load_collector_config(d.write_config("collector:\n  data_dir: .\n  storage: {driver: postgres}\n"));
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("needs 'dsn'"), std::string::npos) << loaded.error();
}

TEST(CollectorConfig, PostgresDsnIsCheckedAndNeverRepeated) {
  CollectorDir d;
  auto pgpass = d.dir.write("pgpass", "db:5432:vigil:vigil:pw\n");
  auto good = load_collector_config(
      d.write_config("collector:\n  data_dir: .\n  storage:\n    driver: postgresql\n    connections: 8\n"
                     "    dsn: \"host=db dbname=vigil user=vigil passfile=" +
                     pgpass.string() + "\"\n"));
  ASSERT_TRUE(good) << good.error();
  EXPECT_EQ(good->config.collector.storage.driver, "postgres");
  EXPECT_EQ(good->config.collector.storage.connections, 8u);
  EXPECT_TRUE(good->config.collector.storage.path.empty());
  EXPECT_EQ(good->diagnostics.to_string(), "");

  // A password inline and a passfile that is not there: warnings that say what to do.
  auto warned =
      load_collector_config(d.write_config("collector:\n  data_dir: .\n  storage:\n    driver: postgres\n"
                                           "    dsn: \"host=db password=hunter2 passfile=/nonexistent/pgpass\"\n"));
  ASSERT_TRUE(warned) << warned.error();
  std::string w = warned->diagnostics.to_string();
  EXPECT_NE(w.find(":5:10: warning: collector.storage.dsn: holds a password; passfile="), std::string::npos) << w;
  EXPECT_NE(w.find("passfile '/nonexistent/pgpass' does not exist"), std::string::npos) << w;
  EXPECT_EQ(w.find("hunter2"), std::string::npos) << w;

  auto bad = load_collector_config(
      d.write_config("collector:\n  data_dir: .\n  storage: {driver: postgres, dsn: \"host=db password=hunter2 junk\","
                     " connections: 0}\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("collector.storage.dsn: not a valid libpq connection string"), std::string::npos)
      << bad.error();
  EXPECT_NE(bad.error().find("collector.storage.connections"), std::string::npos) << bad.error();
  EXPECT_EQ(bad.error().find("hunter2"), std::string::npos) << bad.error();

  // What a log line may say of a connection string, and what it holds, read without connecting.
  EXPECT_EQ(describe_postgres_dsn("host=db.example port=5433 user=vigil password=s3cr3t dbname=vigil"),
            "postgres vigil@db.example:5433/vigil");
  auto secrets = check_postgres_dsn("postgresql://vigil:s3cr3t@db/vigil");
  ASSERT_TRUE(secrets);
  EXPECT_TRUE(secrets->inline_password);

  auto sqlite_pool =
      load_collector_config(d.write_config("collector:\n  data_dir: .\n  storage: {driver: sqlite, connections: 2}\n"));
  ASSERT_FALSE(sqlite_pool);
  EXPECT_NE(sqlite_pool.error().find("only the postgres driver takes connections"), std::string::npos)
      << sqlite_pool.error();
}

TEST(CollectorConfig, MissingPkiIsAnErrorNamingTheFix) {
  vigil::test::TempDir dir;
  auto path = dir.write("collector.yaml", "collector:\n  data_dir: .\n");
  auto loaded = load_collector_config(path.string());
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("run 'vigil-collector init'"), std::string::npos) << loaded.error();
}

TEST(CollectorConfig, ListenersMustDiffer) {
  CollectorDir d;
  auto loaded = load_collector_config(
      d.write_config("collector:\n  data_dir: .\n  agents_listen: 127.0.0.1:9000\n  console_listen: 127.0.0.1:9000\n"));
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find(":4:19: error: collector.console_listen: must differ"), std::string::npos)
      << loaded.error();
}

TEST(CollectorConfig, RetentionIsReadWithAuditAndIntervalAndBounded) {
  CollectorDir d;
  auto loaded = load_collector_config(d.write_config("collector:\n  data_dir: .\n  retention: {events: 7d, audit: 3650d}\n"));
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& r = loaded->config.collector.retention;
  EXPECT_EQ(r.events, 7 * 24h);
  EXPECT_EQ(r.audit, 3650 * 24h);
  EXPECT_EQ(r.health, 30 * 24h);  // defaults kept
  EXPECT_EQ(r.compliance_history, 400 * 24h);
  EXPECT_EQ(r.interval, 1h);

  auto path = d.write_config(R"(collector:
  data_dir: .
  retention:
    audit: 1h
    interval: soon
    purge: true
)");
  auto bad = load_collector_config(path);
  ASSERT_FALSE(bad);
  const std::string& e = bad.error();
  EXPECT_NE(e.find(path + ":4:12: error: collector.retention.audit"), std::string::npos) << e;
  EXPECT_NE(e.find(path + ":5:15: error: collector.retention.interval: expected a duration"), std::string::npos) << e;
  EXPECT_NE(e.find(path + ":6:5: error: unknown key 'collector.retention.purge'"), std::string::npos) << e;
}

TEST(CollectorConfig, TyposAndWrongTypesAreReportedTogether) {
  CollectorDir d;
  auto path = d.write_config(R"(collector:
  data_dir: .
  treads: 4
  retention: {alerts: forever}
  storage: {driver: mysql}
logging: {level: loud}
)");
  auto loaded = load_collector_config(path);
  ASSERT_FALSE(loaded);
  const std::string& e = loaded.error();
  EXPECT_NE(e.find(path + ":3:3: error: unknown key 'collector.treads' (did you mean 'threads'?)"), std::string::npos) << e;
  EXPECT_NE(e.find(path + ":4:23: error: collector.retention.alerts: expected a duration"), std::string::npos) << e;
  EXPECT_NE(e.find(path + ":5:21: error: collector.storage.driver: expected one of sqlite, postgres, postgresql"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(path + ":6:18: error: logging.level"), std::string::npos) << e;
}

TEST(CollectorConfig, ShippedExampleParses) {
  // The shipped file points at the packaged data directory; only the PKI check may fail here.
  auto path = vigil::test::source_dir() / "config" / "collector.yaml";
  auto loaded = load_collector_config(path.string());
  if (!loaded) {
    std::istringstream lines(loaded.error());
    for (std::string line; std::getline(lines, line);) {
      EXPECT_NE(line.find("collector.pki_dir"), std::string::npos) << line;
    }
  }
}

}  // namespace
}  // namespace vigil::collector

namespace vigil::collector {
namespace {

TEST(RetentionNeed, EventsFollowTheHighestLevelOfTheSystemsUnlessSet) {
  std::vector<std::string> notes;
  auto catalogues = load_catalogues({}, notes);
  ASSERT_TRUE(catalogues) << catalogues.error();
  std::vector<AgencyRecord> agencies = {{"Sở TTTT", "tcvn14423"}, {"Sở Y tế", "tcvn11930"}};
  std::vector<SystemRecord> systems = {{"van-ban", "Sở TTTT", 2, "", {}, 0}, {"cong", "Sở TTTT", 3, "", {}, 0},
                                       {"his", "Sở Y tế", 5, "", {}, 0}};  // tcvn11930 carries no retention value
  auto need = events_retention_needed(systems, agencies, *catalogues, "tcvn14423");
  EXPECT_EQ(need.events, 92 * 24h);
  EXPECT_EQ(need.because, "system cong (level 3): tcvn14423 log-retention-3m");
  systems.push_back({"cong-5", "Sở TTTT", 5, "", {}, 0});
  need = events_retention_needed(systems, agencies, *catalogues, "tcvn14423");
  EXPECT_EQ(need.events, 366 * 24h);
  EXPECT_EQ(events_retention_needed({}, agencies, *catalogues, "tcvn14423").events, 0ms);
  // An agency without a catalogue of its own is judged against the default one.
  EXPECT_EQ(events_retention_needed({{"x", "new", 4, "", {}, 0}}, {}, *catalogues, "tcvn14423").events, 183 * 24h);

  RetentionSection defaults;
  EXPECT_EQ(effective_events_retention(defaults, need), 366 * 24h);  // unset: the levels decide
  EXPECT_EQ(effective_events_retention(defaults, RetentionNeed{}), 30 * 24h);
  RetentionSection set;
  set.events = 60 * 24h;
  set.events_line = 4;
  EXPECT_EQ(effective_events_retention(set, need), 60 * 24h);  // set: kept, and warned about
  auto shortfalls = retention_shortfalls(60 * 24h, *catalogues);
  ASSERT_EQ(shortfalls.size(), 3u);
  EXPECT_EQ(shortfalls[0], "tcvn14423 asks 92d at level 3 (log-retention-3m)");
  EXPECT_TRUE(retention_shortfalls(400 * 24h, *catalogues).empty());
  EXPECT_EQ(config::format_duration(92 * 24h), "92d");
}

TEST(RetentionNeed, WhereCollectorYamlSetsEventsIsKept) {
  CollectorDir d;
  auto unset = load_collector_config(d.write_config("collector:\n  data_dir: .\n"));
  ASSERT_TRUE(unset) << unset.error();
  EXPECT_EQ(unset->config.collector.retention.events_line, 0);
  auto set = load_collector_config(d.write_config("collector:\n  data_dir: .\n  retention:\n    events: 90d\n"));
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(set->config.collector.retention.events_line, 4);
  EXPECT_EQ(set->config.collector.retention.events_column, 13);
}

}  // namespace
}  // namespace vigil::collector
