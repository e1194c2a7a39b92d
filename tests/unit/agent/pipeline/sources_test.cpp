// The agent's pipeline and its sources (agent/pipeline): enrichment, rules and sink; log files
// followed and recorded; the inbox; capture files; the spool as sink; a followed file's position
// recovered from the spool after a crash between its sync and its commit.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <vector>

#include "agent/capture/pcap_file_source.h"
#include "agent/pipeline/capture_source.h"
#include "agent/pipeline/inbox_source.h"
#include "agent/pipeline/log_inputs.h"
#include "agent/pipeline/log_sources.h"
#include "agent/pipeline/pipeline.h"
#include "agent/pipeline/spool_sink.h"
#include "agent/replay/replay.h"
#include "agent/rules/rule_loader.h"
#include "common/event/json.h"
#include "tests/support/test_support.h"
#include "tests/unit/agent/packet_builder.h"

namespace vigil::agent::pipeline {
namespace {

namespace fs = std::filesystem;

struct Out {
  std::vector<Event> events;
  std::vector<std::string> origins;
  std::vector<bool> written;  // the sink was given the event's JSON line, written by the rules
};

PipelineOptions options(const std::string& agent_id = {}) {
  PipelineOptions o;
  o.host_name = "test-host";
  o.agent_id = agent_id;
  return o;
}

Pipeline::Sink collect(Out& out) {
  return [&out](const Event& e, std::string_view origin, const std::string* json) {
    // The text the rules wrote for an event they keep is the event's own line.
    if (json) {
      EXPECT_EQ(*json, to_json_line(e));
    }
    out.written.push_back(json != nullptr);
    out.events.push_back(e);
    out.origins.emplace_back(origin);
  };
}

// Three failed logins from one address within a minute raise one alert.
std::shared_ptr<const rules::RuleSet> three_failures(const vigil::test::TempDir& dir) {
  auto path = dir.write("rules.yaml", R"(- id: T-1
  title: three failed logins
  severity: high
  when:
    event.dataset: sshd
    event.outcome: failure
  threshold: {count: 3, within: 60s, group_by: [source.ip]}
)");
  auto loaded = rules::load_rules({path.string()});
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error());
  return loaded.ok() ? loaded->set : nullptr;
}

std::string failed_login(int second, const std::string& from = "203.0.113.9") {
  return "Mar  3 10:00:" + std::string(second < 10 ? "0" : "") + std::to_string(second) +
         " web1 sshd[42]: Failed password for root from " + from + " port 5000 ssh2\n";
}

const std::string* str(const Event& e, FieldId f) { return e.get_string(f); }

TEST(Pipeline, EnrichesEventsAndAlertsAndAlertsNameTheirEvidence) {
  vigil::test::TempDir dir;
  Out out;
  Pipeline p(options("agent-7"), collect(out));
  p.set_rules(three_failures(dir));
  auto log = dir.write("auth.log", failed_login(1) + failed_login(2) + failed_login(3));
  auto src = LogFileSource::open("syslog", log.string(), "test-host", 64 * 1024);
  ASSERT_TRUE(src.ok()) << src.error();
  while ((*src)->poll(p) > 0) {
  }
  ASSERT_EQ(out.events.size(), 4u);  // three events, then the alert the third raised
  std::set<std::string> ids;
  for (size_t i = 0; i < 3; ++i) {
    const Event& e = out.events[i];
    ASSERT_TRUE(str(e, fields::event_id));
    ids.insert(*str(e, fields::event_id));
    EXPECT_EQ(*str(e, fields::agent_id), "agent-7");
    EXPECT_EQ(*str(e, fields::host_name), "web1");  // the line's own host is kept
    EXPECT_EQ(*str(e, fields::log_file_path), log.string());
  }
  EXPECT_EQ(ids.size(), 3u);
  const Event& alert = out.events[3];
  EXPECT_EQ(*str(alert, fields::event_kind), "alert");
  EXPECT_EQ(*str(alert, fields::agent_id), "agent-7");
  // The rule kept each event as its JSON line: handed to the sink with it, and cited as it is in
  // the alert's evidence (an alert is written by the sink).
  ASSERT_EQ(out.written.size(), 4u);
  const std::string alert_line = to_json_line(alert);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(out.written[i]) << i;
    EXPECT_NE(alert_line.find(to_json_line(out.events[i])), std::string::npos) << i;
  }
  EXPECT_FALSE(out.written[3]);
  const auto* evidence = alert.get(fields::evidence_ids);
  ASSERT_TRUE(evidence && evidence->as_list());
  ASSERT_EQ(evidence->as_list()->size(), 3u);
  for (const auto& id : *evidence->as_list()) EXPECT_TRUE(id.as_string() && ids.count(*id.as_string()));
  EXPECT_EQ(p.counters().events, 3u);
  EXPECT_EQ(p.counters().alerts, 1u);
}

