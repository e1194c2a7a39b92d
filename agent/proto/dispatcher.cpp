#include "agent/proto/dispatcher.h"

#include <cstring>

#include "agent/flow/community_id.h"
#include "agent/proto/dns.h"
#include "agent/proto/http.h"
#include "agent/proto/ssh.h"
#include "agent/proto/starttls.h"
#include "agent/proto/tls.h"

namespace vigil::agent::proto {

namespace {

constexpr size_t kDetectBytes = 8;  // enough for "SSH-", a TLS record header, "OPTIONS "
constexpr size_t kHoldBytes = 256;  // held per side while undecided: room for lines before "SSH-"

std::span<const uint8_t> bytes_of(const std::string& x) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(x.data()), x.size());
}

// An SSLv2-format record (2-byte header, high bit set) carrying a CLIENT-HELLO (type 1) of SSL 2
// or of TLS 1.0-1.3 (RFC 5246 E.2).
bool sslv2_client_hello(std::string_view c) {
  if (c.size() < 5) return false;
  auto u = [&](size_t i) { return static_cast<uint8_t>(c[i]); };
  const size_t len = (size_t{u(0) & 0x7fu} << 8) | u(1);
  return (u(0) & 0x80) && len >= 9 && u(2) == 1 && ((u(3) == 3 && u(4) <= 4) || (u(3) == 0 && u(4) == 2));
}

}  // namespace

Event protocol_event(const char* dataset, const char* protocol, const Endpoints& ends, Timestamp ts,
                     const std::string& host_name) {
  Event e;
  // Room for the parsers' fields too (a DNS answer has some 30): the vector is not grown and its
  // values moved four times per event.
  e.reserve(32);
  // Each field once, in a fresh event: add, not set (no search).
  e.add(fields::timestamp, ts);
  e.add(fields::event_id, new_event_id());
  e.add(fields::event_kind, "event");
  e.add(fields::event_dataset, dataset);
  if (!host_name.empty()) e.add(fields::host_name, host_name);
  e.add(fields::source_ip, ends.client_ip);
  e.add(fields::source_port, int64_t{ends.client_port});
  e.add(fields::destination_ip, ends.server_ip);
  e.add(fields::destination_port, int64_t{ends.server_port});
  e.add(fields::network_transport, std::string(ends.ip_proto == 17 ? "udp" : "tcp"));
  e.add(fields::network_protocol, std::string(protocol));
  if (ends.vlan) e.add(fields::network_vlan_id, Value(uint32_t{ends.vlan}));
  e.add(fields::network_community_id, flow::community_id_v1(ends.client_ip, ends.server_ip, ends.ip_proto,
                                                            ends.client_port, ends.server_port));
  return e;
}

Dispatcher::Dispatcher(ProtoOptions options, std::string host_name, EventSink sink)
    : options_(options), host_name_(std::move(host_name)), sink_(std::move(sink)) {}

Dispatcher::~Dispatcher() = default;

flow::StreamCallbacks Dispatcher::stream_callbacks() {
  return {[this](const flow::StreamKey& k, flow::StreamDir d, uint64_t, std::span<const uint8_t> b) {
            guarded(k, false, [&] { data(k, d, b); });
          },
          [this](const flow::StreamKey& k, flow::StreamDir d, uint64_t, uint64_t n) {
            guarded(k, false, [&] { gap(k, d, n); });
          },
          [this](const flow::StreamKey& k, flow::StreamEnd) { guarded(k, true, [&] { end(k); }); }};
}

template <typename F>
void Dispatcher::guarded(const flow::StreamKey& key, bool ending, F&& f) {
  try {
    f();
  } catch (const std::exception&) {
    // A parser fault costs its own stream only: the stream is ignored from then on.
    ++counters_.parser_faults;
    auto it = parsers_.find(key);
    if (it == parsers_.end()) return;
    if (ending) {
      parsers_.erase(it);
      return;
    }
    it->second.parser.reset();
    it->second.unknown = true;
    std::string().swap(it->second.head[0]);
    std::string().swap(it->second.head[1]);
  }
}

bool Dispatcher::detect(Entry& e, const flow::StreamKey& key) {
  // Content checks look at the first kDetectBytes; only the search for a late SSH banner at more.
  const std::string_view c = std::string_view(e.head[0]).substr(0, kDetectBytes);
  const std::string_view s = std::string_view(e.head[1]).substr(0, kDetectBytes);
  auto ready = [](std::string_view x) { return x.size() >= 4; };
  if ((ready(c) && c.starts_with("SSH-")) || (ready(s) && s.starts_with("SSH-"))) {
    e.parser = make_ssh_parser(e.ctx);
  } else if (ready(c) && c[0] == 0x16 && c[1] == 0x03 && static_cast<uint8_t>(c[2]) <= 0x04) {
    e.parser = make_tls_parser(e.ctx);
  } else if (sslv2_client_hello(c)) {
    e.parser = make_tls_parser(e.ctx);
  } else if ((c.size() >= kDetectBytes || (!c.empty() && c.find(' ') != std::string::npos)) &&
             looks_like_http_request(bytes_of(e.head[0]).first(c.size()))) {
    e.parser = make_http_parser(e.ctx);
  } else if (ready(s) && s.starts_with("HTTP/1.")) {
    e.parser = make_http_parser(e.ctx);
  } else if (key.server_port == 53 && (c.size() >= 2 || s.size() >= 2)) {
    e.parser = make_dns_tcp_parser(e.ctx);
  } else if (auto kind = starttls_kind(c, s)) {
    e.parser = make_starttls_parser(e.ctx, *kind);
  } else if (c.empty() && e.head[1].find("\nSSH-") != std::string::npos) {
    // RFC 4253 4.2: a server may send other lines before its identification string.
    e.parser = make_ssh_parser(e.ctx);
  } else {
    return false;
  }
  return true;
}

