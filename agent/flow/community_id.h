// Community ID v1 (https://github.com/corelight/community-id-spec): a flow hash that Zeek,
// Suricata and Elastic compute alike, so a flow can be found across tools.
#pragma once

#include <cstdint>
#include <string>

#include "common/event/value.h"

namespace vigil::agent::flow {

// The spec's "ports" for ICMP and ICMPv6: the type, and the counterpart type of a request/reply
// pair (echo request <-> reply, ...) or else the code, in which case the flow is one-way.
struct IcmpPorts {
  uint16_t sport = 0;
  uint16_t dport = 0;
  bool one_way = false;
};
IcmpPorts icmp_ports(bool v6, uint8_t type, uint8_t code);

// "1:" + base64(SHA1(seed, saddr, daddr, proto, 0, sport, dport)) with the endpoints in the
// spec's order. For ICMP (1) and ICMPv6 (58) pass the type and code as sport and dport; they
// are mapped with icmp_ports(). Protocols other than TCP, UDP, SCTP, ICMP and ICMPv6 hash no
// ports.
std::string community_id_v1(const IpAddress& saddr, const IpAddress& daddr, uint8_t proto, uint16_t sport,
                            uint16_t dport, uint16_t seed = 0);

// The same with ports already mapped (as the flow table keeps them for ICMP).
std::string community_id_v1_mapped(const IpAddress& saddr, const IpAddress& daddr, uint8_t proto, uint16_t sport,
                                   uint16_t dport, bool one_way, uint16_t seed = 0);

}  // namespace vigil::agent::flow
