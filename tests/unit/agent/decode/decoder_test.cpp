#include "agent/decode/decoder.h"

#include <gtest/gtest.h>

#include <ostream>

#include "tests/unit/agent/packet_builder.h"

namespace vigil::agent::decode {
namespace {

using namespace vigil::test::pkt;

constexpr int kDltSll = 113;
constexpr int kDltSll2 = 276;
constexpr int kDltIpv4 = 228;
constexpr int kDltIpv6 = 229;

struct Decoded {
  DecodeResult result;
  DecodedPacket packet;
};

Decoded run(Decoder& d, const Bytes& frame, int link = DLT_EN10MB, size_t caplen = SIZE_MAX, int64_t ts = 1'000'000'000) {
  Decoded out;
  out.result = d.decode(packet(frame, link, ts, caplen), out.packet);
  return out;
}

TEST(Decoder, DecodesEthernetIpv4Tcp) {
  Decoder d;
  auto frame = eth4(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 443, tcp_flag::syn | tcp_flag::ack, 5)));
  auto r = run(d, frame);
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.src, IpAddress::parse("10.0.0.1").value());
  EXPECT_EQ(r.packet.dst, IpAddress::parse("10.0.0.2").value());
  EXPECT_EQ(r.packet.src_port, 40000);
  EXPECT_EQ(r.packet.dst_port, 443);
  EXPECT_EQ(r.packet.transport, Transport::tcp);
  EXPECT_EQ(r.packet.tcp_flags, tcp_flag::syn | tcp_flag::ack);
  EXPECT_EQ(r.packet.payload.size(), 5u);
  EXPECT_EQ(r.packet.ip_length, 20u + 20u + 5u);
  EXPECT_EQ(r.packet.vlan_depth, 0);
  EXPECT_EQ(d.counters().decoded, 1u);
}

TEST(Decoder, IgnoresEthernetPaddingBeyondIpTotalLength) {
  Decoder d;
  auto frame = eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(5353, 53, 2)));
  frame.insert(frame.end(), 12, 0);  // padding up to a minimum frame
  auto r = run(d, frame);
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.payload.size(), 2u);
}

TEST(Decoder, RecordsVlanId) {
  Decoder d;
  auto r = run(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)), {943}));
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.vlan_id, 943);
  EXPECT_EQ(r.packet.vlan_depth, 1);
  EXPECT_EQ(r.packet.src_port, 1);
}

TEST(Decoder, RecordsQinQOuterAndInnerIds) {
  Decoder d;
  auto frame = ethernet(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)), {100, 200}, 0x88a8);
  auto r = run(d, frame);
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.outer_vlan_id, 100);
  EXPECT_EQ(r.packet.vlan_id, 200);
  EXPECT_EQ(r.packet.vlan_depth, 2);
}

TEST(Decoder, RejectsTooManyVlanTags) {
  Decoder d;
  auto r = run(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)), {1, 2, 3, 4, 5}));
  EXPECT_EQ(r.result.status, DecodeStatus::malformed);
  EXPECT_EQ(r.result.anomaly, Anomaly::too_many_vlan_tags);
}

TEST(Decoder, DecodesLinuxCookedSllAndSll2) {
  Decoder d;
  auto ip = ipv4("192.0.2.1", "192.0.2.2", 17, udp(111, 222));
  Bytes sll(14, 0);
  put16(sll, 0x0800);
  append(sll, ip);
  auto r1 = run(d, sll, kDltSll);
  ASSERT_EQ(r1.result.status, DecodeStatus::ok);
  EXPECT_EQ(r1.packet.dst_port, 222);

  Bytes sll2;
  put16(sll2, 0x0800);
  sll2.insert(sll2.end(), 18, 0);
  append(sll2, ip);
  auto r2 = run(d, sll2, kDltSll2);
  ASSERT_EQ(r2.result.status, DecodeStatus::ok);
  EXPECT_EQ(r2.packet.src_port, 111);

  auto r3 = run(d, Bytes(10, 0), kDltSll);
  EXPECT_EQ(r3.result.anomaly, Anomaly::truncated_sll);
  auto r4 = run(d, Bytes(19, 0), kDltSll2);
  EXPECT_EQ(r4.result.anomaly, Anomaly::truncated_sll2);
}

