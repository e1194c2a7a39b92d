// A batch from a hostile agent: each bad line is set aside with its reason, never refusing the
// good lines around it, and nothing recurses with the input's nesting.
#include "collector/ingest/batch_parser.h"

#include <limits>

#include <fmt/format.h>
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

TEST(BatchParser, ColumnsHoldTheUnescapedValues) {
  auto b = parse_batch(line(1, R"({"source":{"ip":"10.0.0.\u0031","port":22},"user":{"name":"r\"o\\ot"},)"
                                  R"("event":{"original":"caf\u00e9\n\ud83d\ude00 \/x","action":"a\tb"},)"
                                  R"("h\u006fst":{"name":"web\u002d01"}})"),
                       10, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 1u) << (b.quarantined.empty() ? "" : b.quarantined[0].reason);
  const auto& s = b.records[0].search;
  EXPECT_EQ(s.entity.source_ip, "10.0.0.1");
  EXPECT_EQ(s.entity.source_port, 22);
  EXPECT_EQ(s.entity.user_name, "r\"o\\ot");
  EXPECT_EQ(s.text, "caf\xC3\xA9\n\xF0\x9F\x98\x80 /x");
  EXPECT_EQ(s.event_action, "a\tb");
  EXPECT_EQ(s.host_name, "web-01");  // an escaped key names the same member
}

TEST(BatchParser, TheEventIsStoredAsReceivedWithTheCollectorsAgent) {
  const std::string event =
      R"({ "message" : "two  spaces\u0021" , "n":1.50,"agent":{"id":"agt-victim"},"z":[ ], "o":{"p":5} ,"t":true})";
  auto b = parse_batch(line(1, event), 10, "agt-1", "web\"01");
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].json,
            R"({"message" : "two  spaces\u0021","n":1.50,"z":[ ],"o":{"p":5},"t":true,"agent":{"id":"agt-1","name":"web\"01"}})");
  auto plain = parse_batch(line(2, "{}"), 10, "agt-1", "web01");
  ASSERT_EQ(plain.records.size(), 1u);
  EXPECT_EQ(plain.records[0].json, R"({"agent":{"id":"agt-1","name":"web01"}})");
}

TEST(BatchParser, ALineWithAKeyTwiceIsQuarantined) {
  std::string many = "{";
  for (int i = 0; i < 40; ++i) many += fmt::format(R"("k{}":{},)", i, i);
  many += R"("k7":0})";
  std::string body = line(1, R"({"rule":{"id":"a","id":"b"}})") +  // where readers would disagree
                     line(2, R"({"x":[{"a":1,"\u0061":2}]})") +   // the same key, escaped
                     line(3, R"({"x":)" + many + "}") +            // in a large object
                     R"({"epoch":"ep1","seq":4,"seq":5,"event":{}})" + "\n" + line(6, R"({"a":{"b":1},"b":{"b":1}})");
  auto b = parse_batch(body, 100, "agt-1", "web01");
  ASSERT_EQ(b.quarantined.size(), 4u);
  EXPECT_EQ(b.quarantined[0].reason, R"(duplicate key "id" in an object)");
  EXPECT_EQ(b.quarantined[1].reason, R"(duplicate key "a" in an object)");
  EXPECT_EQ(b.quarantined[2].reason, R"(duplicate key "k7" in an object)");
  ASSERT_TRUE(b.quarantined[0].seq.has_value());
  EXPECT_EQ(*b.quarantined[0].seq, 1u);
  ASSERT_EQ(b.records.size(), 1u);  // the same key in two objects is no duplicate
  EXPECT_EQ(b.records[0].seq, 6u);
  EXPECT_EQ(b.last_seq, 6u);
}

// Found by the fuzzer: a line simdjson refused before reading it was given the reason of the line
// before it, whose duplicate key lay in a buffer the parser had since freed.
TEST(BatchParser, ALineAfterADuplicateKeyHasItsOwnReason) {
  std::string body = line(1, R"({"a":1,"a":2})") + line(2, "{\"message\":\"" + std::string(5000, 'x') + "\xFF\"}");
  auto b = parse_batch(body, 10, "agt-1", "web01");
  ASSERT_EQ(b.quarantined.size(), 2u);
  EXPECT_EQ(b.quarantined[0].reason, R"(duplicate key "a" in an object)");
  EXPECT_EQ(b.quarantined[1].reason.substr(0, 14), "not valid JSON");
}

