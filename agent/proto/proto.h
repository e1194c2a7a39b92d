// Application-protocol metadata from reassembled TCP streams and UDP datagrams: DNS, TLS, HTTP
// and SSH (shared/DESIGN.md, "Events": network.dns, network.tls, network.http, network.ssh).
// Parsers see hostile input: every length is checked before it is read, every buffer has a cap,
// and what a parser gives up on is counted.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "agent/flow/tcp_reassembly.h"
#include "common/event/event.h"

namespace vigil::agent::proto {

// The two ends of a conversation: the client started it.
struct Endpoints {
  IpAddress client_ip;
  IpAddress server_ip;
  uint16_t client_port = 0;
  uint16_t server_port = 0;
  uint16_t vlan = 0;
  uint8_t ip_proto = 6;
};

using EventSink = std::function<void(Event&&)>;

struct ProtoCounters {
  uint64_t dns_messages = 0;
  uint64_t dns_malformed = 0;
  uint64_t tls_handshakes = 0;
  uint64_t tls_gave_up = 0;      // malformed records or handshakes over the buffer cap
  uint64_t http_transactions = 0;
  uint64_t http_gave_up = 0;     // malformed messages, headers over the cap, gaps
  uint64_t ssh_sessions = 0;
  uint64_t ssh_gave_up = 0;
  uint64_t streams_unknown = 0;  // TCP streams none of the parsers recognised
  uint64_t tls_upgrades = 0;     // plain-text starts that turned into TLS (STARTTLS, CONNECT, 101)
  uint64_t parser_faults = 0;    // a parser failed unexpectedly: that stream (or datagram) was dropped
};

struct ProtoOptions {
  size_t max_buffer = 16 * 1024;  // bytes a parser holds per direction (headers, a handshake)
};

// An event of `dataset` about `ends` at `ts`: @timestamp, event.kind, source/destination,
// network.transport, network.protocol, network.community_id, host.name.
Event protocol_event(const char* dataset, const char* protocol, const Endpoints& ends, Timestamp ts,
                     const std::string& host_name);

// One TCP connection's parser, fed both directions in order.
class StreamParser {
 public:
  virtual ~StreamParser() = default;
  virtual void data(flow::StreamDir dir, std::span<const uint8_t> bytes, Timestamp ts) = 0;
  // Bytes that were never seen: most parsers cannot resynchronise and stop.
  virtual void gap(flow::StreamDir dir, uint64_t bytes) = 0;
  // The connection ended: emit what is pending.
  virtual void end(Timestamp ts) = 0;
};

struct ParserContext {
  Endpoints ends;
  const std::string* host_name = nullptr;
  const EventSink* sink = nullptr;
  ProtoCounters* counters = nullptr;
  const ProtoOptions* options = nullptr;
};

}  // namespace vigil::agent::proto
