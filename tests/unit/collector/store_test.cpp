// The Store contract. Written against the interface so every implementation runs the same suite.
#include "collector/ingest/batch_parser.h"
#include "collector/search/search_sql.h"
#include "collector/store/migrations.h"
#include "collector/store/sqlite/body_blocks.h"
#include "collector/store/store.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/support/test_support.h"

namespace vigil::collector {
namespace {

// The suite runs on every backend. PostgreSQL comes from the environment (VIGIL_TEST_PG_DSN,
// which tests/run-all.sh sets from tests/support/pg_server.sh); each test gets a schema of its
// own, dropped afterwards, so tests may run in parallel against one database.
enum class Backend { sqlite, postgres };

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
}

std::string pg_dsn() {
  const char* dsn = std::getenv("VIGIL_TEST_PG_DSN");
  return dsn ? dsn : "";
}

// A schema name no other test process uses.
std::string fresh_schema() {
  static std::atomic<int> n{0};
  std::random_device rd;
  return "vigil_t" + std::to_string(::getpid()) + "_" + std::to_string(n++) + "_" + std::to_string(rd() % 100000);
}

#define VIGIL_REQUIRE_PG()                                                                       \
  do {                                                                                           \
    if (pg_dsn().empty()) {                                                                      \
      GTEST_SKIP() << "VIGIL_TEST_PG_DSN is not set, so there is no PostgreSQL to test against " \
                      "(tests/support/pg_server.sh starts one; tests/run-all.sh exports it)";    \
    }                                                                                            \
  } while (0)

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgres) {
      VIGIL_REQUIRE_PG();
      schema_ = fresh_schema();
    }
    auto s = open();
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(s.value());
  }
  void TearDown() override {
    store_.reset();
    for (const auto& schema : schemas_to_drop()) {
      auto r = drop_postgres_schema(pg_dsn(), schema);
      EXPECT_TRUE(r) << r.error();
    }
  }
  std::vector<std::string> schemas_to_drop() const {
    std::vector<std::string> out = extra_schemas_;
    if (!schema_.empty()) out.push_back(schema_);
    return out;
  }

  // Another connection to the same database (a second collector), or to `schema` when given.
  Result<std::unique_ptr<Store>> open(const std::string& schema = "") {
    if (GetParam() == Backend::sqlite) return open_sqlite_store((dir_.path() / "vigil.db").string());
    PostgresOptions o;
    o.dsn = pg_dsn();
    o.schema = schema.empty() ? schema_ : schema;
    return open_postgres_store(o);
  }
  // A database nobody has migrated yet: a new file or a new schema.
  std::string fresh_database() {
    if (GetParam() == Backend::sqlite) {
      std::filesystem::remove(dir_.path() / "vigil.db");
      return "";
    }
    extra_schemas_.push_back(fresh_schema());
    return extra_schemas_.back();
  }

  vigil::test::TempDir dir_;
  std::string schema_;
  std::vector<std::string> extra_schemas_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::sqlite, Backend::postgres), backend_name);

Timestamp at(int64_t s) { return Timestamp::from_seconds(1'780'000'000 + s); }

IncomingRecord record(uint64_t seq, const std::string& kind, Timestamp t) {
  IncomingRecord r;
  r.seq = seq;
  r.kind = kind;
  r.dataset = "sshd";
  r.time = t;
  r.json = "{}";
  if (kind == "alert") {
    r.rule_id = "VGL-LOG-000" + std::to_string(seq % 3 + 1);
    r.rule_name = "rule " + r.rule_id;
    r.severity = static_cast<int>(seq % 5) + 1;
  }
  return r;
}

TEST_P(StoreTest, MigrationsAreVersionedAndIdempotent) {
  auto v = store_->schema_version();
  ASSERT_TRUE(v);
  // One list for both stores, numbered once from 1 without gaps, all of it applied.
  const auto all = migrations();
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i + 1));
    EXPECT_NE(std::string_view(all[i].what), "");
    EXPECT_NE(std::string_view(all[i].sqlite), "");
  }
  EXPECT_EQ(*v, static_cast<int>(all.size()));
  ASSERT_TRUE(store_->migrate());
  EXPECT_EQ(*store_->schema_version(), *v);
  store_.reset();
  auto again = open();
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*(*again)->schema_version(), *v);
}

TEST_P(StoreTest, TokensAreOneTimeAndExpire) {
  ASSERT_TRUE(store_->ensure_agency("So TTTT", "tcvn11930"));
  ASSERT_TRUE(store_->add_token("h1", {"So TTTT", 3}, at(100)));
  ASSERT_TRUE(store_->add_token("h2", {"So TTTT", 2}, at(100)));
  auto t = store_->consume_token("h1", at(50));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->agency, "So TTTT");
  EXPECT_EQ(t->level, 3);
  auto again = store_->consume_token("h1", at(51));
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().find("already used"), std::string::npos);
  auto late = store_->consume_token("h2", at(100));
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().find("expired"), std::string::npos);
  auto unknown = store_->consume_token("nope", at(1));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("unknown"), std::string::npos);
}

TEST_P(StoreTest, TokenForUnknownAgencyIsRefused) {
  EXPECT_FALSE(store_->add_token("h", {"no such agency", 1}, at(100)));
}

TEST_P(StoreTest, RacingEnrollmentsUseATokenOnce) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->add_token("race", {"A", 1}, at(100)));
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (store_->consume_token("race", at(1))) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

// Groups and their versioned bundles (collector/store/fleet_store.h), both databases.
TEST_P(StoreTest, GroupsBundlesAndWhatAgentsRun) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  EXPECT_TRUE(*store_->add_group("web", "front ends"));
  EXPECT_FALSE(*store_->add_group("web", "again"));  // names are unique
  ASSERT_TRUE(store_->add_token("h1", {"A", 2, "web"}, at(1000)));
  auto token = store_->consume_token("h1", at(0));
  ASSERT_TRUE(token) << token.error();
  EXPECT_EQ(token->group, "web");
  AgentRecord a;
  a.id = "agt-1";
  a.agency = "A";
  a.host = "web01";
  a.version = "0.1.0";
  a.cert_serial = "01";
  a.group = token->group;
  ASSERT_TRUE(store_->add_agent(a));
  a.id = "agt-2";
  a.cert_serial = "02";
  a.group = "default";
  ASSERT_TRUE(store_->add_agent(a));

  EXPECT_EQ(*store_->bundle_version("web"), 0);
  for (int i = 1; i <= 2; ++i) {
    auto b = store_->add_bundle("web", [&](int64_t version) -> Result<BundleRecord> {
      BundleRecord r;
      r.group = "web";
      r.version = version;
      r.sha256 = "hash" + std::to_string(version);
      r.signature = "sig";
      r.content = "content " + std::to_string(version);
      r.author = "admin";
      r.message = "push " + std::to_string(i);
      r.created = at(i);
      return r;
    });
    ASSERT_TRUE(b) << b.error();
    EXPECT_EQ(b->version, i);
  }
  // A push whose making fails stores nothing.
  EXPECT_FALSE(store_->add_bundle("web", [](int64_t) -> Result<BundleRecord> { return make_error("refused"); }));
  EXPECT_EQ(*store_->bundle_version("web"), 2);
  auto current = store_->current_bundle("web");
  ASSERT_TRUE(current && current->has_value());
  EXPECT_EQ((*current)->content, "content 2");
  EXPECT_EQ((*store_->get_bundle("web", 1))->content, "content 1");
  EXPECT_FALSE(store_->get_bundle("web", 9)->has_value());
  auto history = store_->list_bundles("web");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].version, 2);
  EXPECT_TRUE((*history)[0].content.empty());  // lists leave the content out
  EXPECT_EQ((*history)[1].message, "push 1");

  auto groups = store_->list_groups();
  ASSERT_TRUE(groups);
  ASSERT_EQ(groups->size(), 2u);  // default (made by the migration) and web
  EXPECT_EQ((*groups)[0].name, "default");
  EXPECT_EQ((*groups)[0].agents, 1);
  EXPECT_EQ((*groups)[1].name, "web");
  EXPECT_EQ((*groups)[1].version, 2);
  EXPECT_EQ((*groups)[1].agents, 1);

  ASSERT_TRUE(*store_->set_agent_group("agt-2", "web"));
  EXPECT_FALSE(*store_->set_agent_group("agt-9", "web"));
  ASSERT_TRUE(store_->set_bundle_status("agt-2", {"web", 2, at(5), ""}, "0.2.0"));
  ASSERT_TRUE(store_->set_bundle_status("agt-1", {"web", 1, at(4), "rejected: bad"}, ""));
  auto two = *store_->get_agent("agt-2");
  EXPECT_EQ(two->group, "web");
  EXPECT_EQ(two->bundle_group, "web");
  EXPECT_EQ(two->bundle_version, 2);
  EXPECT_EQ(two->bundle_applied_at, at(5));
  EXPECT_EQ(two->version, "0.2.0");
  auto one = *store_->get_agent("agt-1");
  EXPECT_EQ(one->bundle_error, "rejected: bad");
  EXPECT_EQ(one->version, "0.1.0");  // an empty version leaves it
  EXPECT_EQ((*store_->get_group("web"))->agents, 2);
}

// Group commit's write: several agents' batches, each with its quarantined records, and their
// last contact, in one call; redelivery adds nothing.
TEST_P(StoreTest, BatchesOfSeveralAgentsTogether) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  for (const char* id : {"agt-1", "agt-2"}) {
    AgentRecord a;
    a.id = id;
    a.agency = "A";
    a.host = std::string("host-") + id;
    a.cert_serial = std::string("serial-") + id;
    a.enrolled = at(0);
    a.last_seen = at(0);
    ASSERT_TRUE(store_->add_agent(a));
  }
  std::vector<BatchWrite> group(3);
  group[0].agent_id = "agt-1";
  group[0].epoch = "e1";
  for (uint64_t i = 1; i <= 5; ++i) group[0].records.push_back(record(i, i == 3 ? "alert" : "event", at(1)));
  group[1].agent_id = "agt-2";
  group[1].epoch = "e9";
  for (uint64_t i = 1; i <= 4; ++i) group[1].records.push_back(record(i, "event", at(2)));
  QuarantinedRecord q;
  q.epoch = "e9";
  q.seq = 5;
  q.line = 5;
  q.reason = "an alert needs rule.id";
  q.body = "{}";
  group[1].quarantined.push_back(q);
  group[2].agent_id = "agt-1";  // the same agent's next batch in the same group
  group[2].epoch = "e1";
  group[2].records.push_back(record(6, "event", at(3)));
  auto stored = store_->store_batches(group, at(40));
  ASSERT_TRUE(stored) << stored.error();
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_EQ((*stored)[0].records, 5u);
  EXPECT_EQ((*stored)[1].records, 4u);
  EXPECT_EQ((*stored)[1].quarantined, 1u);
  EXPECT_EQ((*stored)[2].records, 1u);
  EXPECT_EQ(store_->counts("agt-1")->records, 6u);
  EXPECT_EQ(store_->counts("agt-1")->alerts, 1u);
  EXPECT_EQ(store_->counts("agt-2")->records, 4u);
  EXPECT_EQ(*store_->count_quarantined(), 1u);
  EXPECT_EQ((*store_->get_agent("agt-1"))->last_seen, at(40));
  EXPECT_EQ((*store_->get_agent("agt-2"))->last_seen, at(40));
  auto again = store_->store_batches(group, at(50));
  ASSERT_TRUE(again) << again.error();
  for (const auto& b : *again) {
    EXPECT_EQ(b.records, 0u);
    EXPECT_EQ(b.quarantined, 0u);
  }
  EXPECT_EQ(store_->counts("agt-1")->records, 6u);
  EXPECT_EQ(*store_->count_quarantined(), 1u);
}

TEST_P(StoreTest, AgentsAndRevocation) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  AgentRecord a;
  a.id = "agt-1";
  a.agency = "A";
  a.level = 3;
  a.host = "web01";
  a.version = "0.1.0";
  a.cert_serial = "0abc";
  a.enrolled = at(0);
  a.last_seen = at(0);
  ASSERT_TRUE(store_->add_agent(a));
  EXPECT_FALSE(store_->add_agent(a));  // ids are unique
  ASSERT_TRUE(store_->touch_agent("agt-1", at(30)));
  ASSERT_TRUE(store_->touch_agent("agt-1", at(10)));  // never goes back
  auto got = store_->get_agent("agt-1");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->last_seen, at(30));
  EXPECT_EQ((*got)->level, 3);
  EXPECT_FALSE(*store_->is_revoked("0abc"));
  EXPECT_TRUE(*store_->revoke_agent("agt-1"));
  EXPECT_TRUE(*store_->is_revoked("0abc"));
  EXPECT_EQ((*store_->get_agent("agt-1"))->status, "revoked");
  EXPECT_FALSE(*store_->revoke_agent("agt-unknown"));
  EXPECT_FALSE(store_->get_agent("agt-unknown")->has_value());
  EXPECT_EQ(store_->list_agents()->size(), 1u);
}

TEST_P(StoreTest, BatchesAreStoredOnceUnderAgentEpochSeq) {
  std::vector<IncomingRecord> batch;
  for (uint64_t i = 1; i <= 100; ++i) {
    IncomingRecord r = record(i, i % 10 == 0 ? "alert" : "event", at(static_cast<int64_t>(i)));
    r.json = "{\"n\":" + std::to_string(i) + "}";
    batch.push_back(r);
  }
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", batch), 100u);
  // Redelivery after a crash: nothing new.
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", batch), 0u);
  // Overlap: 51..150, half new (51..100 sent again as they were: a redelivery carries the
  // record's own time and kind, which PostgreSQL's partitioned key holds beside the seq).
  std::vector<IncomingRecord> overlap(batch.begin() + 50, batch.end());
  for (uint64_t i = 101; i <= 150; ++i) overlap.push_back(record(i, "event", at(0)));
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", overlap), 50u);
  if (GetParam() == Backend::sqlite) {
    // SQLite keys a record by (agent, epoch, seq) alone: a seq sent again under another time or
    // kind is still the record stored first. (PostgreSQL's partitioned key holds the time and
    // kind beside it: there such a record is a second one, and its alert still one.)
    EXPECT_EQ(*store_->store_batch("agt-1", "e1", {record(60, "alert", at(99))}), 0u);
  }
  // A new spool epoch (the agent's spool was recreated) starts its own sequence.
  EXPECT_EQ(*store_->store_batch("agt-1", "e2", batch), 100u);
  auto c = store_->counts("agt-1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->records, 250u);
  EXPECT_EQ(c->alerts, 20u);
}

TEST_P(StoreTest, SqlMetacharactersAreData) {
  std::string evil = "x'); DROP TABLE records; --";
  ASSERT_TRUE(store_->ensure_agency(evil, "tcvn11930"));
  ASSERT_TRUE(store_->add_token(evil, {evil, 1}, at(100)));
  auto t = store_->consume_token(evil, at(1));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->agency, evil);
  IncomingRecord r = record(1, "alert", at(0));
  r.dataset = r.json = r.rule_id = r.rule_name = evil;
  EXPECT_EQ(*store_->store_batch(evil, evil, {r}), 1u);
  EXPECT_EQ(store_->counts(evil)->records, 1u);
  AlertFilter f;
  f.agent_id = f.rule_id = f.agency = evil;
  EXPECT_EQ(store_->list_alerts(f)->size(), 0u);  // no agent row, so no agency matches
  f.agency.clear();
  auto found = store_->list_alerts(f);
  ASSERT_TRUE(found) << found.error();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].rule_name, evil);
  EXPECT_TRUE(*store_->change_alert((*found)[0].id, {at(1), evil, "comment", evil}));
  EXPECT_EQ(store_->alert_history((*found)[0].id)->at(0).value, evil);
}

TEST_P(StoreTest, ApiTokensMapToRoles) {
  ASSERT_TRUE(store_->add_api_token("hash", {"bootstrap", "admin", {}}));
  auto t = store_->api_token("hash");
  ASSERT_TRUE(t && t->has_value()) << (t ? "" : t.error());
  EXPECT_EQ((*t)->role, "admin");
  EXPECT_EQ((*t)->name, "bootstrap");
  EXPECT_TRUE((*t)->agencies.empty());
  EXPECT_FALSE(store_->api_token("other")->has_value());
  EXPECT_FALSE(store_->add_api_token("h2", {"x", "root", {}}));  // roles are checked
  ASSERT_TRUE(store_->add_api_token("h3", {"soc-a", "analyst", {"A", "B C"}}));
  EXPECT_EQ((*store_->api_token("h3"))->agencies, (std::vector<std::string>{"A", "B C"}));
}

