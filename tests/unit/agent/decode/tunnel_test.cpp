// Tunnels and link encapsulations: each one built byte by byte around the same inner TCP segment,
// decoded to the outer packet (a flow of its own) and then to the inner one with its origin.
#include <gtest/gtest.h>

#include "agent/decode/decoder.h"
#include "tests/unit/agent/packet_builder.h"

namespace vigil::agent::decode {
namespace {

using namespace vigil::test::pkt;

Bytes inner_ip4() { return ipv4("192.168.10.5", "192.168.20.9", 6, tcp(51000, 443, tcp_flag::syn, 3)); }
Bytes inner_ip6() { return ipv6("fd00::5", "fd00::9", 6, tcp(51000, 443, tcp_flag::syn, 3)); }
Bytes inner_eth() { return eth4(inner_ip4()); }

Bytes cat(Bytes a, const Bytes& b) {
  append(a, b);
  return a;
}

Bytes gre_header(uint16_t flags, uint16_t proto, std::initializer_list<uint32_t> words = {}) {
  Bytes b;
  put16(b, flags);
  put16(b, proto);
  for (uint32_t w : words) put32(b, w);
  return b;
}

Bytes udp_with(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);
  append(b, payload);
  return b;
}

struct Both {
  DecodeResult outer_result;
  DecodedPacket outer;
  DecodeResult inner_result;
  DecodedPacket inner;
};

Both decode_both(Decoder& d, const Bytes& frame, int link = DLT_EN10MB) {
  Both b;
  auto pk = packet(frame, link);
  b.outer_result = d.decode(pk, b.outer);
  if (b.outer_result.status == DecodeStatus::ok && b.outer.tunnel.type != TunnelType::none) {
    b.inner_result = d.decode_inner(b.outer, pk.ts, b.inner);
  }
  return b;
}

void expect_inner_tcp(const Both& b, const char* src, const char* dst) {
  ASSERT_EQ(b.inner_result.status, DecodeStatus::ok) << anomaly_name(b.inner_result.anomaly);
  EXPECT_EQ(b.inner.src, IpAddress::parse(src).value());
  EXPECT_EQ(b.inner.dst, IpAddress::parse(dst).value());
  EXPECT_EQ(b.inner.transport, Transport::tcp);
  EXPECT_EQ(b.inner.src_port, 51000);
  EXPECT_EQ(b.inner.dst_port, 443);
  EXPECT_EQ(b.inner.payload.size(), 3u);
  EXPECT_EQ(b.inner.origin.depth, 1);
  EXPECT_EQ(b.inner.origin.outer_src, b.outer.src);
  EXPECT_EQ(b.inner.origin.outer_dst, b.outer.dst);
}

TEST(Tunnels, GreWithKeyCarryingIpv4) {
  Decoder d;
  auto b = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, cat(gre_header(0x2000, 0x0800, {77}), inner_ip4()))));
  ASSERT_EQ(b.outer_result.status, DecodeStatus::ok);
  EXPECT_EQ(b.outer.ip_proto, 47);
  EXPECT_EQ(b.outer.tunnel.type, TunnelType::gre);
  expect_inner_tcp(b, "192.168.10.5", "192.168.20.9");
  EXPECT_EQ(b.inner.origin.type, TunnelType::gre);
  EXPECT_TRUE(b.inner.origin.has_id);
  EXPECT_EQ(b.inner.origin.id, 77u);
  EXPECT_EQ(d.counters().tunnels[static_cast<size_t>(TunnelType::gre)], 1u);
}

TEST(Tunnels, GreWithChecksumAndSequenceCarryingEthernetAndIpv6) {
  Decoder d;
  auto b = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, cat(gre_header(0x9000, 0x6558, {0, 5}), eth6(inner_ip6())))));
  EXPECT_EQ(b.inner.origin.type, TunnelType::gre);
  EXPECT_FALSE(b.inner.origin.has_id);
  expect_inner_tcp(b, "fd00::5", "fd00::9");
}

