#include "agent/flow/tcp_reassembly.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

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

// Collects what the reassembler delivers, per direction, with gaps written as '#' bytes. A
// later connection on the same client port appends to the same text, from its own offset 0.
struct Collector {
  explicit Collector(StreamOptions o = {})
      : r(o, {[this](const StreamKey& k, StreamDir d, uint64_t off, std::span<const uint8_t> b) {
                auto& s = text[{k.client_port, d}];
                const uint64_t earlier = base[{k.client_port, d}];
                EXPECT_EQ(earlier + off, s.size()) << "delivery must be contiguous";
                s.append(reinterpret_cast<const char*>(b.data()), b.size());
                last_key = k;
              },
              [this](const StreamKey& k, StreamDir d, uint64_t off, uint64_t n) {
                auto& s = text[{k.client_port, d}];
                const uint64_t earlier = base[{k.client_port, d}];
                EXPECT_EQ(earlier + off, s.size());
                s.append(n, '#');
                ++gaps;
              },
              [this](const StreamKey& k, StreamEnd why) {
                ends.push_back(why);
                for (auto d : {StreamDir::to_server, StreamDir::to_client}) {
                  base[{k.client_port, d}] = text[{k.client_port, d}].size();
                }
              }}) {}

  void feed(const Bytes& frame, int64_t ts_ns = kSec) {
    decode::DecodedPacket p;
    auto cap = packet(frame, DLT_EN10MB, ts_ns);
    ASSERT_EQ(decoder.decode(cap, p).status, decode::DecodeStatus::ok);
    r.add(p, cap.ts);
  }

  decode::Decoder decoder;
  // Per client port and direction.
  std::map<std::pair<uint16_t, StreamDir>, std::string> text;
  std::map<std::pair<uint16_t, StreamDir>, uint64_t> base;  // text delivered by earlier connections
  std::string& to_server(uint16_t port = 40000) { return text[{port, StreamDir::to_server}]; }
  std::string& to_client(uint16_t port = 40000) { return text[{port, StreamDir::to_client}]; }
  std::vector<StreamEnd> ends;
  StreamKey last_key;
  int gaps = 0;
  TcpReassembler r;
};

constexpr uint32_t kC = 1000, kS = 5000;  // initial sequence numbers of client and server

Bytes c(uint8_t flags, uint32_t seq, std::string_view data = {}, uint16_t sport = 40000) {
  return eth4(ipv4("10.0.0.1", "10.0.0.2", 6, tcp_seg(sport, 80, flags, seq, 0, data)));
}
Bytes s(uint8_t flags, uint32_t seq, std::string_view data = {}, uint16_t dport = 40000, uint32_t ack_no = 0) {
  return eth4(ipv4("10.0.0.2", "10.0.0.1", 6, tcp_seg(80, dport, flags, seq, ack_no, data)));
}

void handshake(Collector& h, uint32_t client_isn = kC, uint32_t server_isn = kS) {
  h.feed(c(syn, client_isn));
  h.feed(s(syn | ack, server_isn, {}, 40000, client_isn + 1));
  h.feed(c(ack, client_isn + 1));
}

TEST(TcpReassembly, ThousandsOfInterleavedConnectionsEachKeepTheirOwnBytes) {
  // Enough connections to grow the stream index several times, fed interleaved, both ways; half
  // end by FIN (their entries reused by the next round), the rest by the flush.
  Collector h;
  constexpr uint16_t kFirst = 20000;
  constexpr int kCount = 3000;
  for (int round = 0; round < 2; ++round) {
    const uint32_t base = kC + static_cast<uint32_t>(round) * 100;
    const int64_t t = kSec + round * 60 * kSec;
    for (int i = 0; i < kCount; ++i) {
      const auto port = static_cast<uint16_t>(kFirst + i);
      h.feed(c(ack | psh, base, "q" + std::to_string(i) + ";", port), t);
    }
    for (int i = kCount - 1; i >= 0; --i) {
      const auto port = static_cast<uint16_t>(kFirst + i);
      h.feed(s(ack | psh, kS, "r" + std::to_string(i) + ";", port), t);
    }
    for (int i = 0; i < kCount; i += 2) {
      const auto port = static_cast<uint16_t>(kFirst + i);
      const auto q = static_cast<uint32_t>(("q" + std::to_string(i) + ";").size());
      const auto r = static_cast<uint32_t>(("r" + std::to_string(i) + ";").size());
      h.feed(c(fin | ack, base + q, {}, port), t);
      h.feed(s(fin | ack, kS + r, {}, port), t);
    }
    // The closed entries go after their linger; the open ones stay through the idle timeout.
    h.r.advance(Timestamp{t + StreamOptions{}.close_linger_ns + 2 * kSec});
    EXPECT_EQ(h.r.counters().active, static_cast<uint64_t>(kCount / 2));
    EXPECT_EQ(h.r.counters().closed, 0u);
    h.r.flush();
    EXPECT_EQ(h.r.counters().active, 0u);
    EXPECT_EQ(h.r.counters().memory, 0u);
  }
  for (int i = 0; i < kCount; ++i) {
    const auto port = static_cast<uint16_t>(kFirst + i);
    const std::string q = "q" + std::to_string(i) + ";";
    const std::string r = "r" + std::to_string(i) + ";";
    ASSERT_EQ(h.to_server(port), q + q) << i;
    ASSERT_EQ(h.to_client(port), r + r) << i;
  }
  EXPECT_EQ(h.ends.size(), 2u * kCount);
  EXPECT_EQ(h.r.counters().streams_created, 2u * kCount);
}

