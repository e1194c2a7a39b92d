#include "agent/flow/flow_table.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/agent/packet_builder.h"

namespace vigil::agent::flow {
namespace {

using namespace vigil::test::pkt;
using decode::tcp_flag::ack;
using decode::tcp_flag::fin;
using decode::tcp_flag::psh;
using decode::tcp_flag::rst;
using decode::tcp_flag::syn;

constexpr int64_t kSec = 1'000'000'000;

// Decodes constructed frames and feeds them to a table, collecting the ended flows.
struct Harness {
  explicit Harness(FlowOptions options = {}) : table(options, [this](const FlowRecord& r) { ended.push_back(r); }) {}

  void feed(const Bytes& frame, int64_t ts_ns) {
    decode::DecodedPacket p;
    auto cap = packet(frame, DLT_EN10MB, ts_ns);
    ASSERT_EQ(decoder.decode(cap, p).status, decode::DecodeStatus::ok);
    table.add(p, cap.ts, cap.wire_len);
  }

  decode::Decoder decoder;
  std::vector<FlowRecord> ended;
  FlowTable table;
};

Bytes c2s(uint8_t flags, size_t payload = 0) {
  return eth4(ipv4("192.168.1.10", "93.184.216.34", 6, tcp(51000, 80, flags, payload)));
}
Bytes s2c(uint8_t flags, size_t payload = 0) {
  return eth4(ipv4("93.184.216.34", "192.168.1.10", 6, tcp(80, 51000, flags, payload)));
}

TEST(FlowTable, HandshakeAndFinGiveOneFlowFromTheClient) {
  Harness h;
  std::vector<std::pair<Bytes, bool>> frames = {
      {c2s(syn), true},        {s2c(syn | ack), false}, {c2s(ack), true},      {c2s(ack | psh, 100), true},
      {s2c(ack | psh, 1000), false}, {c2s(fin | ack), true}, {s2c(fin | ack), false}, {c2s(ack), true}};
  uint64_t client_bytes = 0, server_bytes = 0, client_packets = 0, server_packets = 0;
  int64_t t = 10 * kSec;
  for (const auto& [frame, from_client] : frames) {
    h.feed(frame, t);
    t += kSec / 10;
    (from_client ? client_bytes : server_bytes) += frame.size();
    ++(from_client ? client_packets : server_packets);
  }
  EXPECT_TRUE(h.ended.empty());  // waits for the last packets after both FINs
  h.table.advance(Timestamp{t + 10 * kSec});
  ASSERT_EQ(h.ended.size(), 1u);
  const auto& f = h.ended[0];
  EXPECT_EQ(f.src_ip, IpAddress::parse("192.168.1.10").value());
  EXPECT_EQ(f.src_port, 51000);
  EXPECT_EQ(f.dst_port, 80);
  EXPECT_EQ(f.src_packets, client_packets);
  EXPECT_EQ(f.dst_packets, server_packets);
  EXPECT_EQ(f.src_bytes, client_bytes);
  EXPECT_EQ(f.dst_bytes, server_bytes);
  EXPECT_EQ(f.reason, EndReason::fin);
  EXPECT_EQ(tcp_flags_string(f.tcp_flags), "SYN,ACK,FIN,PSH");
  EXPECT_EQ(f.start, Timestamp{10 * kSec});
  EXPECT_EQ(f.end, Timestamp{t - kSec / 10});
  EXPECT_EQ(h.table.counters().active, 0u);
}

TEST(FlowTable, SynDecidesTheInitiatorEvenWhenTheServerSpeaksFirst) {
  Harness h;
  h.feed(s2c(ack), 1 * kSec);  // a stray packet from the server side first
  h.feed(c2s(syn), 2 * kSec);
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 1u);
  EXPECT_EQ(h.ended[0].src_port, 51000);
  EXPECT_EQ(h.ended[0].src_packets, 1u);
  EXPECT_EQ(h.ended[0].dst_packets, 1u);
  EXPECT_EQ(h.ended[0].reason, EndReason::end_of_input);
}

TEST(FlowTable, SynAckFirstMeansItsReceiverStarted) {
  Harness h;
  h.feed(s2c(syn | ack), 1 * kSec);
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 1u);
  EXPECT_EQ(h.ended[0].src_port, 51000);
  EXPECT_EQ(h.ended[0].dst_packets, 1u);
}

TEST(FlowTable, RstEndsTheFlow) {
  Harness h;
  h.feed(c2s(syn), 1 * kSec);
  h.feed(s2c(rst | ack), 1 * kSec + 1000);
  h.table.advance(Timestamp{20 * kSec});
  ASSERT_EQ(h.ended.size(), 1u);
  EXPECT_EQ(h.ended[0].reason, EndReason::rst);
  EXPECT_EQ(tcp_flags_string(h.ended[0].tcp_flags), "SYN,ACK,RST");
}