TEST(Tunnels, ErspanTypesOneTwoAndThree) {
  Decoder d;
  // Type I: GRE 0x88be without a sequence number, the mirrored frame right after.
  auto one = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, cat(gre_header(0x0000, 0x88be), inner_eth()))));
  EXPECT_EQ(one.inner.origin.type, TunnelType::erspan_i);
  expect_inner_tcp(one, "192.168.10.5", "192.168.20.9");
  // Type II: sequence number, then 8 bytes: version 1, VLAN, session id 0x155.
  Bytes ii{0x10, 0x00, 0x01, 0x55, 0, 0, 0, 0};
  auto two = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, cat(cat(gre_header(0x1000, 0x88be, {9}), ii), inner_eth()))));
  EXPECT_EQ(two.inner.origin.type, TunnelType::erspan_ii);
  EXPECT_EQ(two.inner.origin.id, 0x155u);
  expect_inner_tcp(two, "192.168.10.5", "192.168.20.9");
  // Type III with the optional 8-byte subheader (O flag).
  Bytes iii{0x20, 0x00, 0x00, 0x2a, 1, 2, 3, 4, 0, 0, 0, 0x01, 9, 9, 9, 9, 9, 9, 9, 9};
  auto three = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, cat(cat(gre_header(0x1000, 0x22eb, {9}), iii), inner_eth()))));
  EXPECT_EQ(three.inner.origin.type, TunnelType::erspan_iii);
  EXPECT_EQ(three.inner.origin.id, 42u);
  expect_inner_tcp(three, "192.168.10.5", "192.168.20.9");
}

TEST(Tunnels, VxlanWithNonZeroReservedFields) {
  Decoder d;
  Bytes vx{0x08, 0xaa, 0xbb, 0xcc, 0x00, 0x30, 0x39, 0xee};  // I flag, reserved bits set, VNI 12345
  auto b = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp_with(33333, 4789, cat(vx, inner_eth())))));
  ASSERT_EQ(b.outer_result.status, DecodeStatus::ok);
  EXPECT_EQ(b.outer.transport, Transport::udp);
  EXPECT_EQ(b.outer.tunnel.type, TunnelType::vxlan);
  expect_inner_tcp(b, "192.168.10.5", "192.168.20.9");
  EXPECT_EQ(b.inner.origin.id, 12345u);
}

TEST(Tunnels, GeneveWithOptionsCarryingIpv6) {
  Decoder d;
  Bytes gv{0x01, 0x00, 0x86, 0xdd, 0x00, 0x00, 0x07, 0x00, 0x01, 0x02, 0x03, 0x00};  // one 4-byte option
  auto b = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp_with(33333, 6081, cat(gv, inner_ip6())))));
  EXPECT_EQ(b.inner.origin.type, TunnelType::geneve);
  EXPECT_EQ(b.inner.origin.id, 7u);
  expect_inner_tcp(b, "fd00::5", "fd00::9");
}

TEST(Tunnels, TeredoWithAndWithoutOriginIndication) {
  Decoder d;
  auto plain = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp_with(3544, 40000, inner_ip6()))));
  EXPECT_EQ(plain.inner.origin.type, TunnelType::teredo);
  expect_inner_tcp(plain, "fd00::5", "fd00::9");
  Bytes origin{0x00, 0x00, 0xab, 0xcd, 1, 2, 3, 4};
  auto indicated = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp_with(40000, 3544, cat(origin, inner_ip6())))));
  expect_inner_tcp(indicated, "fd00::5", "fd00::9");
  // Something else on port 3544 is a UDP datagram, nothing more.
  Decoder d2;
  auto other = decode_both(d2, eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp(3544, 40000, 60))));
  EXPECT_EQ(other.outer_result.status, DecodeStatus::ok);
  EXPECT_EQ(other.outer.tunnel.type, TunnelType::none);
}

