#include "agent/decode/decoder.h"

#include <pcap/dlt.h>

#include <algorithm>
#include <cstring>

namespace vigil::agent::decode {

namespace {

// Link types as pcap_datalink() reports them (libpcap maps a file's LINKTYPE_* to these DLT_*
// values: LINKTYPE_RAW 101 becomes DLT_RAW, which is 12 on Linux and 14 on OpenBSD).
constexpr int kDltNull = DLT_NULL;
constexpr int kDltEthernet = DLT_EN10MB;
constexpr int kDltRaw = DLT_RAW;
constexpr int kLinktypeRaw = 101;
constexpr int kDltLoop = DLT_LOOP;
constexpr int kDltLinuxSll = DLT_LINUX_SLL;
constexpr int kDltIpv4 = DLT_IPV4;
constexpr int kDltIpv6 = DLT_IPV6;
constexpr int kDltLinuxSll2 = DLT_LINUX_SLL2;
constexpr int kDltCiscoHdlc = DLT_C_HDLC;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr uint16_t kEtherMpls = 0x8847;
constexpr uint16_t kEtherMplsMulticast = 0x8848;
constexpr uint16_t kEtherPppoeSession = 0x8864;
constexpr uint16_t kEtherNsh = 0x894f;
constexpr uint16_t kEtherTeb = 0x6558;  // transparent Ethernet bridging: an Ethernet frame
constexpr uint16_t kEtherPpp = 0x880b;
constexpr uint16_t kEtherErspan2 = 0x88be;
constexpr uint16_t kEtherErspan3 = 0x22eb;
constexpr uint16_t kPortVxlan = 4789;
constexpr uint16_t kPortGeneve = 6081;
constexpr uint16_t kPortTeredo = 3544;
constexpr int kMaxVlanTags = 4;
constexpr int kMaxMplsLabels = 8;
constexpr uint8_t kMaxLinkDepth = 8;  // MPLS in NSH in Ethernet in MPLS...
constexpr int kMaxIpv6Headers = 12;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

constexpr std::string_view kAnomalyNames[] = {
#define VIGIL_ANOMALY_NAME(name) #name,
    VIGIL_DECODE_ANOMALIES(VIGIL_ANOMALY_NAME)
#undef VIGIL_ANOMALY_NAME
};
static_assert(std::size(kAnomalyNames) == kAnomalyCount);

constexpr std::string_view kTunnelNames[] = {
#define VIGIL_TUNNEL_NAME(name) #name,
    VIGIL_TUNNEL_TYPES(VIGIL_TUNNEL_NAME)
#undef VIGIL_TUNNEL_NAME
};
static_assert(std::size(kTunnelNames) == kTunnelTypeCount);

}  // namespace


uint32_t tunnel_identity(const TunnelOrigin& t) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto feed = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ULL + (h >> 31); };
  const bool swap = std::memcmp(t.outer_src.bytes().data(), t.outer_dst.bytes().data(), 16) > 0;
  const IpAddress& a = swap ? t.outer_dst : t.outer_src;
  const IpAddress& b = swap ? t.outer_src : t.outer_dst;
  uint64_t w[4];
  std::memcpy(w, a.bytes().data(), 16);
  std::memcpy(w + 2, b.bytes().data(), 16);
  for (uint64_t v : w) feed(v);
  feed((uint64_t{static_cast<uint8_t>(t.type)} << 40) | (uint64_t{t.depth} << 32) | t.id);
  const auto folded = static_cast<uint32_t>(h ^ (h >> 32));
  return folded == 0 ? 1 : folded;
}

std::string_view tunnel_type_name(TunnelType t) {
  auto i = static_cast<size_t>(t);
  return i < kTunnelTypeCount ? kTunnelNames[i] : std::string_view("unknown");
}

std::string_view anomaly_name(Anomaly a) {
  auto i = static_cast<size_t>(a);
  return i < kAnomalyCount ? kAnomalyNames[i] : std::string_view("unknown");
}