TEST_P(StoreTest, ApiTokensHaveIdsExpireAndAreRevoked) {
  ApiTokenRecord t{"ci", "analyst", {}};
  t.expires = at(100);
  t.created_by = "admin";
  auto id = store_->add_api_token("h1", t);
  ASSERT_TRUE(id) << id.error();
  auto second = store_->add_api_token("h2", {"ops", "auditor", {"A"}});
  ASSERT_TRUE(second) << second.error();
  EXPECT_GT(*second, *id);
  auto got = store_->api_token("h1");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->id, *id);
  EXPECT_EQ((*got)->expires.ns, at(100).ns);
  EXPECT_EQ((*got)->created_by, "admin");
  EXPECT_TRUE((*got)->active(at(99)));
  EXPECT_FALSE((*got)->active(at(100)));  // expired
  auto list = store_->list_api_tokens();
  ASSERT_TRUE(list) << list.error();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "ops");  // newest first
  EXPECT_TRUE(*store_->revoke_api_token(*second, at(5)));
  EXPECT_FALSE(*store_->revoke_api_token(*second, at(6)));  // already revoked
  EXPECT_FALSE(*store_->revoke_api_token(9999, at(6)));     // unknown
  auto revoked = store_->api_token("h2");
  EXPECT_EQ((*revoked)->revoked.ns, at(5).ns);
  EXPECT_FALSE((*revoked)->active(at(1)));
}

TEST_P(StoreTest, ANewBootstrapTokenRetiresTheOldOne) {
  ASSERT_TRUE(store_->add_api_token("ops", {"ops", "admin", {}}));
  auto first = store_->import_bootstrap_token("boot1", at(1));
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(*first, 0u);
  EXPECT_EQ(*store_->import_bootstrap_token("boot1", at(2)), 0u);  // every start imports it again: one row
  EXPECT_EQ(store_->list_api_tokens()->size(), 2u);
  EXPECT_TRUE((*store_->api_token("boot1"))->bootstrap);
  // `init --force` wrote a new one: the old stops working, other tokens stay.
  EXPECT_EQ(*store_->import_bootstrap_token("boot2", at(3)), 1u);
  EXPECT_FALSE((*store_->api_token("boot1"))->active(at(4)));
  EXPECT_TRUE((*store_->api_token("boot2"))->active(at(4)));
  EXPECT_TRUE((*store_->api_token("ops"))->active(at(4)));
  // A bootstrap token revoked by hand stays revoked across restarts.
  ASSERT_TRUE(*store_->revoke_api_token((*store_->api_token("boot2"))->id, at(5)));
  EXPECT_EQ(*store_->import_bootstrap_token("boot2", at(6)), 0u);
  EXPECT_FALSE((*store_->api_token("boot2"))->active(at(7)));
}

TEST_P(StoreTest, QuarantinedRecordsAreKeptOnceWithTheirReason) {
  std::vector<QuarantinedRecord> q(3);
  q[0].epoch = "e1";
  q[0].seq = 7;
  q[0].line = 2;
  q[0].reason = "an alert needs rule.id";
  q[0].body = R"({"epoch":"e1","seq":7,"event":{"event":{"kind":"alert"}}})";
  q[1].line = 3;  // not JSON: no seq, the line's hash as epoch
  q[1].epoch = "line:0123abcd";
  q[1].reason = "not valid JSON";
  q[1].body = "garbage \xEF\xBF\xBD";
  q[2] = q[1];
  q[2].epoch = "line:4567ef01";
  auto added = store_->quarantine("agt-1", q, at(10));
  ASSERT_TRUE(added) << added.error();
  EXPECT_EQ(*added, 3u);
  // Redelivered: nothing is kept twice, with a seq or without.
  EXPECT_EQ(*store_->quarantine("agt-1", {q[0], q[2]}, at(11)), 0u);
  EXPECT_EQ(*store_->count_quarantined(), 3u);
  auto list = store_->list_quarantined("agt-1", 0, 10);
  ASSERT_TRUE(list) << list.error();
  ASSERT_EQ(list->size(), 3u);
  const auto& oldest = list->back();
  EXPECT_EQ(oldest.agent_id, "agt-1");
  EXPECT_EQ(oldest.epoch, "e1");
  ASSERT_TRUE(oldest.seq.has_value());
  EXPECT_EQ(*oldest.seq, 7u);
  EXPECT_EQ(oldest.line, 2u);
  EXPECT_EQ(oldest.reason, q[0].reason);
  EXPECT_EQ(oldest.body, q[0].body);
  EXPECT_EQ(oldest.received.ns, at(10).ns);
  EXPECT_FALSE(list->front().seq.has_value());
  EXPECT_EQ(store_->list_quarantined("agt-2", 0, 10)->size(), 0u);
  EXPECT_EQ(store_->list_quarantined("", list->front().id, 10)->size(), 2u);  // paging
  // Retention takes them with the events.
  PurgeRequest purge;
  purge.events_before = at(10);
  EXPECT_EQ(store_->purge(purge)->quarantined, 0u);
  purge.events_before = at(11);
  EXPECT_EQ(store_->purge(purge)->quarantined, 3u);
  EXPECT_EQ(*store_->count_quarantined(), 0u);
}

TEST_P(StoreTest, UsersAreAddedListedDisabledAndRepassworded) {
  UserRecord u;
  u.name = "lan";
  u.password = "pbkdf2-sha256$210000$00$11";
  u.role = "analyst";
  u.agencies = {"So TTTT", "Ha Noi; DROP TABLE users"};
  ASSERT_TRUE(*store_->add_user(u));
  EXPECT_FALSE(*store_->add_user(u));  // the name is taken
  u.name = "root";
  u.role = "superuser";
  EXPECT_FALSE(store_->add_user(u));  // roles are checked
  u.name = "an";
  u.role = "auditor";
  u.agencies.clear();
  ASSERT_TRUE(*store_->add_user(u));

  auto got = store_->get_user("lan");
  ASSERT_TRUE(got && got->has_value()) << (got ? "" : got.error());
  EXPECT_EQ((*got)->role, "analyst");
  EXPECT_EQ((*got)->agencies, (std::vector<std::string>{"So TTTT", "Ha Noi; DROP TABLE users"}));
  EXPECT_FALSE((*got)->disabled);
  EXPECT_FALSE(store_->get_user("nobody")->has_value());
  auto all = store_->list_users();
  ASSERT_TRUE(all) << all.error();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "an");
  EXPECT_TRUE((*all)[0].agencies.empty());

  ASSERT_TRUE(store_->add_session("s1", {"lan", at(0), at(0)}));
  ASSERT_TRUE(*store_->set_user_disabled("lan", true));
  EXPECT_TRUE((*store_->get_user("lan"))->disabled);
  EXPECT_FALSE(store_->get_session("s1")->has_value());  // disabling ends the sessions
  EXPECT_FALSE(*store_->set_user_disabled("nobody", true));
  ASSERT_TRUE(*store_->set_user_disabled("lan", false));

  ASSERT_TRUE(store_->add_session("s2", {"lan", at(0), at(0)}));
  ASSERT_TRUE(*store_->set_user_password("lan", "pbkdf2-sha256$210000$22$33"));
  EXPECT_EQ((*store_->get_user("lan"))->password, "pbkdf2-sha256$210000$22$33");
  EXPECT_FALSE(store_->get_session("s2")->has_value());  // so does a new password
  EXPECT_FALSE(*store_->set_user_password("nobody", "x"));
}

TEST_P(StoreTest, SessionsAreTouchedDeletedAndExpired) {
  UserRecord u{"lan", "pbkdf2-sha256$210000$00$11", "admin", {}, false, {}};
  ASSERT_TRUE(*store_->add_user(u));
  ASSERT_TRUE(store_->add_session("old", {"lan", at(0), at(0)}));
  ASSERT_TRUE(store_->add_session("idle", {"lan", at(100), at(100)}));
  ASSERT_TRUE(store_->add_session("busy", {"lan", at(100), at(100)}));
  EXPECT_FALSE(store_->add_session("ghost", {"nobody", at(0), at(0)}));  // users must exist
  ASSERT_TRUE(store_->touch_session("busy", at(500)));
  ASSERT_TRUE(store_->touch_session("busy", at(400)));  // never moves back
  auto busy = store_->get_session("busy");
  ASSERT_TRUE(busy && busy->has_value());
  EXPECT_EQ((*busy)->user, "lan");
  EXPECT_EQ((*busy)->created.ns, at(100).ns);
  EXPECT_EQ((*busy)->last_used.ns, at(500).ns);
  // Created before 50 or unused since 300: "old" and "idle" go.
  EXPECT_EQ(*store_->expire_sessions(at(50), at(300)), 2u);
  EXPECT_FALSE(store_->get_session("old")->has_value());
  EXPECT_FALSE(store_->get_session("idle")->has_value());
  EXPECT_TRUE(*store_->delete_session("busy"));
  EXPECT_FALSE(*store_->delete_session("busy"));
}

// Failed logins live in the database, so collectors sharing it lock a user out together.
TEST_P(StoreTest, LoginFailuresAreCountedForgottenCappedAndCleared) {
  EXPECT_EQ(store_->login_failures("user:lan")->failures, 0);
  for (int i = 1; i <= 3; ++i) {
    auto n = store_->count_login_failures({"user:lan", "addr:192.0.2.1"}, at(100 + i), at(0), 100);
    ASSERT_TRUE(n) << n.error();
    EXPECT_EQ(*n, 0u);
  }
  auto f = store_->login_failures("user:lan");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->failures, 3);
  EXPECT_EQ(f->last.ns, at(103).ns);
  EXPECT_EQ(store_->login_failures("addr:192.0.2.1")->failures, 3);
  // The last failure older than the forget cutoff: counting starts again, and every other key that
  // old is dropped.
  ASSERT_TRUE(store_->count_login_failures({"user:lan"}, at(500), at(200), 100));
  EXPECT_EQ(store_->login_failures("user:lan")->failures, 1);
  EXPECT_EQ(store_->login_failures("addr:192.0.2.1")->failures, 0);
  ASSERT_TRUE(store_->count_login_failures({"user:lan"}, at(501), at(200), 100));
  EXPECT_EQ(store_->login_failures("user:lan")->failures, 2);
  // Past the cap the keys that failed longest ago go, and the store says how many.
  ASSERT_TRUE(store_->count_login_failures({"addr:192.0.2.2"}, at(502), at(200), 100));
  auto dropped = store_->count_login_failures({"addr:192.0.2.3"}, at(503), at(200), 2);
  ASSERT_TRUE(dropped) << dropped.error();
  EXPECT_EQ(*dropped, 1u);
  EXPECT_EQ(store_->login_failures("user:lan")->failures, 0);
  EXPECT_EQ(store_->login_failures("addr:192.0.2.2")->failures, 1);
  EXPECT_EQ(store_->login_failures("addr:192.0.2.3")->failures, 1);
  ASSERT_TRUE(store_->clear_login_failures("addr:192.0.2.3"));
  EXPECT_EQ(store_->login_failures("addr:192.0.2.3")->failures, 0);
}