TEST(Pipeline, EventsWithoutIdTimeOrHostGetThem) {
  Out out;
  Pipeline p(options(), collect(out));
  Event e;
  e.set(fields::event_dataset, "test");
  p.event(std::move(e), "inbox/x.jsonl:3");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(str(out.events[0], fields::event_id));
  EXPECT_TRUE(out.events[0].get_timestamp(fields::timestamp));
  EXPECT_EQ(*str(out.events[0], fields::host_name), "test-host");
  EXPECT_FALSE(out.events[0].has(fields::agent_id));  // replay's pipeline names no agent
  EXPECT_EQ(out.origins[0], "inbox/x.jsonl:3");
}

TEST(LogFileSource, ReadsOneEventPerPollInFileOrderSkippingBlankLinesAndCuttingLongOnes) {
  vigil::test::TempDir dir;
  auto log = dir.write("raw.log", "first\n\n" + std::string(100, 'x') + "\nlast");
  auto src = LogFileSource::open("raw", log.string(), "h", 10);
  ASSERT_TRUE(src.ok()) << src.error();
  Out out;
  Pipeline p(options(), collect(out));
  EXPECT_TRUE((*src)->next_time().has_value());
  EXPECT_EQ((*src)->poll(p), 1u);
  EXPECT_EQ(out.events.size(), 1u);
  while ((*src)->poll(p) > 0) {
  }
  EXPECT_FALSE((*src)->next_time().has_value());
  ASSERT_EQ(out.events.size(), 3u);
  EXPECT_EQ(*str(out.events[1], fields::event_original), std::string(10, 'x'));
  EXPECT_EQ(*str(out.events[2], fields::event_original), "last");
  EXPECT_EQ((*src)->lines_cut(), 1u);
  EXPECT_TRUE((*src)->error().empty());
}

TEST(LogFileSource, AMissingFileIsAnErrorNamingIt) {
  auto src = LogFileSource::open("syslog", "/nonexistent/auth.log", "h", 1024);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.error().find("/nonexistent/auth.log"), std::string::npos) << src.error();
}

TEST(LogTailSource, FollowsAFileMarksWhereEachLineEndsAndResumesAfterItsCommit) {
  vigil::test::TempDir dir;
  auto log = dir.path() / "app.log";
  auto state = dir.path() / "tail-state";
  {
    std::ofstream(log) << "one\ntwo\n";
  }
  Out out;
  Pipeline p(options("a1"), collect(out));
  {
    LogTailSource tail(log.string(), logs::make_parser("raw").value(), "raw", log.string(), state, "h");
    EXPECT_EQ(tail.poll(p), 2u);
    EXPECT_EQ(tail.poll(p), 0u);
    ASSERT_EQ(out.events.size(), 2u);
    const std::string* pos = str(out.events[1], kTailPosition);
    ASSERT_TRUE(pos);
    EXPECT_TRUE(pos->ends_with(":8")) << *pos;  // after "one\ntwo\n"
    tail.commit(2);
    std::ofstream(log, std::ios::app) << "three\n";
  }
  out.events.clear();
  LogTailSource again(log.string(), logs::make_parser("raw").value(), "raw", log.string(), state, "h");
  EXPECT_EQ(again.poll(p), 1u);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(*str(out.events[0], fields::event_original), "three");
  Event h;
  again.put_health(h);
  EXPECT_EQ(*h.get_int(field("vigil.logs.lines")), 1);
}