std::string_view transport_name(Transport t) {
  switch (t) {
    case Transport::tcp: return "tcp";
    case Transport::udp: return "udp";
    case Transport::icmp: return "icmp";
    case Transport::icmpv6: return "ipv6-icmp";
    case Transport::other: break;
  }
  return "other";
}

Decoder::Decoder(DecoderOptions options) : reassembly_(options.reassembly) {}

DecodeResult Decoder::fail(Anomaly a) {
  ++counters_.anomalies[static_cast<size_t>(a)];
  ++counters_.malformed;
  return {DecodeStatus::malformed, a};
}

DecodeResult Decoder::decode(const capture::Packet& packet, DecodedPacket& out) {
  ++counters_.packets;
  out = DecodedPacket{};
  snap_cut_ = packet.caplen < packet.wire_len;
  inside_reassembled_ = false;
  link_depth_ = 0;
  const uint8_t* p = packet.data;
  size_t len = packet.caplen;
  uint16_t ethertype = 0;

  switch (packet.link_type) {
    case kDltEthernet:
      return decode_ethernet(p, len, packet, out);
    case kDltCiscoHdlc:
      // Address, control, then an ethertype.
      if (len < 4) return fail(Anomaly::truncated_hdlc);
      ethertype = be16(p + 2);
      p += 4;
      len -= 4;
      break;
    case kDltLinuxSll:
      if (len < 16) return fail(Anomaly::truncated_sll);
      ethertype = be16(p + 14);
      p += 16;
      len -= 16;
      break;
    case kDltLinuxSll2:
      if (len < 20) return fail(Anomaly::truncated_sll2);
      ethertype = be16(p);
      p += 20;
      len -= 20;
      break;
    case kDltNull:
    case kDltLoop: {
      if (len < 4) return fail(Anomaly::truncated_null);
      // The address family, in the capturing host's byte order (DLT_NULL) or network order (LOOP).
      uint32_t be = be32(p);
      uint32_t le = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
      auto is_v6 = [](uint32_t f) { return f == 10 || f == 24 || f == 28 || f == 30; };
      if (be == 2 || le == 2) {
        ethertype = kEtherIpv4;
      } else if (is_v6(be) || is_v6(le)) {
        ethertype = kEtherIpv6;
      } else {
        ++counters_.not_ip;
        return {DecodeStatus::not_ip, Anomaly::count};
      }
      p += 4;
      len -= 4;
      break;
    }
    case kDltRaw:
    case kLinktypeRaw:
    case kDltIpv4:
    case kDltIpv6:
      return decode_ip(p, len, packet, out);
    default:
      return fail(Anomaly::unsupported_link_type);
  }

  return decode_ethertype(ethertype, p, len, packet, out);
}

DecodeResult Decoder::decode_inner(const DecodedPacket& outer, Timestamp ts, DecodedPacket& out) {
  const Tunnel t = outer.tunnel;
  out = DecodedPacket{};
  out.origin = {t.type, static_cast<uint8_t>(outer.origin.depth + 1), t.has_id, t.id, outer.src, outer.dst};
  out.origin.identity = tunnel_identity(out.origin);
  if (out.origin.depth > kMaxTunnelDepth) return fail(Anomaly::tunnel_too_deep);
  ++counters_.tunnels[static_cast<size_t>(t.type)];
  // The inside of a reassembled datagram lives in the reassembler's memory: a fragment inside it
  // is refused, as it would be reassembled over the bytes being read.
  inside_reassembled_ = inside_reassembled_ || outer.reassembled;
  link_depth_ = 0;
  capture::Packet inner;
  inner.ts = ts;
  inner.data = t.inner.data();
  inner.caplen = static_cast<uint32_t>(t.inner.size());
  inner.wire_len = inner.caplen;
  if (t.ethertype == kEtherTeb) return decode_ethernet(t.inner.data(), t.inner.size(), inner, out);
  if (t.ethertype == kEtherPpp) return decode_ppp(t.inner.data(), t.inner.size(), inner, out);
  return decode_ethertype(t.ethertype, t.inner.data(), t.inner.size(), inner, out);
}

