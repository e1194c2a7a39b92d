#include "agent/decode/decoder.h"

#include <pcap/dlt.h>

#include <algorithm>

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

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr int kMaxVlanTags = 4;
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

}  // namespace

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
  const uint8_t* p = packet.data;
  size_t len = packet.caplen;
  uint16_t ethertype = 0;

  switch (packet.link_type) {
    case kDltEthernet:
      if (len < 14) return fail(Anomaly::truncated_ethernet);
      ethertype = be16(p + 12);
      p += 14;
      len -= 14;
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
  if (ethertype == kEtherIpv4) return decode_ipv4(p, len, packet, out);
  if (ethertype == kEtherIpv6) return decode_ipv6(p, len, packet, out);
  ++counters_.not_ip;
  return {DecodeStatus::not_ip, Anomaly::count};
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
    ++counters_.ipv4_fragments;
    if (available < total) {
      ++counters_.fragments_uncaptured;  // cannot reassemble what was not captured
      return {DecodeStatus::fragment, Anomaly::count};
    }
    FragmentKey key{out.src, out.dst, be16(data + 4), out.ip_proto};
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
        if (out.reassembled) return fail(Anomaly::bad_fragment);
        ++counters_.ipv6_fragments;
        if (available < total) {
          ++counters_.fragments_uncaptured;
          return {DecodeStatus::fragment, Anomaly::count};
        }
        FragmentKey key{out.src, out.dst, id, frag_next};
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
      break;
  }
  ++counters_.decoded;
  return {DecodeStatus::ok, Anomaly::count};
}

}  // namespace vigil::agent::decode
