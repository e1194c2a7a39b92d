#include "agent/flow/flow_table.h"

#include <gtest/gtest.h>

#include <string>
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

// Feeds each frame to a flow table and, as the packet pipeline does, to stream reassembly
// beside it; keeps what the streams deliver to the server.
struct StreamHarness : Harness {
  explicit StreamHarness(FlowOptions options = {})
      : Harness(options),
        streams(options.streams, {[this](const StreamKey& k, StreamDir d, uint64_t, std::span<const uint8_t> b) {
                                    if (d != StreamDir::to_server) return;
                                    to_server.append(reinterpret_cast<const char*>(b.data()), b.size());
                                    key = k;
                                  },
                                  {},
                                  {}}) {}

  void feed(const Bytes& frame, int64_t ts_ns) {
    decode::DecodedPacket p;
    auto cap = packet(frame, DLT_EN10MB, ts_ns);
    ASSERT_EQ(decoder.decode(cap, p).status, decode::DecodeStatus::ok);
    table.add(p, cap.ts, cap.wire_len);
    streams.add(p, cap.ts);
  }

  TcpReassembler streams;
  std::string to_server;
  StreamKey key;
};

// One TCP connection between a client (192.168.1.10:51000) and a server (93.184.216.34:80), with
// sequence numbers; records what each side sent so the flow's counts can be checked.
struct Conn {
  uint16_t client_port = 51000;
  uint16_t server_port = 80;
  uint64_t client_packets = 0, server_packets = 0, client_bytes = 0, server_bytes = 0;

  Bytes client(uint8_t flags, uint32_t seq, uint32_t ack_no = 0, std::string_view data = {}) {
    Bytes b =
        eth4(ipv4("192.168.1.10", "93.184.216.34", 6, tcp_seg(client_port, server_port, flags, seq, ack_no, data)));
    ++client_packets;
    client_bytes += b.size();
    return b;
  }
  Bytes server(uint8_t flags, uint32_t seq, uint32_t ack_no = 0, std::string_view data = {}) {
    Bytes b =
        eth4(ipv4("93.184.216.34", "192.168.1.10", 6, tcp_seg(server_port, client_port, flags, seq, ack_no, data)));
    ++server_packets;
    server_bytes += b.size();
    return b;
  }
  void expect(const FlowRecord& f) const {
    EXPECT_EQ(f.src_ip, IpAddress::parse("192.168.1.10").value());
    EXPECT_EQ(f.src_port, client_port);
    EXPECT_EQ(f.dst_ip, IpAddress::parse("93.184.216.34").value());
    EXPECT_EQ(f.dst_port, server_port);
    EXPECT_EQ(f.src_packets, client_packets);
    EXPECT_EQ(f.dst_packets, server_packets);
    EXPECT_EQ(f.src_bytes, client_bytes);
    EXPECT_EQ(f.dst_bytes, server_bytes);
  }
};

constexpr uint32_t kCisn = 1000, kSisn = 900000;  // initial sequence numbers of client and server

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

TEST(FlowTable, RetransmittedSynDoesNotSplitTheConnection) {
  Harness h;
  Conn c;
  h.feed(c.client(syn, kCisn), 1 * kSec);
  h.feed(c.client(syn, kCisn), 2 * kSec);  // no answer yet: sent again
  // A reset (a middlebox's, or one the server took back), then the SYN once more, answered.
  h.feed(c.server(rst | ack, 0, kCisn + 1), 2 * kSec + 1000);
  h.feed(c.client(syn, kCisn), 4 * kSec);
  h.feed(c.server(syn | ack, kSisn, kCisn + 1), 4 * kSec + 1000);
  h.feed(c.client(ack, kCisn + 1, kSisn + 1), 4 * kSec + 2000);
  h.feed(c.client(ack | psh, kCisn + 1, kSisn + 1, "GET / HTTP/1.1\r\n\r\n"), 4 * kSec + 3000);
  h.feed(c.server(ack | psh, kSisn + 1, kCisn + 19, "HTTP/1.1 200 OK\r\n\r\n"), 4 * kSec + 4000);
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 1u) << "the request and its response are one flow";
  c.expect(h.ended[0]);
  EXPECT_EQ(h.table.counters().flows_created, 1u);
  EXPECT_EQ(h.table.counters().reused, 0u);
}

