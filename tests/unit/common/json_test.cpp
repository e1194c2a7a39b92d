#include "common/event/json.h"

#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

namespace vigil {
namespace {

Event sample_flow() {
  Event e;
  e.set(fields::timestamp, *Timestamp::parse("2026-11-26T10:00:00.250Z"));
  e.set(fields::event_id, new_event_id());
  e.set(fields::event_kind, "event");
  e.set(fields::event_dataset, "network.flow");
  e.set(fields::source_ip, *IpAddress::parse("10.0.0.1"));
  e.set(fields::source_port, 51234);
  e.set(fields::destination_ip, *IpAddress::parse("2001:db8::53"));
  e.set(fields::destination_port, 53);
  e.set(fields::network_transport, "udp");
  e.set(field("vigil.flow.complete"), true);
  e.set(field("vigil.flow.ratio"), 0.5);
  e.set(fields::threat_technique_id, ValueList{Value("T1110"), Value("T1046")});
  return e;
}

TEST(EventJson, WritesNestedObjectsAsInEcs) {
  auto j = to_json(sample_flow());
  EXPECT_EQ(j["source"]["ip"], "10.0.0.1");
  EXPECT_EQ(j["source"]["port"], 51234);
  EXPECT_EQ(j["destination"]["ip"], "2001:db8::53");
  EXPECT_EQ(j["@timestamp"], "2026-11-26T10:00:00.250Z");
  EXPECT_EQ(j["vigil"]["flow"]["complete"], true);
  EXPECT_EQ(j["threat"]["technique"]["id"][1], "T1046");
}

TEST(EventJson, RoundTripKeepsTypesAndValues) {
  Event original = sample_flow();
  std::string line = to_json_line(original);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto parsed = event_from_json_line(line);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, original);
  ASSERT_NE(parsed->get_ip(fields::source_ip), nullptr);
  EXPECT_EQ(parsed->get_ip(fields::source_ip)->to_string(), "10.0.0.1");
  ASSERT_NE(parsed->get_timestamp(fields::timestamp), nullptr);
}

TEST(EventJson, EmbeddedEventsRoundTrip) {
  Event alert;
  alert.set(fields::event_kind, "alert");
  auto ev = std::make_shared<Event>(sample_flow());
  alert.set(fields::evidence_events, ValueList{Value(EventPtr(ev))});
  alert.set(fields::evidence_ids, ValueList{Value(*ev->get_string(fields::event_id))});
  auto parsed = event_from_json_line(to_json_line(alert));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, alert);
  const auto* list = parsed->get(fields::evidence_events)->as_list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(*(*(*list)[0].as_event())->get_int(fields::source_port), 51234);
}

TEST(EventJson, DeclaredTypesConvertTextInput) {
  auto parsed = event_from_json_line(
      R"({"source":{"ip":"192.0.2.1","port":"22"},"@timestamp":"2026-01-02T03:04:05+07:00","x":{"y":"z"}})");
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_NE(parsed->get_ip(fields::source_ip), nullptr);
  EXPECT_EQ(*parsed->get_int(fields::source_port), 22);
  EXPECT_EQ(parsed->time().to_string(), "2026-01-01T20:04:05Z");
  EXPECT_EQ(*parsed->get_string(field("x.y")), "z");
}

