// A batch from a hostile agent: each bad line is set aside with its reason, never refusing the
// good lines around it, and nothing recurses with the input's nesting.
#include "collector/ingest/batch_parser.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace vigil::collector {
namespace {

std::string line(uint64_t seq, const std::string& event) {
  return R"({"epoch":"ep1","seq":)" + std::to_string(seq) + R"(,"event":)" + event + "}\n";
}

TEST(BatchParser, DeepNestingIsQuarantinedAndTheRestStored) {
  std::string deep(100'000, '[');
  deep += std::string(100'000, ']');
  std::string body = line(1, R"({"message":"before"})") + line(2, R"({"x":)" + deep + "}") +
                     line(3, R"({"message":"after"})");
  auto b = parse_batch(body, 10'000, "agt-1", "web01");
  ASSERT_FALSE(b.refused);
  ASSERT_EQ(b.records.size(), 2u);
  EXPECT_EQ(b.records[0].seq, 1u);
  EXPECT_EQ(b.records[1].seq, 3u);
  ASSERT_EQ(b.quarantined.size(), 1u);
  EXPECT_EQ(b.quarantined[0].line, 2u);
  EXPECT_NE(b.quarantined[0].reason.find("deeper than 64"), std::string::npos) << b.quarantined[0].reason;
  EXPECT_EQ(b.quarantined[0].body.size(), kQuarantineKeepBytes);
  // Its epoch and seq are read from the line's start, so a redelivery is recognised.
  ASSERT_TRUE(b.quarantined[0].seq.has_value());
  EXPECT_EQ(*b.quarantined[0].seq, 2u);
  EXPECT_EQ(b.quarantined[0].epoch, "ep1");
  EXPECT_EQ(b.last_seq, 3u);
}

TEST(BatchParser, NestingUpToTheLimitIsStored) {
  std::string ok(62, '[');
  ok += std::string(62, ']');
  auto b = parse_batch(line(1, R"({"x":)" + ok + "}"), 10, "agt-1", "web01");
  EXPECT_EQ(b.records.size(), 1u);
  EXPECT_TRUE(b.quarantined.empty());
}

TEST(BatchParser, AnAlertWithoutRuleIdDoesNotBlockTheRecordsBehindIt) {
  std::string body = line(10, R"({"event":{"kind":"alert"}})") + line(11, R"({"message":"next"})") +
                     line(12, R"({"event":{"kind":"alert","severity":4},"rule":{"id":"r1","name":"R"}})");
  auto b = parse_batch(body, 10'000, "agt-1", "web01");
  ASSERT_EQ(b.quarantined.size(), 1u);
  EXPECT_EQ(b.quarantined[0].reason, "an alert needs rule.id");
  ASSERT_TRUE(b.quarantined[0].seq.has_value());
  EXPECT_EQ(*b.quarantined[0].seq, 10u);
  EXPECT_EQ(b.quarantined[0].epoch, "ep1");
  ASSERT_EQ(b.records.size(), 2u);
  EXPECT_EQ(b.records[1].rule_id, "r1");
  EXPECT_EQ(b.records[1].severity, 4);
  EXPECT_EQ(b.last_seq, 12u);  // acknowledged past the quarantined one
}

TEST(BatchParser, EveryKindOfBadLineIsQuarantinedAlone) {
  std::string body = "not json\n" + std::string(R"([1,2])") + "\n" + R"({"epoch":"ep1","seq":-1,"event":{}})" + "\n" +
                     line(5, "{}") + R"({"epoch":"other","seq":6,"event":{}})" + "\n" + line(5, "{}") +
                     R"({"epoch":"ep1","seq":7,"event":"text"})" + "\n" +
                     line(8, R"({"event":{"kind":7,"dataset":"compliance.check"}})") +
                     line(9, R"({"event":{"dataset":"compliance.check"},"rule":{"id":"c1"},"vigil":{"policy":{"id":"p"},"check":{"result":"pass"}}})") +
                     "{\"bad utf8 \xff\"}\n";
  auto b = parse_batch(body, 10'000, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 2u);
  EXPECT_EQ(b.records[0].seq, 5u);
  EXPECT_EQ(b.records[1].seq, 9u);
  ASSERT_TRUE(b.records[1].check.has_value());
  EXPECT_EQ(b.records[1].check->result, "pass");
  ASSERT_EQ(b.quarantined.size(), 8u);
  for (const auto& q : b.quarantined) {
    EXPECT_FALSE(q.reason.empty());
    // What is kept is valid UTF-8 (PostgreSQL's text refuses anything else).
    EXPECT_NO_THROW((void)nlohmann::json(q.body).dump());
  }
  EXPECT_EQ(b.quarantined[3].epoch, "other");
  EXPECT_EQ(b.last_seq, 9u);
}

TEST(BatchParser, TheBatchBoundStillRefusesTheWholeBatch) {
  std::string body;
  for (uint64_t i = 1; i <= 5; ++i) body += line(i, "{}");
  auto b = parse_batch(body, 4, "agt-1", "web01");
  ASSERT_TRUE(b.refused.has_value());
}

TEST(BatchParser, AgentIdentityComesFromTheCertificateNotTheBody) {
  auto b = parse_batch(line(1, R"({"agent":{"id":"agt-victim","name":"spoofed"},"message":"m"})"), 10, "agt-1",
                       "web01");
  ASSERT_EQ(b.records.size(), 1u);
  auto ev = nlohmann::json::parse(b.records[0].json);
  EXPECT_EQ(ev["agent"]["id"], "agt-1");
  EXPECT_EQ(ev["agent"]["name"], "web01");
  EXPECT_EQ(ev["message"], "m");
}

}  // namespace
}  // namespace vigil::collector