TEST(Decoder, DecodesRawIpLinkTypes) {
  Decoder d;
  auto v4 = ipv4("192.0.2.1", "192.0.2.2", 6, tcp(1, 2, tcp_flag::syn));
  auto v6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(3, 4));
  for (int link : {DLT_RAW, kDltIpv4}) EXPECT_EQ(run(d, v4, link).result.status, DecodeStatus::ok) << link;
  for (int link : {DLT_RAW, kDltIpv6}) {
    auto r = run(d, v6, link);
    ASSERT_EQ(r.result.status, DecodeStatus::ok) << link;
    EXPECT_EQ(r.packet.dst_port, 4);
  }
  auto bad = run(d, Bytes{0x50, 0, 0, 0}, DLT_RAW);
  EXPECT_EQ(bad.result.anomaly, Anomaly::bad_ip_version);
}

TEST(Decoder, CountsNonIpFrames) {
  Decoder d;
  auto r = run(d, ethernet(0x0806, Bytes(28, 0)));  // ARP
  EXPECT_EQ(r.result.status, DecodeStatus::not_ip);
  EXPECT_EQ(d.counters().not_ip, 1u);
  EXPECT_EQ(d.counters().malformed, 0u);
}

// Cutting a frame inside each header (caplen == wire length: the frame itself is short).
struct TruncationCase {
  const char* name;
  Bytes frame;
  size_t cut;
  Anomaly expected;
};

void PrintTo(const TruncationCase& c, std::ostream* os) { *os << c.name; }

class DecoderTruncation : public ::testing::TestWithParam<TruncationCase> {};

TEST_P(DecoderTruncation, CountsTheLayerThatWasCut) {
  const auto& c = GetParam();
  Bytes frame(c.frame.begin(), c.frame.begin() + static_cast<std::ptrdiff_t>(c.cut));
  Decoder d;
  auto r = run(d, frame);
  ASSERT_EQ(r.result.status, DecodeStatus::malformed);
  EXPECT_EQ(anomaly_name(r.result.anomaly), anomaly_name(c.expected));
  EXPECT_EQ(d.counters().anomaly(c.expected), 1u);
  EXPECT_EQ(d.counters().malformed, 1u);
}

Bytes with_ihl(Bytes frame, uint8_t ihl) {
  frame[14] = static_cast<uint8_t>(0x40 | ihl);
  return frame;
}

const Bytes kTcp4 = eth4(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, tcp_flag::ack, 10)));
const Bytes kUdp4 = eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, 10)));
const Bytes kIcmp4 = eth4(ipv4("10.0.0.1", "10.0.0.2", 1, icmp(8, 0)));
const Bytes kVlan = eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2)), {5});
const Bytes kTcp6 = eth6(ipv6("2001:db8::1", "2001:db8::2", 0, [] {
  Bytes b = ext8(6);
  append(b, tcp(1, 2, tcp_flag::syn));
  return b;
}()));
const Bytes kIcmp6 = eth6(ipv6("2001:db8::1", "2001:db8::2", 58, icmp(128, 0, 0)));

Bytes cut(Bytes b, size_t n) {
  b.resize(n);
  return b;
}
// IP packets whose own length fields agree with a transport header that is too short.
const Bytes kShortTcp = eth4(ipv4("10.0.0.1", "10.0.0.2", 6, cut(tcp(1, 2, tcp_flag::ack), 19)));
const Bytes kShortUdp = eth4(ipv4("10.0.0.1", "10.0.0.2", 17, cut(udp(1, 2), 7)));
const Bytes kShortIcmp = eth4(ipv4("10.0.0.1", "10.0.0.2", 1, cut(icmp(8, 0), 3)));
const Bytes kShortIcmp6 = eth6(ipv6("2001:db8::1", "2001:db8::2", 58, cut(icmp(128, 0), 3)));

// A frame whose IP total length claims more than the frame holds (fix the cut to the IP header).
Bytes short_ip_frame() {
  Bytes f = kUdp4;
  f.resize(14 + 20 + 8);  // the IP header still says 20 + 8 + 10
  return f;
}

