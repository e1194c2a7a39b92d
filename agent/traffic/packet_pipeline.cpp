#include "agent/traffic/packet_pipeline.h"

#include <algorithm>

#include "agent/flow/community_id.h"

namespace vigil::agent::traffic {

namespace {

std::string_view proto_name(uint8_t proto) {
  switch (proto) {
    case 2: return "igmp";
    case 4: return "ipv4";   // IP in IP
    case 41: return "ipv6";  // IPv6 in IPv4 or IPv6
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 132: return "sctp";
    default: return {};
  }
}

}  // namespace

void set_common(Event& e, Timestamp ts, const char* kind, const char* dataset, const std::string& host) {
  e.set(fields::timestamp, ts);
  e.set(fields::event_id, new_event_id());
  e.set(fields::event_kind, kind);
  e.set(fields::event_dataset, dataset);
  e.set(fields::host_name, host);
}

Event flow_event(const flow::FlowRecord& r, const std::string& host_name, uint16_t community_id_seed) {
  Event e;
  e.reserve(24);
  set_common(e, r.start, "event", "network.flow", host_name);
  // Each field once, in a fresh event: add, not set (no search).
  e.add(fields::source_ip, r.src_ip);
  e.add(fields::destination_ip, r.dst_ip);
  bool has_ports = r.transport == decode::Transport::tcp || r.transport == decode::Transport::udp ||
                   r.ip_proto == 132;  // SCTP
  if (has_ports) {
    e.add(fields::source_port, Value(uint32_t{r.src_port}));
    e.add(fields::destination_port, Value(uint32_t{r.dst_port}));
  } else if (r.ip_proto == 50) {
    static const FieldId kSpi = field("vigil.esp.spi");
    e.add(kSpi, Value((uint32_t{r.src_port} << 16) | r.dst_port));
  }
  e.add(fields::source_bytes, Value(r.src_bytes));
  e.add(fields::source_packets, Value(r.src_packets));
  e.add(fields::destination_bytes, Value(r.dst_bytes));
  e.add(fields::destination_packets, Value(r.dst_packets));
  e.add(fields::network_bytes, Value(r.src_bytes + r.dst_bytes));
  e.add(fields::network_packets, Value(r.src_packets + r.dst_packets));
  if (r.transport != decode::Transport::other) {
    e.add(fields::network_transport, decode::transport_name(r.transport));
  } else if (auto name = proto_name(r.ip_proto); !name.empty()) {
    e.add(fields::network_transport, name);
  } else {
    e.add(fields::network_transport, std::to_string(r.ip_proto));
  }
  e.add(fields::network_community_id,
        flow::community_id_v1_mapped(r.src_ip, r.dst_ip, r.ip_proto, r.src_port, r.dst_port, r.icmp_one_way,
                                     community_id_seed));
  if (r.vlan_id != 0) e.add(fields::network_vlan_id, Value(uint32_t{r.vlan_id}));
  e.add(fields::event_start, r.start);
  e.add(fields::event_end, r.end);
  if (r.transport == decode::Transport::tcp) e.add(fields::flow_tcp_flags, flow::tcp_flags_string(r.tcp_flags));
  e.add(fields::flow_end_reason, flow::end_reason_name(r.reason));
  if (r.tunnel.type != decode::TunnelType::none) {
    static const FieldId kType = field("vigil.tunnel.type");
    static const FieldId kDepth = field("vigil.tunnel.depth");
    static const FieldId kId = field("vigil.tunnel.id");
    static const FieldId kOuterSource = field("vigil.tunnel.outer.source.ip");
    static const FieldId kOuterDestination = field("vigil.tunnel.outer.destination.ip");
    e.add(kType, decode::tunnel_type_name(r.tunnel.type));
    e.add(kDepth, Value(uint32_t{r.tunnel.depth}));
    if (r.tunnel.has_id) e.add(kId, Value(r.tunnel.id));
    e.add(kOuterSource, r.tunnel.outer_src);
    e.add(kOuterDestination, r.tunnel.outer_dst);
  }
  return e;
}

PacketPipeline::PacketPipeline(PipelineOptions options, EventSink sink)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      decoder_(options_.decoder),
      flows_(options_.flows, [this](const flow::FlowRecord& record) {
        ++counters_.flow_events;
        Event e = flow_event(record, options_.host_name, options_.community_id_seed);
        sink_(e);
      }),
      proto_(options_.proto, options_.host_name,
             [this](Event&& e) {
               ++counters_.protocol_events;
               sink_(e);
             }),
      streams_(options_.flows.streams, options_.protocols ? proto_.stream_callbacks() : flow::StreamCallbacks{}) {}

void PacketPipeline::packet(const capture::Packet& packet, const std::string& source, uint64_t index) {
  if (counters_.packets == 0) counters_.first_packet = packet.ts;
  ++counters_.packets;
  counters_.bytes += packet.wire_len;
  if (packet.ts > counters_.last_packet) counters_.last_packet = packet.ts;

  auto result = decoder_.decode(packet, decoded_);
  if (result.status == decode::DecodeStatus::ok) {
    account(decoded_, packet, packet.wire_len);
    // Tunnels: each inner packet in turn, while the one before carries another. An inner packet's
    // bytes are what its tunnel carried (the part cut by the snapshot length included).
    const decode::DecodedPacket* outer = &decoded_;
    const uint32_t uncaptured = packet.wire_len - std::min(packet.wire_len, packet.caplen);
    for (auto& inner : inner_) {
      if (outer->tunnel.type == decode::TunnelType::none) break;
      auto r = decoder_.decode_inner(*outer, packet.ts, inner);
      if (r.status == decode::DecodeStatus::malformed) anomaly(r.anomaly, inner, packet, source, index);
      if (r.status != decode::DecodeStatus::ok) break;
      account(inner, packet, static_cast<uint32_t>(outer->tunnel.inner.size()) + uncaptured);
      outer = &inner;
    }
    return;
  }
  flows_.advance(packet.ts);
  streams_.advance(packet.ts);
  if (result.status != decode::DecodeStatus::malformed) return;
  anomaly(result.anomaly, decoded_, packet, source, index);
}

void PacketPipeline::account(const decode::DecodedPacket& p, const capture::Packet& packet, uint32_t bytes) {
  flows_.add(p, packet.ts, bytes);
  proto_.set_time(packet.ts);
  streams_.add(p, packet.ts);
  if (options_.protocols && p.transport == decode::Transport::udp) proto_.udp(p, packet.ts);
}

void PacketPipeline::anomaly(decode::Anomaly a, const decode::DecodedPacket& p, const capture::Packet& packet,
                             const std::string& source, uint64_t index) {
  auto& n = anomaly_events_[static_cast<size_t>(a)];
  if (n >= options_.anomaly_events_per_kind) {
    ++counters_.anomaly_events_suppressed;
    return;
  }
  ++n;
  ++counters_.anomaly_events;
  Event e;
  set_common(e, packet.ts, "event", "network.anomaly", options_.host_name);
  e.set(fields::anomaly_type, decode::anomaly_name(a));
  if (p.src != IpAddress{}) {  // the IP header was read before the fault
    e.set(fields::source_ip, p.src);
    e.set(fields::destination_ip, p.dst);
  }
  if (p.vlan_id != 0) e.set(fields::network_vlan_id, Value(uint32_t{p.vlan_id}));
  if (p.origin.type != decode::TunnelType::none) {
    e.set(field_id<"vigil.tunnel.type">(), decode::tunnel_type_name(p.origin.type));
    e.set(field_id<"vigil.tunnel.depth">(), Value(uint32_t{p.origin.depth}));
  }
  e.set(fields::message, std::string(decode::anomaly_name(a)) + " in " + source + " (packet " +
                             std::to_string(index) + ", " + std::to_string(packet.caplen) + " of " +
                             std::to_string(packet.wire_len) + " bytes captured)");
  sink_(e);
}

void PacketPipeline::put_health(Event& e) const {
  auto put = [&e](std::string_view name, uint64_t v) { e.set(field(name), Value(v)); };
  const auto& d = decoder_.counters();
  const auto& r = decoder_.reassembly_counters();
  const auto& f = flows_.counters();
  put("vigil.health.decode.packets", d.packets);
  put("vigil.health.decode.decoded", d.decoded);
  put("vigil.health.decode.not_ip", d.not_ip);
  put("vigil.health.decode.other_transport", d.other_transport);
  put("vigil.health.decode.truncated_payload", d.truncated_payload);
  put("vigil.health.decode.malformed_total", d.malformed);
  for (size_t i = 0; i < decode::kAnomalyCount; ++i) {
    auto name = decode::anomaly_name(static_cast<decode::Anomaly>(i));
    put(std::string("vigil.health.decode.malformed.") + std::string(name), d.anomalies[i]);
  }
  put("vigil.health.decode.ipv4_fragments", d.ipv4_fragments);
  put("vigil.health.decode.ipv6_fragments", d.ipv6_fragments);
  put("vigil.health.decode.fragments_uncaptured", d.fragments_uncaptured);
  for (size_t i = 1; i < decode::kTunnelTypeCount; ++i) {
    auto name = decode::tunnel_type_name(static_cast<decode::TunnelType>(i));
    put(std::string("vigil.health.decode.tunnel.") + std::string(name), d.tunnels[i]);
  }
  put("vigil.health.decode.tunnel_unknown", d.tunnel_unknown);
  put("vigil.health.decode.mpls", d.mpls);
  put("vigil.health.decode.pppoe", d.pppoe);
  put("vigil.health.decode.nsh", d.nsh);
  put("vigil.health.reassembly.reassembled", r.reassembled);
  put("vigil.health.reassembly.timed_out", r.timed_out);
  put("vigil.health.reassembly.evicted", r.evicted);
  put("vigil.health.reassembly.too_large", r.too_large);
  put("vigil.health.reassembly.overlaps", r.overlaps);
  put("vigil.health.flow.packets", f.packets);
  put("vigil.health.flow.created", f.flows_created);
  put("vigil.health.flow.ended", f.flows_ended);
  put("vigil.health.flow.evicted", f.evicted);
  put("vigil.health.flow.late_packets", f.late_packets);
  put("vigil.health.flow.reused", f.reused);
  put("vigil.health.flow.max_flows", f.max_flows);
  const auto& st = streams_.counters();
  put("vigil.health.stream.created", st.streams_created);
  put("vigil.health.stream.evicted", st.streams_evicted);
  put("vigil.health.stream.active", st.active);
  put("vigil.health.stream.midstream", st.midstream);
  put("vigil.health.stream.late_packets", st.late_packets);
  put("vigil.health.stream.reused", st.reused);
  put("vigil.health.stream.rst_ignored", st.rst_ignored);
  put("vigil.health.stream.closed", st.closed);
  put("vigil.health.stream.bytes", st.bytes_delivered);
  put("vigil.health.stream.retransmitted_bytes", st.bytes_retransmitted);
  put("vigil.health.stream.gaps", st.gaps);
  put("vigil.health.stream.gap_bytes", st.gap_bytes);
  put("vigil.health.stream.window_overflows", st.window_overflows);
  put("vigil.health.stream.memory_overflows", st.memory_overflows);
  put("vigil.health.stream.segments_cut", st.segments_cut);
  put("vigil.health.stream.memory", st.memory);
  const auto& pc = proto_.counters();
  put("vigil.health.proto.dns_messages", pc.dns_messages);
  put("vigil.health.proto.dns_malformed", pc.dns_malformed);
  put("vigil.health.proto.tls_handshakes", pc.tls_handshakes);
  put("vigil.health.proto.tls_gave_up", pc.tls_gave_up);
  put("vigil.health.proto.http_transactions", pc.http_transactions);
  put("vigil.health.proto.http_gave_up", pc.http_gave_up);
  put("vigil.health.proto.ssh_sessions", pc.ssh_sessions);
  put("vigil.health.proto.ssh_gave_up", pc.ssh_gave_up);
  put("vigil.health.proto.streams_unknown", pc.streams_unknown);
  put("vigil.health.proto.tls_upgrades", pc.tls_upgrades);
  put("vigil.health.proto.parser_faults", pc.parser_faults);
  put("vigil.health.events.protocol", counters_.protocol_events);
  put("vigil.health.events.flow", counters_.flow_events);
  put("vigil.health.events.anomaly", counters_.anomaly_events);
  put("vigil.health.events.anomaly_suppressed", counters_.anomaly_events_suppressed);
}

}  // namespace vigil::agent::traffic