DecodeResult Decoder::decode_ethernet(const uint8_t* p, size_t len, const capture::Packet& packet,
                                      DecodedPacket& out) {
  if (len < 14) return fail(Anomaly::truncated_ethernet);
  return decode_ethertype(be16(p + 12), p + 14, len - 14, packet, out);
}

DecodeResult Decoder::decode_ethertype(uint16_t ethertype, const uint8_t* p, size_t len,
                                       const capture::Packet& packet, DecodedPacket& out) {
  if (++link_depth_ > kMaxLinkDepth) return fail(Anomaly::tunnel_too_deep);
  // 802.1Q / 802.1ad (QinQ) tags: keep the outermost and the innermost id.
  while (ethertype == kEtherVlan || ethertype == kEtherQinQ || ethertype == kEtherQinQOld) {
    if (out.vlan_depth >= kMaxVlanTags) return fail(Anomaly::too_many_vlan_tags);
    if (len < 4) return fail(Anomaly::truncated_vlan);
    uint16_t vid = be16(p) & 0x0fff;
    if (out.vlan_depth == 0) out.outer_vlan_id = vid;
    out.vlan_id = vid;
    ++out.vlan_depth;
    ethertype = be16(p + 2);
    p += 4;
    len -= 4;
  }
  switch (ethertype) {
    case kEtherIpv4: return decode_ipv4(p, len, packet, out);
    case kEtherIpv6: return decode_ipv6(p, len, packet, out);
    case kEtherMpls:
    case kEtherMplsMulticast: return decode_mpls(p, len, packet, out);
    case kEtherPppoeSession: {
      // Version/type 0x11, code 0, session id, length; then the PPP protocol.
      if (len < 8) return fail(Anomaly::truncated_pppoe);
      if (p[0] != 0x11 || p[1] != 0) {  // version 1, type 1; a session frame has code 0
        ++counters_.not_ip;
        return {DecodeStatus::not_ip, Anomaly::count};
      }
      ++counters_.pppoe;
      const size_t plen = be16(p + 4);
      const size_t body = std::min(len - 6, plen);
      return decode_ppp(p + 6, body, packet, out);
    }
    case kEtherNsh: {
      // RFC 8300: version (2 bits) must be 0; length in 4-byte words; the next protocol.
      if (len < 8 || (p[0] >> 6) != 0) return fail(Anomaly::truncated_nsh);
      const size_t hlen = size_t{be16(p) & 0x3fu} * 4;
      if (hlen < 8 || hlen > len) return fail(Anomaly::truncated_nsh);
      ++counters_.nsh;
      switch (p[3]) {
        case 1: return decode_ipv4(p + hlen, len - hlen, packet, out);
        case 2: return decode_ipv6(p + hlen, len - hlen, packet, out);
        case 3: return decode_ethernet(p + hlen, len - hlen, packet, out);
        case 5: return decode_mpls(p + hlen, len - hlen, packet, out);
        default: break;
      }
      break;
    }
    default: break;
  }
  ++counters_.not_ip;
  return {DecodeStatus::not_ip, Anomaly::count};
}

DecodeResult Decoder::decode_mpls(const uint8_t* p, size_t len, const capture::Packet& packet, DecodedPacket& out) {
  ++counters_.mpls;
  for (int n = 0;; ++n) {
    if (n == kMaxMplsLabels) return fail(Anomaly::too_many_mpls_labels);
    if (len < 4) return fail(Anomaly::truncated_mpls);
    const bool bottom = (p[2] & 1) != 0;
    p += 4;
    len -= 4;
    if (bottom) break;
  }
  if (len < 1) return fail(Anomaly::truncated_mpls);
  switch (p[0] >> 4) {
    case 4: return decode_ipv4(p, len, packet, out);
    case 6: return decode_ipv6(p, len, packet, out);
    case 0:  // a pseudowire control word, then an Ethernet frame (RFC 4448)
      if (len < 4) return fail(Anomaly::truncated_mpls);
      return decode_ethernet(p + 4, len - 4, packet, out);
    default:  // a pseudowire without control word cannot be told from other payloads (as Suricata)
      ++counters_.not_ip;
      return {DecodeStatus::not_ip, Anomaly::count};
  }
}

