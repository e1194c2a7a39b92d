// DNS messages (RFC 1035) over UDP and TCP: the question, the response code and the answer
// section's data. Names are decoded with compression pointers followed backwards only and at most
// 128 hops (loops are malformed), at most 255 bytes; unprintable bytes are escaped as \DDD.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;
  uint8_t opcode = 0;
  uint8_t rcode = 0;
  uint16_t questions = 0;
  std::string qname;         // the first question's name ("." for the root)
  uint16_t qtype = 0;
  std::vector<std::string> answers;  // the answer section's data: addresses, names, text
};

enum class DnsError : uint8_t { none, short_header, bad_name, pointer_loop, truncated };
const char* dns_error_name(DnsError e);

// Parses one DNS message; false with `error` set when it is malformed (what was read before the
// fault stays in `out`).
bool parse_dns(std::span<const uint8_t> msg, DnsMessage& out, DnsError& error);

// "A", "AAAA", "MX"... or the number.
std::string dns_type_name(uint16_t type);
// "NOERROR", "NXDOMAIN"... or the number.
std::string dns_rcode_name(uint8_t rcode);

// The network.dns event of a message (dns.type query or answer).
Event dns_event(const DnsMessage& m, const Endpoints& ends, Timestamp ts, const std::string& host_name);

// DNS over TCP: two-byte length prefixed messages in both directions.
std::unique_ptr<StreamParser> make_dns_tcp_parser(const ParserContext& ctx);

}  // namespace vigil::agent::proto