TEST(Tunnels, IpInIpAndIpv6InIpv4AndIpv4InIpv6) {
  Decoder d;
  auto ipip = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 4, inner_ip4())));
  EXPECT_EQ(ipip.inner.origin.type, TunnelType::ipip);
  expect_inner_tcp(ipip, "192.168.10.5", "192.168.20.9");
  auto six = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 41, inner_ip6())));
  EXPECT_EQ(six.inner.origin.type, TunnelType::ipv6_in_ipv4);
  expect_inner_tcp(six, "fd00::5", "fd00::9");
  auto four = decode_both(d, eth6(ipv6("2001:db8::1", "2001:db8::2", 4, inner_ip4())));
  EXPECT_EQ(four.inner.origin.type, TunnelType::ipv4_in_ipv6);
  expect_inner_tcp(four, "192.168.10.5", "192.168.20.9");
}

TEST(Encapsulations, MplsStacksWithAndWithoutAPseudowire) {
  Decoder d;
  Bytes labels{0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40};  // two labels, bottom of stack on the second
  DecodedPacket out;
  auto frame = ethernet(0x8847, cat(labels, inner_ip4()));
  ASSERT_EQ(d.decode(packet(frame), out).status, DecodeStatus::ok);
  EXPECT_EQ(out.src, IpAddress::parse("192.168.10.5").value());
  EXPECT_EQ(out.dst_port, 443);
  // Ethernet over MPLS with a control word.
  Bytes pw{0x00, 0x03, 0x01, 0x40, 0, 0, 0, 0};
  ASSERT_EQ(d.decode(packet(ethernet(0x8847, cat(pw, inner_eth()))), out).status, DecodeStatus::ok);
  EXPECT_EQ(out.transport, Transport::tcp);
  EXPECT_EQ(d.counters().mpls, 2u);
  // A stack that never ends is an anomaly, not a loop.
  Bytes endless;
  for (int i = 0; i < 20; ++i) append(endless, Bytes{0x00, 0x01, 0x00, 0x40});
  auto r = d.decode(packet(ethernet(0x8847, endless)), out);
  EXPECT_EQ(r.status, DecodeStatus::malformed);
  EXPECT_EQ(r.anomaly, Anomaly::too_many_mpls_labels);
}

TEST(Encapsulations, PppoeSessionCiscoHdlcAndNsh) {
  Decoder d;
  DecodedPacket out;
  Bytes pppoe{0x11, 0x00, 0x12, 0x34};
  auto ip = inner_ip4();
  put16(pppoe, static_cast<uint16_t>(ip.size() + 2));
  put16(pppoe, 0x0021);
  ASSERT_EQ(d.decode(packet(ethernet(0x8864, cat(pppoe, ip))), out).status, DecodeStatus::ok);
  EXPECT_EQ(out.dst_port, 443);
  EXPECT_EQ(d.counters().pppoe, 1u);

  Bytes hdlc{0x0f, 0x00, 0x08, 0x00};
  ASSERT_EQ(d.decode(packet(cat(hdlc, inner_ip4()), DLT_C_HDLC), out).status, DecodeStatus::ok);
  EXPECT_EQ(out.src_port, 51000);

  // NSH: version 0, length 2 words, MD type 2, next protocol 3 (Ethernet); service path header.
  Bytes nsh{0x00, 0x02, 0x02, 0x03, 0x00, 0x00, 0x10, 0xff};
  ASSERT_EQ(d.decode(packet(ethernet(0x894f, cat(nsh, inner_eth()))), out).status, DecodeStatus::ok);
  EXPECT_EQ(out.dst, IpAddress::parse("192.168.20.9").value());
  EXPECT_EQ(d.counters().nsh, 1u);
}