INSTANTIATE_TEST_SUITE_P(
    Layers, DecoderTruncation,
    ::testing::Values(
        TruncationCase{"ethernet", kTcp4, 13, Anomaly::truncated_ethernet},
        TruncationCase{"vlan", kVlan, 16, Anomaly::truncated_vlan},
        TruncationCase{"ipv4", kTcp4, 14 + 19, Anomaly::truncated_ipv4},
        TruncationCase{"ipv4_ihl_5_cut", with_ihl(kTcp4, 15), 14 + 40, Anomaly::truncated_ipv4},
        TruncationCase{"ipv4_ihl", with_ihl(kTcp4, 4), 14 + 40, Anomaly::bad_ipv4_header_length},
        TruncationCase{"ipv4_total_length", short_ip_frame(), 14 + 28, Anomaly::bad_ipv4_total_length},
        TruncationCase{"tcp", kShortTcp, kShortTcp.size(), Anomaly::truncated_tcp},
        TruncationCase{"udp", kShortUdp, kShortUdp.size(), Anomaly::truncated_udp},
        TruncationCase{"icmp", kShortIcmp, kShortIcmp.size(), Anomaly::truncated_icmp},
        TruncationCase{"ipv6", kTcp6, 14 + 39, Anomaly::truncated_ipv6},
        TruncationCase{"ipv6_payload_length", kTcp6, 14 + 40 + 8 + 10, Anomaly::truncated_ipv6},
        TruncationCase{"icmpv6", kShortIcmp6, kShortIcmp6.size(), Anomaly::truncated_icmpv6}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Decoder, TruncatedFramesAreCutFramesNotShortIpPackets) {
  // The same cuts made by a snapshot length (caplen < wire length) inside the IPv6 extension
  // header and the TCP header: the extension cannot be walked, the TCP fixed header is missing.
  Decoder d;
  auto r1 = run(d, kTcp6, DLT_EN10MB, 14 + 40 + 4);
  EXPECT_EQ(r1.result.anomaly, Anomaly::truncated_ipv6_extension);
  auto r2 = run(d, kTcp4, DLT_EN10MB, 14 + 20 + 10);
  EXPECT_EQ(r2.result.anomaly, Anomaly::truncated_tcp);
}

TEST(Decoder, BadTcpDataOffsetIsMalformed) {
  Bytes f = kTcp4;
  f[14 + 20 + 12] = 0x40;  // data offset 4 words < 5
  Decoder d;
  EXPECT_EQ(run(d, f).result.anomaly, Anomaly::bad_tcp_data_offset);
}

TEST(Decoder, SnaplenCutOptionsStillGivePortsAndFlags) {
  auto frame = eth4(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(5000, 25, tcp_flag::syn, 0, 20)));
  Decoder d;
  auto r = run(d, frame, DLT_EN10MB, 14 + 20 + 20);  // options cut by a 54-byte snaplen
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.src_port, 5000);
  EXPECT_EQ(r.packet.tcp_flags, tcp_flag::syn);
  EXPECT_TRUE(r.packet.payload.empty());
  EXPECT_EQ(d.counters().truncated_payload, 1u);
  EXPECT_EQ(d.counters().malformed, 0u);
}

TEST(Decoder, WalksIpv6ExtensionHeaders) {
  // hop-by-hop -> routing -> destination options -> atomic fragment -> UDP
  Bytes rest = ext8(43);
  append(rest, ext8(60));
  append(rest, ext8(44));
  append(rest, frag6(17, 0, false, 7));
  append(rest, udp(5000, 53, 3));
  auto frame = eth6(ipv6("2001:db8::1", "2001:db8::2", 0, rest));
  Decoder d;
  auto r = run(d, frame);
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.transport, Transport::udp);
  EXPECT_EQ(r.packet.ip_proto, 17);
  EXPECT_EQ(r.packet.src_port, 5000);
  EXPECT_EQ(r.packet.dst_port, 53);
  EXPECT_EQ(r.packet.payload.size(), 3u);
  EXPECT_EQ(d.counters().ipv6_fragments, 0u);  // atomic fragment
}

TEST(Decoder, RejectsEndlessIpv6ExtensionChains) {
  Bytes rest;
  for (int i = 0; i < 20; ++i) append(rest, ext8(60));
  auto frame = eth6(ipv6("2001:db8::1", "2001:db8::2", 60, rest));
  Decoder d;
  EXPECT_EQ(run(d, frame).result.anomaly, Anomaly::too_many_ipv6_extensions);
}

