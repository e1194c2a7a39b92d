// libFuzzer target for the protocol parsers. The first byte picks the parser (0 DNS over UDP,
// 1 TLS, 2 HTTP, 3 SSH, 4 DNS over TCP, 5 the STARTTLS watcher of the kind the next byte names,
// 6 the dispatcher itself: detection, held bytes, hand-over); for the stream parsers the rest is
// a run of records [direction][length][bytes...] fed in order, with direction bit 0x80 meaning "a
// gap of length bytes" instead. A small buffer cap makes the give-up paths run.
#include <cstddef>
#include <cstdint>

#include "agent/proto/dispatcher.h"
#include "agent/proto/dns.h"
#include "agent/proto/http.h"
#include "agent/proto/ssh.h"
#include "agent/proto/starttls.h"
#include "agent/proto/tls.h"

using namespace vigil::agent;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t which = data[0] % 7;
  std::span<const uint8_t> rest(data + 1, size - 1);
  if (which == 0) {
    proto::DnsMessage m;
    proto::DnsError err;
    (void)proto::parse_dns(rest, m, err);
    // The event of whatever was read: answer objects, flags, the error and its section.
    proto::Endpoints ends{vigil::IpAddress::v4(0x0a000001), vigil::IpAddress::v4(0x0a000035), 40000, 53, 0, 17};
    (void)proto::dns_event(m, ends, vigil::Timestamp{1}, "fuzz");
    return 0;
  }
  proto::ProtoCounters counters;
  proto::ProtoOptions options;
  options.max_buffer = 2048;
  std::string host = "fuzz";
  size_t events = 0;
  proto::EventSink sink = [&events](vigil::Event&&) { ++events; };
  proto::ParserContext ctx;
  ctx.ends = {vigil::IpAddress::v4(0x0a000001), vigil::IpAddress::v4(0x0a000002), 40000, 443, 0, 6};
  ctx.host_name = &host;
  ctx.sink = &sink;
  ctx.counters = &counters;
  ctx.options = &options;
  if (which == 6) {
    proto::Dispatcher dispatcher(options, host, sink);
    auto cb = dispatcher.stream_callbacks();
    const flow::StreamKey key{vigil::IpAddress::v4(0x0a000001), vigil::IpAddress::v4(0x0a000002), 40000, 25, 0};
    uint64_t offsets[2] = {0, 0};
    size_t i = 0;
    while (i + 2 <= rest.size()) {
      const uint8_t dir = rest[i];
      size_t len = rest[i + 1];
      i += 2;
      const auto d = (dir & 1) ? flow::StreamDir::to_client : flow::StreamDir::to_server;
      uint64_t& off = offsets[dir & 1];
      if (dir & 0x80) {
        cb.gap(key, d, off, len);
        off += len;
        continue;
      }
      len = std::min(len, rest.size() - i);
      cb.data(key, d, off, rest.subspan(i, len));
      off += len;
      i += len;
    }
    cb.end(key, flow::StreamEnd::fin);
    return 0;
  }
  std::unique_ptr<proto::StreamParser> p;
  if (which == 5) {
    if (rest.empty()) return 0;
    const auto kind = static_cast<proto::StartTlsKind>(rest[0] % 5);
    rest = rest.subspan(1);
    p = proto::make_starttls_parser(ctx, kind);
  }
  switch (p ? 0xff : which) {
    case 0xff: break;
    case 1: p = proto::make_tls_parser(ctx); break;
    case 2: p = proto::make_http_parser(ctx); break;
    case 3: p = proto::make_ssh_parser(ctx); break;
    default: p = proto::make_dns_tcp_parser(ctx); break;
  }
  vigil::Timestamp ts{1'000'000'000};
  size_t i = 0;
  while (i + 2 <= rest.size()) {
    const uint8_t dir = rest[i];
    size_t len = rest[i + 1];
    i += 2;
    auto d = (dir & 1) ? flow::StreamDir::to_client : flow::StreamDir::to_server;
    if (dir & 0x80) {
      p->gap(d, len);
      continue;
    }
    len = std::min(len, rest.size() - i);
    p->data(d, rest.subspan(i, len), ts);
    i += len;
  }
  p->end(ts);
  // Direct entry points too, on the whole input.
  proto::ClientHello ch;
  proto::ServerHello sh;
  proto::KexInit kex;
  (void)proto::parse_client_hello(rest, ch);
  (void)proto::parse_server_hello(rest, sh);
  (void)proto::parse_kexinit(rest, kex);
  return 0;
}