TEST(FlowTable, NewSynWithAnotherIsnAfterCloseStartsANewFlow) {
  Harness h;
  Conn first;
  h.feed(first.client(syn, kCisn), 1 * kSec);
  h.feed(first.server(syn | ack, kSisn, kCisn + 1), 1 * kSec + 1);
  h.feed(first.client(ack, kCisn + 1, kSisn + 1), 1 * kSec + 2);
  h.feed(first.client(fin | ack, kCisn + 1, kSisn + 1), 1 * kSec + 3);
  h.feed(first.server(fin | ack, kSisn + 1, kCisn + 2), 1 * kSec + 4);
  h.feed(first.client(ack, kCisn + 2, kSisn + 2), 1 * kSec + 5);
  // Within the linger, the client's port is used again for a new connection.
  Conn second;
  h.feed(second.client(syn, 5000000), 2 * kSec);
  h.feed(second.server(syn | ack, 7000000, 5000001), 2 * kSec + 1);
  h.feed(second.server(rst | ack, 7000001, 5000001), 2 * kSec + 2);
  // Reset; the next connection's SYN was not captured: its SYN-ACK answers no SYN seen so far.
  Conn third;
  h.feed(third.server(syn | ack, 8000000, 6000001), 3 * kSec);
  h.feed(third.client(ack, 6000001, 8000001), 3 * kSec + 1);
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 3u);
  first.expect(h.ended[0]);
  EXPECT_EQ(h.ended[0].reason, EndReason::fin);
  second.expect(h.ended[1]);
  EXPECT_EQ(h.ended[1].reason, EndReason::rst);
  third.expect(h.ended[2]);
  EXPECT_EQ(h.ended[2].reason, EndReason::end_of_input);
  EXPECT_EQ(h.table.counters().reused, 2u);
}

TEST(FlowTable, FastOpenSynDataIsOneFlowAndReachesTheStream) {
  StreamHarness h;
  Conn c;
  const std::string request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const auto len = static_cast<uint32_t>(request.size());
  h.feed(c.client(syn, kCisn, 0, request), 1 * kSec);
  h.feed(c.server(syn | ack, kSisn, kCisn + 1 + len), 1 * kSec + 1000);
  h.feed(c.client(ack, kCisn + 1 + len, kSisn + 1), 1 * kSec + 2000);
  h.feed(c.server(ack | psh, kSisn + 1, kCisn + 1 + len, "HTTP/1.1 204 No Content\r\n\r\n"), 1 * kSec + 3000);
  h.table.flush(EndReason::end_of_input);
  ASSERT_EQ(h.ended.size(), 1u);
  c.expect(h.ended[0]);
  EXPECT_EQ(h.to_server, request);
  EXPECT_EQ(h.key.client_port, c.client_port);
  EXPECT_EQ(h.key.server_port, c.server_port);
}

TEST(FlowTable, PacketsAfterRstStayWithTheFlowForTheLinger) {
  StreamHarness h;
  Conn c;
  h.feed(c.client(syn, kCisn), 1 * kSec);
  h.feed(c.server(syn | ack, kSisn, kCisn + 1), 1 * kSec + 1);
  h.feed(c.client(ack, kCisn + 1, kSisn + 1), 1 * kSec + 2);
  h.feed(c.client(ack | psh, kCisn + 1, kSisn + 1, "request"), 1 * kSec + 3);
  h.feed(c.client(rst | ack, kCisn + 8, kSisn + 1), 2 * kSec);
  // In flight when the client reset: the server's response, then its retransmission, a FIN.
  h.feed(c.server(ack | psh, kSisn + 1, kCisn + 8, "response"), 2 * kSec + 1000);
  h.feed(c.server(ack | psh, kSisn + 1, kCisn + 8, "response"), 3 * kSec);
  h.feed(c.server(fin | ack, kSisn + 9, kCisn + 8), 4 * kSec);
  h.feed(c.client(rst, kCisn + 8), 4 * kSec + 1);
  EXPECT_TRUE(h.ended.empty());
  h.table.advance(Timestamp{4 * kSec + 1 + FlowOptions{}.close_linger_ns + 1});
  ASSERT_EQ(h.ended.size(), 1u) << "no reversed or new flow from the late packets";
  c.expect(h.ended[0]);
  EXPECT_EQ(h.ended[0].reason, EndReason::rst);
  EXPECT_EQ(h.table.counters().late_packets, 4u);
  EXPECT_EQ(h.table.counters().flows_created, 1u);
  EXPECT_EQ(h.to_server, "request");
  EXPECT_EQ(h.streams.counters().streams_created, 1u);  // the late response opened no stream
}