// Splits an IPv4 payload into fragments of `chunk` bytes (multiple of 8).
std::vector<Bytes> fragment4(const Bytes& transport, size_t chunk, uint8_t proto, uint16_t id) {
  std::vector<Bytes> out;
  for (size_t off = 0; off < transport.size(); off += chunk) {
    size_t n = std::min(chunk, transport.size() - off);
    bool more = off + n < transport.size();
    Bytes part(transport.begin() + static_cast<std::ptrdiff_t>(off),
               transport.begin() + static_cast<std::ptrdiff_t>(off + n));
    out.push_back(eth4(ipv4("10.1.1.1", "10.2.2.2", proto, part, id,
                            static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8)))));
  }
  return out;
}

TEST(Decoder, ReassemblesIpv4FragmentsOutOfOrder) {
  auto datagram = udp(123, 137, 100);
  auto frags = fragment4(datagram, 48, 17, 0x42);
  ASSERT_EQ(frags.size(), 3u);
  Decoder d;
  EXPECT_EQ(run(d, frags[2]).result.status, DecodeStatus::fragment);
  EXPECT_EQ(run(d, frags[0]).result.status, DecodeStatus::fragment);
  auto r = run(d, frags[1]);
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_TRUE(r.packet.reassembled);
  EXPECT_EQ(r.packet.src_port, 123);
  EXPECT_EQ(r.packet.dst_port, 137);
  EXPECT_EQ(r.packet.payload.size(), 100u);
  EXPECT_EQ(r.packet.payload[99], 'u');
  EXPECT_EQ(r.packet.ip_length, 20u + 108u);
  EXPECT_EQ(d.counters().ipv4_fragments, 3u);
  EXPECT_EQ(d.counters().datagrams_reassembled, 1u);
}

TEST(Decoder, ReassemblesIpv6Fragments) {
  auto datagram = udp(4000, 53, 60);  // 68 bytes: 64 + 4
  Bytes part1(datagram.begin(), datagram.begin() + 64);
  Bytes part2(datagram.begin() + 64, datagram.end());
  Bytes rest1 = frag6(17, 0, true, 99);
  append(rest1, part1);
  Bytes rest2 = frag6(17, 64, false, 99);
  append(rest2, part2);
  Decoder d;
  EXPECT_EQ(run(d, eth6(ipv6("2001:db8::1", "2001:db8::2", 44, rest1))).result.status, DecodeStatus::fragment);
  auto r = run(d, eth6(ipv6("2001:db8::1", "2001:db8::2", 44, rest2)));
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.src_port, 4000);
  EXPECT_EQ(r.packet.payload.size(), 60u);
  EXPECT_EQ(d.counters().ipv6_fragments, 2u);
}

// An IPv6 fragment carrying `bytes` at `offset` of the datagram with id 7.
Bytes frag6_frame(uint16_t offset, bool more, const Bytes& bytes, uint8_t next = 17) {
  Bytes rest = frag6(next, offset, more, 7);
  append(rest, bytes);
  return eth6(ipv6("2001:db8::1", "2001:db8::2", 44, rest));
}

TEST(Decoder, OverlappingIpv6FragmentsKeepTheFirstData) {
  // "first" policy: bytes already held win over any later fragment covering them.
  auto datagram = udp(4000, 53, 24);  // 32 bytes: blocks 0..3
  Bytes head(datagram.begin(), datagram.begin() + 24);
  Bytes tail(datagram.begin() + 16, datagram.end());
  Decoder d;
  EXPECT_EQ(run(d, frag6_frame(0, true, head)).result.status, DecodeStatus::fragment);
  // Rewrites blocks 1 and 2, both held already.
  EXPECT_EQ(run(d, frag6_frame(8, true, Bytes(16, 0xee))).result.status, DecodeStatus::fragment);
  auto r = run(d, frag6_frame(16, false, tail));  // block 2 held, block 3 new
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(r.packet.src_port, 4000);
  ASSERT_EQ(r.packet.payload.size(), 24u);
  EXPECT_EQ(Bytes(r.packet.payload.begin(), r.packet.payload.end()), Bytes(24, 'u'));
  EXPECT_EQ(d.reassembly_counters().overlaps, 2u);
  EXPECT_EQ(d.reassembly_counters().reassembled, 1u);
}