TEST(FlowTable, IdleTimeoutOnPacketTimeSplitsFlows) {
  FlowOptions options;
  options.idle_timeout_ns = 60 * kSec;
  Harness h(options);
  auto q = eth4(ipv4("10.0.0.1", "10.0.0.53", 17, udp(40000, 53, 30)));
  h.feed(q, 100 * kSec);
  h.feed(q, 130 * kSec);  // within the timeout: same flow
  h.feed(q, 200 * kSec);  // 70 s idle: the first flow ends, a new one starts
  ASSERT_EQ(h.ended.size(), 1u);
  EXPECT_EQ(h.ended[0].reason, EndReason::idle_timeout);
  EXPECT_EQ(h.ended[0].src_packets, 2u);
  EXPECT_EQ(h.ended[0].end, Timestamp{130 * kSec});
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 2u);
  EXPECT_EQ(h.ended[1].src_packets, 1u);
  EXPECT_EQ(h.ended[1].reason, EndReason::end_of_input);
}

TEST(FlowTable, ActiveTimeoutCutsLongFlows) {
  FlowOptions options;
  options.active_timeout_ns = 10 * kSec;
  Harness h(options);
  auto q = eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)));
  for (int i = 0; i <= 12; ++i) h.feed(q, i * kSec);
  ASSERT_EQ(h.ended.size(), 1u);
  EXPECT_EQ(h.ended[0].reason, EndReason::active_timeout);
  EXPECT_EQ(h.ended[0].src_packets, 10u);  // t = 0..9 s
}

TEST(FlowTable, EvictsOldestWhenOverCap) {
  FlowOptions options;
  options.memory_cap = 1;  // room for one flow
  Harness h(options);
  ASSERT_EQ(h.table.counters().max_flows, 1u);
  h.feed(eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 1001))), 1 * kSec);
  h.feed(eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 1002))), 2 * kSec);
  h.feed(eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 1003))), 3 * kSec);
  ASSERT_EQ(h.ended.size(), 2u);
  EXPECT_EQ(h.ended[0].dst_port, 1001);
  EXPECT_EQ(h.ended[0].reason, EndReason::evicted);
  EXPECT_EQ(h.ended[1].dst_port, 1002);
  EXPECT_EQ(h.table.counters().evicted, 2u);
  EXPECT_EQ(h.table.counters().active, 1u);
}

TEST(FlowTable, ManyFlowsSurviveIndexGrowthAndDeletion) {
  Harness h;
  // 5000 flows, then every other one gets a second packet after half of them ended by RST.
  for (int i = 0; i < 5000; ++i) {
    h.feed(eth4(ipv4("10.0.0.1", "10.9.0.1", 6, tcp(static_cast<uint16_t>(10000 + i), 80, syn))), kSec);
  }
  for (int i = 0; i < 5000; i += 2) {
    h.feed(eth4(ipv4("10.9.0.1", "10.0.0.1", 6, tcp(80, static_cast<uint16_t>(10000 + i), rst | ack))), 2 * kSec);
  }
  h.table.advance(Timestamp{20 * kSec});
  EXPECT_EQ(h.ended.size(), 2500u);
  for (int i = 1; i < 5000; i += 2) {
    h.feed(eth4(ipv4("10.9.0.1", "10.0.0.1", 6, tcp(80, static_cast<uint16_t>(10000 + i), ack))), 21 * kSec);
  }
  EXPECT_EQ(h.table.counters().flows_created, 5000u);  // every second packet found its flow
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 5000u);
  for (size_t i = 2500; i < 5000; ++i) {
    EXPECT_EQ(h.ended[i].src_packets, 1u);
    EXPECT_EQ(h.ended[i].dst_packets, 1u);
  }
}

TEST(FlowTable, EchoRequestAndReplyAreOneIcmpFlow) {
  Harness h;
  h.feed(eth4(ipv4("1.2.3.4", "5.6.7.8", 1, icmp(8, 0))), kSec);
  h.feed(eth4(ipv4("5.6.7.8", "1.2.3.4", 1, icmp(0, 0))), kSec + 1000);
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 1u);
  const auto& f = h.ended[0];
  EXPECT_EQ(f.transport, decode::Transport::icmp);
  EXPECT_EQ(f.src_packets, 1u);
  EXPECT_EQ(f.dst_packets, 1u);
  EXPECT_EQ(f.src_ip, IpAddress::parse("1.2.3.4").value());
}

TEST(FlowTable, VlansSeparateFlows) {
  Harness h;
  h.feed(eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)), {10}), kSec);
  h.feed(eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)), {20}), kSec);
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 2u);
  EXPECT_NE(h.ended[0].vlan_id, h.ended[1].vlan_id);
}

}  // namespace
}  // namespace vigil::agent::flow