DecodeResult Decoder::decode_ppp(const uint8_t* p, size_t len, const capture::Packet& packet, DecodedPacket& out) {
  // Address and control (0xff 0x03) may be there; the protocol may be compressed to one byte.
  if (len >= 2 && p[0] == 0xff && p[1] == 0x03) {
    p += 2;
    len -= 2;
  }
  if (len < 1) return fail(Anomaly::truncated_pppoe);
  uint16_t proto = p[0];
  if ((p[0] & 1) == 0) {
    if (len < 2) return fail(Anomaly::truncated_pppoe);
    proto = be16(p);
    p += 2;
    len -= 2;
  } else {
    p += 1;
    len -= 1;
  }
  if (proto == 0x0021) return decode_ipv4(p, len, packet, out);
  if (proto == 0x0057) return decode_ipv6(p, len, packet, out);
  ++counters_.not_ip;
  return {DecodeStatus::not_ip, Anomaly::count};
}

void Decoder::gre(const uint8_t* p, size_t len, DecodedPacket& out) {
  if (len < 4) {
    ++counters_.tunnel_unknown;
    return;
  }
  const uint16_t flags = be16(p);
  const uint16_t proto = be16(p + 2);
  const unsigned version = flags & 7u;
  size_t h = 4;
  Tunnel t;
  if (version == 0) {
    if (flags & 0x4000) {  // routing present (RFC 1701): not followed
      ++counters_.tunnel_unknown;
      return;
    }
    if (flags & 0x8000) h += 4;  // checksum and reserved
    if (flags & 0x2000) {        // key
      if (len < h + 4) {
        ++counters_.tunnel_unknown;
        return;
      }
      t.has_id = true;
      t.id = be32(p + h);
      h += 4;
    }
    if (flags & 0x1000) h += 4;  // sequence number
    t.type = TunnelType::gre;
  } else if (version == 1 && proto == kEtherPpp) {
    // PPTP's enhanced GRE (RFC 2637): key = payload length and call id; sequence and ack optional.
    if (len < 8) {
      ++counters_.tunnel_unknown;
      return;
    }
    t.has_id = true;
    t.id = be16(p + 6);
    h = 8;
    if (flags & 0x1000) h += 4;
    if (flags & 0x0080) h += 4;
    t.type = TunnelType::pptp;
    const size_t payload = be16(p + 4);
    if (payload == 0 || h > len) return;  // an acknowledgement only: nothing inside
    len = std::min(len, h + payload);
  } else {
    ++counters_.tunnel_unknown;
    return;
  }
  if (h > len) {
    ++counters_.tunnel_unknown;
    return;
  }
  t.ethertype = proto;
  switch (proto) {
    case kEtherIpv4:
    case kEtherIpv6:
    case kEtherTeb:
    case kEtherMpls:
    case kEtherMplsMulticast:
    case kEtherNsh:
    case kEtherPpp: break;
    case kEtherErspan2:
      if (!(flags & 0x1000)) {  // type I: no sequence number and no ERSPAN header
        t.type = TunnelType::erspan_i;
      } else {
        if (len < h + 8) {
          ++counters_.tunnel_unknown;
          return;
        }
        if ((p[h] >> 4) != 1) {  // ERSPAN type II is version 1
          ++counters_.tunnel_unknown;
          return;
        }
        t.type = TunnelType::erspan_ii;
        t.has_id = true;
        t.id = be16(p + h + 2) & 0x3ffu;
        h += 8;
      }
      t.ethertype = kEtherTeb;
      break;
    case kEtherErspan3: {
      if (len < h + 12) {
        ++counters_.tunnel_unknown;
        return;
      }
      t.type = TunnelType::erspan_iii;
      t.has_id = true;
      t.id = be16(p + h + 2) & 0x3ffu;
      // The frame type: 0 an Ethernet frame, 2 an IP packet; O: an 8-byte platform subheader.
      const unsigned frame_type = (p[h + 10] >> 2) & 0x1fu;
      const bool subheader = (p[h + 11] & 1) != 0;
      h += subheader ? 20 : 12;
      if (h > len || (frame_type != 0 && frame_type != 2)) {
        ++counters_.tunnel_unknown;
        return;
      }
      if (frame_type == 2) {
        if (h == len) return;
        t.ethertype = (p[h] >> 4) == 6 ? kEtherIpv6 : kEtherIpv4;
      } else {
        t.ethertype = kEtherTeb;
      }
      break;
    }
    default: ++counters_.tunnel_unknown; return;
  }
  if (h == len) return;  // nothing inside (a keepalive)
  t.inner = std::span<const uint8_t>(p + h, len - h);
  out.tunnel = t;
}