// Of collectors asking for the same retention round together, exactly one gets it; the next
// round is free once the interval has passed.
TEST_P(StoreTest, RetentionRoundsGoToOneCollector) {
  EXPECT_TRUE(*store_->claim_retention_round(at(1000), at(1000 - 60)));
  EXPECT_FALSE(*store_->claim_retention_round(at(1010), at(1010 - 60)));
  std::vector<std::unique_ptr<Store>> others;
  for (int i = 0; i < 4; ++i) {
    auto o = open();
    ASSERT_TRUE(o) << o.error();
    others.push_back(std::move(*o));
  }
  std::atomic<int> won{0}, failed{0};
  std::vector<std::thread> threads;
  for (auto& o : others) {
    threads.emplace_back([&, s = o.get()] {
      auto c = s->claim_retention_round(at(1100), at(1100 - 60));
      if (!c) ++failed;
      if (c && *c) ++won;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(won.load(), 1);
}

TEST_P(StoreTest, AuditLogListsNewestFirstWithFiltersAndPages) {
  const std::string evil = "x'); DROP TABLE audit; --";
  for (int i = 1; i <= 25; ++i) {
    AuditEntry e{0, at(i), i % 2 ? "admin" : evil, i % 5 ? "alert.status" : "login.failure",
                 "alert/" + std::to_string(i), "acknowledged"};
    ASSERT_TRUE(store_->add_audit(e));
  }
  auto all = store_->list_audit({});
  ASSERT_TRUE(all) << all.error();
  ASSERT_EQ(all->size(), 25u);
  EXPECT_EQ((*all)[0].target, "alert/25");
  EXPECT_EQ((*all)[0].time.ns, at(25).ns);
  EXPECT_EQ((*all)[24].target, "alert/1");
  AuditFilter f;
  f.who = evil;
  EXPECT_EQ(store_->list_audit(f)->size(), 12u);
  f = {};
  f.action = "login.failure";
  EXPECT_EQ(store_->list_audit(f)->size(), 5u);
  std::set<int64_t> seen;
  AuditFilter page;
  page.limit = 10;
  for (;;) {
    auto got = *store_->list_audit(page);
    if (got.empty()) break;
    for (const auto& e : got) EXPECT_TRUE(seen.insert(e.id).second);
    page.before_id = got.back().id;
  }
  EXPECT_EQ(seen.size(), 25u);
}

TEST_P(StoreTest, AlertsAreScopedToTheCallersAgencies) {
  for (const char* agency : {"A", "B", "C"}) {
    ASSERT_TRUE(store_->ensure_agency(agency, "tcvn11930"));
    AgentRecord a;
    a.id = std::string("agt-") + agency;
    a.agency = agency;
    a.host = "web";
    a.version = "1";
    a.cert_serial = a.id;
    ASSERT_TRUE(store_->add_agent(a));
    ASSERT_EQ(*store_->store_batch(a.id, "e1", {record(1, "alert", at(1)), record(2, "alert", at(2))}), 2u);
  }
  AlertFilter f;
  f.agencies_in = {"A", "C"};
  auto got = store_->list_alerts(f);
  ASSERT_TRUE(got) << got.error();
  ASSERT_EQ(got->size(), 4u);
  for (const auto& a : *got) EXPECT_NE(a.agency, "B");
  EXPECT_EQ(*store_->count_alerts(f), 4u);
  f.agency = "B";  // asking for another agency finds nothing
  EXPECT_EQ(store_->list_alerts(f)->size(), 0u);
  EXPECT_EQ(*store_->count_alerts(f), 0u);
  f = {};
  f.agencies_in = {"B' OR '1'='1"};
  EXPECT_EQ(store_->list_alerts(f)->size(), 0u);
  f.agencies_in = {"B"};
  f.limit = 1;
  EXPECT_EQ(store_->list_alerts(f)->size(), 1u);
}

TEST_P(StoreTest, SystemsHaveLevelsAndTheAgentsServingThem) {
  ASSERT_TRUE(store_->ensure_agency("Sở TTTT", "tcvn14423"));
  SystemRecord portal{"cong-dich-vu-cong", "Sở TTTT", 3, "Cổng dịch vụ công", {}, 0};
  EXPECT_TRUE(*store_->add_system(portal));
  EXPECT_FALSE(*store_->add_system(portal));  // the name is taken
  EXPECT_TRUE(*store_->add_system({"van-ban", "Sở TTTT", 2, "", {}, 0}));
  EXPECT_FALSE(store_->add_system({"x", "no such agency", 2, "", {}, 0}));

  // A token naming systems gives them to the agent it enrolls.
  TokenInfo info{"Sở TTTT", 3, "default", {"cong-dich-vu-cong", "van-ban"}};
  ASSERT_TRUE(store_->add_token("h1", info, at(1000)));
  auto granted = store_->consume_token("h1", at(1));
  ASSERT_TRUE(granted) << granted.error();
  EXPECT_EQ(granted->systems, (std::vector<std::string>{"cong-dich-vu-cong", "van-ban"}));
  AgentRecord a;
  a.id = "agt-1";
  a.agency = "Sở TTTT";
  a.level = 3;
  a.host = "web-01";
  a.version = "1";
  a.cert_serial = "s1";
  a.systems = granted->systems;
  ASSERT_TRUE(store_->add_agent(a));
  a.id = "agt-2";
  a.host = "web-02";
  a.cert_serial = "s2";
  a.systems = {};
  ASSERT_TRUE(store_->add_agent(a));
  EXPECT_EQ((*store_->get_agent("agt-1"))->systems, granted->systems);
  EXPECT_TRUE((*store_->get_agent("agt-2"))->systems.empty());

  auto listed = store_->list_systems();
  ASSERT_TRUE(listed) << listed.error();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "cong-dich-vu-cong");
  EXPECT_EQ((*listed)[0].level, 3);
  EXPECT_EQ((*listed)[0].agents, 1);
  EXPECT_EQ((*listed)[0].description, "Cổng dịch vụ công");

  // An agent's set is replaced; revoked agents are not counted.
  EXPECT_TRUE(*store_->set_agent_systems("agt-2", {"cong-dich-vu-cong"}));
  EXPECT_TRUE(*store_->set_agent_systems("agt-1", {"van-ban"}));
  EXPECT_FALSE(*store_->set_agent_systems("agt-9", {"van-ban"}));
  EXPECT_EQ((*store_->get_agent("agt-1"))->systems, std::vector<std::string>{"van-ban"});
  EXPECT_EQ((*store_->get_system("cong-dich-vu-cong"))->agents, 1);
  ASSERT_TRUE(store_->revoke_agent("agt-2"));
  EXPECT_EQ((*store_->get_system("cong-dich-vu-cong"))->agents, 0);
  auto agents = store_->list_agents();
  ASSERT_TRUE(agents);
  for (const auto& x : *agents) {
    EXPECT_EQ(x.systems, x.id == "agt-1" ? std::vector<std::string>{"van-ban"} : std::vector<std::string>{"cong-dich-vu-cong"});
  }

  // Level and description change; nothing else.
  EXPECT_TRUE(*store_->update_system("van-ban", 4, std::nullopt));
  EXPECT_TRUE(*store_->update_system("van-ban", std::nullopt, std::string("Quản lý văn bản")));
  EXPECT_FALSE(*store_->update_system("nope", 4, std::nullopt));
  auto vb = *store_->get_system("van-ban");
  EXPECT_EQ(vb->level, 4);
  EXPECT_EQ(vb->description, "Quản lý văn bản");
  EXPECT_FALSE(store_->update_system("van-ban", 9, std::nullopt));  // the level is checked by the schema too
  EXPECT_FALSE(*store_->get_system("nope"));
}

TEST_P(StoreTest, IncidentsKeepTheirAlertsTimelineAndClock) {
  std::vector<AlertRecord> alerts;
  for (const char* agency : {"A", "B"}) {
    ASSERT_TRUE(store_->ensure_agency(agency, "tcvn11930"));
    AgentRecord a;
    a.id = std::string("agt-") + agency;
    a.agency = agency;
    a.host = std::string("web-") + agency;
    a.version = "1";
    a.cert_serial = a.id;
    ASSERT_TRUE(store_->add_agent(a));
    ASSERT_EQ(*store_->store_batch(a.id, "e1", {record(1, "alert", at(100)), record(2, "alert", at(50))}), 2u);
  }
  AlertFilter all;
  auto listed = store_->list_alerts(all);
  ASSERT_TRUE(listed) << listed.error();
  ASSERT_EQ(listed->size(), 4u);
  for (const auto& l : *listed) alerts.push_back(**store_->get_alert(l.id));
  std::sort(alerts.begin(), alerts.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  // alerts[0], [1]: agency A at 100 s and 50 s; [2], [3]: agency B.

  NewIncident n;
  n.title = "Brute force on web-A; it's 'quoted'";
  n.severity = 5;
  n.created_by = "analyst";
  n.now = at(200);
  n.notify_within_ns = 24LL * 3600 * 1'000'000'000;
  n.report_within_ns = 72LL * 3600 * 1'000'000'000;
  n.alerts = {alerts[0], alerts[0]};  // the same alert twice is kept once
  auto id = store_->create_incident(n);
  ASSERT_TRUE(id) << id.error();
  auto got = store_->get_incident(*id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->title, n.title);
  EXPECT_EQ((*got)->status, "open");
  EXPECT_EQ((*got)->detected_at.ns, at(100).ns);
  EXPECT_EQ((*got)->notify_due().ns, at(100).ns + n.notify_within_ns);
  EXPECT_EQ((*got)->report_due().ns, at(100).ns + n.report_within_ns);
  ASSERT_EQ((*got)->alerts.size(), 1u);
  EXPECT_EQ((*got)->alerts[0].alert_id, alerts[0].id);
  EXPECT_EQ((*got)->alerts[0].host, "web-A");
  EXPECT_EQ((*got)->agencies, std::vector<std::string>{"A"});
  ASSERT_EQ((*got)->timeline.size(), 2u);  // created, alert
  EXPECT_EQ((*got)->timeline[0].action, "created");
  EXPECT_EQ((*got)->timeline[1].value, std::to_string(alerts[0].id));

  // An earlier alert moves detection, and both deadlines, earlier; the same alert again: false.
  EXPECT_TRUE(*store_->add_incident_alert(*id, alerts[1], "analyst", at(210)));
  EXPECT_FALSE(*store_->add_incident_alert(*id, alerts[1], "analyst", at(211)));
  EXPECT_FALSE(*store_->add_incident_alert(*id + 100, alerts[1], "analyst", at(211)));
  got = store_->get_incident(*id);
  EXPECT_EQ((*got)->detected_at.ns, at(50).ns);
  EXPECT_EQ((*got)->notify_due().ns, at(50).ns + n.notify_within_ns);
  EXPECT_EQ((*got)->alert_count, 2);

  // Status, assignee, comment, notification; each a line of the timeline.
  EXPECT_TRUE(*store_->change_incident(*id, {at(300), "analyst", "status", "contained"}));
  EXPECT_TRUE(*store_->change_incident(*id, {at(301), "analyst", "assign", "lan"}));
  EXPECT_TRUE(*store_->change_incident(*id, {at(302), "lan", "comment", "blocked 203.0.113.7 at the firewall"}));
  EXPECT_TRUE(*store_->change_incident(*id, {at(303), "lan", "notified", "VNCERT ticket 42"}));
  EXPECT_FALSE(*store_->change_incident(*id, {at(304), "lan", "notified", "again"}));  // the first time stays
  EXPECT_FALSE(*store_->change_incident(*id, {at(305), "lan", "status", "open"}));  // not forward: nothing
  EXPECT_TRUE(*store_->change_incident(*id, {at(400), "lan", "status", "reported"}));
  EXPECT_FALSE(*store_->change_incident(*id + 100, {at(400), "lan", "comment", "x"}));
  EXPECT_FALSE(store_->change_incident(*id, {at(400), "lan", "status", "closed"}));
  EXPECT_FALSE(store_->change_incident(*id, {at(400), "lan", "delete", ""}));
  got = store_->get_incident(*id);
  EXPECT_EQ((*got)->status, "reported");
  EXPECT_EQ((*got)->assignee, "lan");
  EXPECT_EQ((*got)->notified_at.ns, at(303).ns);
  EXPECT_EQ((*got)->reported_at.ns, at(400).ns);
  ASSERT_EQ((*got)->timeline.size(), 8u);
  EXPECT_EQ((*got)->timeline.back().action, "status");
  EXPECT_EQ((*got)->timeline[5].value, "blocked 203.0.113.7 at the firewall");

  // A second incident over both agencies: a caller limited to A sees only the first.
  n.title = "Spread to B";
  n.severity = 4;
  n.alerts = {alerts[1], alerts[2]};
  auto second = store_->create_incident(n);
  ASSERT_TRUE(second) << second.error();
  IncidentFilter f;
  auto every = store_->list_incidents(f);
  ASSERT_TRUE(every) << every.error();
  ASSERT_EQ(every->size(), 2u);
  EXPECT_EQ((*every)[0].id, *second);  // newest first
  EXPECT_EQ((*every)[0].agencies, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ((*every)[0].hosts, (std::vector<std::string>{"web-A", "web-B"}));
  EXPECT_EQ((*every)[1].alert_count, 2);
  f.agencies_in = {"A"};
  auto limited = store_->list_incidents(f);
  ASSERT_EQ(limited->size(), 1u);
  EXPECT_EQ((*limited)[0].id, *id);
  f.agencies_in = {"A", "B"};
  EXPECT_EQ(store_->list_incidents(f)->size(), 2u);
  f = {};
  f.open_only = true;
  ASSERT_EQ(store_->list_incidents(f)->size(), 1u);
  f = {};
  f.status = "reported";
  EXPECT_EQ(store_->list_incidents(f)->front().id, *id);
  f = {};
  f.before_id = *second;
  EXPECT_EQ(store_->list_incidents(f)->size(), 1u);
  EXPECT_FALSE(*store_->get_incident(*second + 100));
  NewIncident empty;
  EXPECT_FALSE(store_->create_incident(empty));

  // Each deadline's passing is claimed once (two collectors sharing the database tell it once).
  auto other = open();
  ASSERT_TRUE(other) << other.error();
  EXPECT_TRUE(*store_->claim_overdue_notice(*second, kOverdueNotify));
  EXPECT_FALSE(*(*other)->claim_overdue_notice(*second, kOverdueNotify));
  EXPECT_TRUE(*(*other)->claim_overdue_notice(*second, kOverdueReport));
  EXPECT_FALSE(*store_->claim_overdue_notice(*second, kOverdueReport));
  EXPECT_FALSE(*store_->claim_overdue_notice(*second + 100, kOverdueNotify));
}

TEST_P(StoreTest, AlertsFilterPageAndKeepTheirHistory) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->ensure_agency("B", "tcvn11930"));
  AgentRecord a;
  a.id = "agt-a";
  a.agency = "A";
  a.host = "web-a";
  a.version = "1";
  a.cert_serial = "01";
  ASSERT_TRUE(store_->add_agent(a));
  a.id = "agt-b";
  a.agency = "B";
  a.host = "web-b";
  a.cert_serial = "02";
  ASSERT_TRUE(store_->add_agent(a));
  std::vector<IncomingRecord> batch;
  for (uint64_t i = 1; i <= 30; ++i) batch.push_back(record(i, i % 2 ? "alert" : "event", at(static_cast<int64_t>(i))));
  ASSERT_EQ(*store_->store_batch("agt-a", "e1", batch), 30u);
  ASSERT_EQ(*store_->store_batch("agt-b", "e1", batch), 30u);
  ASSERT_EQ(*store_->store_batch("agt-b", "e1", batch), 0u);  // redelivery makes no second alert

  // Independent count of what the filters should return.
  size_t high = 0, rule1 = 0;
  for (const auto& r : batch) {
    if (r.kind != "alert") continue;
    high += r.severity >= 4;
    rule1 += r.rule_id == "VGL-LOG-0001";
  }
  AlertFilter all;
  EXPECT_EQ(store_->list_alerts(all)->size(), 30u);
  EXPECT_EQ(*store_->count_alerts(all), 30u);
  AlertFilter f;
  f.agency = "A";
  auto in_a = *store_->list_alerts(f);
  EXPECT_EQ(in_a.size(), 15u);
  for (const auto& x : in_a) {
    EXPECT_EQ(x.agency, "A");
    EXPECT_EQ(x.host, "web-a");
  }
  f.min_severity = 4;
  EXPECT_EQ(store_->list_alerts(f)->size(), high);
  EXPECT_EQ(*store_->count_alerts(f), high);
  f = {};
  f.rule_id = "VGL-LOG-0001";
  EXPECT_EQ(store_->list_alerts(f)->size(), 2 * rule1);
  f = {};
  f.from = at(10);
  f.to = at(20);  // alerts at odd seconds 11..19
  EXPECT_EQ(store_->list_alerts(f)->size(), 10u);

  // Pages: newest first, no overlap, nothing missed.
  std::set<int64_t> seen;
  AlertFilter page;
  page.limit = 7;
  for (;;) {
    auto got = *store_->list_alerts(page);
    if (got.empty()) break;
    for (size_t i = 1; i < got.size(); ++i) EXPECT_GT(got[i - 1].id, got[i].id);
    for (const auto& x : got) EXPECT_TRUE(seen.insert(x.id).second);
    page.before_id = got.back().id;
  }
  EXPECT_EQ(seen.size(), 30u);

  int64_t id = in_a.front().id;
  EXPECT_TRUE(*store_->change_alert(id, {at(100), "analyst1", "status", "acknowledged"}));
  EXPECT_TRUE(*store_->change_alert(id, {at(101), "analyst1", "assign", "analyst2"}));
  EXPECT_TRUE(*store_->change_alert(id, {at(102), "analyst2", "comment", "scanner from the audit team"}));
  EXPECT_TRUE(*store_->change_alert(id, {at(103), "analyst2", "status", "false_positive"}));
  EXPECT_FALSE(store_->change_alert(id, {at(104), "x", "status", "deleted"}));
  EXPECT_FALSE(*store_->change_alert(999999, {at(104), "x", "status", "resolved"}));
  auto got = store_->get_alert(id);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->status, "false_positive");
  EXPECT_EQ((*got)->assignee, "analyst2");
  EXPECT_EQ((*got)->evidence, "{}");
  auto h = *store_->alert_history(id);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[2].action, "comment");
  EXPECT_EQ(h[2].who, "analyst2");
  f = {};
  f.status = "false_positive";
  EXPECT_EQ(store_->list_alerts(f)->size(), 1u);
  f.status = "new";
  EXPECT_EQ(store_->list_alerts(f)->size(), 29u);
  EXPECT_EQ(*store_->count_alerts(f), 29u);
  // Open alerts by severity (what /metrics reports): new and acknowledged ones, counted apart
  // from a list of them.
  {
    auto listed = *store_->list_alerts(AlertFilter{});
    auto expected_counts = [&] {
      std::array<uint64_t, 6> expected{};
      auto alerts = store_->list_alerts(AlertFilter{});
      for (const auto& x : *alerts) {
        if (x.status == "new" || x.status == "acknowledged") ++expected[static_cast<size_t>(x.severity)];
      }
      return expected;
    };
    auto before = expected_counts();
    EXPECT_EQ(*store_->open_alert_counts(), before);
    EXPECT_EQ(before[1] + before[2] + before[3] + before[4] + before[5], 29u);
    int64_t other = listed[0].id == id ? listed[1].id : listed[0].id;
    ASSERT_TRUE(*store_->change_alert(other, {at(110), "ana", "status", "acknowledged"}));
    EXPECT_EQ(*store_->open_alert_counts(), before);  // still open
    ASSERT_TRUE(*store_->change_alert(other, {at(111), "ana", "status", "resolved"}));
    auto after = expected_counts();
    EXPECT_EQ(*store_->open_alert_counts(), after);
    EXPECT_EQ(after[1] + after[2] + after[3] + after[4] + after[5], 28u);
  }
}

TEST_P(StoreTest, ComplianceKeepsTheNewestResultPerAgentAndCheck) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  AgentRecord a;
  a.id = "agt-a";
  a.agency = "A";
  a.level = 3;
  a.host = "web-a";
  a.version = "1";
  a.cert_serial = "01";
  ASSERT_TRUE(store_->add_agent(a));
  auto check = [](uint64_t seq, int64_t t, const std::string& id, const std::string& result) {
    IncomingRecord r = record(seq, "state", at(t));
    r.dataset = "compliance.check";
    r.check = IncomingRecord::Check{"pol", id, "title " + id, 2, result, R"({"tcvn11930":["x"]})", "why", "", ""};
    return r;
  };
  ASSERT_EQ(*store_->store_batch("agt-a", "e1", {check(1, 10, "c1", "fail"), check(2, 10, "c2", "pass")}), 2u);
  ASSERT_EQ(*store_->store_batch("agt-a", "e1", {check(3, 20, "c1", "pass"), check(4, 20, "c2", "pass")}), 2u);
  // A result older than the stored one, delivered late, changes nothing.
  ASSERT_EQ(*store_->store_batch("agt-a", "e1", {check(5, 5, "c2", "fail")}), 1u);
  auto rows = store_->compliance_latest("A");
  ASSERT_TRUE(rows) << rows.error();
  ASSERT_EQ(rows->size(), 2u);
  for (const auto& r : *rows) {
    EXPECT_EQ(r.result, "pass") << r.check_id;
    EXPECT_EQ(r.time, at(20));
    EXPECT_EQ(r.agent_level, 3);
    EXPECT_EQ(r.host, "web-a");
    EXPECT_EQ(r.controls, R"({"tcvn11930":["x"]})");
  }
  EXPECT_EQ(store_->compliance_latest("B")->size(), 0u);
  EXPECT_EQ(store_->compliance_latest("")->size(), 2u);
  auto agencies = store_->list_agencies();
  ASSERT_TRUE(agencies);
  ASSERT_EQ(agencies->size(), 1u);
  EXPECT_EQ((*agencies)[0].framework, "tcvn11930");
}

TEST_P(StoreTest, ComplianceAsOfGivesTheResultEachCheckHadThenWithRemediation) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->ensure_agency("B", "tcvn14423"));
  for (auto [id, agency] : {std::pair{"agt-a", "A"}, std::pair{"agt-b", "B"}}) {
    AgentRecord a;
    a.id = id;
    a.agency = agency;
    a.level = 3;
    a.host = std::string("host-") + id;
    a.version = "1";
    a.cert_serial = id;
    ASSERT_TRUE(store_->add_agent(a));
  }
  auto check = [](uint64_t seq, int64_t t, const std::string& id, const std::string& result) {
    IncomingRecord r = record(seq, "state", at(t));
    r.dataset = "compliance.check";
    r.check = IncomingRecord::Check{"pol", id, "title " + id, 1, result, "{}", "ev " + result, "fix " + id, "1.2",
                                    "tiêu đề " + id, "sửa " + id};
    return r;
  };
  // c1: fail at 10, pass at 20, fail at 30. c2: pass at 25 (first seen after 20). c3: pass at 10 and again.
  ASSERT_TRUE(store_->store_batch("agt-a", "e", {check(1, 10, "c1", "fail"), check(2, 10, "c3", "pass")}));
  ASSERT_TRUE(store_->store_batch("agt-a", "e", {check(3, 20, "c1", "pass"), check(4, 20, "c3", "pass")}));
  ASSERT_TRUE(store_->store_batch("agt-a", "e", {check(5, 25, "c2", "pass")}));
  ASSERT_TRUE(store_->store_batch("agt-a", "e", {check(6, 30, "c1", "fail")}));
  ASSERT_TRUE(store_->store_batch("agt-b", "e", {check(1, 10, "c1", "fail")}));
  auto result_at = [&](const std::string& agency, int64_t t) {
    std::map<std::string, std::string> out;
    auto rows = store_->compliance_as_of(agency, at(t));
    EXPECT_TRUE(rows) << rows.error();
    for (const auto& r : *rows) out[r.agent_id + "/" + r.check_id] = r.result;
    return out;
  };
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(result_at("A", 5), M{});
  EXPECT_EQ(result_at("A", 10), (M{{"agt-a/c1", "fail"}, {"agt-a/c3", "pass"}}));
  EXPECT_EQ(result_at("A", 22), (M{{"agt-a/c1", "pass"}, {"agt-a/c3", "pass"}}));
  EXPECT_EQ(result_at("A", 29), (M{{"agt-a/c1", "pass"}, {"agt-a/c2", "pass"}, {"agt-a/c3", "pass"}}));
  EXPECT_EQ(result_at("A", 99), (M{{"agt-a/c1", "fail"}, {"agt-a/c2", "pass"}, {"agt-a/c3", "pass"}}));
  EXPECT_EQ(result_at("", 22), (M{{"agt-a/c1", "pass"}, {"agt-a/c3", "pass"}, {"agt-b/c1", "fail"}}));
  // The latest result carries the remediation and the policy version the agent sent.
  auto latest = store_->compliance_latest("A");
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 3u);
  EXPECT_EQ((*latest)[0].check_id, "c1");
  EXPECT_EQ((*latest)[0].remediation, "fix c1");
  EXPECT_EQ((*latest)[0].policy_version, "1.2");
  EXPECT_EQ((*latest)[0].evidence, "ev fail");
  // With the Vietnamese texts beside the English.
  EXPECT_EQ((*latest)[0].title_vi, "tiêu đề c1");
  EXPECT_EQ((*latest)[0].remediation_vi, "sửa c1");
}

