// Link, network and transport decoding without allocation per packet. Every length is checked
// before it is read; a malformed packet is counted by kind and reported, never trusted.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "agent/capture/packet_source.h"
#include "agent/decode/ip_reassembly.h"
#include "common/event/value.h"

namespace vigil::agent::decode {

// Kinds of malformed or unusual packets; each has a counter and a name (vigil.anomaly.type).
#define VIGIL_DECODE_ANOMALIES(X)   \
  X(unsupported_link_type)          \
  X(truncated_ethernet)             \
  X(truncated_vlan)                 \
  X(too_many_vlan_tags)             \
  X(truncated_sll)                  \
  X(truncated_sll2)                 \
  X(truncated_null)                 \
  X(bad_ip_version)                 \
  X(truncated_ipv4)                 \
  X(bad_ipv4_header_length)         \
  X(bad_ipv4_total_length)          \
  X(truncated_ipv6)                 \
  X(truncated_ipv6_extension)       \
  X(too_many_ipv6_extensions)       \
  X(bad_fragment)                   \
  X(truncated_tcp)                  \
  X(bad_tcp_data_offset)            \
  X(truncated_udp)                  \
  X(bad_udp_length)                 \
  X(truncated_icmp)                 \
  X(truncated_icmpv6)               \
  X(truncated_hdlc)                 \
  X(truncated_mpls)                 \
  X(too_many_mpls_labels)           \
  X(truncated_pppoe)                \
  X(truncated_nsh)                  \
  X(truncated_tunnel)               \
  X(tunnel_too_deep)

enum class Anomaly : uint8_t {
#define VIGIL_ANOMALY_ENUM(name) name,
  VIGIL_DECODE_ANOMALIES(VIGIL_ANOMALY_ENUM)
#undef VIGIL_ANOMALY_ENUM
      count
};
inline constexpr size_t kAnomalyCount = static_cast<size_t>(Anomaly::count);
std::string_view anomaly_name(Anomaly a);

// Encapsulations whose outer packet is a flow of its own (an IP protocol or a UDP port); the
// decoder reports the outer packet and hands the inner one out through decode_inner().
#define VIGIL_TUNNEL_TYPES(X) \
  X(none)                     \
  X(gre)                      \
  X(pptp)                     \
  X(erspan_i)                 \
  X(erspan_ii)                \
  X(erspan_iii)               \
  X(vxlan)                    \
  X(geneve)                   \
  X(teredo)                   \
  X(ipip)                     \
  X(ipv6_in_ipv4)             \
  X(ipv4_in_ipv6)             \
  X(ipv6_in_ipv6)

enum class TunnelType : uint8_t {
#define VIGIL_TUNNEL_ENUM(name) name,
  VIGIL_TUNNEL_TYPES(VIGIL_TUNNEL_ENUM)
#undef VIGIL_TUNNEL_ENUM
      count
};
inline constexpr size_t kTunnelTypeCount = static_cast<size_t>(TunnelType::count);
std::string_view tunnel_type_name(TunnelType t);  // "gre", "vxlan", "ipv6_in_ipv4"...

// Tunnels inside tunnels are followed this deep; deeper is the tunnel_too_deep anomaly.
inline constexpr uint8_t kMaxTunnelDepth = 4;

// The inner packet a packet's payload carries (set by decode() and decode_inner()).
struct Tunnel {
  TunnelType type = TunnelType::none;
  uint16_t ethertype = 0;  // what `inner` starts with: 0x0800, 0x86dd, 0x6558 (an Ethernet frame),
                           // 0x8847 (MPLS), 0x894f (NSH), 0x880b (PPP)
  bool has_id = false;
  uint32_t id = 0;  // VXLAN and Geneve VNI, GRE key, PPTP call id, ERSPAN session id
  std::span<const uint8_t> inner;
};

// The tunnel an inner packet came through: its flow names it (vigil.tunnel.*).
struct TunnelOrigin {
  TunnelType type = TunnelType::none;
  uint8_t depth = 0;  // 1 inside one tunnel, 2 inside two...
  bool has_id = false;
  uint32_t id = 0;
  IpAddress outer_src;
  IpAddress outer_dst;
  uint32_t identity = 0;  // tunnel_identity() of the above, worked out once; 0 on the wire
};

// A tunnel's identity for fragment, flow and stream keys: never 0, the same from either direction
// of the outer packets (type, depth, id and the outer ends). decode_inner() sets it in `origin`.
uint32_t tunnel_identity(const TunnelOrigin& t);

struct DecodeCounters {
  uint64_t packets = 0;        // handed to the decoder
  uint64_t decoded = 0;        // yielded an IP packet with its transport header (status ok)
  uint64_t not_ip = 0;         // ARP, LLDP and other non-IP frames
  uint64_t other_transport = 0;  // IP with a transport we do not decode (GRE, ESP, ...)
  uint64_t malformed = 0;      // sum of `anomalies`
  uint64_t ipv4_fragments = 0;
  uint64_t ipv6_fragments = 0;
  uint64_t datagrams_reassembled = 0;
  uint64_t truncated_payload = 0;  // caplen shorter than the IP length (snaplen), headers intact
  uint64_t fragments_uncaptured = 0;  // fragments cut by the snapshot length (not reassembled)
  std::array<uint64_t, kAnomalyCount> anomalies{};
  std::array<uint64_t, kTunnelTypeCount> tunnels{};  // inner packets decoded, by tunnel type
  uint64_t tunnel_unknown = 0;  // GRE, VXLAN or Geneve carrying what is not decoded (outer kept)
  uint64_t mpls = 0;            // frames that carried an MPLS label stack
  uint64_t pppoe = 0;           // PPPoE session frames
  uint64_t nsh = 0;             // NSH (network service header) frames