void Decoder::udp_tunnel(const uint8_t* p, size_t len, DecodedPacket& out) {
  Tunnel t;
  if (out.dst_port == kPortVxlan) {
    // Flags with I (the VNI is valid), reserved, VNI, reserved; reserved bits are not checked.
    if (len < 8 || !(p[0] & 0x08)) {
      ++counters_.tunnel_unknown;
      return;
    }
    if (len == 8) return;
    t = {TunnelType::vxlan, kEtherTeb, true, be32(p + 4) >> 8, std::span<const uint8_t>(p + 8, len - 8)};
  } else if (out.dst_port == kPortGeneve) {
    // Version 0, options length in 4-byte words, protocol type, VNI.
    if (len < 8 || (p[0] >> 6) != 0) {
      ++counters_.tunnel_unknown;
      return;
    }
    const size_t h = 8 + size_t{p[0] & 0x3fu} * 4;
    if (h >= len) {
      ++counters_.tunnel_unknown;
      return;
    }
    t = {TunnelType::geneve, be16(p + 2), true, be32(p + 4) >> 8, std::span<const uint8_t>(p + h, len - h)};
  } else if (out.src_port == kPortTeredo || out.dst_port == kPortTeredo) {
    // RFC 4380: an authentication and an origin indication may come first; then an IPv6 packet
    // whose length is the rest exactly (anything else on port 3544 is left alone).
    size_t h = 0;
    if (len >= 2 && be16(p) == 1) {
      if (len < 4) return;
      h = 4 + size_t{p[2]} + p[3] + 9;
    }
    if (len >= h + 2 && be16(p + h) == 0) h += 8;
    if (len < h + 40 || (p[h] >> 4) != 6 || 40u + be16(p + h + 4) != len - h) return;
    t = {TunnelType::teredo, kEtherIpv6, false, 0, std::span<const uint8_t>(p + h, len - h)};
  } else {
    return;
  }
  out.tunnel = t;
}

DecodeResult Decoder::decode_ip(const uint8_t* data, size_t len, const capture::Packet& packet, DecodedPacket& out) {
  if (len < 1) return fail(Anomaly::truncated_ipv4);
  uint8_t version = data[0] >> 4;
  if (version == 4) return decode_ipv4(data, len, packet, out);
  if (version == 6) return decode_ipv6(data, len, packet, out);
  return fail(Anomaly::bad_ip_version);
}

