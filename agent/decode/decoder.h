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
  X(truncated_icmpv6)

enum class Anomaly : uint8_t {
#define VIGIL_ANOMALY_ENUM(name) name,
  VIGIL_DECODE_ANOMALIES(VIGIL_ANOMALY_ENUM)
#undef VIGIL_ANOMALY_ENUM
      count
};
inline constexpr size_t kAnomalyCount = static_cast<size_t>(Anomaly::count);
std::string_view anomaly_name(Anomaly a);

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
  uint16_t src_port = 0;  // ICMP: 0
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
  const DecodeCounters& counters() const { return counters_; }
  const ReassemblyCounters& reassembly_counters() const { return reassembly_.counters(); }

 private:
  DecodeResult fail(Anomaly a);
  DecodeResult decode_ip(const uint8_t* data, size_t len, const capture::Packet& packet, DecodedPacket& out);
  DecodeResult decode_ipv4(const uint8_t* data, size_t len, const capture::Packet& packet, DecodedPacket& out);
  DecodeResult decode_ipv6(const uint8_t* data, size_t len, const capture::Packet& packet, DecodedPacket& out);
  // `data`/`len`: the transport header and payload as captured.
  DecodeResult decode_transport(uint8_t proto, const uint8_t* data, size_t len, DecodedPacket& out);

  DecodeCounters counters_;
  IpReassembler reassembly_;
  bool snap_cut_ = false;  // the current packet's caplen is below its wire length
};

}  // namespace vigil::agent::decode