TEST(InboxSource, DeliversGoodLinesNamesTheirOriginCountsBadOnesAndRemovesFilesOnlyOnCommit) {
  vigil::test::TempDir dir;
  auto inbox = dir.path() / "inbox";
  fs::create_directories(inbox);
  std::ofstream(inbox / "scan.jsonl") << R"({"event":{"dataset":"compliance.check"}})" << "\n"
                                       << "not json\n\n"
                                       << R"({"event":{"dataset":"x"}})" << "\n";
  std::ofstream(inbox / "scan.request") << "ignored\n";
  Out out;
  Pipeline p(options(), collect(out));
  const std::string inbox_dir = inbox.string();
  InboxSource src(inbox_dir);
  EXPECT_EQ(src.poll(p), 2u);
  ASSERT_EQ(out.origins.size(), 2u);
  EXPECT_EQ(out.origins[0], (inbox / "scan.jsonl").string() + ":1");
  EXPECT_EQ(out.origins[1], (inbox / "scan.jsonl").string() + ":4");
  EXPECT_EQ(src.poll(p), 0u);  // read once, even before its commit
  EXPECT_TRUE(fs::exists(inbox / "scan.jsonl"));
  Event h;
  src.put_health(h);
  EXPECT_EQ(*h.get_int(field("vigil.inbox.malformed")), 1);
  src.commit(1);
  EXPECT_FALSE(fs::exists(inbox / "scan.jsonl"));
  EXPECT_TRUE(fs::exists(inbox / "scan.request"));
}

// A line longer than InboxSource::kMaxLine is malformed: counted and skipped, never held whole,
// and the good lines around it delivered.
TEST(InboxSource, AnOverlongLineIsSkippedAndTheOthersDelivered) {
  vigil::test::TempDir dir;
  auto inbox = dir.path() / "inbox";
  fs::create_directories(inbox);
  std::ofstream(inbox / "big.jsonl") << R"({"event":{"dataset":"a"}})" << "\n"
                                      << "\"" << std::string(InboxSource::kMaxLine + 10, 'x') << "\"\n"
                                      << R"({"event":{"dataset":"b"}})" << "\n";
  Out out;
  Pipeline p(options(), collect(out));
  const std::string inbox_dir = inbox.string();
  InboxSource src(inbox_dir);
  EXPECT_EQ(src.poll(p), 2u);
  ASSERT_EQ(out.origins.size(), 2u);
  EXPECT_EQ(out.origins[1], (inbox / "big.jsonl").string() + ":3");
  Event h;
  src.put_health(h);
  EXPECT_EQ(*h.get_int(field("vigil.inbox.malformed")), 1);
}

TEST(CaptureSource, ACaptureFileGivesOnePacketPerPollInTimeOrder) {
  using namespace vigil::test::pkt;
  vigil::test::TempDir dir;
  auto path = dir.path() / "udp.pcap";
  auto u = [] { return eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(5000, 53, 1))); };
  write_pcap(path, {{1'000'000'000, u()}, {2'000'000'000, u()}});
  auto file = capture::PcapFileSource::open(path.string());
  ASSERT_TRUE(file.ok()) << file.error();
  CaptureSource src(std::move(file.value()), true);
  Out out;
  Pipeline p(options(), collect(out));
  ASSERT_TRUE(src.next_time());
  EXPECT_EQ(src.next_time()->ns, 1'000'000'000);
  EXPECT_EQ(src.poll(p), 1u);
  EXPECT_EQ(src.next_time()->ns, 2'000'000'000);
  EXPECT_EQ(src.poll(p), 1u);
  EXPECT_FALSE(src.next_time());
  EXPECT_EQ(src.poll(p), 0u);
  p.flush(flow::EndReason::end_of_input);
  ASSERT_EQ(out.events.size(), 1u);  // one flow of two packets
  EXPECT_EQ(*str(out.events[0], fields::event_dataset), "network.flow");
  EXPECT_EQ(src.packets(), 2u);
}

// An event of `kind` in dataset x, as a source hands it on.
Event spooled_event(const char* kind) {
  Event e;
  e.set(fields::event_kind, kind);
  e.set(fields::event_dataset, "x");
  return e;
}

TEST(SpoolSink, WhatTheCollectorWouldRefuseIsCountedNotSpooled) {
  vigil::test::TempDir dir;
  auto spool = Spool::open(dir.path() / "spool", SpoolOptions{});
  ASSERT_TRUE(spool.ok()) << spool.error();
  SpoolSink sink(**spool);
  const Event bad = spooled_event("alert");  // an alert without rule.id
  const Event good = spooled_event("event");
  sink(bad, "f:1");
  sink(good, {});
  EXPECT_EQ(sink.take_appended(), 1u);
  EXPECT_EQ(sink.take_appended(), 0u);
  Event h;
  sink.put_health(h);
  EXPECT_EQ(*h.get_int(field("vigil.spool.refused")), 1);
  EXPECT_EQ((*spool)->stats().pending, 1u);
}

// An event's JSON line written by the rules is spooled as it is (not written again); without
// one the sink writes the event.
TEST(SpoolSink, TheTextGivenIsSpooledAsItIs) {
  vigil::test::TempDir dir;
  auto spool = Spool::open(dir.path() / "spool", SpoolOptions{});
  ASSERT_TRUE(spool.ok()) << spool.error();
  SpoolSink sink(**spool);
  const Event e = spooled_event("event");
  const std::string given = R"({"event":{"dataset":"x","kind":"event"},"given":true})";
  sink(e, {}, &given);
  sink(e, {});
  auto records = (*spool)->read(0, 10, 1 << 20);
  ASSERT_TRUE(records.ok()) << records.error();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].payload, given);
  EXPECT_EQ((*records)[1].payload, to_json_line(e));
}

