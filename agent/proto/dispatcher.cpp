#include "agent/proto/dispatcher.h"

#include <cstring>

#include "agent/flow/community_id.h"
#include "agent/proto/dns.h"
#include "agent/proto/http.h"
#include "agent/proto/ssh.h"
#include "agent/proto/tls.h"

namespace vigil::agent::proto {

namespace {
constexpr size_t kDetectBytes = 8;  // enough for "SSH-", a TLS record header, "OPTIONS "
}

Event protocol_event(const char* dataset, const char* protocol, const Endpoints& ends, Timestamp ts,
                     const std::string& host_name) {
  Event e;
  e.set(fields::timestamp, ts);
  e.set(fields::event_id, new_event_id());
  e.set(fields::event_kind, "event");
  e.set(fields::event_dataset, dataset);
  if (!host_name.empty()) e.set(fields::host_name, host_name);
  e.set(fields::source_ip, ends.client_ip);
  e.set(fields::source_port, int64_t{ends.client_port});
  e.set(fields::destination_ip, ends.server_ip);
  e.set(fields::destination_port, int64_t{ends.server_port});
  e.set(fields::network_transport, std::string(ends.ip_proto == 17 ? "udp" : "tcp"));
  e.set(field("network.protocol"), std::string(protocol));
  if (ends.vlan) e.set(fields::network_vlan_id, Value(uint32_t{ends.vlan}));
  e.set(fields::network_community_id, flow::community_id_v1(ends.client_ip, ends.server_ip, ends.ip_proto,
                                                            ends.client_port, ends.server_port));
  return e;
}

Dispatcher::Dispatcher(ProtoOptions options, std::string host_name, EventSink sink)
    : options_(options), host_name_(std::move(host_name)), sink_(std::move(sink)) {}

Dispatcher::~Dispatcher() = default;

flow::StreamCallbacks Dispatcher::stream_callbacks() {
  return {[this](const flow::StreamKey& k, flow::StreamDir d, uint64_t, std::span<const uint8_t> b) { data(k, d, b); },
          [this](const flow::StreamKey& k, flow::StreamDir d, uint64_t, uint64_t n) { gap(k, d, n); },
          [this](const flow::StreamKey& k, flow::StreamEnd) { end(k); }};
}

bool Dispatcher::detect(Entry& e, const flow::StreamKey& key) {
  const auto& c = e.head[0];
  const auto& s = e.head[1];
  auto bytes = [](const std::string& x) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(x.data()), x.size());
  };
  auto ready = [](const std::string& x) { return x.size() >= 4; };
  if ((ready(c) && c.starts_with("SSH-")) || (ready(s) && s.starts_with("SSH-"))) {
    e.parser = make_ssh_parser(e.ctx);
  } else if (ready(c) && c[0] == 0x16 && c[1] == 0x03 && static_cast<uint8_t>(c[2]) <= 0x04) {
    e.parser = make_tls_parser(e.ctx);
  } else if ((c.size() >= kDetectBytes || (!c.empty() && c.find(' ') != std::string::npos)) &&
             looks_like_http_request(bytes(c))) {
    e.parser = make_http_parser(e.ctx);
  } else if (ready(s) && s.starts_with("HTTP/1.")) {
    e.parser = make_http_parser(e.ctx);
  } else if (key.server_port == 53 && (c.size() >= 2 || s.size() >= 2)) {
    e.parser = make_dns_tcp_parser(e.ctx);
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
  auto& head = e.head[static_cast<int>(dir)];
  if (head.size() == kDetectBytes + 1) return;  // decided: nothing we know
  size_t take = std::min(b.size(), kDetectBytes - std::min(head.size(), kDetectBytes));
  head.append(reinterpret_cast<const char*>(b.data()), take);
  if (detect(e, key)) {
    // Replay what was held for detection, then the rest of this chunk.
    for (int d = 0; d < 2; ++d) {
      auto& h = e.head[d];
      if (d == static_cast<int>(dir)) continue;
      if (!h.empty()) e.parser->data(static_cast<flow::StreamDir>(d), std::span<const uint8_t>(
                                                                      reinterpret_cast<const uint8_t*>(h.data()), h.size()), now_);
    }
    auto& mine = e.head[static_cast<int>(dir)];
    std::string held = std::move(mine);
    held.append(reinterpret_cast<const char*>(b.data()) + take, b.size() - take);
    e.parser->data(dir, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(held.data()), held.size()), now_);
    e.head[0].clear();
    e.head[1].clear();
    return;
  }
  if (head.size() >= kDetectBytes && e.head[1 - static_cast<int>(dir)].size() >= kDetectBytes) {
    ++counters_.streams_unknown;
    e.head[0].assign(kDetectBytes + 1, '\0');  // marks both sides decided
    e.head[1].assign(kDetectBytes + 1, '\0');
  } else if (head.size() >= kDetectBytes && !b.empty() && take < b.size()) {
    // This side said enough and is not known; give up on it (the other side may still decide).
    if (e.head[1 - static_cast<int>(dir)].empty()) {
      ++counters_.streams_unknown;
      e.head[0].assign(kDetectBytes + 1, '\0');
      e.head[1].assign(kDetectBytes + 1, '\0');
    }
  }
}

void Dispatcher::gap(const flow::StreamKey& key, flow::StreamDir dir, uint64_t bytes) {
  auto it = parsers_.find(key);
  if (it == parsers_.end()) return;
  if (it->second.parser) {
    it->second.parser->gap(dir, bytes);
  } else {
    // Undecided and bytes lost: the start is gone, so is detection.
    it->second.head[0].assign(kDetectBytes + 1, '\0');
    it->second.head[1].assign(kDetectBytes + 1, '\0');
  }
}

void Dispatcher::end(const flow::StreamKey& key) {
  auto it = parsers_.find(key);
  if (it == parsers_.end()) return;
  if (it->second.parser) it->second.parser->end(now_);
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
  if (!ok) e.set(field("vigil.dns.error"), std::string(dns_error_name(err)));
  sink_(std::move(e));
}

}  // namespace vigil::agent::proto