TEST(EventJson, ValuesThatDoNotFitTheirTypeStayText) {
  auto parsed = event_from_json_line(R"({"source":{"ip":"not-an-ip","port":"ssh"}})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed->get_string(fields::source_ip), "not-an-ip");
  EXPECT_EQ(*parsed->get_string(fields::source_port), "ssh");
}

TEST(EventJson, RejectsMalformedAndHostileInput) {
  EXPECT_FALSE(event_from_json_line("{\"a\":"));
  EXPECT_FALSE(event_from_json_line("[1,2,3]"));
  EXPECT_FALSE(event_from_json_line(""));
  std::string deep(100, '[');
  deep = "{\"a\":" + deep + std::string(100, ']') + "}";
  auto r = event_from_json_line(deep);
  ASSERT_FALSE(r);
  // Refused before parsing, with where (common/ingest/bounded_json.h).
  EXPECT_NE(r.error().find("nests deeper than 64"), std::string::npos) << r.error();
}

TEST(EventJson, InvalidUtf8IsReplacedNotThrown) {
  Event e;
  e.set(fields::event_original, std::string("user \xff\xfe root"));
  std::string line = to_json_line(e);
  EXPECT_TRUE(event_from_json_line(line));
}
}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// The direct writer against the tree writer it replaces, byte for byte.
std::string reference_line(const Event& e) {
  return to_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(JsonLine, DirectWriterMatchesTheTreeWriter) {
  std::vector<Event> cases;
  {
    Event e;  // key order across separators: "a-b" < "a" < "a.b" objects < "a_b"
    e.set(field("t.a-b"), "1");
    e.set(field("t.a.x"), int64_t{-5});
    e.set(field("t.a.y.z"), true);
    e.set(field("t.a_b"), 2.5);
    e.set(field("t.ab"), 3.0);
    e.set(field("zz"), Value());
    e.set(field("@timestamp"), Timestamp::from_seconds(1'700'000'000, 123));
    e.set(fields::source_ip, IpAddress::parse("2001:db8::1").value());
    cases.push_back(e);
  }
  {
    Event e;  // strings: quotes, backslashes, controls, DEL, Vietnamese, invalid UTF-8, overlong, surrogate
    e.set(field("s.quote"), std::string("say \"hi\" \\ there"));
    e.set(field("s.controls"), std::string("a\nb\tc\rd\be\ff\x01g\x1f", 15));
    e.set(field("s.del"), std::string("x\x7fy"));
    e.set(field("s.vi"), std::string("Nguyễn Văn Ánh — cổng dịch vụ công"));
    e.set(field("s.bad"), std::string("ok\xff\xfe then \xc3"));
    e.set(field("s.overlong"), std::string("\xc0\xaf"));
    e.set(field("s.surrogate"), std::string("\xed\xa0\x80"));
    e.set(field("s.empty"), std::string());
    cases.push_back(e);
  }
  {
    Event e;  // a field named like another's object: the tree writer's dotted-name rule
    e.set(field("a"), "leaf");
    e.set(field("a.b"), "child");
    e.set(field("c.d"), int64_t{1});
    cases.push_back(e);
  }
  {
    Event inner;
    inner.set(field("event.kind"), "event");
    inner.set(field("message"), "nested \"one\"");
    Event e;  // lists and embedded events
    ValueList list{Value(int64_t{1}), Value(std::string("two")), Value(std::make_shared<const Event>(inner)),
                   Value(ValueList{Value(0.1), Value(false)})};
    e.set(field("vigil.evidence"), std::move(list));
    e.set(field("vigil.empty_list"), ValueList{});
    cases.push_back(e);
  }
  cases.emplace_back();  // empty
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(to_json_line(cases[i]), reference_line(cases[i])) << "case " << i;
    auto back = event_from_json_line(to_json_line(cases[i]));
    EXPECT_TRUE(back) << "case " << i;
  }
}

// Strings are scanned sixteen bytes at a time for what needs escaping: each kind of byte at every
// place across the first blocks, and the tail, written as the tree writer writes it.
TEST(JsonLine, EscapesFoundAtEveryPlaceOfALongString) {
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\x01'), "\x1f", "\x7f", "\xc3\xa9",
                                  "\xe1\xbb\x85", "\xff"};
  for (size_t len : {1u, 15u, 16u, 17u, 31u, 32u, 33u, 47u, 70u}) {
    for (const auto& special : specials) {
      for (size_t at = 0; at + special.size() <= len; ++at) {
        std::string text(len, 'a');
        text.replace(at, special.size(), special);
        Event e;
        e.set(fields::message, text);
        ASSERT_EQ(to_json_line(e), reference_line(e)) << len << " " << at << " " << static_cast<int>(special[0]);
      }
    }
  }
}

// The writer keeps a layout per sequence of field ids (a direct-mapped cache of 1,024 per thread):
// thousands of shapes written in turn, colliding and replacing each other, the same field set in
// another order, a shape met again after it was replaced: each line as the tree writer says.
TEST(JsonLine, LayoutsPerShapeStayRightWhenShapesCollideAndReturn) {
  std::vector<FieldId> pool;
  for (int i = 0; i < 40; ++i) pool.push_back(field("shape.f" + std::to_string(i) + (i % 3 ? ".x" : "")));
  std::mt19937 rng(3);
  std::vector<Event> events;
  for (int n = 0; n < 5000; ++n) {
    Event e;
    size_t count = 1 + rng() % 12;
    for (size_t k = 0; k < count; ++k) e.set(pool[rng() % pool.size()], static_cast<int64_t>(rng() % 1000));
    events.push_back(std::move(e));
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(to_json_line(events[i]), reference_line(events[i])) << "event " << i << ", round " << round;
    }
  }
  Event ab, ba;  // one field set in two orders: two shapes, one text
  ab.set(fields::source_ip, IpAddress::v4(1));
  ab.set(fields::source_port, 2);
  ba.set(fields::source_port, 2);
  ba.set(fields::source_ip, IpAddress::v4(1));
  EXPECT_EQ(to_json_line(ab), to_json_line(ba));
  std::string buffer = "x";
  append_json_line(buffer, ab);
  EXPECT_EQ(buffer, "x" + to_json_line(ab));
}

}  // namespace
}  // namespace vigil