TEST_P(StoreTest, AlertTallyCountsBySeverityStatusAndAgency) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->ensure_agency("B", "tcvn11930"));
  for (auto [id, agency] : {std::pair{"agt-a", "A"}, std::pair{"agt-b", "B"}}) {
    AgentRecord a;
    a.id = id;
    a.agency = agency;
    a.host = id;
    a.version = "1";
    a.cert_serial = id;
    ASSERT_TRUE(store_->add_agent(a));
  }
  auto alert = [](uint64_t seq, int64_t t, int severity) {
    IncomingRecord r = record(seq, "alert", at(t));
    r.rule_id = "R";
    r.rule_name = "r";
    r.severity = severity;
    return r;
  };
  ASSERT_TRUE(store_->store_batch("agt-a", "e", {alert(1, 10, 4), alert(2, 20, 4), alert(3, 30, 2)}));
  ASSERT_TRUE(store_->store_batch("agt-b", "e", {alert(1, 10, 5)}));
  AlertFilter f;
  f.agency = "A";
  f.min_severity = 4;
  auto list = store_->list_alerts(f);
  ASSERT_TRUE(list && list->size() == 2u);
  ASSERT_TRUE(*store_->change_alert((*list)[0].id, {at(40), "x", "status", "resolved"}));
  auto tally = store_->alert_tally("", Timestamp{});
  ASSERT_TRUE(tally) << tally.error();
  std::map<std::string, uint64_t> got;
  for (const auto& t : *tally) got[t.agency + "/" + std::to_string(t.severity) + "/" + t.status] = t.count;
  EXPECT_EQ(got, (std::map<std::string, uint64_t>{{"A/2/new", 1}, {"A/4/new", 1}, {"A/4/resolved", 1}, {"B/5/new", 1}}));
  got.clear();
  auto since20 = store_->alert_tally("A", at(20));
  ASSERT_TRUE(since20) << since20.error();
  for (const auto& t : *since20) got[std::to_string(t.severity) + "/" + t.status] = t.count;
  EXPECT_EQ(got.size(), 2u);  // the alert at 10 is before `since`
  EXPECT_EQ(got["2/new"], 1u);
  EXPECT_EQ(got["4/new"] + got["4/resolved"], 1u);
}

TEST_P(StoreTest, WaiversAreAddedListedAndExpiredOnce) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->ensure_agency("B", "tcvn11930"));
  WaiverRecord w;
  w.agency = "A";
  w.check_id = "ssh-root-login";
  w.reason = "vendor appliance; root login needed until the 2027 upgrade; it's \"quoted\"";
  w.accepted_by = "CISO Nguyễn";
  w.created_by = "admin";
  w.created = at(100);
  w.expires = at(1000);
  auto id1 = store_->add_waiver(w);
  ASSERT_TRUE(id1) << id1.error();
  w.agency = "B";
  w.agent_id = "agt-b";
  w.policy = "debian-baseline";
  w.expires = at(200);
  auto id2 = store_->add_waiver(w);
  ASSERT_TRUE(id2);
  EXPECT_GT(*id2, *id1);
  // A waiver for an agency that does not exist is refused by the schema.
  w.agency = "nowhere";
  EXPECT_FALSE(store_->add_waiver(w));

  WaiverFilter f;
  auto all = store_->list_waivers(f);
  ASSERT_TRUE(all) << all.error();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, *id2);  // newest first
  EXPECT_EQ((*all)[1].reason, "vendor appliance; root login needed until the 2027 upgrade; it's \"quoted\"");
  EXPECT_EQ((*all)[1].accepted_by, "CISO Nguyễn");
  EXPECT_EQ((*all)[1].created, at(100));
  EXPECT_EQ((*all)[0].agent_id, "agt-b");
  EXPECT_EQ((*all)[0].policy, "debian-baseline");
  f.active_only = true;
  f.now = at(500);  // the second has expired by then
  all = store_->list_waivers(f);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, *id1);
  f = {};
  f.agencies_in = {"B"};
  all = store_->list_waivers(f);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].agency, "B");
  f = {};
  f.agency = "A";
  EXPECT_EQ(store_->list_waivers(f)->size(), 1u);

  EXPECT_TRUE(*store_->expire_waiver(*id1, at(600), "admin2"));
  EXPECT_FALSE(*store_->expire_waiver(*id1, at(601), "admin2"));  // once
  EXPECT_FALSE(*store_->expire_waiver(*id2, at(601), "admin2"));  // already past its expiry
  EXPECT_FALSE(*store_->expire_waiver(999999, at(601), "admin2"));
  auto got = store_->get_waiver(*id1);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->ended, at(600));
  EXPECT_EQ((*got)->ended_by, "admin2");
  EXPECT_FALSE((*got)->active(at(601)));
  EXPECT_TRUE((*got)->covers("A", "any-agent", "any-policy", "ssh-root-login"));
  EXPECT_FALSE((*got)->covers("A", "any-agent", "any-policy", "ssh-root-login-2"));
  EXPECT_FALSE(store_->get_waiver(999999)->has_value());
  f = {};
  f.active_only = true;
  f.now = at(601);
  EXPECT_EQ(store_->list_waivers(f)->size(), 0u);
}

// Retention: rows on both sides of every cutoff (a row exactly at a cutoff stays), chunks
// smaller than what goes, an alert older than the events cutoff that keeps its evidence, and
// one older than the alerts cutoff that goes with its record and history.
TEST_P(StoreTest, PurgeRemovesWhatIsOlderThanEachCutoffAndKeepsAlertsEvidence) {
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  AgentRecord a;
  a.id = "agt-a";
  a.agency = "A";
  a.host = "web-a";
  a.version = "1";
  a.cert_serial = "01";
  ASSERT_TRUE(store_->add_agent(a));
  uint64_t seq = 0;
  std::vector<IncomingRecord> batch;
  auto add = [&](const std::string& kind, int64_t t) -> IncomingRecord& {
    batch.push_back(record(++seq, kind, at(t)));
    batch.back().json = "{\"seq\":" + std::to_string(seq) + "}";
    return batch.back();
  };
  for (int64_t t = 45; t < 55; ++t) add("event", t);  // 45..49 go, 50..54 stay
  add("custom", 1);                                   // any other kind is an event too
  add("metric", 35);                                  // health: goes
  add("metric", 40);                                  // health: at the cutoff, stays
  add("alert", 10);                                   // older than the alerts cutoff: goes
  add("alert", 30);                                   // older than events, not alerts: stays
  add("alert", 60);
  auto check = [&](int64_t t, const std::string& id, const std::string& result) {
    auto& r = add("state", t);
    r.dataset = "compliance.check";
    r.check = IncomingRecord::Check{"pol", id, "title " + id, 2, result, "{}", "why", "", ""};
  };
  check(10, "c1", "fail");  // superseded before the cutoff: goes
  check(20, "c1", "pass");  // the result c1 had when the kept period begins: stays
  check(70, "c1", "fail");
  check(5, "c2", "pass");  // c2's only change, however old: stays
  ASSERT_EQ(*store_->store_batch("agt-a", "e1", batch), batch.size());
  ASSERT_EQ(store_->counts("agt-a")->records, 20u);

  auto alerts = store_->list_alerts({});
  ASSERT_TRUE(alerts) << alerts.error();
  ASSERT_EQ(alerts->size(), 3u);
  int64_t old_alert = 0, kept_alert = 0;
  for (const auto& al : *alerts) {
    if (al.time == at(10)) old_alert = al.id;
    if (al.time == at(30)) kept_alert = al.id;
  }
  ASSERT_TRUE(old_alert && kept_alert);
  ASSERT_TRUE(*store_->change_alert(old_alert, {at(11), "ana", "status", "acknowledged"}));
  ASSERT_TRUE(*store_->change_alert(old_alert, {at(12), "ana", "comment", "seen"}));
  ASSERT_TRUE(*store_->change_alert(kept_alert, {at(31), "ana", "assign", "bob"}));
  for (int64_t t : {10, 20, 30, 40}) ASSERT_TRUE(store_->add_audit({0, at(t), "ana", "login.success", "", ""}));

  PurgeRequest req;
  req.events_before = at(50);
  req.alerts_before = at(20);
  req.health_before = at(40);
  req.compliance_history_before = at(60);
  req.audit_before = at(30);
  req.chunk_rows = 2;
  auto purged = store_->purge(req);
  ASSERT_TRUE(purged) << purged.error();
  EXPECT_EQ(purged->events, 9u);  // 5 events, the custom one, 3 compliance check events
  EXPECT_EQ(purged->health, 1u);
  EXPECT_EQ(purged->alerts, 1u);
  EXPECT_EQ(purged->alert_history, 2u);
  EXPECT_EQ(purged->compliance_history, 1u);
  EXPECT_EQ(purged->audit, 2u);

  auto left = store_->counts("agt-a");
  ASSERT_TRUE(left);
  EXPECT_EQ(left->records, 9u);  // 5 events, 1 health, 2 alerts, 1 compliance check event
  EXPECT_EQ(left->alerts, 2u);
  EXPECT_FALSE(store_->get_alert(old_alert)->has_value());
  EXPECT_TRUE(store_->alert_history(old_alert)->empty());
  auto kept = store_->get_alert(kept_alert);
  ASSERT_TRUE(kept && kept->has_value());
  EXPECT_EQ((*kept)->evidence, "{\"seq\":15}");  // its own record, older than the events cutoff
  EXPECT_EQ(store_->alert_history(kept_alert)->size(), 1u);
  EXPECT_EQ(store_->list_alerts({})->size(), 2u);
  auto audit = store_->list_audit({});
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ(audit->back().time, at(30));
  auto latest = store_->compliance_latest("A");
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 2u);  // the latest result stays however old
  EXPECT_EQ((*latest)[1].check_id, "c2");
  EXPECT_EQ((*latest)[1].time, at(5));

  // Nothing is left to purge at the same cutoffs.
  auto again = store_->purge(req);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->total(), 0u);
  // The history kept for c1 (the change at 20) goes once a later change is past the cutoff.
  PurgeRequest later;
  later.compliance_history_before = at(71);
  EXPECT_EQ(store_->purge(later)->compliance_history, 1u);
  EXPECT_EQ(store_->purge(later)->compliance_history, 0u);
}

TEST_P(StoreTest, PurgeKeepsEverythingWithoutCutoffsAndStopsWhenCancelled) {
  std::vector<IncomingRecord> batch;
  for (uint64_t i = 1; i <= 10; ++i) batch.push_back(record(i, i % 2 ? "alert" : "event", at(static_cast<int64_t>(i))));
  ASSERT_EQ(*store_->store_batch("agt-1", "e1", batch), 10u);
  auto none = store_->purge({});
  ASSERT_TRUE(none) << none.error();
  EXPECT_EQ(none->total(), 0u);
  PurgeRequest req;
  req.events_before = at(100);
  req.alerts_before = at(100);
  req.chunk_rows = 1;
  int asked = 0;
  req.cancelled = [&] { return ++asked > 2; };  // two chunks, then stop
  auto some = store_->purge(req);
  ASSERT_TRUE(some) << some.error();
  EXPECT_EQ(some->alerts, 2u);
  EXPECT_EQ(some->events, 0u);
  EXPECT_EQ(store_->counts("agt-1")->records, 8u);
}

// Several collectors behind a load balancer, each with its own connection(s) to one database,
// get overlapping redeliveries of the same spool at the same time: every record is stored once,
// every alert made once, and the "new" counts they report add up to exactly the records sent.
TEST_P(StoreTest, TwoStoresIngestOverlappingBatchesConcurrently) {
  auto second = open();
  ASSERT_TRUE(second) << second.error();
  Store* stores[] = {store_.get(), second->get()};
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  AgentRecord a;
  a.id = "agt-1";
  a.agency = "A";
  a.host = "web01";
  a.version = "1";
  a.cert_serial = "01";
  ASSERT_TRUE(store_->add_agent(a));

  constexpr uint64_t kRecords = 2000;
  constexpr uint64_t kBatch = 100;
  std::vector<IncomingRecord> all;
  uint64_t alerts = 0;
  for (uint64_t i = 1; i <= kRecords; ++i) {
    IncomingRecord r = record(i, i % 7 == 0 ? "alert" : "event", at(static_cast<int64_t>(i)));
    r.json = "{\"n\":" + std::to_string(i) + "}";
    if (i % 50 == 0) {  // compliance results too, one check that changes each time
      r.kind = "state";
      r.dataset = "compliance.check";
      r.check = IncomingRecord::Check{"pol", "c1", "t", 1, i % 100 == 0 ? "pass" : "fail", "{}", "", "", ""};
    }
    alerts += r.kind == "alert";
    all.push_back(std::move(r));
  }
  // Four senders, two per store; each sends the whole spool in batches that start at its own
  // offset, so batches overlap by half, in its own order.
  std::atomic<uint64_t> added{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Store* s = stores[t % 2];
      const uint64_t shift = (t % 2) * kBatch / 2;
      std::vector<std::vector<IncomingRecord>> batches;
      for (uint64_t from = 0; from < kRecords + shift; from += kBatch) {
        uint64_t lo = from < shift ? 0 : from - shift;
        uint64_t hi = std::min(kRecords, from + kBatch - shift);
        if (lo >= hi) continue;
        batches.emplace_back(all.begin() + static_cast<ptrdiff_t>(lo), all.begin() + static_cast<ptrdiff_t>(hi));
      }
      if (t >= 2) std::reverse(batches.begin(), batches.end());
      for (const auto& b : batches) {
        auto r = s->store_batch("agt-1", "e1", b);
        if (!r) {
          ADD_FAILURE() << r.error();
          ++errors;
          return;
        }
        added += *r;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(errors.load(), 0);
  EXPECT_EQ(added.load(), kRecords);
  for (Store* s : stores) {
    auto c = s->counts("agt-1");
    ASSERT_TRUE(c) << c.error();
    EXPECT_EQ(c->records, kRecords);
    EXPECT_EQ(c->alerts, alerts);
    EXPECT_EQ(*s->count_alerts({}), alerts);
  }
  // The newest compliance result won (seq 2000 is a pass).
  auto rows = stores[1]->compliance_latest("A");
  ASSERT_TRUE(rows) << rows.error();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].result, "pass");
  EXPECT_EQ((*rows)[0].time, at(static_cast<int64_t>(kRecords)));
}

// Collectors started together against a database nobody has migrated: each migrates or waits
// for the one that does; all end on the same version.
TEST_P(StoreTest, StoresOpeningTogetherMigrateOnce) {
  const int expected = *store_->schema_version();
  store_.reset();
  const std::string schema = fresh_database();
  std::vector<std::unique_ptr<Store>> opened(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < opened.size(); ++i) {
    threads.emplace_back([&, i] {
      auto s = open(schema);
      if (s) {
        opened[i] = std::move(s.value());
      } else {
        errors[i] = s.error();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < opened.size(); ++i) {
    ASSERT_TRUE(opened[i]) << errors[i];
    EXPECT_EQ(*opened[i]->schema_version(), expected);
  }
  ASSERT_TRUE(opened[0]->ensure_agency("A", "tcvn11930"));
  EXPECT_EQ(opened[3]->list_agencies()->size(), 1u);
}

// Text from agents may hold any character JSON can carry, NUL included; a batch with one is
// stored, not refused forever (the agent would resend it without end).
TEST_P(StoreTest, NulInTextDoesNotBlockABatch) {
  IncomingRecord r = record(1, "alert", at(0));
  r.rule_name = std::string("bad\0name", 8);
  auto n = store_->store_batch("agt-1", "e1", {r});
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 1u);
  auto got = store_->list_alerts({});
  ASSERT_TRUE(got) << got.error();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].rule_name.substr(0, 3), "bad");
}