TEST(TcpReassembly, InOrderBothDirectionsAndFinEndsTheStream) {
  Collector h;
  handshake(h);
  h.feed(c(ack | psh, kC + 1, "GET / HTTP/1.1\r\n"));
  h.feed(c(ack | psh, kC + 17, "Host: x\r\n\r\n"));
  h.feed(s(ack | psh, kS + 1, "HTTP/1.1 200 OK\r\n\r\n"));
  h.feed(c(fin | ack, kC + 28));
  EXPECT_TRUE(h.ends.empty());
  h.feed(s(fin | ack, kS + 20));
  EXPECT_EQ(h.to_server(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(h.to_client(), "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_EQ(h.ends.size(), 1u);
  EXPECT_EQ(h.ends[0], StreamEnd::fin);
  EXPECT_EQ(h.last_key.client_port, 40000);
  EXPECT_EQ(h.last_key.server_port, 80);
  EXPECT_EQ(h.r.counters().active, 0u);
  EXPECT_EQ(h.r.counters().closed, 1u);  // kept for late packets
  EXPECT_EQ(h.r.counters().bytes_delivered, 46u);
  h.r.advance(Timestamp{kSec + StreamOptions{}.close_linger_ns + 2 * kSec});
  EXPECT_EQ(h.r.counters().closed, 0u);
  EXPECT_EQ(h.r.counters().memory, 0u);
}

TEST(TcpReassembly, OutOfOrderSegmentsAreDeliveredInOrder) {
  Collector h;
  handshake(h);
  h.feed(c(ack, kC + 1 + 6, "world"));
  h.feed(c(ack, kC + 1 + 11, "!"));
  EXPECT_EQ(h.to_server(), "");
  EXPECT_EQ(h.r.counters().held_bytes, 6u);
  h.feed(c(ack, kC + 1, "hello "));
  EXPECT_EQ(h.to_server(), "hello world!");
  EXPECT_EQ(h.r.counters().held_bytes, 0u);
  EXPECT_EQ(h.gaps, 0);
}

TEST(TcpReassembly, RetransmissionsAndOverlapsAreDeliveredOnce) {
  Collector h;
  handshake(h);
  h.feed(c(ack, kC + 1, "abcdef"));
  h.feed(c(ack, kC + 1, "abcdef"));           // whole retransmission
  h.feed(c(ack, kC + 4, "defghi"));           // overlaps the delivered tail
  h.feed(c(ack, kC + 13, "mnop"));            // held
  h.feed(c(ack, kC + 11, "klmnopq"));         // overlaps the held segment on both sides
  h.feed(c(ack, kC + 10, "j"));
  EXPECT_EQ(h.to_server(), "abcdefghijklmnopq");
  EXPECT_EQ(h.r.counters().bytes_retransmitted, 6u + 3u + 4u);
}

TEST(TcpReassembly, SequenceNumbersWrapAround) {
  Collector h;
  const uint32_t isn = 0xfffffffau;
  handshake(h, isn, kS);
  h.feed(c(ack, isn + 1, "0123"));
  h.feed(c(ack, isn + 9, "89"));  // past zero, out of order
  h.feed(c(ack, isn + 5, "4567"));  // crosses zero
  EXPECT_EQ(h.to_server(), "0123456789");
}

TEST(TcpReassembly, AHoleIsGivenUpWhenTheWindowFillsAndReportedAsAGap) {
  StreamOptions o;
  o.window = 8;
  Collector h(o);
  handshake(h);
  h.feed(c(ack, kC + 1, "ab"));
  // "cd" is lost; 10 bytes arrive after it, more than the window holds.
  h.feed(c(ack, kC + 5, "efgh"));
  h.feed(c(ack, kC + 9, "ijkl"));
  EXPECT_EQ(h.to_server(), "ab");
  h.feed(c(ack, kC + 13, "mn"));
  EXPECT_EQ(h.to_server(), "ab##efghijklmn");
  EXPECT_EQ(h.r.counters().window_overflows, 1u);
  EXPECT_EQ(h.r.counters().gap_bytes, 2u);
  h.feed(c(ack, kC + 3, "cd"));  // too late: counted, not delivered
  EXPECT_EQ(h.to_server(), "ab##efghijklmn");
  EXPECT_EQ(h.r.counters().bytes_retransmitted, 2u);
}

TEST(TcpReassembly, HolesLeftAtTheEndAreGapsAndWhatFollowsIsDelivered) {
  Collector h;
  handshake(h);
  h.feed(c(ack, kC + 1, "ab"));
  h.feed(c(ack, kC + 6, "fg"));
  h.feed(c(rst, kC + 8));
  EXPECT_EQ(h.to_server(), "ab###fg");
  ASSERT_EQ(h.ends.size(), 1u);
  EXPECT_EQ(h.ends[0], StreamEnd::rst);
  EXPECT_EQ(h.r.counters().held_bytes, 0u);
  h.r.flush();
  EXPECT_EQ(h.r.counters().memory, 0u);
}

TEST(TcpReassembly, PickedUpMidConnection) {
  Collector h;
  h.feed(s(ack | psh, 777, "response"));  // the server's data first, no handshake seen
  h.feed(c(ack | psh, 555, "request"));
  EXPECT_EQ(h.to_client(), "response");
  EXPECT_EQ(h.to_server(), "request");
  EXPECT_EQ(h.last_key.server_port, 80);
  EXPECT_EQ(h.r.counters().midstream, 2u);
  EXPECT_EQ(h.r.counters().streams_created, 1u);
}

TEST(TcpReassembly, IdleStreamsEndAndFlushEndsTheRest) {
  StreamOptions o;
  o.idle_timeout_ns = 10 * kSec;
  Collector h(o);
  h.feed(s(syn | ack, kS, {}, 40001, kC + 1), 1 * kSec);
  h.feed(s(syn | ack, kS, {}, 40002, kC + 1), 5 * kSec);
  h.feed(c(ack, kC + 1, "x", 40002), 12 * kSec);  // the first has been idle 11 s, the second 7 s
  ASSERT_EQ(h.ends.size(), 1u);
  EXPECT_EQ(h.ends[0], StreamEnd::idle_timeout);
  h.r.flush();
  ASSERT_EQ(h.ends.size(), 2u);
  EXPECT_EQ(h.ends[1], StreamEnd::flush);
  EXPECT_EQ(h.r.counters().active, 0u);
}

TEST(TcpReassembly, MemoryCapHoldsAcrossManyStreams) {
  StreamOptions o;
  o.memory_cap = 64 << 10;
  Collector h(o);
  std::string chunk(1000, 'z');
  // 200 connections, each with a hole and 1,000 bytes after it: 200 kB would be held uncapped.
  for (uint16_t i = 0; i < 200; ++i) {
    h.feed(s(syn | ack, kS, {}, static_cast<uint16_t>(20000 + i), kC + 1));
    h.feed(c(ack, kC + 11, chunk, static_cast<uint16_t>(20000 + i)));
    EXPECT_LE(h.r.counters().memory, o.memory_cap);
  }
  EXPECT_GT(h.r.counters().memory_overflows + h.r.counters().streams_evicted, 0u);
  h.r.flush();
  EXPECT_EQ(h.r.counters().memory, 0u);
  EXPECT_EQ(h.r.counters().held_bytes, 0u);
}

TEST(TcpReassembly, BareSynsMakeNoState) {
  Collector h;
  for (uint16_t i = 0; i < 100; ++i) h.feed(c(syn, kC, {}, static_cast<uint16_t>(30000 + i)));
  EXPECT_EQ(h.r.counters().streams_created, 0u);
  EXPECT_EQ(h.r.counters().memory, 0u);
}

TEST(TcpReassembly, CutSegmentsAreNotDelivered) {
  Collector h;
  handshake(h);
  auto frame = c(ack, kC + 1, "0123456789");
  decode::DecodedPacket p;
  auto cap = packet(frame, DLT_EN10MB, kSec);
  cap.caplen -= 4;  // the snapshot length cut the payload
  ASSERT_EQ(h.decoder.decode(cap, p).status, decode::DecodeStatus::ok);
  h.r.add(p, cap.ts);
  h.feed(c(ack, kC + 11, "tail"));
  h.r.flush();
  EXPECT_EQ(h.to_server(), "##########tail");
  EXPECT_EQ(h.r.counters().segments_cut, 1u);
}

TEST(TcpReassembly, FastOpenSynDataIsDelivered) {
  Collector h;
  const std::string request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const auto len = static_cast<uint32_t>(request.size());
  h.feed(c(syn, kC, request));  // TCP Fast Open: the request rides on the SYN
  h.feed(s(syn | ack, kS, {}, 40000, kC + 1 + len));
  h.feed(c(ack, kC + 1 + len));
  h.feed(s(ack | psh, kS + 1, "HTTP/1.1 204 No Content\r\n\r\n"));
  EXPECT_EQ(h.to_server(), request);
  EXPECT_EQ(h.to_client(), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(h.last_key.client_port, 40000);
  EXPECT_EQ(h.r.counters().midstream, 0u);

  // The server refused the SYN's data (acknowledged the SYN only): the client sends it again
  // after the handshake, and it is delivered once.
  h.feed(c(syn, kC, "hello", 40001));
  h.feed(s(syn | ack, kS, {}, 40001, kC + 1));
  h.feed(c(ack | psh, kC + 1, "hello", 40001));
  h.feed(c(ack | psh, kC + 6, " world", 40001));
  EXPECT_EQ(h.to_server(40001), "hello world");
  EXPECT_EQ(h.r.counters().bytes_retransmitted, 5u);
}

TEST(TcpReassembly, LatePacketsAfterTheEndStayWithTheClosedConnection) {
  Collector h;
  handshake(h);
  h.feed(c(ack | psh, kC + 1, "request"), 2 * kSec);
  h.feed(c(rst | ack, kC + 8), 3 * kSec);
  ASSERT_EQ(h.ends.size(), 1u);
  // The server's response was in flight when the client reset; its FIN is retransmitted.
  h.feed(s(ack | psh, kS + 1, "late response"), 3 * kSec + 1000);
  h.feed(s(fin | ack, kS + 14), 4 * kSec);
  EXPECT_EQ(h.to_client(), "");
  EXPECT_EQ(h.r.counters().streams_created, 1u);  // no stream picked up from the late data
  EXPECT_EQ(h.r.counters().late_packets, 2u);
  EXPECT_EQ(h.ends.size(), 1u);

  // After FIN from both sides, a retransmitted data segment is late too.
  h.feed(s(syn | ack, kS, {}, 40001, kC + 1), 5 * kSec);
  h.feed(c(ack | psh, kC + 1, "x", 40001), 5 * kSec);
  h.feed(c(fin | ack, kC + 2, {}, 40001), 5 * kSec);
  h.feed(s(fin | ack, kS + 1, {}, 40001), 5 * kSec);
  ASSERT_EQ(h.ends.size(), 2u);
  EXPECT_EQ(h.ends[1], StreamEnd::fin);
  h.feed(c(ack | psh, kC + 1, "x", 40001), 6 * kSec);
  EXPECT_EQ(h.r.counters().late_packets, 3u);
  EXPECT_EQ(h.r.counters().streams_created, 2u);

  // The linger passed: the closed entry goes, and what comes now is a new stream.
  h.r.advance(Timestamp{12 * kSec});
  EXPECT_EQ(h.r.counters().closed, 0u);
  EXPECT_EQ(h.r.counters().memory, 0u);
  h.feed(s(ack | psh, kS + 100, "later"), 13 * kSec);
  EXPECT_EQ(h.r.counters().streams_created, 3u);
}

TEST(TcpReassembly, NewSynOnAClosedTupleStartsANewStream) {
  Collector h;
  handshake(h);
  h.feed(c(ack | psh, kC + 1, "first"));
  h.feed(c(fin | ack, kC + 6));
  h.feed(s(fin | ack, kS + 1));
  ASSERT_EQ(h.ends.size(), 1u);
  h.feed(c(syn, kC));  // a retransmission of the old SYN is no new connection
  h.feed(s(syn | ack, kS, {}, 40000, kC + 1));
  EXPECT_EQ(h.r.counters().reused, 0u);
  EXPECT_EQ(h.r.counters().streams_created, 1u);

  const uint32_t isn2 = 777777;  // the port is used again, with a new ISN
  h.feed(c(syn, isn2));
  h.feed(s(syn | ack, kS + 4242, {}, 40000, isn2 + 1));
  h.feed(c(ack | psh, isn2 + 1, "second"));
  EXPECT_EQ(h.r.counters().reused, 1u);
  EXPECT_EQ(h.r.counters().streams_created, 2u);
  EXPECT_EQ(h.to_server(), "firstsecond");  // each from its own offset 0 (the collector checks)
  EXPECT_EQ(h.last_key.client_port, 40000);

  // A SYN-ACK answering no SYN of the old connection (the new SYN was not captured) also
  // starts one.
  h.feed(c(rst | ack, isn2 + 7));
  h.feed(s(syn | ack, 123, {}, 40000, 31337));
  h.feed(c(ack | psh, 31337, "third"));
  EXPECT_EQ(h.r.counters().reused, 2u);
  EXPECT_EQ(h.to_server(), "firstsecondthird");
}

TEST(TcpReassembly, MidstreamDirectionFollowsTheServerPort) {
  Collector h;
  // The server's data first, from a registered service port higher than the client's.
  h.feed(eth4(ipv4("10.0.0.2", "10.0.0.1", 6, tcp_seg(8443, 2000, ack | psh, 1, 0, "resp"))));
  h.feed(eth4(ipv4("10.0.0.1", "10.0.0.2", 6, tcp_seg(2000, 8443, ack | psh, 1, 0, "req"))));
  EXPECT_EQ(h.last_key.client_port, 2000);
  EXPECT_EQ(h.last_key.server_port, 8443);
  EXPECT_EQ(h.to_client(2000), "resp");
  EXPECT_EQ(h.to_server(2000), "req");
  // Two well-known ports: the lower serves.
  h.feed(eth4(ipv4("10.0.0.2", "10.0.0.1", 6, tcp_seg(514, 1022, ack | psh, 1, 0, "r"))));
  EXPECT_EQ(h.last_key.client_port, 1022);
  // No likely server port: the first sender is the client, as the flow table takes it.
  h.feed(eth4(ipv4("10.0.0.1", "10.0.0.2", 6, tcp_seg(40000, 50000, ack | psh, 1, 0, "q"))));
  EXPECT_EQ(h.last_key.client_port, 40000);
  EXPECT_EQ(h.last_key.server_port, 50000);
}

}  // namespace
}  // namespace vigil::agent::flow

namespace vigil::agent::flow {
namespace {

// RFC 5961: a RST whose sequence number is far from where its sender's stream is (a blind
// injection) does not end the connection; the parsers keep receiving its data. A RST in the
// window ends it, and once the linger from that end is over, data picks up as a new stream even
// if late packets kept arriving meanwhile.
TEST(TcpReassembly, ForgedResetsAreIgnoredAndTheLingerRunsFromTheEnd) {
  Collector h;
  handshake(h);
  h.feed(c(ack | psh, kC + 1, "GET /a "), 2 * kSec);
  h.feed(c(rst, kC + 1 + 123456789), 2 * kSec + 1);  // far outside the client's window
  h.feed(c(ack | psh, kC + 8, "HTTP/1.1"), 3 * kSec);
  EXPECT_EQ(h.to_server(), "GET /a HTTP/1.1");
  EXPECT_TRUE(h.ends.empty());
  EXPECT_EQ(h.r.counters().rst_ignored, 1u);

  h.feed(c(rst, kC + 16), 4 * kSec);  // in the window: the end
  ASSERT_EQ(h.ends.size(), 1u);
  EXPECT_EQ(h.ends[0], StreamEnd::rst);
  for (int i = 0; i < 8; ++i) h.feed(s(ack | psh, kS + 1 + 5 * i, "late!"), 4 * kSec + i * (kSec / 2));
  EXPECT_EQ(h.r.counters().late_packets, 8u);
  EXPECT_EQ(h.to_client(), "");
  // 5 s after the RST (not after the last late packet) the closed entry is gone.
  h.feed(s(ack | psh, kS + 41, "again"), 9 * kSec + 1000);
  EXPECT_EQ(h.r.counters().streams_created, 2u);
  EXPECT_EQ(h.to_client(), "again");
}

}  // namespace
}  // namespace vigil::agent::flow
