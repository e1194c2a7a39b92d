// libFuzzer target for the protocol parsers. The first byte picks the parser (0 DNS over UDP,
// 1 TLS, 2 HTTP, 3 SSH, 4 DNS over TCP); for the stream parsers the rest is a run of records
// [direction][length][bytes...] fed in order, with direction bit 0x80 meaning "a gap of length
// bytes" instead. A small buffer cap makes the give-up paths run.
#include <cstddef>
#include <cstdint>

#include "agent/proto/dns.h"
#include "agent/proto/http.h"
#include "agent/proto/ssh.h"
#include "agent/proto/tls.h"

using namespace vigil::agent;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t which = data[0] % 5;
  std::span<const uint8_t> rest(data + 1, size - 1);
  if (which == 0) {
    proto::DnsMessage m;
    proto::DnsError err;
    (void)proto::parse_dns(rest, m, err);
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
  std::unique_ptr<proto::StreamParser> p;
  switch (which) {
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