TEST(Decoder, FirstFinalFragmentFixesTheIpv6DatagramLength) {
  auto datagram = udp(4000, 53, 8);  // 16 bytes
  Decoder d;
  run(d, frag6_frame(8, false, Bytes(datagram.begin() + 8, datagram.end())));
  run(d, frag6_frame(8, false, Bytes(24, 0xee)));  // a second, longer "last" fragment
  auto r = run(d, frag6_frame(0, true, Bytes(datagram.begin(), datagram.begin() + 8)));
  ASSERT_EQ(r.result.status, DecodeStatus::ok);
  EXPECT_EQ(Bytes(r.packet.payload.begin(), r.packet.payload.end()), Bytes(8, 'u'));
  EXPECT_EQ(d.reassembly_counters().overlaps, 1u);
}

TEST(Decoder, RefusesAFragmentInsideAReassembledIpv6Datagram) {
  // Found by the decoder fuzzer (corpus/decoder/regression_ipv6_nested_fragment): the nested
  // fragment's bytes lie in the reassembly slot that adding them would reuse (memcpy overlap).
  Bytes inner = frag6(17, 16, false, 8);  // a fragment header as the reassembled payload
  Decoder d;
  EXPECT_EQ(run(d, frag6_frame(0, true, inner, 44)).result.status, DecodeStatus::fragment);
  Bytes rest(16, 0x5a);
  auto r = run(d, frag6_frame(8, false, rest, 44));
  EXPECT_EQ(r.result.status, DecodeStatus::malformed);
  EXPECT_EQ(r.result.anomaly, Anomaly::bad_fragment);
  EXPECT_EQ(d.counters().datagrams_reassembled, 1u);
  EXPECT_EQ(d.counters().ipv6_fragments, 2u);
  EXPECT_EQ(d.reassembly_counters().fragments, 2u);
}

TEST(Decoder, DropsFragmentsAfterTheTimeout) {
  auto frags = fragment4(udp(1, 2, 40), 24, 17, 7);
  ASSERT_EQ(frags.size(), 2u);
  Decoder d;
  run(d, frags[0], DLT_EN10MB, SIZE_MAX, 1'000'000'000);
  auto r = run(d, frags[1], DLT_EN10MB, SIZE_MAX, 40'000'000'000);  // 39 s later: past 30 s
  EXPECT_EQ(r.result.status, DecodeStatus::fragment);
  EXPECT_EQ(d.reassembly_counters().timed_out, 1u);
  EXPECT_EQ(d.counters().datagrams_reassembled, 0u);
}

TEST(Decoder, ReassemblyMemoryCapEvictsOldestDatagram) {
  DecoderOptions options;
  options.reassembly.memory_cap = 1;  // one slot
  Decoder d(options);
  auto a = fragment4(udp(1, 2, 40), 24, 17, 1);
  auto b = fragment4(udp(3, 4, 40), 24, 17, 2);
  run(d, a[0]);
  run(d, b[0]);  // takes the only slot
  EXPECT_EQ(d.reassembly_counters().evicted, 1u);
  EXPECT_EQ(run(d, a[1]).result.status, DecodeStatus::fragment);  // a's start is gone
  EXPECT_EQ(run(d, b[1]).result.status, DecodeStatus::fragment);  // slot now holds a's tail
}

TEST(Decoder, EveryPrefixOfValidFramesIsHandled) {
  // Each cut of each template either decodes or is counted as malformed, never read past.
  Decoder d;
  for (const Bytes* frame : {&kTcp4, &kUdp4, &kIcmp4, &kVlan, &kTcp6, &kIcmp6}) {
    for (size_t cut = 0; cut <= frame->size(); ++cut) {
      Bytes copy(frame->begin(), frame->begin() + static_cast<std::ptrdiff_t>(cut));
      auto r = run(d, copy);
      EXPECT_TRUE(r.result.status == DecodeStatus::ok || r.result.status == DecodeStatus::malformed);
      if (cut == frame->size()) {
        EXPECT_EQ(r.result.status, DecodeStatus::ok);
      }
    }
  }
}

}  // namespace
}  // namespace vigil::agent::decode