  uint64_t anomaly(Anomaly a) const { return anomalies[static_cast<size_t>(a)]; }
};

enum class Transport : uint8_t { other = 0, tcp, udp, icmp, icmpv6 };
std::string_view transport_name(Transport t);  // tcp udp icmp ipv6-icmp (ECS network.transport)

// TCP flag bits as in the header.
namespace tcp_flag {
inline constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20,
                         ece = 0x40, cwr = 0x80;
}

struct DecodedPacket {
  IpAddress src;
  IpAddress dst;
  uint16_t src_port = 0;  // ICMP: 0; SCTP: its ports; ESP: the SPI's high and low halves
  uint16_t dst_port = 0;
  uint8_t ip_proto = 0;
  Transport transport = Transport::other;
  uint8_t tcp_flags = 0;
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint16_t vlan_id = 0;    // innermost VLAN id, 0 when untagged
  uint16_t outer_vlan_id = 0;  // QinQ: the outer tag
  uint8_t vlan_depth = 0;
  uint32_t ip_length = 0;  // IP total length (v6: 40 + payload length) of the datagram
  std::span<const uint8_t> payload;  // transport payload, as captured (may be cut by snaplen)
  bool reassembled = false;          // came from IP fragment reassembly
  bool payload_cut = false;          // the snapshot length cut the packet: payload is incomplete
  Tunnel tunnel;                     // the payload is a tunnel: the inner packet it carries
  TunnelOrigin origin;               // an inner packet: the tunnel it came through
};

enum class DecodeStatus : uint8_t {
  ok,           // `out` holds an IP packet with a decoded transport header (or other transport)
  not_ip,       // a frame we do not look into (ARP...)
  fragment,     // an IP fragment held for reassembly (nothing to account yet)
  malformed,    // see `anomaly`
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::malformed;
  Anomaly anomaly = Anomaly::count;  // set when status == malformed
};

struct DecoderOptions {
  ReassemblyOptions reassembly;
};

class Decoder {
 public:
  explicit Decoder(DecoderOptions options = {});

  DecodeResult decode(const capture::Packet& packet, DecodedPacket& out);
  // The inner packet of `outer` (outer.tunnel.type != none), decoded as decode() does a frame;
  // call it right after decoding `outer` (fragments of the same capture share state).
  DecodeResult decode_inner(const DecodedPacket& outer, Timestamp ts, DecodedPacket& out);
  const DecodeCounters& counters() const { return counters_; }
  const ReassemblyCounters& reassembly_counters() const { return reassembly_.counters(); }

 private:
  DecodeResult fail(Anomaly a);
  // From the ethertype after a link header: VLAN tags, MPLS, PPPoE, NSH, then IPv4 or IPv6.
  DecodeResult decode_ethertype(uint16_t ethertype, const uint8_t* p, size_t len, const capture::Packet& packet,
                                DecodedPacket& out);
  DecodeResult decode_ethernet(const uint8_t* p, size_t len, const capture::Packet& packet, DecodedPacket& out);
  DecodeResult decode_mpls(const uint8_t* p, size_t len, const capture::Packet& packet, DecodedPacket& out);
  DecodeResult decode_ppp(const uint8_t* p, size_t len, const capture::Packet& packet, DecodedPacket& out);
  // The tunnel headers of GRE and of the UDP encapsulations: set out.tunnel when recognised.
  void gre(const uint8_t* p, size_t len, DecodedPacket& out);
  void udp_tunnel(const uint8_t* p, size_t len, DecodedPacket& out);
  DecodeResult decode_ip(const uint8_t* data, size_t len, const capture::Packet& packet, DecodedPacket& out);
  DecodeResult decode_ipv4(const uint8_t* data, size_t len, const capture::Packet& packet, DecodedPacket& out);
  DecodeResult decode_ipv6(const uint8_t* data, size_t len, const capture::Packet& packet, DecodedPacket& out);
  // `data`/`len`: the transport header and payload as captured.
  DecodeResult decode_transport(uint8_t proto, const uint8_t* data, size_t len, DecodedPacket& out);

  DecodeCounters counters_;
  IpReassembler reassembly_;
  bool snap_cut_ = false;  // the current packet's caplen is below its wire length
  bool inside_reassembled_ = false;  // decoding the inside of a reassembled datagram
  uint8_t link_depth_ = 0;            // link encapsulations entered for the current packet
};

}  // namespace vigil::agent::decode
