// The Store contract. Written against the interface so every implementation runs the same suite.
#include "collector/store/store.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/test_support.h"

namespace vigil::collector {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = open_sqlite_store((dir_.path() / "vigil.db").string());
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(s.value());
  }
  vigil::test::TempDir dir_;
  std::unique_ptr<Store> store_;
};

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

TEST_F(StoreTest, MigrationsAreVersionedAndIdempotent) {
  auto v = store_->schema_version();
  ASSERT_TRUE(v);
  EXPECT_GE(*v, 1);
  ASSERT_TRUE(store_->migrate());
  EXPECT_EQ(*store_->schema_version(), *v);
  store_.reset();
  auto again = open_sqlite_store((dir_.path() / "vigil.db").string());
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*(*again)->schema_version(), *v);
}

TEST_F(StoreTest, TokensAreOneTimeAndExpire) {
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

TEST_F(StoreTest, TokenForUnknownAgencyIsRefused) {
  EXPECT_FALSE(store_->add_token("h", {"no such agency", 1}, at(100)));
}

TEST_F(StoreTest, RacingEnrollmentsUseATokenOnce) {
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

TEST_F(StoreTest, AgentsAndRevocation) {
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

TEST_F(StoreTest, BatchesAreStoredOnceUnderAgentEpochSeq) {
  std::vector<IncomingRecord> batch;
  for (uint64_t i = 1; i <= 100; ++i) {
    IncomingRecord r = record(i, i % 10 == 0 ? "alert" : "event", at(static_cast<int64_t>(i)));
    r.json = "{\"n\":" + std::to_string(i) + "}";
    batch.push_back(r);
  }
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", batch), 100u);
  // Redelivery after a crash: nothing new.
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", batch), 0u);
  // Overlap: 51..150, half new.
  std::vector<IncomingRecord> overlap;
  for (uint64_t i = 51; i <= 150; ++i) overlap.push_back(record(i, "event", at(0)));
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", overlap), 50u);
  // A new spool epoch (the agent's spool was recreated) starts its own sequence.
  EXPECT_EQ(*store_->store_batch("agt-1", "e2", batch), 100u);
  auto c = store_->counts("agt-1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->records, 250u);
  EXPECT_EQ(c->alerts, 20u);
}

TEST_F(StoreTest, SqlMetacharactersAreData) {
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

TEST_F(StoreTest, ApiTokensMapToRoles) {
  ASSERT_TRUE(store_->add_api_token("hash", "admin", "bootstrap"));
  EXPECT_EQ(**store_->api_token_role("hash"), "admin");
  EXPECT_FALSE(store_->api_token_role("other")->has_value());
  EXPECT_FALSE(store_->add_api_token("h2", "root", "x"));  // roles are checked
}

TEST_F(StoreTest, AlertsFilterPageAndKeepTheirHistory) {
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
}

TEST_F(StoreTest, ComplianceKeepsTheNewestResultPerAgentAndCheck) {
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
    r.check = IncomingRecord::Check{"pol", id, "title " + id, 2, result, R"({"tcvn11930":["x"]})", "why"};
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

}  // namespace
}  // namespace vigil::collector