// The agent stopped after its spool synced and before the tail committed: the lines the spool
// holds are not read again.
TEST(LogInputs, AFileResumesAfterWhatTheSpoolHoldsWhenItsCommitWasLost) {
  vigil::test::TempDir dir;
  auto log = dir.path() / "app.log";
  std::ofstream(log) << "one\ntwo\n";
  std::vector<LogInput> inputs{{"raw", log.string(), {}, {}}};
  {
    auto spool = Spool::open(dir.path() / "spool", SpoolOptions{});
    ASSERT_TRUE(spool.ok()) << spool.error();
    SpoolSink sink(**spool);
    Pipeline p(options("a1"), [&sink](const Event& e, std::string_view o, const std::string* json) { sink(e, o, json); });
    LogInputs logs(inputs, dir.path() / "state", **spool, "h");
    logs.discover();
    EXPECT_EQ(logs.poll(p), 2u);
    ASSERT_TRUE((*spool)->sync().ok());  // durable, but the crash comes before logs.commit()
  }
  std::ofstream(log, std::ios::app) << "three\n";
  auto spool = Spool::open(dir.path() / "spool", SpoolOptions{});
  ASSERT_TRUE(spool.ok()) << spool.error();
  Out out;
  Pipeline p(options("a1"), collect(out));
  LogInputs logs(inputs, dir.path() / "state", **spool, "h");
  logs.discover();
  logs.poll(p);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(*str(out.events[0], fields::event_original), "three");
}

// replay runs this pipeline: its log events carry ids, and the alerts name them.
TEST(Replay, LogEventsCarryIdsAndAlertsNameThemAsEvidence) {
  vigil::test::TempDir dir;
  auto log = dir.write("auth.log", failed_login(1) + failed_login(2) + failed_login(3));
  replay::ReplayOptions o;
  o.logs.push_back({"syslog", log.string()});
  o.rules = three_failures(dir);
  o.host_name = "h";
  std::vector<Event> events;
  auto stats = replay::run_replay(o, [&](const Event& e) { events.push_back(e); });
  ASSERT_TRUE(stats.ok()) << stats.error();
  ASSERT_EQ(events.size(), 5u);  // three events, the alert, agent.health
  EXPECT_EQ(stats->alerts, 1u);
  std::set<std::string> ids;
  for (size_t i = 0; i < 3; ++i) ids.insert(*str(events[i], fields::event_id));
  const auto* evidence = events[3].get(fields::evidence_ids);
  ASSERT_TRUE(evidence && evidence->as_list());
  ASSERT_EQ(evidence->as_list()->size(), 3u);
  for (const auto& id : *evidence->as_list()) EXPECT_TRUE(id.as_string() && ids.count(*id.as_string()));
  EXPECT_EQ(*str(events[4], fields::event_dataset), "agent.health");
  EXPECT_EQ(*events[4].get_int(field("vigil.logs.lines")), 3);
}

}  // namespace
}  // namespace vigil::agent::pipeline