TEST(Tunnels, TunnelsInsideTunnelsStopAtTheDepthCap) {
  // The inner packet wrapped kMaxTunnelDepth + 1 times in IP-in-IP.
  Bytes ip = inner_ip4();
  for (int i = 0; i <= kMaxTunnelDepth; ++i) ip = ipv4("10.9.0.1", "10.9.0.2", 4, ip);
  Decoder d;
  DecodedPacket levels[kMaxTunnelDepth + 2];
  const Bytes frame = eth4(ip);
  auto pk = packet(frame);
  ASSERT_EQ(d.decode(pk, levels[0]).status, DecodeStatus::ok);
  int depth = 0;
  DecodeResult r{};
  while (levels[depth].tunnel.type != TunnelType::none) {
    r = d.decode_inner(levels[depth], pk.ts, levels[depth + 1]);
    if (r.status != DecodeStatus::ok) break;
    ++depth;
  }
  EXPECT_EQ(depth, kMaxTunnelDepth);
  EXPECT_EQ(r.anomaly, Anomaly::tunnel_too_deep);
  EXPECT_EQ(d.counters().anomaly(Anomaly::tunnel_too_deep), 1u);
}

TEST(Tunnels, MalformedTunnelHeadersKeepTheOuterPacket) {
  Decoder d;
  // GRE with a key flag and no key; VXLAN without its I flag; GRE with an unknown protocol.
  for (const Bytes& frame : {eth4(ipv4("10.0.0.1", "10.0.0.2", 47, gre_header(0x2000, 0x0800))),
                             eth4(ipv4("10.0.0.1", "10.0.0.2", 17, udp_with(1, 4789, Bytes(8, 0)))),
                             eth4(ipv4("10.0.0.1", "10.0.0.2", 47, gre_header(0, 0x1234, {1, 2})))}) {
    DecodedPacket out;
    ASSERT_EQ(d.decode(packet(frame), out).status, DecodeStatus::ok);
    EXPECT_EQ(out.tunnel.type, TunnelType::none);
  }
  EXPECT_EQ(d.counters().tunnel_unknown, 3u);
  // An inner packet cut short is the inner packet's anomaly.
  Bytes cut = inner_ip4();
  cut.resize(30);
  auto b = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 4, cut)));
  EXPECT_EQ(b.outer_result.status, DecodeStatus::ok);
  EXPECT_EQ(b.inner_result.status, DecodeStatus::malformed);
}

TEST(Tunnels, SctpFlowsHaveTheirPorts) {
  Decoder d;
  Bytes sctp;
  put16(sctp, 2905);
  put16(sctp, 2906);
  put32(sctp, 0xdeadbeef);
  put32(sctp, 0);
  DecodedPacket out;
  ASSERT_EQ(d.decode(packet(eth4(ipv4("10.0.0.1", "10.0.0.2", 132, sctp))), out).status, DecodeStatus::ok);
  EXPECT_EQ(out.src_port, 2905);
  EXPECT_EQ(out.dst_port, 2906);
}

TEST(Tunnels, PptpAcknowledgementsCarryNothingAndArePlainGre) {
  Decoder d;
  // Enhanced GRE: K and A set, version 1, protocol PPP; payload length 0, call id 7, ack number.
  Bytes ack_only{0x20, 0x81, 0x88, 0x0b, 0x00, 0x00, 0x00, 0x07, 0, 0, 0, 9};
  auto b = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, ack_only)));
  ASSERT_EQ(b.outer_result.status, DecodeStatus::ok);
  EXPECT_EQ(b.outer.tunnel.type, TunnelType::none);
  EXPECT_EQ(d.counters().malformed, 0u);
  // With a payload: PPP (address, control, IPv4) inside, bounded by the payload length.
  Bytes data{0x30, 0x01, 0x88, 0x0b};  // K, S, version 1
  auto ip = inner_ip4();
  Bytes ppp{0xff, 0x03, 0x00, 0x21};
  append(ppp, ip);
  put16(data, static_cast<uint16_t>(ppp.size()));
  put16(data, 7);
  put32(data, 1);  // sequence
  append(data, ppp);
  append(data, Bytes(6, 0));  // trailing bytes past the payload length are not the packet's
  auto full = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, data)));
  EXPECT_EQ(full.inner.origin.type, TunnelType::pptp);
  EXPECT_EQ(full.inner.origin.id, 7u);
  expect_inner_tcp(full, "192.168.10.5", "192.168.20.9");
}

