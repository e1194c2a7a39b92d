// DNS messages (RFC 1035) over UDP and TCP: the header (op code, flags, response code), the
// question and the answer section as ECS answer objects {name, type, class, ttl, data}, and the
// additional section's EDNS OPT record (the DO bit). Names follow compression pointers in either
// direction, at most 32 in one name and half the message's size in all (a loop, or a chain meant
// to cost time, is malformed), at most 255 bytes; unprintable bytes are escaped as \DDD. Records
// that are not kept are stepped over without reading their names. A fault after the answer
// section (a damaged authority or additional section) keeps the question and the answers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

enum class DnsError : uint8_t { none, short_header, bad_name, pointer_loop, truncated };
const char* dns_error_name(DnsError e);

// Where a fault was met: the sections before it were read whole.
enum class DnsSection : uint8_t { header, question, answer, authority, additional };
const char* dns_section_name(DnsSection s);

// One resource record of the answer section. `data` is the record's presentation text (zone file
// form without the trailing dot of names); `address` is set for A and AAAA.
struct DnsAnswer {
  std::string name;
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  std::string data;
  std::optional<IpAddress> address;
};

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;
  uint8_t opcode = 0;
  uint16_t rcode = 0;  // with the EDNS extended bits
  // Header flags, and DO from the OPT record's extended flags.
  bool aa = false, tc = false, rd = false, ra = false, z = false, ad = false, cd = false, do_bit = false;
  uint16_t questions = 0;
  std::string qname;  // the first question's name ("." for the root)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  std::vector<DnsAnswer> answers;  // at most 64 kept; answer_count says how many there were
  uint16_t answer_count = 0;
  DnsError error = DnsError::none;  // the fault parse_dns met, and in which section
  DnsSection error_section = DnsSection::header;
};


// Parses one DNS message; false with `error` (and out.error, out.error_section) set when it is
// malformed: what was read before the fault stays in `out`.
bool parse_dns(std::span<const uint8_t> msg, DnsMessage& out, DnsError& error);

// "A", "AAAA", "MX"... or the number.
std::string dns_type_name(uint16_t type);
// "NOERROR", "NXDOMAIN"... or the number.
std::string dns_rcode_name(uint16_t rcode);
// "QUERY", "NOTIFY", "UPDATE"... or the number.
std::string dns_opcode_name(uint8_t opcode);
// "IN", "CH", "HS", "NONE", "ANY" or "CLASS<n>".
std::string dns_class_name(uint16_t rclass);

// The network.dns event of a message (dns.type query or answer); a malformed one carries
// vigil.dns.error and vigil.dns.error_section.
Event dns_event(const DnsMessage& m, const Endpoints& ends, Timestamp ts, const std::string& host_name);

// DNS over TCP: two-byte length prefixed messages in both directions.
std::unique_ptr<StreamParser> make_dns_tcp_parser(const ParserContext& ctx);

}  // namespace vigil::agent::proto
