#include "agent/replay/replay.h"

#include <gtest/gtest.h>

#include <vector>

#include "agent/flow/community_id.h"
#include "tests/support/test_support.h"
#include "tests/unit/agent/packet_builder.h"

namespace vigil::agent::replay {
namespace {

using namespace vigil::test::pkt;
using decode::tcp_flag::ack;
using decode::tcp_flag::fin;
using decode::tcp_flag::syn;

constexpr int64_t kSec = 1'000'000'000;

std::vector<Event> replay_all(const std::vector<std::string>& files, ReplayStats* stats_out = nullptr) {
  ReplayOptions options;
  options.pcaps = files;
  options.host_name = "test-host";
  std::vector<Event> events;
  auto stats = run_replay(options, [&](const Event& e) { events.push_back(e); });
  EXPECT_TRUE(stats.ok()) << (stats.ok() ? "" : stats.error());
  if (stats.ok() && stats_out) *stats_out = stats.value();
  return events;
}

std::vector<const Event*> of_dataset(const std::vector<Event>& events, const std::string& dataset) {
  std::vector<const Event*> out;
  for (const auto& e : events) {
    if (const auto* d = e.get_string(fields::event_dataset); d && *d == dataset) out.push_back(&e);
  }
  return out;
}

TEST(Replay, WritesFlowEventsAndHealthLast) {
  vigil::test::TempDir dir;
  auto path = dir.path() / "tcp.pcap";
  auto c = [](uint8_t f) { return eth4(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 22, f))); };
  auto s = [](uint8_t f) { return eth4(ipv4("10.0.0.2", "10.0.0.1", 6, tcp(22, 40000, f))); };
  write_pcap(path, {{kSec, c(syn)}, {kSec + 10, s(syn | ack)}, {kSec + 20, c(ack)}, {kSec + 30, c(fin | ack)},
                    {kSec + 40, s(fin | ack)}, {kSec + 50, c(ack)}});
  ReplayStats stats;
  auto events = replay_all({path.string()}, &stats);
  ASSERT_EQ(events.size(), 2u);
  const Event& flow = events[0];
  EXPECT_EQ(*flow.get_string(fields::event_dataset), "network.flow");
  EXPECT_EQ(*flow.get_string(fields::event_kind), "event");
  EXPECT_EQ(*flow.get_string(fields::host_name), "test-host");
  EXPECT_TRUE(flow.get_string(fields::event_id));
  EXPECT_EQ(flow.get_ip(fields::source_ip)->to_string(), "10.0.0.1");
  EXPECT_EQ(*flow.get_int(fields::source_port), 40000);
  EXPECT_EQ(*flow.get_int(fields::destination_port), 22);
  EXPECT_EQ(*flow.get_int(fields::source_packets), 4);
  EXPECT_EQ(*flow.get_int(fields::destination_packets), 2);
  EXPECT_EQ(*flow.get_int(fields::source_bytes), 4 * 54);
  EXPECT_EQ(*flow.get_string(fields::network_transport), "tcp");
  EXPECT_EQ(*flow.get_string(fields::flow_tcp_flags), "SYN,ACK,FIN");
  EXPECT_EQ(*flow.get_string(fields::flow_end_reason), "fin");
  EXPECT_EQ(*flow.get_timestamp(fields::event_start), Timestamp{kSec});
  EXPECT_EQ(*flow.get_timestamp(fields::event_end), Timestamp{kSec + 50});
  EXPECT_EQ(*flow.get_string(fields::network_community_id),
            flow::community_id_v1(IpAddress::parse("10.0.0.1").value(), IpAddress::parse("10.0.0.2").value(), 6,
                                  40000, 22));
  const Event& health = events.back();
  EXPECT_EQ(*health.get_string(fields::event_dataset), "agent.health");
  EXPECT_EQ(*health.get_string(fields::event_kind), "metric");
  EXPECT_EQ(*health.get_int(field("vigil.health.capture.packets_read")), 6);
  EXPECT_EQ(*health.get_int(field("vigil.health.flow.created")), 1);
  EXPECT_EQ(stats.packets_read, 6u);
}

TEST(Replay, RateLimitsAnomalyEventsAndCountsThemAll) {
  vigil::test::TempDir dir;
  auto path = dir.path() / "trunc.pcap";
  std::vector<Frame> frames;
  auto full = eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)));
  for (int i = 0; i < 15; ++i) frames.push_back({kSec + i, Bytes(full.begin(), full.begin() + 20)});
  write_pcap(path, frames);
  ReplayStats stats;
  auto events = replay_all({path.string()}, &stats);
  auto anomalies = of_dataset(events, "network.anomaly");
  ASSERT_EQ(anomalies.size(), 10u);
  EXPECT_EQ(*anomalies[0]->get_string(fields::anomaly_type), "truncated_ipv4");
  EXPECT_EQ(stats.decode.anomaly(decode::Anomaly::truncated_ipv4), 15u);
  EXPECT_EQ(stats.anomaly_events_suppressed, 5u);
  const Event& health = events.back();
  EXPECT_EQ(*health.get_int(field("vigil.health.decode.malformed.truncated_ipv4")), 15);
}