TEST(Tunnels, ErspanThreeCarryingIpWithoutEthernet) {
  Decoder d;
  // Frame type 2 (IP) in bits 14..10 of bytes 10-11.
  Bytes iii{0x20, 0x00, 0x00, 0x07, 1, 2, 3, 4, 0, 0, 0x08, 0x00};
  auto b = decode_both(d, eth4(ipv4("10.0.0.1", "10.0.0.2", 47, cat(cat(gre_header(0x1000, 0x22eb, {9}), iii), inner_ip4()))));
  EXPECT_EQ(b.inner.origin.type, TunnelType::erspan_iii);
  expect_inner_tcp(b, "192.168.10.5", "192.168.20.9");
}

TEST(Encapsulations, UnknownPayloadsAreNotGuessedAsEthernet) {
  Decoder d;
  DecodedPacket out;
  // MPLS whose payload starts with neither 4, 6 nor a control word: not decoded, not malformed.
  Bytes labels{0x00, 0x01, 0x01, 0x40};
  auto r = d.decode(packet(ethernet(0x8847, cat(labels, Bytes(40, 0xa5)))), out);
  EXPECT_EQ(r.status, DecodeStatus::not_ip);
  // PPPoE with another version/type: not a session frame.
  Bytes pppoe{0x21, 0x00, 0x12, 0x34, 0x00, 0x2d, 0x00, 0x21};
  EXPECT_EQ(d.decode(packet(ethernet(0x8864, cat(pppoe, inner_ip4()))), out).status, DecodeStatus::not_ip);
  EXPECT_EQ(d.counters().malformed, 0u);
}

TEST(Tunnels, FragmentsOfTwoTunnelsAreNeverReassembledTogether) {
  Decoder d;
  // The same inner source, destination and id in two GRE tunnels: the first half in one, the
  // second half in the other. Together they would make a datagram; apart they must not.
  Bytes body = tcp(51000, 443, tcp_flag::ack, 40);
  Bytes first(body.begin(), body.begin() + 24);
  Bytes second(body.begin() + 24, body.end());
  auto frag = [](const Bytes& part, uint16_t flags_offset) {
    return ipv4("192.168.10.5", "192.168.20.9", 6, part, 77, flags_offset);
  };
  auto in_gre = [&](const char* a, const char* b, const Bytes& ip) {
    return eth4(ipv4(a, b, 47, cat(gre_header(0, 0x0800), ip)));
  };
  auto one = decode_both(d, in_gre("10.0.0.1", "10.0.0.2", frag(first, 0x2000)));
  EXPECT_EQ(one.inner_result.status, DecodeStatus::fragment);
  auto two = decode_both(d, in_gre("10.0.1.1", "10.0.1.2", frag(second, 3)));  // offset 24
  EXPECT_EQ(two.inner_result.status, DecodeStatus::fragment);
  EXPECT_EQ(d.counters().datagrams_reassembled, 0u);
  // The second half in the first tunnel completes it.
  auto three = decode_both(d, in_gre("10.0.0.2", "10.0.0.1", frag(second, 3)));
  EXPECT_EQ(three.inner_result.status, DecodeStatus::ok);
  EXPECT_EQ(d.counters().datagrams_reassembled, 1u);
}

TEST(Tunnels, EspFlowsAreKeyedByTheirSpi) {
  Decoder d;
  Bytes esp;
  put32(esp, 0x0102a0b0);  // SPI
  put32(esp, 7);           // sequence
  append(esp, Bytes(16, 0xee));
  DecodedPacket out;
  ASSERT_EQ(d.decode(packet(eth4(ipv4("10.0.0.1", "10.0.0.2", 50, esp))), out).status, DecodeStatus::ok);
  EXPECT_EQ((uint32_t{out.src_port} << 16) | out.dst_port, 0x0102a0b0u);
}

}  // namespace
}  // namespace vigil::agent::decode