DecodeResult Decoder::decode_ipv4(const uint8_t* data, size_t len, const capture::Packet& packet,
                                  DecodedPacket& out) {
  if (len < 20) return fail(Anomaly::truncated_ipv4);
  if ((data[0] >> 4) != 4) return fail(Anomaly::bad_ip_version);
  size_t header_len = size_t{data[0] & 0x0fu} * 4;
  if (header_len < 20) return fail(Anomaly::bad_ipv4_header_length);
  if (header_len > len) return fail(Anomaly::truncated_ipv4);
  size_t total = be16(data + 2);
  if (total < header_len) return fail(Anomaly::bad_ipv4_total_length);
  if (total > len) {
    // Cut by the snapshot length: fine, we decode what we have. Otherwise the frame is shorter
    // than the IP header says.
    if (!snap_cut_) return fail(Anomaly::bad_ipv4_total_length);
    ++counters_.truncated_payload;
  }
  size_t available = std::min(total, len);  // drops Ethernet padding
  out.src = IpAddress::v4_bytes(data + 12);
  out.dst = IpAddress::v4_bytes(data + 16);
  out.ip_proto = data[9];
  out.ip_length = static_cast<uint32_t>(total);

  uint16_t frag = be16(data + 6);
  bool more = (frag & 0x2000) != 0;
  uint32_t offset = uint32_t{frag & 0x1fffu} * 8;
  if (more || offset != 0) {
    if (inside_reassembled_) return fail(Anomaly::bad_fragment);
    ++counters_.ipv4_fragments;
    if (available < total) {
      ++counters_.fragments_uncaptured;  // cannot reassemble what was not captured
      return {DecodeStatus::fragment, Anomaly::count};
    }
    FragmentKey key{out.src, out.dst, be16(data + 4), out.ip_proto, out.origin.identity};
    auto datagram = reassembly_.add(key, offset, more,
                                    std::span<const uint8_t>(data + header_len, total - header_len), packet.ts);
    if (!datagram) return {DecodeStatus::fragment, Anomaly::count};
    ++counters_.datagrams_reassembled;
    out.reassembled = true;
    out.ip_length = static_cast<uint32_t>(header_len + datagram->size());
    bool saved_cut = snap_cut_;
    snap_cut_ = false;
    auto result = decode_transport(out.ip_proto, datagram->data(), datagram->size(), out);
    snap_cut_ = saved_cut;
    return result;
  }
  return decode_transport(out.ip_proto, data + header_len, available - header_len, out);
}

DecodeResult Decoder::decode_ipv6(const uint8_t* data, size_t len, const capture::Packet& packet,
                                  DecodedPacket& out) {
  if (len < 40) return fail(Anomaly::truncated_ipv6);
  if ((data[0] >> 4) != 6) return fail(Anomaly::bad_ip_version);
  size_t total = 40 + size_t{be16(data + 4)};
  if (total > len) {
    if (!snap_cut_) return fail(Anomaly::truncated_ipv6);
    ++counters_.truncated_payload;
  }
  size_t available = std::min(total, len);
  out.src = IpAddress::v6_bytes(data + 8);
  out.dst = IpAddress::v6_bytes(data + 24);
  out.ip_length = static_cast<uint32_t>(total);

  uint8_t next = data[6];
  const uint8_t* p = data + 40;
  size_t left = available - 40;
  for (int n = 0;; ++n) {
    if (n >= kMaxIpv6Headers) return fail(Anomaly::too_many_ipv6_extensions);
    switch (next) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60: {  // destination options
        if (left < 2) return fail(Anomaly::truncated_ipv6_extension);
        size_t hlen = (size_t{p[1]} + 1) * 8;
        if (hlen > left) return fail(Anomaly::truncated_ipv6_extension);
        next = p[0];
        p += hlen;
        left -= hlen;
        continue;
      }
      case 51: {  // authentication header: length in 4-byte units, minus 2
        if (left < 2) return fail(Anomaly::truncated_ipv6_extension);
        size_t hlen = (size_t{p[1]} + 2) * 4;
        if (hlen > left) return fail(Anomaly::truncated_ipv6_extension);
        next = p[0];
        p += hlen;
        left -= hlen;
        continue;
      }
      case 44: {  // fragment
        if (left < 8) return fail(Anomaly::truncated_ipv6_extension);
        uint8_t frag_next = p[0];
        uint16_t off_flags = be16(p + 2);
        uint32_t offset = off_flags & 0xfff8u;
        bool more = (off_flags & 1u) != 0;
        uint32_t id = be32(p + 4);
        p += 8;
        left -= 8;
        next = frag_next;
        if (offset == 0 && !more) continue;  // atomic fragment (RFC 6946)
        // A fragment inside a reassembled datagram is never legitimate (RFC 8200 4.5), and its
        // bytes live in the reassembler's slot, which add() may reuse: refuse it.
        if (out.reassembled || inside_reassembled_) return fail(Anomaly::bad_fragment);
        ++counters_.ipv6_fragments;
        if (available < total) {
          ++counters_.fragments_uncaptured;
          return {DecodeStatus::fragment, Anomaly::count};
        }
        FragmentKey key{out.src, out.dst, id, frag_next, out.origin.identity};
        auto datagram = reassembly_.add(key, offset, more, std::span<const uint8_t>(p, left), packet.ts);
        if (!datagram) return {DecodeStatus::fragment, Anomaly::count};
        ++counters_.datagrams_reassembled;
        out.reassembled = true;
        out.ip_length = static_cast<uint32_t>((p - data) + datagram->size());
        p = datagram->data();
        left = datagram->size();
        snap_cut_ = false;
        continue;
      }
      case 59:  // no next header
        out.ip_proto = next;
        out.transport = Transport::other;
        ++counters_.other_transport;
        ++counters_.decoded;
        return {DecodeStatus::ok, Anomaly::count};
      default:
        out.ip_proto = next;
        return decode_transport(next, p, left, out);
    }
  }
}