TEST(Replay, AnomalyEventsNameTheHostsWhenTheIpHeaderWasRead) {
  vigil::test::TempDir dir;
  auto path = dir.path() / "short-udp.pcap";
  Bytes short_udp = udp(1, 2);
  short_udp.resize(6);  // an IP packet whose UDP header is cut short
  write_pcap(path, {{kSec, eth4(ipv4("192.0.2.7", "198.51.100.9", 17, short_udp), {42})}});
  auto events = replay_all({path.string()});
  auto anomalies = of_dataset(events, "network.anomaly");
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(*anomalies[0]->get_string(fields::anomaly_type), "truncated_udp");
  ASSERT_TRUE(anomalies[0]->get_ip(fields::source_ip));
  EXPECT_EQ(anomalies[0]->get_ip(fields::source_ip)->to_string(), "192.0.2.7");
  EXPECT_EQ(anomalies[0]->get_ip(fields::destination_ip)->to_string(), "198.51.100.9");
  EXPECT_EQ(*anomalies[0]->get_int(fields::network_vlan_id), 42);
  EXPECT_EQ(*anomalies[0]->get_timestamp(fields::timestamp), Timestamp{kSec});
}

TEST(Replay, MergesInputsByTimestamp) {
  vigil::test::TempDir dir;
  auto q = eth4(ipv4("10.0.0.1", "10.0.0.53", 17, udp(5000, 53, 10)));
  auto r = eth4(ipv4("10.0.0.53", "10.0.0.1", 17, udp(53, 5000, 40)));
  // The answer sits in the first file, the query in the second: order comes from time.
  write_pcap(dir.path() / "a.pcap", {{2 * kSec, r}});
  write_pcap(dir.path() / "b.pcap", {{1 * kSec, q}});
  auto events = replay_all({(dir.path() / "a.pcap").string(), (dir.path() / "b.pcap").string()});
  auto flows = of_dataset(events, "network.flow");
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(*flows[0]->get_int(fields::destination_port), 53);
  EXPECT_EQ(*flows[0]->get_int(fields::source_bytes), static_cast<int64_t>(q.size()));
  EXPECT_EQ(*flows[0]->get_int(fields::destination_bytes), static_cast<int64_t>(r.size()));
}

TEST(Replay, InterleavesRunsOfEachFileAndBreaksTiesByInputOrder) {
  // Each file's packets in runs between the other's; at equal times the file given first goes
  // first. The flows' first packet (the SYN side for TCP, the first sender for UDP) shows the
  // order: the same tuple from both files at one time starts from the first file's sender.
  vigil::test::TempDir dir;
  auto from_a = eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1111, 2222, 10)));
  auto from_b = eth4(ipv4("10.0.0.2", "10.0.0.1", 17, udp(2222, 1111, 10)));
  std::vector<Frame> a, b;
  for (int64_t t : {1, 2, 3, 7, 8, 9}) a.push_back({t * kSec, from_a});
  for (int64_t t : {4, 5, 6}) b.push_back({t * kSec, from_b});
  b.push_back({10 * kSec, from_b});
  a.push_back({10 * kSec, from_a});  // a tie: a's goes first
  write_pcap(dir.path() / "a.pcap", a);
  write_pcap(dir.path() / "b.pcap", b);
  // Another tuple, started by b's packet: same times in reverse input order give b's sender.
  auto late_a = eth4(ipv4("10.0.0.3", "10.0.0.4", 17, udp(3333, 4444, 10)));
  auto late_b = eth4(ipv4("10.0.0.4", "10.0.0.3", 17, udp(4444, 3333, 10)));
  write_pcap(dir.path() / "c.pcap", {{20 * kSec, late_b}});
  write_pcap(dir.path() / "d.pcap", {{20 * kSec, late_a}});
  ReplayOptions options;
  options.pcaps = {(dir.path() / "a.pcap").string(), (dir.path() / "b.pcap").string(),
                   (dir.path() / "c.pcap").string(), (dir.path() / "d.pcap").string()};
  std::vector<Event> events;
  auto stats = run_replay(options, [&](const Event& e) { events.push_back(e); });
  ASSERT_TRUE(stats.ok()) << stats.error();
  EXPECT_EQ(stats->packets_read, 13u);
  EXPECT_EQ(stats->first_packet, Timestamp{1 * kSec});
  EXPECT_EQ(stats->last_packet, Timestamp{20 * kSec});
  std::vector<const Event*> flows;
  for (const auto& e : events) {
    const auto* ds = e.get_string(fields::event_dataset);
    if (ds && *ds == "network.flow") flows.push_back(&e);
  }
  ASSERT_EQ(flows.size(), 2u);
  for (const auto* f : flows) {
    const int64_t sport = *f->get_int(fields::source_port);
    if (sport == 1111 || sport == 2222) {
      EXPECT_EQ(sport, 1111);  // a's packet at 1 s started it
      EXPECT_EQ(*f->get_int(fields::source_packets), 7);
      EXPECT_EQ(*f->get_int(fields::destination_packets), 4);
    } else {
      EXPECT_EQ(sport, 4444);  // c (given before d) went first at 20 s
    }
  }
}

TEST(Replay, FailsClearlyOnUnreadableInput) {
  vigil::test::TempDir dir;
  auto bogus = dir.write("not-a-capture.pcap", "hello, this is text");
  ReplayOptions options;
  options.pcaps = {bogus.string()};
  int events = 0;
  auto stats = run_replay(options, [&](const Event&) { ++events; });
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.error().find("not-a-capture.pcap"), std::string::npos) << stats.error();
  EXPECT_EQ(events, 0);
}

}  // namespace
}  // namespace vigil::agent::replay