TEST(PostgresStore, ErrorsNameTheOperationAndNeverTheDsn) {
  // Refused before connecting, without repeating the string (it may hold a password).
  auto bad = open_postgres_store({"host=db password=s3cr3t-value oops", "", 1});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().find("s3cr3t"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("not a valid libpq connection string"), std::string::npos) << bad.error();

  VIGIL_REQUIRE_PG();
  // A wrong password (the test server checks passwords over TCP).
  auto refused = open_postgres_store({pg_dsn() + " password=s3cr3t-wrong", "", 1});
  if (!refused) {
    EXPECT_EQ(refused.error().find("s3cr3t"), std::string::npos) << refused.error();
    EXPECT_NE(refused.error().find("postgres: cannot connect"), std::string::npos) << refused.error();
  }
  const std::string schema = fresh_schema();
  {
    auto store = open_postgres_store({pg_dsn(), schema, 2});
    ASSERT_TRUE(store) << store.error();
    auto r = (*store)->add_token("h", {"no such agency", 1}, at(100));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("postgres: add_token: "), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("enroll_tokens"), std::string::npos) << r.error();
    // Key values (a token's hash here) stay out of messages that end up in logs.
    ASSERT_TRUE((*store)->ensure_agency("A", "tcvn11930"));
    ASSERT_TRUE((*store)->add_token("hash-of-a-token", {"A", 1}, at(100)));
    auto again = (*store)->add_token("hash-of-a-token", {"A", 1}, at(100));
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().find("duplicate key"), std::string::npos) << again.error();
    EXPECT_EQ(again.error().find("hash-of-a-token"), std::string::npos) << again.error();
  }
  ASSERT_TRUE(drop_postgres_schema(pg_dsn(), schema));
}

TEST(PostgresStore, ReconnectsAfterTheServerDropsItsConnections) {
  VIGIL_REQUIRE_PG();
  const std::string schema = fresh_schema();
  {
    // The application name marks this store's connections, so only they are cut.
    auto store = open_postgres_store({pg_dsn() + " application_name=" + schema, schema, 2});
    ASSERT_TRUE(store) << store.error();
    ASSERT_TRUE((*store)->ensure_agency("A", "tcvn11930"));
    std::unique_ptr<PGconn, decltype(&PQfinish)> admin(PQconnectdb(pg_dsn().c_str()), &PQfinish);
    ASSERT_EQ(PQstatus(admin.get()), CONNECTION_OK) << PQerrorMessage(admin.get());
    const char* params[] = {schema.c_str()};
    std::unique_ptr<PGresult, decltype(&PQclear)> cut(
        PQexecParams(admin.get(),
                     "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                     " WHERE application_name = $1",
                     1, nullptr, params, nullptr, nullptr, 0),
        &PQclear);
    ASSERT_EQ(PQresultStatus(cut.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(cut.get());
    EXPECT_GE(std::atoi(PQgetvalue(cut.get(), 0, 0)), 1);
    // As after a server restart: the pooled connection is dead, the calls still succeed.
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      auto n = (*store)->store_batch("agt-1", "e1", {record(seq, "event", at(0))});
      ASSERT_TRUE(n) << n.error();
      EXPECT_EQ(*n, 1u);
    }
    auto agencies = (*store)->list_agencies();
    ASSERT_TRUE(agencies) << agencies.error();
    EXPECT_EQ(agencies->size(), 1u);
  }
  ASSERT_TRUE(drop_postgres_schema(pg_dsn(), schema));
}


// ---- event search (collector/search) ----

namespace search_test {

// A log event as ingest stores it: its JSON and the fields the search index keeps.
IncomingRecord log_event(uint64_t seq, Timestamp t, const std::string& src, const std::string& user,
                         const std::string& original, const std::string& domain = "") {
  IncomingRecord r = record(seq, "event", t);
  r.dataset = "sshd";
  nlohmann::json ev = {{"event", {{"kind", "event"}, {"dataset", "sshd"}, {"original", original}}},
                       {"source", {{"ip", src}, {"port", 40000 + seq}}},
                       {"user", {{"name", user}}}};
  if (!domain.empty()) ev["url"] = {{"domain", domain}};
  r.json = ev.dump();
  r.search.entity.source_ip = src;
  r.search.entity.source_port = static_cast<int64_t>(40000 + seq);
  r.search.entity.user_name = user;
  r.search.host_name = "web1";
  r.search.text = original;
  return r;
}

// The first page `store` finds for `q` between `since` and `until`.
Result<EventPage> page_of(Store& store, const std::string& q, Timestamp since, Timestamp until) {
  auto parsed = search::parse(q);
  if (!std::holds_alternative<search::Node>(parsed)) return make_error("not a query: " + q);
  EventQuery query;
  query.query = &std::get<search::Node>(parsed);
  query.since = since;
  query.until = until;
  return store.search_events(query);
}

// How many events `store` finds for `q` in seconds 0-100 (the first page of 100).
size_t hit_count(Store& store, const std::string& q) {
  auto parsed = search::parse(q);
  EXPECT_TRUE(std::holds_alternative<search::Node>(parsed)) << q;
  if (!std::holds_alternative<search::Node>(parsed)) return 0;
  EventQuery query;
  query.query = &std::get<search::Node>(parsed);
  query.since = at(0);
  query.until = at(100);
  auto page = store.search_events(query);
  EXPECT_TRUE(page) << q << ": " << page.error();
  return page ? page->hits.size() : 0u;
}

// The seqs (source port - 40000) of agency A's events `store` finds for `q` in seconds 0-100, asked
// twice: for a caller of every agency (SQLite answers a query the full-text table answers alone
// from it) and for one scoped to the agency (through the events rows): the same hits and the same
// histogram, or the test fails.
std::set<int64_t> seqs_both_ways(Store& store, const std::string& q) {
  auto parsed = search::parse(q);
  EXPECT_TRUE(std::holds_alternative<search::Node>(parsed)) << q;
  if (!std::holds_alternative<search::Node>(parsed)) return {};
  std::set<int64_t> out[2];
  std::vector<uint64_t> histogram[2];
  for (int scoped = 0; scoped < 2; ++scoped) {
    EventQuery query;
    query.query = &std::get<search::Node>(parsed);
    query.since = at(0);
    query.until = at(100);
    query.limit = 100;
    query.buckets = 10;
    if (scoped) query.agencies_in = {"A"};
    auto page = store.search_events(query);
    EXPECT_TRUE(page) << q << ": " << page.error();
    if (!page) continue;
    for (const auto& h : page->hits) {
      out[scoped].insert(nlohmann::json::parse(h.json)["source"]["port"].get<int64_t>() - 40000);
    }
    histogram[scoped] = page->histogram;
  }
  EXPECT_EQ(out[0], out[1]) << q;
  EXPECT_EQ(histogram[0], histogram[1]) << q;
  return out[0];
}

}  // namespace search_test

TEST_P(StoreTest, SearchFindsByFieldTextAndAgency) {
  using search_test::log_event;
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->ensure_agency("B", "tcvn11930"));
  AgentRecord a1{"agt-1", "A", 2, "web1", "0.1", "s1", at(0), at(0)};
  AgentRecord a2{"agt-2", "B", 2, "web2", "0.1", "s2", at(0), at(0)};
  ASSERT_TRUE(store_->add_agent(a1));
  ASSERT_TRUE(store_->add_agent(a2));
  std::vector<IncomingRecord> one, two;
  for (uint64_t i = 1; i <= 20; ++i) {
    one.push_back(log_event(i, at(static_cast<int64_t>(i)), "10.1.0." + std::to_string(i), "user" + std::to_string(i),
                            "Failed password for user" + std::to_string(i) + " from 10.1.0." + std::to_string(i)));
  }
  one.push_back(log_event(21, at(21), "2001:db8::7", "root", "Accepted publickey for root (Đăng nhập)", "www.example.vn"));
  two.push_back(log_event(1, at(5), "10.1.0.3", "user3", "Failed password for user3 from 10.1.0.3"));
  ASSERT_TRUE(store_->store_batch("agt-1", "e1", one));
  ASSERT_TRUE(store_->store_batch("agt-2", "e1", two));
  // Redelivery adds no second index row.
  ASSERT_TRUE(store_->store_batch("agt-1", "e1", one));

  auto hits = [&](const std::string& q, std::vector<std::string> agencies = {}, int limit = 100) {
    auto parsed = search::parse(q);
    EXPECT_TRUE(std::holds_alternative<search::Node>(parsed)) << q;
    EventQuery query;
    query.query = &std::get<search::Node>(parsed);
    query.since = at(0);
    query.until = at(100);
    query.limit = limit;
    query.agencies_in = std::move(agencies);
    auto page = store_->search_events(query);
    EXPECT_TRUE(page) << q << ": " << page.error();
    return page ? *page : EventPage{};
  };
  EXPECT_EQ(hits("source.ip:10.1.0.3").hits.size(), 2u);
  EXPECT_EQ(hits("source.ip:10.1.0.0/28").hits.size(), 16u);  // .1-.15 and the other agency's .3
  EXPECT_EQ(hits("source.ip:2001:db8::/32").hits.size(), 1u);
  EXPECT_EQ(hits("user.name:user1*").hits.size(), 11u);
  EXPECT_EQ(hits("source.port>=40019").hits.size(), 3u);
  EXPECT_EQ(hits("password").hits.size(), 21u);
  EXPECT_EQ(hits("\"password for user7 from\"").hits.size(), 1u);
  EXPECT_EQ(hits("dang nhap").hits.size(), 1u);  // diacritics folded
  EXPECT_EQ(hits("publick*").hits.size(), 1u);
  EXPECT_EQ(hits("url.domain:www.example.vn").hits.size(), 1u);
  EXPECT_EQ(hits("url.domain:www.*").hits.size(), 1u);
  EXPECT_EQ(hits("(user.name:user2 OR user.name:root) AND NOT Accepted").hits.size(), 1u);
  EXPECT_EQ(hits("agency:B").hits.size(), 1u);
  EXPECT_EQ(hits("").hits.size(), 22u);
  // Scoping: agency B's caller sees B's events only, whatever the query.
  auto scoped = hits("user.name:user3", {"B"});
  ASSERT_EQ(scoped.hits.size(), 1u);
  EXPECT_EQ(scoped.hits[0].agency, "B");
  EXPECT_EQ(scoped.hits[0].agent_id, "agt-2");
  EXPECT_TRUE(hits("agency:A", {"B"}).hits.empty());
  // Newest first; the window is [since, until).
  auto all = hits("user.name:user*");
  ASSERT_EQ(all.hits.size(), 21u);
  EXPECT_EQ(all.hits.front().time, at(20));
  EXPECT_EQ(all.hits.back().time, at(1));

  // Pages follow each other without overlap; the histogram adds up.
  auto parsed = search::parse("password");
  EventQuery q;
  q.query = &std::get<search::Node>(parsed);
  q.since = at(0);
  q.until = at(40);
  q.limit = 8;
  q.buckets = 4;
  std::vector<int64_t> seen;
  for (int page_no = 0; page_no < 5; ++page_no) {
    auto page = store_->search_events(q);
    ASSERT_TRUE(page) << page.error();
    if (page_no == 0) {
      ASSERT_EQ(page->histogram.size(), 4u);
      EXPECT_EQ(page->histogram[0], 10u);  // seconds 0-9: ten events (one of agency B)
      EXPECT_EQ(page->histogram[1], 10u);
      EXPECT_EQ(page->histogram[2], 1u);
      EXPECT_EQ(page->histogram[3], 0u);
    }
    for (const auto& h : page->hits) seen.push_back(h.id);
    if (!page->more) break;
    q.before_ts = page->hits.back().time.ns;
    q.before_id = page->hits.back().id;
  }
  EXPECT_EQ(seen.size(), 21u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 21u);
}