void Dispatcher::data(const flow::StreamKey& key, flow::StreamDir dir, std::span<const uint8_t> b) {
  auto it = parsers_.find(key);
  if (it == parsers_.end()) {
    Entry e;
    e.ctx.ends = {key.client_ip, key.server_ip, key.client_port, key.server_port, key.vlan, 6};
    it = parsers_.emplace(key, std::move(e)).first;
    // The context points into the map's node, which does not move.
    it->second.ctx.host_name = &host_name_;
    it->second.ctx.sink = &sink_;
    it->second.ctx.counters = &counters_;
    it->second.ctx.options = &options_;
  }
  Entry& e = it->second;
  if (e.parser) {
    e.parser->data(dir, b, now_);
    return;
  }
  if (e.unknown) return;
  const int d = static_cast<int>(dir);
  auto& head = e.head[d];
  // Held bytes stay contiguous: once some were dropped, nothing more is held.
  const size_t take = e.dropped[d] ? 0 : std::min(b.size(), kHoldBytes - head.size());
  head.append(reinterpret_cast<const char*>(b.data()), take);
  if (detect(e, key)) {
    // Replay what was held for detection, the other side's first, then the rest of this chunk.
    for (int side : {1 - d, d}) {
      const auto sd = static_cast<flow::StreamDir>(side);
      if (!e.head[side].empty()) e.parser->data(sd, bytes_of(e.head[side]), now_);
      if (e.dropped[side]) e.parser->gap(sd, e.dropped[side]);
    }
    if (!e.dropped[d] && take < b.size()) e.parser->data(dir, b.subspan(take), now_);
    std::string().swap(e.head[0]);
    std::string().swap(e.head[1]);
    return;
  }
  e.dropped[d] += b.size() - take;
  if (e.head[0].size() >= kDetectBytes && e.head[1].size() >= kDetectBytes) {
    // Both sides said enough and neither is known.
    ++counters_.streams_unknown;
    e.unknown = true;
    std::string().swap(e.head[0]);
    std::string().swap(e.head[1]);
  }
}

void Dispatcher::gap(const flow::StreamKey& key, flow::StreamDir dir, uint64_t bytes) {
  auto it = parsers_.find(key);
  if (it == parsers_.end()) return;
  Entry& e = it->second;
  if (e.parser) {
    e.parser->gap(dir, bytes);
  } else {
    // Undecided and bytes lost: the start is gone, so is detection.
    e.unknown = true;
    std::string().swap(e.head[0]);
    std::string().swap(e.head[1]);
  }
}

void Dispatcher::end(const flow::StreamKey& key) {
  auto it = parsers_.find(key);
  if (it == parsers_.end()) return;
  Entry& e = it->second;
  if (e.parser) {
    e.parser->end(now_);
  } else if (!e.unknown && (!e.head[0].empty() || !e.head[1].empty())) {
    ++counters_.streams_unknown;  // only one side spoke, and not enough to tell
  }
  parsers_.erase(it);
}

void Dispatcher::udp(const decode::DecodedPacket& p, Timestamp ts) {
  const bool to_dns = p.dst_port == 53 || p.dst_port == 5353;
  const bool from_dns = p.src_port == 53 || p.src_port == 5353;
  if (!to_dns && !from_dns) return;
  if (p.payload_cut || p.payload.size() < 12) {
    ++counters_.dns_malformed;
    return;
  }
  try {
    dns_datagram(p, ts);
  } catch (const std::exception&) {
    ++counters_.parser_faults;
  }
}

void Dispatcher::dns_datagram(const decode::DecodedPacket& p, Timestamp ts) {
  DnsMessage m;
  DnsError err = DnsError::none;
  const bool ok = parse_dns(p.payload, m, err);
  // The querier is the client whichever way this datagram goes.
  Endpoints ends = m.response ? Endpoints{p.dst, p.src, p.dst_port, p.src_port, p.vlan_id, 17}
                              : Endpoints{p.src, p.dst, p.src_port, p.dst_port, p.vlan_id, 17};
  if (ok) {
    ++counters_.dns_messages;
  } else {
    ++counters_.dns_malformed;
  }
  Event e = dns_event(m, ends, ts, host_name_);
  sink_(std::move(e));
}

}  // namespace vigil::agent::proto
