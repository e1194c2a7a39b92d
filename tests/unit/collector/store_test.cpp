// The Store contract. Written against the interface so every implementation runs the same suite.
#include "collector/store/store.h"

#include <gtest/gtest.h>

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
    batch.push_back({i, i % 10 == 0 ? "alert" : "event", "sshd", at(static_cast<int64_t>(i)), "{\"n\":" + std::to_string(i) + "}"});
  }
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", batch), 100u);
  // Redelivery after a crash: nothing new.
  EXPECT_EQ(*store_->store_batch("agt-1", "e1", batch), 0u);
  // Overlap: 51..150, half new.
  std::vector<IncomingRecord> overlap;
  for (uint64_t i = 51; i <= 150; ++i) overlap.push_back({i, "event", "sshd", at(0), "{}"});
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
  EXPECT_EQ(*store_->store_batch(evil, evil, {{1, evil, evil, at(0), evil}}), 1u);
  EXPECT_EQ(store_->counts(evil)->records, 1u);
}

TEST_F(StoreTest, ApiTokensMapToRoles) {
  ASSERT_TRUE(store_->add_api_token("hash", "admin", "bootstrap"));
  EXPECT_EQ(**store_->api_token_role("hash"), "admin");
  EXPECT_FALSE(store_->api_token_role("other")->has_value());
  EXPECT_FALSE(store_->add_api_token("h2", "root", "x"));  // roles are checked
}

}  // namespace
}  // namespace vigil::collector