TEST(BatchParser, NumbersOutOfRange) {
  std::string body = std::string(R"({"epoch":"ep1","seq":18446744073709551616,"event":{}})") + "\n" +
                     line(2, R"({"x":1e400})") +
                     line(3, R"({"x":123456789012345678901234567890,"source":{"port":18446744073709551615},)"
                             R"("destination":{"port":-99999999999999999999}})") +
                     line(4, R"({"event":{"kind":"alert","severity":-7},"rule":{"id":"r"}})") +
                     line(5, R"({"event":{"kind":"alert","severity":4.0},"rule":{"id":"r"}})") +
                     line(6, R"({"x":01})");
  auto b = parse_batch(body, 100, "agt-1", "web01");
  ASSERT_EQ(b.quarantined.size(), 3u);
  EXPECT_EQ(b.quarantined[0].reason, "expected {\"epoch\": string, \"seq\": integer, \"event\": object}");
  EXPECT_FALSE(b.quarantined[0].seq.has_value());
  EXPECT_EQ(b.quarantined[1].reason, "not valid JSON");
  EXPECT_EQ(b.quarantined[2].reason, "not valid JSON");
  ASSERT_EQ(b.records.size(), 3u);
  EXPECT_EQ(b.records[0].search.entity.source_port, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(b.records[0].search.entity.destination_port, 0);  // not a 64-bit integer
  EXPECT_EQ(b.records[1].severity, 1);
  EXPECT_EQ(b.records[2].severity, 0);  // not an integer
  EXPECT_EQ(b.last_seq, 6u);
}

TEST(BatchParser, NestingOneOverTheLimitIsQuarantined) {
  // The envelope is depth 1 and the event 2: 62 more levels reach 64, 63 pass it.
  std::string at(61, '[');
  at += R"({"a":1})" + std::string(61, ']');
  std::string over(62, '[');
  over += R"({"a":1})" + std::string(62, ']');
  auto b = parse_batch(line(1, R"({"x":)" + at + "}") + line(2, R"({"x":)" + over + "}"), 10, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].seq, 1u);
  ASSERT_EQ(b.quarantined.size(), 1u);
  EXPECT_NE(b.quarantined[0].reason.find("deeper than 64"), std::string::npos) << b.quarantined[0].reason;
}

TEST(BatchParser, TruncatedAndTrailingLinesAreQuarantinedWithTheirSeq) {
  std::string body = std::string(R"({"epoch":"ep1","seq":4,"event":{"message":"cut)") + "\n" +
                     R"({"epoch":"ep1","seq":5,"event":{"message":"m"})" "\n" +
                     R"({"epoch":"ep1","seq":6,"event":{}}})" "\n" +
                     R"({"epoch":"ep1","seq":7,"event":{}} {"epoch":"ep1","seq":8,"event":{}})" "\n" +
                     R"({"epoch":"ep1","seq":9,"event":{"a":tru}})" "\n" +
                     "{\"epoch\":\"ep1\",\"seq\":10,\"event\":{\"message\":\"crlf\"}}\r\n" +
                     R"({"epoch":"ep1","seq":11,"event":{"a":)";  // the body's last bytes
  auto b = parse_batch(body, 100, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].seq, 10u);
  EXPECT_EQ(b.records[0].search.text, "crlf");
  ASSERT_EQ(b.quarantined.size(), 6u);
  const uint64_t want[] = {4, 5, 6, 7, 9, 11};  // the line with two objects is read as its first's
  for (size_t i = 0; i < 6; ++i) {
    const auto& q = b.quarantined[i];
    EXPECT_EQ(q.reason, "not valid JSON");
    ASSERT_TRUE(q.seq.has_value());
    EXPECT_EQ(*q.seq, want[i]);
    EXPECT_EQ(q.epoch, "ep1");
  }
  EXPECT_EQ(b.last_seq, 11u);
}