TEST(FlowTable, MidstreamPickupFindsTheServerByItsPort) {
  struct Case {
    uint16_t first_sport, first_dport;  // the first packet seen
    uint16_t client_port;               // the flow's source port expected
  };
  const Case cases[] = {
      {443, 51000, 51000},  // the server's packet first, from a well-known port
      {22, 3000, 3000},
      {51000, 53, 51000},   // the client's first
      {3306, 40000, 40000}, // a registered service port
      {514, 1022, 1022},    // two well-known ports: the lower serves
      {1022, 514, 1022},
      {50000, 40000, 50000},  // none: the first sender is the client
  };
  for (const auto& k : cases) {
    Harness h;
    const uint16_t server_port = k.client_port == k.first_sport ? k.first_dport : k.first_sport;
    Conn c;
    c.client_port = k.client_port;
    c.server_port = server_port;
    const bool server_first = k.first_sport == server_port;
    h.feed(server_first ? c.server(ack | psh, kSisn, kCisn, "data") : c.client(ack | psh, kCisn, kSisn, "data"), kSec);
    h.feed(server_first ? c.client(ack, kCisn, kSisn + 4) : c.server(ack, kSisn, kCisn + 4), kSec + 1);
    h.feed(c.client(ack | psh, kCisn, kSisn + 4, "more"), kSec + 2);
    h.table.flush(EndReason::end_of_input);
    ASSERT_EQ(h.ended.size(), 1u);
    SCOPED_TRACE(testing::Message() << k.first_sport << " -> " << k.first_dport);
    c.expect(h.ended[0]);
  }
}

TEST(FlowTable, EveryPacketOfTheConnectionIsCounted) {
  Harness h;
  Conn c;
  int64_t t = 1 * kSec;
  auto at = [&t](int64_t step_ns) { return t += step_ns; };
  h.feed(c.client(syn, kCisn), at(0));
  h.feed(c.client(syn, kCisn), at(kSec));                        // SYN retransmitted
  h.feed(c.server(syn | ack, kSisn, kCisn + 1), at(1000));
  h.feed(c.server(syn | ack, kSisn, kCisn + 1), at(kSec));       // SYN-ACK retransmitted
  h.feed(c.client(ack, kCisn + 1, kSisn + 1), at(1000));
  h.feed(c.client(ack | psh, kCisn + 1, kSisn + 1, std::string(100, 'q')), at(1000));
  h.feed(c.client(ack | psh, kCisn + 1, kSisn + 1, std::string(100, 'q')), at(kSec / 5));  // data again
  h.feed(c.server(ack, kSisn + 1, kCisn + 101), at(1000));
  h.feed(c.server(ack, kSisn + 1, kCisn + 101), at(1000));       // duplicate ACK
  h.feed(c.server(ack | psh, kSisn + 1, kCisn + 101, std::string(300, 'r')), at(1000));
  h.feed(c.client(fin | ack, kCisn + 101, kSisn + 301), at(1000));
  h.feed(c.server(fin | ack, kSisn + 301, kCisn + 102), at(1000));
  h.feed(c.client(ack, kCisn + 102, kSisn + 302), at(1000));     // the final ACK
  h.feed(c.server(fin | ack, kSisn + 301, kCisn + 102), at(2 * kSec));  // its FIN again, ACK lost
  h.feed(c.client(ack, kCisn + 102, kSisn + 302), at(1000));
  EXPECT_TRUE(h.ended.empty());
  h.table.advance(Timestamp{t + FlowOptions{}.close_linger_ns + 1});
  ASSERT_EQ(h.ended.size(), 1u);
  c.expect(h.ended[0]);
  EXPECT_EQ(c.client_packets, 8u);
  EXPECT_EQ(c.server_packets, 7u);
  EXPECT_EQ(h.ended[0].reason, EndReason::fin);
  EXPECT_EQ(h.ended[0].end, Timestamp{t});
  EXPECT_EQ(h.table.counters().packets, 15u);
}

}  // namespace
}  // namespace vigil::agent::flow