// Addresses and user names are found exactly, whatever a tokenizer would make of them (SQLite
// keeps them as key tokens and re-checks the column), and a word never meets a key token.
TEST_P(StoreTest, SearchKeysAreExact) {
  using search_test::log_event;
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->add_agent({"agt-1", "A", 2, "web1", "0.1", "s1", at(0), at(0)}));
  std::vector<IncomingRecord> batch;
  batch.push_back(log_event(1, at(1), "10.0.0.1", "nguyen.van-a", "login one"));
  batch.push_back(log_event(2, at(2), "10.0.0.2", "Admin", "login two"));
  batch.push_back(log_event(3, at(3), "10.0.0.3", "admin", "login three"));
  batch.push_back(log_event(4, at(4), "10.0.1.4", "nguyễn", "login four"));
  batch.push_back(log_event(5, at(5), "10.128.0.5", std::string(80, 'x') + "a", "login five"));
  batch.push_back(log_event(6, at(6), "10.160.0.6", std::string(80, 'x') + "b", "login six"));
  ASSERT_TRUE(store_->store_batch("agt-1", "e1", batch));
  auto seqs = [&](const std::string& q) { return search_test::seqs_both_ways(*store_, q); };
  using S = std::set<int64_t>;
  EXPECT_EQ(seqs("user.name:nguyen.van-a"), S{1});
  EXPECT_EQ(seqs("user.name:nguyen"), S{});
  EXPECT_EQ(seqs("user.name:nguyen*"), S{1});
  EXPECT_EQ(seqs("user.name:Admin"), S{2});
  EXPECT_EQ(seqs("user.name:admin"), S{3});
  EXPECT_EQ(seqs("user.name:nguyễn"), (S{4}));
  // Names longer than the token's 64 bytes: the column tells them apart.
  EXPECT_EQ(seqs("user.name:" + std::string(80, 'x') + "b"), S{6});
  EXPECT_EQ(seqs("user.name:" + std::string(70, 'x') + "*"), (S{5, 6}));
  EXPECT_EQ(seqs("source.ip:10.0.0.0/24"), (S{1, 2, 3}));
  EXPECT_EQ(seqs("source.ip:10.0.0.0/23"), (S{1, 2, 3, 4}));
  EXPECT_EQ(seqs("source.ip:10.128.0.0/11"), (S{5}));  // .128-.159: not .160
  EXPECT_EQ(seqs("source.ip:10.128.0.0/10"), (S{5, 6}));
  EXPECT_EQ(seqs("NOT source.ip:10.0.0.0/24"), (S{4, 5, 6}));
  EXPECT_EQ(seqs("source.ip:10.0.0.2 OR user.name:admin"), (S{2, 3}));
  // A key token typed as a word is a word: nothing has it as text.
  EXPECT_EQ(seqs("s" + *search::ip_key("10.0.0.1")), S{});
  EXPECT_EQ(seqs(search::user_key_token("admin")), S{});
  EXPECT_EQ(seqs("login"), (S{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(seqs("login AND (user.name:admin OR source.ip:10.0.1.0/24)"), (S{3, 4}));
  EXPECT_EQ(seqs("\"login two\" OR user.name:" + std::string(64, 'x') + "*"), (S{2, 5, 6}));
  EXPECT_EQ(seqs("user.name:" + std::string(64, 'x')), S{});  // the token matches; the name does not
}

// Address blocks: SQLite reads an indexed block's token (/16, /24, /48, /64) or the one holding
// a block (then the column decides); every block gives the hits a scan of the window gives.
TEST_P(StoreTest, SearchBlocksOfAddresses) {
  using search_test::log_event;
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->add_agent({"agt-1", "A", 2, "web1", "0.1", "s1", at(0), at(0)}));
  std::vector<IncomingRecord> batch;
  batch.push_back(log_event(1, at(1), "10.1.2.3", "a", "x"));
  batch.push_back(log_event(2, at(2), "10.1.2.200", "a", "x"));
  batch.push_back(log_event(3, at(3), "10.1.3.4", "a", "x"));
  batch.push_back(log_event(4, at(4), "10.1.200.4", "b", "x"));
  batch.push_back(log_event(5, at(5), "10.2.2.3", "b", "y"));
  batch.push_back(log_event(6, at(6), "2001:db8:1:2::7", "b", "y"));
  batch.push_back(log_event(7, at(7), "2001:db8:1:3::7", "c", "y"));
  batch.push_back(log_event(8, at(8), "2001:db8:2::7", "c", "y"));
  batch.push_back(log_event(9, at(9), "::ffff:10.1.2.9", "c", "y"));
  batch.push_back(log_event(10, at(10), "", "d", "z"));  // no source address
  ASSERT_TRUE(store_->store_batch("agt-1", "e1", batch));
  auto seqs = [&](const std::string& q) { return search_test::seqs_both_ways(*store_, q); };
  using S = std::set<int64_t>;
  EXPECT_EQ(seqs("source.ip:10.1.0.0/16"), (S{1, 2, 3, 4, 9}));
  EXPECT_EQ(seqs("source.ip:10.1.2.0/24"), (S{1, 2, 9}));
  EXPECT_EQ(seqs("source.ip:10.1.2.0/25"), (S{1, 9}));
  EXPECT_EQ(seqs("source.ip:10.1.2.0/23"), (S{1, 2, 3, 9}));
  EXPECT_EQ(seqs("source.ip:10.1.0.0/17"), (S{1, 2, 3, 9}));
  EXPECT_EQ(seqs("source.ip:10.0.0.0/14"), (S{1, 2, 3, 4, 5, 9}));
  EXPECT_EQ(seqs("source.ip:10.1.0.0/16 AND user.name:a"), (S{1, 2, 3}));
  EXPECT_EQ(seqs("source.ip:10.1.0.0/16 AND y"), (S{9}));
  EXPECT_EQ(seqs("source.ip:10.1.0.0/16 OR source.ip:2001:db8:1::/48"), (S{1, 2, 3, 4, 6, 7, 9}));
  // NOT leaves out events without the field, as the column does on both stores, tokens or not.
  EXPECT_EQ(seqs("NOT source.ip:10.1.0.0/16"), (S{5, 6, 7, 8}));
  EXPECT_EQ(seqs("NOT source.ip:10.1.2.3"), (S{2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(seqs("NOT (source.ip:10.1.0.0/16 OR source.ip:2001:db8::/32)"), (S{5}));
  EXPECT_EQ(seqs("NOT z"), (S{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(seqs("destination.ip:10.1.0.0/16"), S{});
  EXPECT_EQ(seqs("source.ip:2001:db8:1::/48"), (S{6, 7}));
  EXPECT_EQ(seqs("source.ip:2001:db8:1:2::/64"), (S{6}));
  EXPECT_EQ(seqs("source.ip:2001:db8:1:2::/80"), (S{6}));
  EXPECT_EQ(seqs("source.ip:2001:db8::/32"), (S{6, 7, 8}));
  EXPECT_EQ(seqs("source.ip:::/64"), (S{1, 2, 3, 4, 5, 9}));
}

TEST_P(StoreTest, SearchIndexGoesWithItsRecords) {
  using search_test::log_event;
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->add_agent({"agt-1", "A", 2, "web1", "0.1", "s1", at(0), at(0)}));
  std::vector<IncomingRecord> batch;
  for (uint64_t i = 1; i <= 30; ++i) batch.push_back(log_event(i, at(static_cast<int64_t>(i)), "10.0.0.1", "u", "marker " + std::to_string(i)));
  IncomingRecord alert = record(31, "alert", at(2));
  alert.search.entity.source_ip = "10.0.0.1";
  alert.search.entity.user_name = "u";
  batch.push_back(alert);
  ASSERT_TRUE(store_->store_batch("agt-1", "e1", batch));
  auto count = [&](const std::string& q) {
    auto parsed = search::parse(q);
    EventQuery query;
    query.query = &std::get<search::Node>(parsed);
    query.since = at(0);
    query.until = at(100);
    query.limit = 1000;
    auto page = store_->search_events(query);
    EXPECT_TRUE(page) << page.error();
    return page ? page->hits.size() : 0u;
  };
  EXPECT_EQ(count("marker"), 30u);
  EXPECT_EQ(count("source.ip:10.0.0.1"), 31u);
  // The alert lists its entity and filters by source range.
  AlertFilter f;
  f.source = search::ip_range("10.0.0.0/8");
  auto alerts = store_->list_alerts(f);
  ASSERT_TRUE(alerts);
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].entity.source_ip, "10.0.0.1");
  EXPECT_EQ((*alerts)[0].entity.user_name, "u");
  f.source = search::ip_range("192.168.0.0/16");
  EXPECT_TRUE(store_->list_alerts(f)->empty());
  EXPECT_EQ(*store_->count_alerts(f), 0u);

  PurgeRequest req;
  req.events_before = at(11);  // events 1-10 go; the alert stays with its record
  req.chunk_rows = 3;
  auto purged = store_->purge(req);
  ASSERT_TRUE(purged) << purged.error();
  EXPECT_EQ(purged->events, 10u);
  EXPECT_EQ(count("marker"), 20u);
  EXPECT_EQ(count("source.ip:10.0.0.1"), 21u);
  // The text index holds no ghost of what went: a new record with a purged text is found once.
  ASSERT_TRUE(store_->store_batch("agt-1", "e2", {log_event(1, at(50), "10.0.0.2", "v", "marker 3")}));
  EXPECT_EQ(count("\"marker 3\""), 1u);
  if (GetParam() == Backend::sqlite) {
    // The full-text index itself lost the purged rows' words (a contentless index is told them).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(sqlite_fts_path((dir_.path() / "vigil.db").string()).c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    auto fts_count = [&](const std::string& match) {
      std::string sql = "SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH '" + match + "'";
      EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
      EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
      int n = sqlite3_column_int(st, 0);
      sqlite3_finalize(st);
      return n;
    };
    EXPECT_EQ(fts_count("original : marker"), 21);
    // And the purged rows' address tokens (10.0.0.1's events that went).
    EXPECT_EQ(fts_count("keys : s" + *search::ip_key("10.0.0.1")), 21);
    sqlite3_close(db);
  }
  req = PurgeRequest{};
  req.alerts_before = at(3);
  ASSERT_TRUE(store_->purge(req));
  EXPECT_EQ(count("event.kind:alert"), 0u);
}

TEST_P(StoreTest, SearchOverItsCostCapIsRefused) {
  using search_test::log_event;
  ASSERT_TRUE(store_->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store_->add_agent({"agt-1", "A", 2, "web1", "0.1", "s1", at(0), at(0)}));
  std::vector<IncomingRecord> batch;
  for (uint64_t i = 1; i <= 20000; ++i) {
    batch.push_back(log_event(i, at(static_cast<int64_t>(i % 90)), "10.0.0.1", "u", "line " + std::to_string(i), "d.example"));
  }
  ASSERT_TRUE(store_->store_batch("agt-1", "e1", batch));
  auto parsed = search::parse("url.domain:nothing.example");
  EventQuery q;
  q.query = &std::get<search::Node>(parsed);
  q.since = at(0);
  q.until = at(100);
  q.buckets = 10;
  auto full = store_->search_events(q);
  ASSERT_TRUE(full) << full.error();
  EXPECT_TRUE(full->refused.empty()) << full->refused;
  EXPECT_TRUE(full->hits.empty());
  q.max_sqlite_steps = 20'000;
  q.timeout_ms = 1;
  auto capped = store_->search_events(q);
  ASSERT_TRUE(capped) << capped.error();
  EXPECT_NE(capped->refused.find("narrow the time window"), std::string::npos);
  EXPECT_TRUE(capped->hits.empty());
  // The store goes on: the next search within its cap answers.
  q.max_sqlite_steps = 0;
  q.timeout_ms = 0;
  auto after = store_->search_events(q);
  ASSERT_TRUE(after) << after.error();
  EXPECT_TRUE(after->refused.empty());
}

// The integer `sql` answers first in the SQLite file `file` (-1 when it answers none).
int64_t sqlite_integer(const std::string& file, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sql;
  const int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

// A SQLite store at `path` with agency A and agents agt-1 .. agt-N (host webN); null (and a
// failure) when any of it fails.
std::unique_ptr<Store> sqlite_with_agents(const std::string& path, int agents) {
  auto opened = open_sqlite_store(path);
  if (!opened) {
    ADD_FAILURE() << opened.error();
    return nullptr;
  }
  auto store = std::move(*opened);
  bool ok = static_cast<bool>(store->ensure_agency("A", "tcvn11930"));
  for (int i = 1; i <= agents && ok; ++i) {
    const std::string n = std::to_string(i);
    ok = static_cast<bool>(store->add_agent({"agt-" + n, "A", 2, "web" + n, "0.1", "s" + n, at(0), at(0)}));
  }
  if (!ok) ADD_FAILURE() << "cannot add agency A or its agents";
  return ok ? std::move(store) : nullptr;
}

// SQLite's cost cap counts the bodies a search decompresses, not only its steps: a field read from
// the bodies over a window whose rows, in id order, come from blocks in turn (each a miss of the
// reader's kept blocks) is refused under a cap its steps alone fit in.
TEST(SqliteStore, DecompressedBodiesCountAgainstTheSearchCap) {
  vigil::test::TempDir dir;
  auto store = sqlite_with_agents((dir.path() / "v.db").string(), 1);
  ASSERT_TRUE(store);
  std::vector<IncomingRecord> batch;
  for (uint64_t i = 1; i <= 20000; ++i) {
    // Second i % 90: in id order, consecutive rows are 90 records apart, in other blocks.
    batch.push_back(search_test::log_event(i, at(static_cast<int64_t>(i % 90)), "10.0.0.1", "u",
                                           "line " + std::to_string(i) + " " + std::string(150, 'x'), "d.example"));
  }
  ASSERT_TRUE(store->store_batch("agt-1", "e1", batch));
  auto parsed = search::parse("url.domain:nothing.example");
  EventQuery q;
  q.query = &std::get<search::Node>(parsed);
  q.since = at(0);
  q.until = at(100);
  // A column-only scan of the same window fits in the cap: the steps alone do.
  auto column = search::parse("host.name:nothing");
  EventQuery steps_only = q;
  steps_only.query = &std::get<search::Node>(column);
  steps_only.max_sqlite_steps = 10'000'000;
  auto fits = store->search_events(steps_only);
  ASSERT_TRUE(fits) << fits.error();
  EXPECT_TRUE(fits->refused.empty()) << fits->refused;
  q.max_sqlite_steps = 10'000'000;
  auto capped = store->search_events(q);
  ASSERT_TRUE(capped) << capped.error();
  EXPECT_NE(capped->refused.find("narrow the time window"), std::string::npos);
  q.max_sqlite_steps = 0;  // the default cap: answered
  auto full = store->search_events(q);
  ASSERT_TRUE(full) << full.error();
  EXPECT_TRUE(full->refused.empty()) << full->refused;
  EXPECT_TRUE(full->hits.empty());
}

// Retention gives the contentless full-text table back exactly what ingest gave it, also for
// events SQL's JSON functions read otherwise than the batch parser (a \u0000 inside the text, an
// escaped key): no word of a purged event is left to be found.
TEST(SqliteStore, PurgedEventsLeaveNoWordBehind) {
  vigil::test::TempDir dir;
  auto store = sqlite_with_agents((dir.path() / "v.db").string(), 1);
  ASSERT_TRUE(store);
  const std::string ts = "\"@timestamp\":\"" + at(5).to_string() + "\"";
  const std::string body =
      "{\"epoch\":\"e1\",\"seq\":1,\"event\":{" + ts + ",\"event\":{\"kind\":\"event\",\"dataset\":\"x\","
      "\"original\":\"abc\\u0000def ghi\"},\"source\":{\"ip\":\"10.9.9.9\"}}}\n"
      "{\"epoch\":\"e1\",\"seq\":2,\"event\":{" + ts + ",\"event\":{\"kind\":\"event\",\"dataset\":\"x\","
      "\"orig\\u0069nal\":\"xyz\"},\"message\":\"mmm\",\"user\":{\"name\":\"Bob\"}}}\n";
  auto batch = parse_batch(body, 10, "agt-1", "web1");
  ASSERT_EQ(batch.records.size(), 2u) << (batch.quarantined.empty() ? "" : batch.quarantined.front().reason);
  ASSERT_TRUE(store->store_batch("agt-1", "e1", batch.records));
  auto hits = [&](const std::string& q) { return search_test::hit_count(*store, q); };
  ASSERT_EQ(hits("ghi"), 1u);
  ASSERT_EQ(hits("xyz"), 1u);
  PurgeRequest req;
  req.events_before = at(1000);
  ASSERT_TRUE(store->purge(req));
  for (const char* word : {"abc", "def", "ghi", "xyz", "mmm", "source.ip:10.9.9.9", "user.name:Bob"}) {
    EXPECT_EQ(hits(word), 0u) << word;
  }
  store.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(sqlite_fts_path((dir.path() / "v.db").string()).c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  // Words, and the address's tokens with its blocks'.
  const std::string key = *search::ip_key("10.9.9.9");
  for (std::string match : {std::string("def OR ghi OR xyz OR abc"), "keys : s" + key, "keys : s" + key.substr(0, 28),
                            "keys : s" + key.substr(0, 30), "keys : " + search::user_key_token("Bob")}) {
    ASSERT_EQ(sqlite3_prepare_v2(db, ("SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH '" + match + "'").c_str(),
                                 -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 0) << match;
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
}

// A group's batches interleave in time (each agent's events are in their own order), and so do
// their ids; their full-text rows go in one id order, so the group writes one FTS5 segment, not
// one per batch (FTS5 writes out what it holds whenever an id is not above the one before).
TEST(SqliteStore, AGroupOfInterleavedBatchesWritesOneFullTextSegment) {
  vigil::test::TempDir dir;
  const auto path = (dir.path() / "v.db").string();
  auto opened = open_sqlite_store(path);
  ASSERT_TRUE(opened) << opened.error();
  auto& store = *opened;
  ASSERT_TRUE(store->ensure_agency("A", "tcvn11930"));
  std::vector<BatchWrite> group(3);
  for (int a = 0; a < 3; ++a) {
    const std::string id = "agt-" + std::to_string(a);
    ASSERT_TRUE(store->add_agent({id, "A", 2, "web" + std::to_string(a), "0.1", "s" + std::to_string(a), at(0), at(0)}));
    std::string body;
    for (int i = 1; i <= 4; ++i) {
      // Agent a's i-th event at second 10*i + a: the three batches' times interleave.
      body += "{\"epoch\":\"e1\",\"seq\":" + std::to_string(i) + ",\"event\":{\"@timestamp\":\"" +
              at(10 * i + a).to_string() + "\",\"event\":{\"kind\":\"event\",\"dataset\":\"x\",\"original\":\"w" +
              std::to_string(a) + "x" + std::to_string(i) + " shared\"}}}\n";
    }
    auto parsed = parse_batch(body, 10, id, "web" + std::to_string(a));
    ASSERT_EQ(parsed.records.size(), 4u) << (parsed.quarantined.empty() ? "" : parsed.quarantined.front().reason);
    group[a].agent_id = id;
    group[a].epoch = "e1";
    group[a].records = std::move(parsed.records);
  }
  auto stored = store->store_batches(group, at(100));
  ASSERT_TRUE(stored) << stored.error();
  store->wait_durable();  // the full-text index has the group too
  for (const auto& b : *stored) EXPECT_EQ(b.records, 4u);
  EXPECT_EQ(search_test::hit_count(*store, "shared"), 12u);
  for (int a = 0; a < 3; ++a) {
    for (int i = 1; i <= 4; ++i) {
      const std::string word = "w" + std::to_string(a) + "x" + std::to_string(i);
      EXPECT_EQ(search_test::hit_count(*store, word), 1u) << word;
    }
  }
  store.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(sqlite_fts_path(path).c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(DISTINCT segid) FROM event_fts_idx", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// A group whose full text passes what the writer holds at once (16 MiB) is written in sorted
// pieces: every row is there, and nothing twice.
TEST(SqliteStore, AGroupOfMuchTextIsIndexedWhole) {
  vigil::test::TempDir dir;
  auto store = sqlite_with_agents((dir.path() / "v.db").string(), 0);
  ASSERT_TRUE(store);
  const std::string filler = [] {
    std::string f;
    while (f.size() < 6'000) f += "filler ";
    return f;
  }();
  std::vector<BatchWrite> group(3);
  for (int a = 0; a < 3; ++a) {
    const std::string id = "agt-" + std::to_string(a);
    ASSERT_TRUE(store->add_agent({id, "A", 2, "web" + std::to_string(a), "0.1", "s" + std::to_string(a), at(0), at(0)}));
    const int n = a == 2 ? 10 : 1'500;  // 9 MiB of text in each of the first two batches
    std::string body;
    for (int i = 1; i <= n; ++i) {
      body += "{\"epoch\":\"e1\",\"seq\":" + std::to_string(i) + ",\"event\":{\"@timestamp\":\"" +
              at(1 + i % 50).to_string() + "\",\"event\":{\"kind\":\"event\",\"dataset\":\"x\",\"original\":\"q" +
              std::to_string(a) + "x" + std::to_string(i) + " " + filler + "\"}}}\n";
    }
    auto parsed = parse_batch(body, 2'000, id, "web" + std::to_string(a));
    ASSERT_EQ(parsed.records.size(), static_cast<size_t>(n));
    group[a].agent_id = id;
    group[a].epoch = "e1";
    group[a].records = std::move(parsed.records);
  }
  auto stored = store->store_batches(group, at(100));
  ASSERT_TRUE(stored) << stored.error();
  store->wait_durable();  // the full-text index has the group too
  EXPECT_EQ((*stored)[0].records, 1'500u);
  EXPECT_EQ((*stored)[2].records, 10u);
  for (const char* word : {"q0x1", "q0x1500", "q1x1", "q1x777", "q1x1500", "q2x1", "q2x10"}) {
    EXPECT_EQ(search_test::hit_count(*store, word), 1u) << word;
  }
}

// The full-text index is a file of its own, written after the store's (fts_indexer.h). One that
// fell behind (a stop between the two commits: the index as it was before the last batch, its
// mark below that batch's block) or went missing is made whole from the events' bodies when the
// store opens; and what after_durable runs finds the group it follows.
TEST(SqliteStore, TheFullTextIndexCatchesUpWhenItsFileFellBehindOrWentMissing) {
  vigil::test::TempDir dir;
  const auto path = (dir.path() / "v.db").string();
  const auto fts = sqlite_fts_path(path);
  auto batch = [](int from) {
    std::string body;
    for (int i = from; i < from + 5; ++i) {
      body += "{\"epoch\":\"e1\",\"seq\":" + std::to_string(i) + ",\"event\":{\"@timestamp\":\"" +
              at(i).to_string() + "\",\"event\":{\"kind\":\"event\",\"dataset\":\"x\",\"original\":\"word" +
              std::to_string(i) + " shared\"},\"source\":{\"ip\":\"10.1.1.1\"}}}\n";
    }
    return parse_batch(body, 10, "agt-1", "web");
  };
  auto all_found = [&](Store& store, size_t n) {
    EXPECT_EQ(search_test::hit_count(store, "shared"), n);
    EXPECT_EQ(search_test::hit_count(store, "source.ip:10.1.1.1"), n);
    for (size_t i = 1; i <= n; ++i) EXPECT_EQ(search_test::hit_count(store, "word" + std::to_string(i)), 1u) << i;
  };
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error();
    ASSERT_TRUE((*store)->ensure_agency("A", "tcvn11930"));
    ASSERT_TRUE((*store)->add_agent({"agt-1", "A", 2, "web", "0.1", "s", at(0), at(0)}));
    ASSERT_TRUE((*store)->store_batch("agt-1", "e1", batch(1).records));
    all_found(**store, 5);
  }
  // The index as it stood after the first batch (closing checkpointed its WAL into the file).
  ASSERT_FALSE(std::filesystem::exists(fts + "-wal"));
  std::filesystem::copy_file(fts, fts + ".before");
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error();
    std::vector<BatchWrite> group(1);
    group[0].agent_id = "agt-1";
    group[0].epoch = "e1";
    group[0].records = batch(6).records;
    ASSERT_TRUE((*store)->store_batches(group, at(100)));
    std::atomic<size_t> found{0};
    (*store)->after_durable([&] { found = search_test::hit_count(**store, "shared"); });
    (*store)->wait_durable();
    EXPECT_EQ(found.load(), 10u);
    all_found(**store, 10);
  }
  // Behind: the second batch's rows are not in the index, and its mark is the first batch's.
  std::filesystem::rename(fts + ".before", fts);
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error();
    all_found(**store, 10);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(fts + suffix);
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store) << store.error();
    all_found(**store, 10);
  }
}

// A new store is made with 16 KiB pages; a file made before with another size keeps it and works.
TEST(SqliteStore, NewFilesHaveSixteenKibPagesAndOldOnesKeepTheirs) {
  vigil::test::TempDir dir;
  auto page_size = [](const std::string& path) { return sqlite_integer(path, "PRAGMA page_size"); };
  const auto fresh = (dir.path() / "new.db").string();
  {
    auto opened = open_sqlite_store(fresh);
    ASSERT_TRUE(opened) << opened.error();
  }
  EXPECT_EQ(page_size(fresh), 16384);
  const auto old = (dir.path() / "old.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(old.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t(x)", nullptr, nullptr,
                           nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  {
    auto opened = open_sqlite_store(old);
    ASSERT_TRUE(opened) << opened.error();
    auto& store = *opened;
    ASSERT_TRUE(store->ensure_agency("A", "tcvn11930"));
    ASSERT_TRUE(store->add_agent({"agt-1", "A", 2, "web1", "0.1", "s1", at(0), at(0)}));
    ASSERT_TRUE(store->store_batch("agt-1", "e1", {record(1, "event", at(1)), record(2, "alert", at(2))}));
    EXPECT_EQ(store->counts("agt-1")->records, 2u);
  }
  EXPECT_EQ(page_size(old), 4096);
}

// Bodies are stored compressed in blocks of a batch's records of one retention class
// (body_blocks.h), packed by the writer or before it (IngestStore::pack): read back whole by
// search, the alerts' evidence and the records view; a redelivery adds no block; a block goes with
// the last event in it, and an alert kept longer keeps only its own.
TEST(SqliteStore, BodiesInBlocksReadBackAndGoWithTheirLastEvent) {
  vigil::test::TempDir dir;
  const auto path = (dir.path() / "v.db").string();
  auto store = sqlite_with_agents(path, 2);
  ASSERT_TRUE(store);
  // agt-1: 100 events at seconds 1-100 in one batch, the 50th an alert: blocks of 64 events
  // (1-65 but 50), of the alert, and of 35 events (66-100).
  std::vector<IncomingRecord> first;
  for (int i = 1; i <= 100; ++i) {
    first.push_back(search_test::log_event(static_cast<uint64_t>(i), at(i), "10.1.1." + std::to_string(i),
                                           "u" + std::to_string(i), "word" + std::to_string(i) + " shared"));
  }
  first[49].kind = "alert";
  first[49].rule_id = "R1";
  first[49].rule_name = "rule one";
  first[49].severity = 3;
  ASSERT_EQ(*store->store_batch("agt-1", "e1", first), 100u);
  // agt-2: 10 events packed before the writer, as ingest does.
  std::vector<BatchWrite> group(1);
  group[0].agent_id = "agt-2";
  group[0].epoch = "e1";
  for (int i = 1; i <= 10; ++i) {
    group[0].records.push_back(search_test::log_event(static_cast<uint64_t>(i), at(i), "10.2.2.2", "v",
                                                      "other" + std::to_string(i)));
  }
  store->pack(group[0].records);
  ASSERT_TRUE(group[0].records.front().prepared);
  auto stored = store->store_batches(group, at(200));
  ASSERT_TRUE(stored) << stored.error();
  store->wait_durable();  // the full-text index has the group too
  EXPECT_EQ((*stored)[0].records, 10u);
  // Sent again, with one new record: only that one is added, in a block of its own.
  first.push_back(search_test::log_event(101, at(99), "10.1.1.101", "u101", "word101 shared"));
  ASSERT_EQ(*store->store_batch("agt-1", "e1", first), 1u);

  EXPECT_EQ(search_test::hit_count(*store, "shared"), 100u);  // the page holds 100
  EXPECT_EQ(search_test::hit_count(*store, "other7"), 1u);
  {
    auto page = search_test::page_of(*store, "user.name:u77 OR url.domain:nowhere", at(0), at(200));
    ASSERT_TRUE(page) << page.error();
    ASSERT_EQ(page->hits.size(), 1u);
    EXPECT_EQ(page->hits[0].json, first[76].json);
  }
  auto alerts = store->list_alerts(AlertFilter{});
  ASSERT_TRUE(alerts);
  ASSERT_EQ(alerts->size(), 1u);
  auto alert = store->get_alert((*alerts)[0].id);
  ASSERT_TRUE(alert && *alert);
  EXPECT_EQ((**alert).evidence, first[49].json);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  body_blocks::add_sql_function(db);
  auto rows = [&](const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    sqlite3_finalize(st);
    return out;
  };
  EXPECT_EQ(rows("SELECT COUNT(*) FROM event_bodies"), std::vector<std::string>{"0"});
  EXPECT_EQ(rows("SELECT live FROM event_blocks ORDER BY id"), (std::vector<std::string>{"64", "1", "35", "10", "1"}));
  // Compressed: the blocks hold far fewer bytes than the bodies.
  const auto sizes = rows("SELECT (SELECT SUM(length(data)) FROM event_blocks) * 3 < SUM(length(body)) FROM records");
  EXPECT_EQ(sizes, std::vector<std::string>{"1"});
  auto bodies = rows("SELECT body FROM records WHERE agent_id = 'agt-1' ORDER BY seq");
  ASSERT_EQ(bodies.size(), 101u);
  for (size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(bodies[i], first[i].json) << i;

  // Events before second 51 go, but not the alert's record (it goes with its alert): the first
  // block keeps seqs 51-65, agt-2's goes.
  PurgeRequest req;
  req.events_before = at(51);
  auto purged = store->purge(req);
  ASSERT_TRUE(purged) << purged.error();
  EXPECT_EQ(purged->events, 49u + 10u);
  EXPECT_EQ(rows("SELECT live FROM event_blocks ORDER BY id"), (std::vector<std::string>{"15", "1", "35", "1"}));
  bodies = rows("SELECT body FROM records WHERE agent_id = 'agt-1' ORDER BY seq");
  ASSERT_EQ(bodies.size(), 52u);
  for (size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(bodies[i], first[i + 49].json) << i;
  EXPECT_EQ(search_test::hit_count(*store, "other7"), 0u);
  EXPECT_EQ(search_test::hit_count(*store, "word64"), 1u);
  EXPECT_EQ(search_test::hit_count(*store, "word49"), 0u);
  // Every event goes; the alert's record keeps its own block only.
  req.events_before = at(1000);
  ASSERT_TRUE(store->purge(req));
  EXPECT_EQ(rows("SELECT live FROM event_blocks"), std::vector<std::string>{"1"});
  EXPECT_EQ(rows("SELECT body FROM records"), std::vector<std::string>{first[49].json});
  req.alerts_before = at(1000);
  ASSERT_TRUE(store->purge(req));
  EXPECT_EQ(rows("SELECT COUNT(*) FROM event_blocks"), std::vector<std::string>{"0"});
  EXPECT_EQ(search_test::hit_count(*store, "shared"), 0u);
  sqlite3_close(db);
}

// Retention can take the newest blocks of bodies (events of old times arrive late); block ids
// are not given again, so a new batch's block is above the full-text index's mark, and indexed
// again after a stop between the two commits.
TEST(SqliteStore, BlockIdsAreNotGivenAgainAfterRetention) {
  vigil::test::TempDir dir;
  const auto path = (dir.path() / "v.db").string();
  auto max_block = [&]() { return sqlite_integer(sqlite_fts_path(path), "SELECT indexed_block FROM fts_state"); };
  auto store = sqlite_with_agents(path, 1);
  ASSERT_TRUE(store);
  std::vector<IncomingRecord> batch;
  for (int i = 1; i <= 3; ++i) batch.push_back(search_test::log_event(static_cast<uint64_t>(i), at(i), "10.1.1.1", "u", "old"));
  ASSERT_EQ(*store->store_batch("agt-1", "e1", batch), 3u);
  const int64_t first = max_block();
  EXPECT_GT(first, 0);
  PurgeRequest req;
  req.events_before = at(1000);
  ASSERT_TRUE(store->purge(req));
  batch.clear();
  batch.push_back(search_test::log_event(4, at(2000), "10.1.1.1", "u", "fresh"));
  ASSERT_EQ(*store->store_batch("agt-1", "e1", batch), 1u);
  EXPECT_GT(max_block(), first);
  auto page = search_test::page_of(*store, "fresh", at(1990), at(2010));
  ASSERT_TRUE(page) << page.error();
  EXPECT_EQ(page->hits.size(), 1u);
  store.reset();
  EXPECT_GT(max_block(), first);
}

// A block of bodies that cannot be read does not stop retention: its events go, and how many
// had a body that could not be read back is counted (their words stay in the full-text index as
// hits whose events are gone, which searches drop).
TEST(SqliteStore, RetentionCountsBodiesItCouldNotRead) {
  vigil::test::TempDir dir;
  const auto path = (dir.path() / "v.db").string();
  auto store = sqlite_with_agents(path, 1);
  ASSERT_TRUE(store);
  std::vector<IncomingRecord> batch;
  for (int i = 1; i <= 10; ++i) {
    batch.push_back(search_test::log_event(static_cast<uint64_t>(i), at(i), "10.1.1.1", "u", "damaged" + std::to_string(i)));
  }
  ASSERT_EQ(*store->store_batch("agt-1", "e1", batch), 10u);
  for (int i = 11; i <= 15; ++i) {
    batch.push_back(search_test::log_event(static_cast<uint64_t>(i), at(i), "10.1.1.1", "u", "sound" + std::to_string(i)));
  }
  ASSERT_EQ(*store->store_batch("agt-1", "e1", batch), 5u);  // the 5 new ones, in a second block
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE event_blocks SET data = x'28b52ffd00' WHERE id = (SELECT MIN(id) FROM event_blocks)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  PurgeRequest req;
  req.events_before = at(1000);
  auto purged = store->purge(req);
  ASSERT_TRUE(purged) << purged.error();
  EXPECT_EQ(purged->events, 15u);
  EXPECT_EQ(purged->unreadable_bodies, 10u);
  EXPECT_EQ(search_test::hit_count(*store, "damaged3"), 0u);
  EXPECT_EQ(search_test::hit_count(*store, "sound12"), 0u);
  // Nothing left to purge, nothing unreadable counted again.
  purged = store->purge(req);
  ASSERT_TRUE(purged) << purged.error();
  EXPECT_EQ(purged->events, 0u);
  EXPECT_EQ(purged->unreadable_bodies, 0u);
}

// Migration 17 (SQLite): a database of the schema before it (records, event_search, event_text)
// keeps every record, its search hits (words, addresses, user names), alerts' evidence, and a
// record from before the search index; the full-text rows it moved can be taken out again.
TEST(SqliteMigration, EventsWrittenOnceKeepWhatWasStored) {
  vigil::test::TempDir dir;
  const std::string path = (dir.path() / "old.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  auto exec = [&](const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << "\n" << sql.substr(0, 200);
    sqlite3_free(err);
  };
  exec("CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  for (const auto& m : migrations()) {
    if (m.version > 16) break;
    exec(m.sqlite);
    exec("INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 0)");
  }
  const std::string v4 = *search::ip_key("10.9.9.9");
  auto ns = [](Timestamp t) { return std::to_string(t.ns); };
  const int64_t id1 = search::sqlite_id(at(10), 7), id2 = search::sqlite_id(at(11), 8);
  // An event with text, address and user; an alert with its alert row; a record the search index
  // never had (stored before it existed).
  exec("INSERT INTO records VALUES ('agt-1', 'e1', 1, 'event', 'sshd', " + ns(at(10)) +
       ", '{\"event\":{\"original\":\"Failed password for root\"},\"source\":{\"ip\":\"10.9.9.9\"}}')");
  exec("INSERT INTO records VALUES ('agt-1', 'e1', 2, 'alert', 'sshd', " + ns(at(11)) + ", '{\"rule\":{\"id\":\"R1\"}}')");
  exec("INSERT INTO records VALUES ('agt-1', 'e0', 9, 'event', 'sshd', " + ns(at(5)) + ", '{\"message\":\"old\"}')");
  exec("INSERT INTO event_search(id, agent_id, epoch, seq, ts, kind, dataset, source_ip, user_name, has_text) VALUES (" +
       std::to_string(id1) + ", 'agt-1', 'e1', 1, " + ns(at(10)) + ", 'event', 'sshd', '" + v4 + "', 'root', 1)");
  exec("INSERT INTO event_search(id, agent_id, epoch, seq, ts, kind, dataset, has_text) VALUES (" + std::to_string(id2) +
       ", 'agt-1', 'e1', 2, " + ns(at(11)) + ", 'alert', 'sshd', 0)");
  exec("INSERT INTO event_text(rowid, original) VALUES (" + std::to_string(id1) + ", 'Failed password for root')");
  // An event dated ahead (a clock years fast): the block tokens' first id stays now's, and this
  // event is indexed again with its blocks.
  const Timestamp ahead = Timestamp::from_seconds(4'102'444'800);  // 2100
  const int64_t id3 = search::sqlite_id(ahead, 9);
  exec("INSERT INTO records VALUES ('agt-1', 'e1', 4, 'event', 'sshd', " + ns(ahead) +
       ", '{\"event\":{\"original\":\"ahead of time\"},\"source\":{\"ip\":\"10.9.9.9\"}}')");
  exec("INSERT INTO event_search(id, agent_id, epoch, seq, ts, kind, dataset, source_ip, has_text) VALUES (" +
       std::to_string(id3) + ", 'agt-1', 'e1', 4, " + ns(ahead) + ", 'event', 'sshd', '" + v4 + "', 1)");
  exec("INSERT INTO event_text(rowid, original) VALUES (" + std::to_string(id3) + ", 'ahead of time')");
  exec("INSERT INTO alerts(agent_id, epoch, seq, rule_id, rule_name, severity, ts) VALUES ('agt-1', 'e1', 2, 'R1', 'r', 3, " +
       ns(at(11)) + ")");
  sqlite3_close(db);

  auto opened = open_sqlite_store(path);
  ASSERT_TRUE(opened) << opened.error();
  auto& store = *opened;
  EXPECT_EQ(*store->schema_version(), static_cast<int>(migrations().size()));
  ASSERT_TRUE(store->ensure_agency("A", "tcvn11930"));
  ASSERT_TRUE(store->add_agent({"agt-1", "A", 2, "web1", "0.1", "s1", at(0), at(0)}));
  auto hits = [&](const std::string& q) { return search_test::hit_count(*store, q); };
  EXPECT_EQ(hits("password"), 1u);
  EXPECT_EQ(hits("source.ip:10.9.9.9"), 1u);
  EXPECT_EQ(hits("source.ip:10.9.0.0/16"), 1u);
  EXPECT_EQ(hits("user.name:root"), 1u);
  EXPECT_EQ(hits(""), 3u);
  EXPECT_EQ(store->counts("agt-1")->records, 4u);
  {
    auto parsed = search::parse("source.ip:10.9.0.0/16 AND ahead");
    EventQuery q;
    q.query = &std::get<search::Node>(parsed);
    q.since = ahead;
    q.until = Timestamp{ahead.ns + 1'000'000'000};
    auto page = store->search_events(q);
    ASSERT_TRUE(page) << page.error();
    EXPECT_EQ(page->hits.size(), 1u);
  }
  auto alerts = store->list_alerts(AlertFilter{});
  ASSERT_TRUE(alerts);
  ASSERT_EQ(alerts->size(), 1u);
  auto alert = store->get_alert((*alerts)[0].id);
  ASSERT_TRUE(alert && *alert);
  EXPECT_EQ((**alert).evidence, "{\"rule\":{\"id\":\"R1\"}}");
  // New events go on being stored beside the moved ones, and a redelivered one is not stored twice.
  ASSERT_TRUE(store->store_batch("agt-1", "e1", {search_test::log_event(3, at(12), "10.9.9.9", "root", "password again")}));
  ASSERT_EQ(*store->store_batch("agt-1", "e1", {search_test::log_event(3, at(12), "10.9.9.9", "root", "x")}), 0u);
  EXPECT_EQ(hits("password"), 2u);
  // Blocks: the window holds events stored before migration 19, without block tokens, and one
  // stored after, with them: both are found (the window is read); a window of new events only
  // reads the block's token.
  EXPECT_EQ(hits("source.ip:10.9.0.0/16"), 2u);
  EXPECT_EQ(hits("source.ip:10.9.9.0/24 AND password"), 2u);
  {
    auto parsed = search::parse("source.ip:10.9.0.0/16");
    EventQuery later;
    later.query = &std::get<search::Node>(parsed);
    later.since = at(12);
    later.until = at(13);
    auto page = store->search_events(later);
    ASSERT_TRUE(page) << page.error();
    EXPECT_EQ(page->hits.size(), 1u);
  }
  PurgeRequest req;
  req.events_before = Timestamp{ahead.ns + 1'000'000'000};
  req.alerts_before = at(1000);
  auto purged = store->purge(req);
  ASSERT_TRUE(purged) << purged.error();
  EXPECT_EQ(purged->events, 4u);
  EXPECT_EQ(purged->alerts, 1u);
  EXPECT_EQ(store->counts("agt-1")->records, 0u);
  store.reset();
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  body_blocks::add_sql_function(db);  // the records view reads bodies in blocks
  ASSERT_EQ(sqlite3_exec(db, ("ATTACH DATABASE '" + sqlite_fts_path(path) + "' AS fts").c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto one = [&](const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
  };
  // The index lost every moved and new row's words and keys.
  EXPECT_EQ(one("SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH 'original : password'"), 0);
  EXPECT_EQ(one("SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH 'keys : s" + v4 + "'"), 0);
  EXPECT_EQ(one("SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH 'keys : s" + v4.substr(0, 28) + "'"), 0);
  EXPECT_EQ(one("SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH 'keys : s" + v4.substr(0, 30) + "'"), 0);
  EXPECT_EQ(one("SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH 'original : ahead'"), 0);
  EXPECT_EQ(one("SELECT COUNT(*) FROM event_fts WHERE event_fts MATCH 'keys : " + search::user_key_token("root") + "'"), 0);
  EXPECT_EQ(one("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('event_search', 'event_text')"), 0);
  EXPECT_EQ(one("SELECT COUNT(*) FROM records"), 0);
  sqlite3_close(db);
}

// --- PostgreSQL: events partitioned by time (migration 18) ---------------------------------------

// A plain connection to a test schema, for looking at the store's tables from outside.
class PgAdmin {
 public:
  explicit PgAdmin(const std::string& schema) : c_(PQconnectdb(pg_dsn().c_str()), &PQfinish) {
    if (PQstatus(c_.get()) != CONNECTION_OK) ADD_FAILURE() << PQerrorMessage(c_.get());
    rows("SELECT set_config('search_path', $1, false)", {schema});
  }
  // Every row's columns as text; a statement without parameters may be several.
  std::vector<std::vector<std::string>> rows(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    std::unique_ptr<PGresult, decltype(&PQclear)> r(
        params.empty() ? PQexec(c_.get(), sql.c_str())
                       : PQexecParams(c_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                      nullptr, nullptr, 0),
        &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r.get());
      return {};
    }
    std::vector<std::vector<std::string>> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.emplace_back();
      for (int c = 0; c < PQnfields(r.get()); ++c) out.back().emplace_back(PQgetvalue(r.get(), i, c));
    }
    return out;
  }
  std::string one(const std::string& sql, const std::vector<std::string>& params = {}) {
    auto r = rows(sql, params);
    return r.empty() || r[0].empty() ? "" : r[0][0];
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> c_;
};

constexpr int64_t kDayNs = 86'400'000'000'000;
int64_t today() { return Timestamp::now().ns / kDayNs; }
Timestamp noon_of(int64_t day) { return Timestamp{day * kDayNs + kDayNs / 2}; }
// The partition that holds `day` (none: "").
std::string partition_of(PgAdmin& db, int64_t day) {
  return db.one(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = "
      "'events_main'::regclass AND c.relname = 'events_p' || to_char(to_timestamp($1::bigint * 86400) AT TIME ZONE "
      "'UTC', 'YYYYMMDD')",
      {std::to_string(day)});
}

TEST(PostgresStore, EventDaysArePartitionedAheadAndStrayTimesAreKept) {
  VIGIL_REQUIRE_PG();
  const std::string schema = fresh_schema();
  {
    auto store = open_postgres_store({pg_dsn(), schema, 2});
    ASSERT_TRUE(store) << store.error();
    PgAdmin db(schema);
    // Yesterday to a week ahead exist as soon as the store is open.
    for (int64_t d = today() - 1; d <= today() + 7; ++d) EXPECT_NE(partition_of(db, d), "") << "day " << d;
    EXPECT_EQ(partition_of(db, today() + 8), "");

    // Times no day was made for (a clock years off either way, the epoch itself) are stored too.
    const Timestamp future{(today() + 3000) * kDayNs + 5};
    std::vector<IncomingRecord> batch{
        record(1, "event", Timestamp::now()), record(2, "event", Timestamp{(today() - 5000) * kDayNs}),
        record(3, "event", future), record(4, "metric", Timestamp{0}), record(5, "alert", future)};
    ASSERT_EQ(*(*store)->store_batch("agt-1", "e1", batch), 5u);
    EXPECT_EQ(*(*store)->store_batch("agt-1", "e1", batch), 0u);
    EXPECT_EQ(db.one("SELECT COUNT(*) FROM events_main_default"), "3");
    EXPECT_EQ(db.one("SELECT COUNT(*) FROM events_alerts"), "1");
    EventQuery q;
    q.since = Timestamp{future.ns - 1000};
    q.until = Timestamp{future.ns + 1000};
    auto page = (*store)->search_events(q);
    ASSERT_TRUE(page) << page.error();
    EXPECT_EQ(page->hits.size(), 2u);  // the event and the alert

    // Making that day later moves its row out of the default partition; dedup still holds.
    EXPECT_EQ(db.one("SELECT vigil_events_partition($1)", {std::to_string(today() + 3000)}), "t");
    EXPECT_EQ(db.one("SELECT COUNT(*) FROM events_main_default"), "2");
    EXPECT_EQ(db.one("SELECT COUNT(*) FROM " + partition_of(db, today() + 3000)), "1");
    EXPECT_EQ(*(*store)->store_batch("agt-1", "e1", batch), 0u);
    EXPECT_EQ((*store)->counts("agt-1")->records, 5u);

    // Several collectors making the same day at once: one makes it, none fails.
    std::atomic<int> made{0}, failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        PgAdmin other(schema);
        auto r = other.one("SELECT vigil_events_partition($1)", {std::to_string(today() + 20)});
        if (r == "t") {
          ++made;
        } else if (r != "f") {
          ++failed;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(made.load(), 1);
    EXPECT_EQ(failed.load(), 0);
    EXPECT_NE(partition_of(db, today() + 20), "");
    // A second collector starting on the database finds its days made.
    auto second = open_postgres_store({pg_dsn(), schema, 1});
    ASSERT_TRUE(second) << second.error();
  }
  ASSERT_TRUE(drop_postgres_schema(pg_dsn(), schema));
}

TEST(PostgresStore, RetentionDropsWholeDaysAndKeepsAlertEvidence) {
  VIGIL_REQUIRE_PG();
  const std::string schema = fresh_schema();
  {
    auto store = open_postgres_store({pg_dsn(), schema, 2});
    ASSERT_TRUE(store) << store.error();
    PgAdmin db(schema);
    const int64_t old_day = today() - 40, next_day = today() - 39;
    // Days a collector made back then.
    for (int64_t d : {old_day, next_day}) db.one("SELECT vigil_events_partition($1)", {std::to_string(d)});
    std::vector<IncomingRecord> old_batch;
    for (uint64_t i = 1; i <= 5; ++i) old_batch.push_back(record(i, "event", noon_of(old_day)));
    old_batch.push_back(record(6, "metric", noon_of(old_day)));
    IncomingRecord alert = record(7, "alert", noon_of(old_day));
    alert.json = "{\"evidence\":7}";
    old_batch.push_back(alert);
    ASSERT_EQ(*(*store)->store_batch("agt-1", "e1", old_batch), 7u);
    ASSERT_EQ(*(*store)->store_batch("agt-1", "e1",
                                     {record(8, "event", noon_of(next_day)), record(9, "event", noon_of(next_day))}),
              2u);
    ASSERT_EQ(*(*store)->store_batch("agt-1", "e1", {record(10, "event", Timestamp::now())}), 1u);
    const std::string old_name = partition_of(db, old_day);
    ASSERT_NE(old_name, "");

    // The cutoff an hour into the next day: the old day goes whole, the next one stays.
    PurgeRequest req;
    req.events_before = Timestamp{next_day * kDayNs + 3'600'000'000'000};
    req.health_before = req.events_before;
    auto purged = (*store)->purge(req);
    ASSERT_TRUE(purged) << purged.error();
    EXPECT_EQ(purged->events, 5u);
    EXPECT_EQ(purged->health, 1u);
    EXPECT_EQ(purged->alerts, 0u);
    EXPECT_EQ(db.one("SELECT to_regclass($1) IS NULL", {old_name}), "t");
    EXPECT_NE(partition_of(db, next_day), "");
    auto alerts = (*store)->list_alerts({});
    ASSERT_TRUE(alerts && alerts->size() == 1u);
    auto kept = (*store)->get_alert(alerts->front().id);
    ASSERT_TRUE(kept && kept->has_value());
    EXPECT_EQ((*kept)->evidence, "{\"evidence\":7}");   // the alert's own record outlives its day
    EXPECT_EQ((*store)->counts("agt-1")->records, 4u);  // the alert's record, 8, 9, 10

    // Later: the next day goes whole, then the alert with its record.
    req.events_before = Timestamp{(next_day + 1) * kDayNs};
    req.health_before = req.events_before;
    purged = (*store)->purge(req);
    ASSERT_TRUE(purged) << purged.error();
    EXPECT_EQ(purged->events, 2u);
    EXPECT_EQ(partition_of(db, next_day), "");
    req.alerts_before = Timestamp::now();
    purged = (*store)->purge(req);
    ASSERT_TRUE(purged) << purged.error();
    EXPECT_EQ(purged->alerts, 1u);
    EXPECT_EQ((*store)->counts("agt-1")->records, 1u);
    EXPECT_EQ(db.one("SELECT COUNT(*) FROM events_alerts"), "0");
  }
  ASSERT_TRUE(drop_postgres_schema(pg_dsn(), schema));
}

TEST(PostgresStore, MigrationMovesExistingRecordsIntoPartitionedEvents) {
  VIGIL_REQUIRE_PG();
  const std::string schema = fresh_schema();
  {
    // A database at version 17, with rows of every shape it may hold.
    {
      PgAdmin root("public");
      root.rows("CREATE SCHEMA " + schema);
      PgAdmin db(schema);
      db.rows("CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      for (int v = 1; v <= 17; ++v) {
        db.rows(migrations()[static_cast<size_t>(v - 1)].sql_for_postgres());
        db.rows("INSERT INTO schema_migrations VALUES ($1, 0)", {std::to_string(v)});
      }
      const std::string recent = std::to_string(noon_of(today() - 2).ns);
      db.rows("INSERT INTO records VALUES ('agt-1', 'e1', 1, 'event', 'sshd', $1, '{\"n\":1}')", {recent});
      db.rows(
          "INSERT INTO event_search(id, agent_id, epoch, seq, ts, kind, dataset, source_ip, text_index) OVERRIDING "
          "SYSTEM VALUE VALUES (41, 'agt-1', 'e1', 1, $1, 'event', 'sshd', '010.001.000.003', "
          "to_tsvector('simple', 'failed password'))",
          {recent});
      db.rows("INSERT INTO records VALUES ('agt-1', 'e1', 2, 'alert', 'sshd', $1, '{\"n\":2}')", {recent});
      db.rows(
          "INSERT INTO alerts(agent_id, epoch, seq, rule_id, rule_name, severity, ts) VALUES "
          "('agt-1', 'e1', 2, 'VGL-1', 'rule', 3, $1)",
          {recent});
      // Older than the search index (no row there), and older than any day made.
      db.rows("INSERT INTO records VALUES ('agt-1', 'e1', 3, 'metric', 'agent.health', 946684800000000000, '{}')");
    }
    auto store = open_postgres_store({pg_dsn(), schema, 1});
    ASSERT_TRUE(store) << store.error();
    EXPECT_EQ(*(*store)->schema_version(), static_cast<int>(migrations().size()));
    PgAdmin db(schema);
    EXPECT_EQ(db.one("SELECT to_regclass('event_search') IS NULL"), "t");
    EXPECT_NE(partition_of(db, today() - 2), "");
    EXPECT_EQ(db.one("SELECT COUNT(*) FROM events_main_default"), "1");
    EXPECT_EQ(db.one("SELECT COUNT(*) FROM records"), "3");
    auto c = (*store)->counts("agt-1");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->records, 3u);
    EXPECT_EQ(c->alerts, 1u);
    auto alerts = (*store)->list_alerts({});
    ASSERT_TRUE(alerts && alerts->size() == 1u);
    EXPECT_EQ((*(*store)->get_alert(alerts->front().id))->evidence, "{\"n\":2}");
    // Search finds the moved row under its id; dedup holds for what was there.
    auto parsed = search::parse("password");
    ASSERT_TRUE(std::holds_alternative<search::Node>(parsed));
    EventQuery q;
    q.query = &std::get<search::Node>(parsed);
    q.since = Timestamp{noon_of(today() - 3).ns};
    q.until = Timestamp::now();
    auto page = (*store)->search_events(q);
    ASSERT_TRUE(page) << page.error();
    ASSERT_EQ(page->hits.size(), 1u);
    EXPECT_EQ(page->hits[0].id, 41);
    EXPECT_EQ(page->hits[0].json, "{\"n\":1}");
    EXPECT_EQ(*(*store)->store_batch("agt-1", "e1", {record(1, "event", noon_of(today() - 2))}), 0u);
    // A new record gets an id past the migrated ones.
    EXPECT_EQ(*(*store)->store_batch("agt-1", "e1", {record(4, "event", Timestamp::now())}), 1u);
    EXPECT_GT(std::stoll(db.one("SELECT MAX(id) FROM events")), 41);
  }
  ASSERT_TRUE(drop_postgres_schema(pg_dsn(), schema));
}

// The dedup key holds the time: a seq sent again under another time (never a redelivery, which
// carries its record as it was) is a second record, but its alert stays one, and the record
// without an alert goes when the alerts of its time go.
TEST(PostgresStore, ASeqSentAgainUnderAnotherTimeKeepsOneAlert) {
  VIGIL_REQUIRE_PG();
  const std::string schema = fresh_schema();
  {
    auto store = open_postgres_store({pg_dsn(), schema, 2});
    ASSERT_TRUE(store) << store.error();
    ASSERT_EQ(*(*store)->store_batch("agt-1", "e1", {record(1, "alert", at(10))}), 1u);
    ASSERT_EQ(*(*store)->store_batch("agt-1", "e1", {record(1, "alert", at(20))}), 1u);
    // Within one batch a seq counts once, its first record.
    ASSERT_EQ(*(*store)->store_batch("agt-1", "e1", {record(2, "event", at(30)), record(2, "event", at(31))}), 1u);
    auto c = (*store)->counts("agt-1");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->records, 3u);
    EXPECT_EQ(c->alerts, 2u);  // records of kind alert
    EXPECT_EQ((*store)->list_alerts({})->size(), 1u);
    PurgeRequest req;
    req.alerts_before = at(25);
    auto purged = (*store)->purge(req);
    ASSERT_TRUE(purged) << purged.error();
    EXPECT_EQ(purged->alerts, 1u);
    EXPECT_EQ(purged->events, 1u);  // the second alert record, which never had an alert
    EXPECT_EQ((*store)->counts("agt-1")->records, 1u);
  }
  ASSERT_TRUE(drop_postgres_schema(pg_dsn(), schema));
}

}  // namespace
}  // namespace vigil::collector