TEST(BatchParser, InvalidUtf8AndLoneSurrogatesAreQuarantined) {
  std::string body = line(1, "{\"message\":\"bad \xC3\x28\"}") + line(2, "{\"message\":\"overlong \xC0\xAF\"}") +
                     line(3, R"({"message":"\udc00"})") + line(4, R"({"message":"\ud800x"})") +
                     line(5, "{\"message\":\"ok \xE2\x82\xAC\"}") + line(6, "{\"m\xFF\":1}");
  auto b = parse_batch(body, 100, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].search.text, "ok \xE2\x82\xAC");
  ASSERT_EQ(b.quarantined.size(), 5u);
  for (const auto& q : b.quarantined) {
    EXPECT_EQ(q.reason, "not valid JSON");
    EXPECT_NO_THROW((void)nlohmann::json(q.body).dump());
  }
}

TEST(BatchParser, AnEventThatIsNotAnObjectIsQuarantinedAndAcknowledged) {
  std::string body = line(1, "[1]") + line(2, "null") + line(3, R"("text")") + line(4, "7") +
                     R"({"epoch":"ep1","seq":5})" "\n" + line(6, "{}") + "[{\"a\":1}]\n\"x\"\n";
  auto b = parse_batch(body, 100, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 1u);
  ASSERT_EQ(b.quarantined.size(), 7u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(b.quarantined[i].reason, "expected {\"epoch\": string, \"seq\": integer, \"event\": object}");
  }
  EXPECT_EQ(b.quarantined[5].reason, "not a JSON object");
  EXPECT_EQ(b.quarantined[6].reason, "not a JSON object");
  EXPECT_EQ(b.last_seq, 6u);
}

TEST(BatchParser, HugeLinesAreReadWhole) {
  std::string big(8 << 20, 'a');
  big[1000] = '\\';  // an escape far into the line
  big[1001] = 'n';
  std::string body = line(1, R"({"event":{"original":")" + big + R"("}})") +
                     line(2, R"({"event":{"original":")" + big + "}}");  // its string never closes
  auto b = parse_batch(body, 10, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].search.text.size(), big.size() - 1);
  EXPECT_EQ(b.records[0].search.text[1000], '\n');
  ASSERT_EQ(b.quarantined.size(), 1u);
  EXPECT_EQ(b.quarantined[0].body.size(), kQuarantineKeepBytes);
  EXPECT_NE(b.quarantined[0].reason.find("cut"), std::string::npos);
}

TEST(BatchParser, ComplianceControlsAreTheObjectsText) {
  auto b = parse_batch(
      line(1, R"({"event":{"kind":"state","dataset":"compliance.check"},"rule":{"id":"c1","name":"C"},)"
              R"("vigil":{"policy":{"id":"p","version":"2"},"check":{"result":"fail","level":9,"evidence":"e\u0021",)"
              R"("remediation":"r"},"compliance":{"tcvn11930": ["1.1","2.\u0031"]}}})") +
          line(2, R"({"event":{"dataset":"compliance.check"},"rule":{"id":"c2"},"vigil":{"policy":{"id":"p"},)"
                  R"("check":{"result":"pass"},"compliance":["x"]}})"),
      10, "agt-1", "web01");
  ASSERT_EQ(b.records.size(), 2u);
  ASSERT_TRUE(b.records[0].check.has_value());
  const auto& c = *b.records[0].check;
  EXPECT_EQ(c.check_id, "c1");
  EXPECT_EQ(c.title, "C");
  EXPECT_EQ(c.policy, "p");
  EXPECT_EQ(c.policy_version, "2");
  EXPECT_EQ(c.result, "fail");
  EXPECT_EQ(c.level, 5);
  EXPECT_EQ(c.evidence, "e!");
  EXPECT_EQ(c.remediation, "r");
  EXPECT_EQ(nlohmann::json::parse(c.controls), nlohmann::json::parse(R"({"tcvn11930":["1.1","2.1"]})"));
  ASSERT_TRUE(b.records[1].check.has_value());
  EXPECT_EQ(b.records[1].check->controls, "{}");
  EXPECT_EQ(b.records[1].check->level, 1);
  EXPECT_EQ(b.records[0].kind, "state");
  EXPECT_EQ(b.records[1].kind, "event");
}

}  // namespace
}  // namespace vigil::collector