DecodeResult Decoder::decode_transport(uint8_t proto, const uint8_t* data, size_t len, DecodedPacket& out) {
  out.ip_proto = proto;
  switch (proto) {
    case 6: {
      if (len < 20) return fail(Anomaly::truncated_tcp);
      size_t header_len = static_cast<size_t>(data[12] >> 4) * 4;
      if (header_len < 20) return fail(Anomaly::bad_tcp_data_offset);
      out.transport = Transport::tcp;
      out.src_port = be16(data);
      out.dst_port = be16(data + 2);
      out.tcp_flags = data[13];
      out.tcp_seq = be32(data + 4);
      out.tcp_ack = be32(data + 8);
      out.payload_cut = snap_cut_;
      if (header_len > len) {
        // Options cut by the snapshot length: ports and flags are known, the payload is not.
        if (!snap_cut_) return fail(Anomaly::truncated_tcp);
        out.payload = {};
      } else {
        out.payload = std::span<const uint8_t>(data + header_len, len - header_len);
      }
      break;
    }
    case 17: {
      if (len < 8) return fail(Anomaly::truncated_udp);
      size_t udp_len = be16(data + 4);
      if (udp_len < 8) return fail(Anomaly::bad_udp_length);
      out.transport = Transport::udp;
      out.src_port = be16(data);
      out.dst_port = be16(data + 2);
      out.payload = std::span<const uint8_t>(data + 8, std::min(len, udp_len) - 8);
      udp_tunnel(out.payload.data(), out.payload.size(), out);
      break;
    }
    case 1:
    case 58: {
      if (len < 4) return fail(proto == 1 ? Anomaly::truncated_icmp : Anomaly::truncated_icmpv6);
      out.transport = proto == 1 ? Transport::icmp : Transport::icmpv6;
      out.icmp_type = data[0];
      out.icmp_code = data[1];
      out.payload = std::span<const uint8_t>(data + 4, len - 4);
      break;
    }
    default:
      out.transport = Transport::other;
      out.payload = std::span<const uint8_t>(data, len);
      ++counters_.other_transport;
      if (proto == 47) {
        gre(data, len, out);
      } else if (proto == 4 || proto == 41) {
        const bool outer_v4 = out.src.is_v4();
        out.tunnel = {proto == 4 ? (outer_v4 ? TunnelType::ipip : TunnelType::ipv4_in_ipv6)
                                 : (outer_v4 ? TunnelType::ipv6_in_ipv4 : TunnelType::ipv6_in_ipv6),
                      proto == 4 ? kEtherIpv4 : kEtherIpv6, false, 0, out.payload};
      } else if (proto == 132 && len >= 12) {  // SCTP: its ports make its flows
        out.src_port = be16(data);
        out.dst_port = be16(data + 2);
      } else if (proto == 50 && len >= 8) {
        // ESP: one flow per security association, keyed by its SPI (carried in the port fields).
        out.src_port = be16(data);
        out.dst_port = be16(data + 2);
      }
      break;
  }
  ++counters_.decoded;
  return {DecodeStatus::ok, Anomaly::count};
}

}  // namespace vigil::agent::decode
