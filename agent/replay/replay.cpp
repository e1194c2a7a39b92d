#include "agent/replay/replay.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <memory>

#include "agent/capture/pcap_file_source.h"
#include "agent/flow/community_id.h"

namespace vigil::agent::replay {

namespace {

std::string local_host_name() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  return buf.data();
}

std::string_view proto_name(uint8_t proto) {
  switch (proto) {
    case 2: return "igmp";
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 132: return "sctp";
    default: return {};
  }
}

void set_common(Event& e, Timestamp ts, const char* kind, const char* dataset, const std::string& host) {
  e.set(fields::timestamp, ts);
  e.set(fields::event_id, new_event_id());
  e.set(fields::event_kind, kind);
  e.set(fields::event_dataset, dataset);
  e.set(fields::host_name, host);
}

Event health_event(const ReplayStats& s, const std::string& host) {
  Event e;
  set_common(e, s.packets_read ? s.last_packet : Timestamp::now(), "metric", "agent.health", host);
  auto put = [&e](std::string_view name, uint64_t v) { e.set(field(name), Value(v)); };
  put("vigil.health.capture.packets_read", s.packets_read);
  put("vigil.health.capture.bytes_read", s.bytes_read);
  put("vigil.health.capture.read_errors", s.read_errors.size());
  put("vigil.health.decode.packets", s.decode.packets);
  put("vigil.health.decode.decoded", s.decode.decoded);
  put("vigil.health.decode.not_ip", s.decode.not_ip);
  put("vigil.health.decode.other_transport", s.decode.other_transport);
  put("vigil.health.decode.truncated_payload", s.decode.truncated_payload);
  put("vigil.health.decode.malformed_total", s.decode.malformed);
  for (size_t i = 0; i < decode::kAnomalyCount; ++i) {
    auto name = decode::anomaly_name(static_cast<decode::Anomaly>(i));
    put(std::string("vigil.health.decode.malformed.") + std::string(name), s.decode.anomalies[i]);
  }
  put("vigil.health.decode.ipv4_fragments", s.decode.ipv4_fragments);
  put("vigil.health.decode.ipv6_fragments", s.decode.ipv6_fragments);
  put("vigil.health.decode.fragments_uncaptured", s.decode.fragments_uncaptured);
  put("vigil.health.reassembly.reassembled", s.reassembly.reassembled);
  put("vigil.health.reassembly.timed_out", s.reassembly.timed_out);
  put("vigil.health.reassembly.evicted", s.reassembly.evicted);
  put("vigil.health.reassembly.too_large", s.reassembly.too_large);
  put("vigil.health.reassembly.overlaps", s.reassembly.overlaps);
  put("vigil.health.flow.packets", s.flows.packets);
  put("vigil.health.flow.created", s.flows.flows_created);
  put("vigil.health.flow.ended", s.flows.flows_ended);
  put("vigil.health.flow.evicted", s.flows.evicted);
  put("vigil.health.flow.max_flows", s.flows.max_flows);
  put("vigil.health.events.flow", s.flow_events);
  put("vigil.health.events.anomaly", s.anomaly_events);
  put("vigil.health.events.anomaly_suppressed", s.anomaly_events_suppressed);
  return e;
}

struct Input {
  std::unique_ptr<capture::PcapFileSource> source;
  capture::Packet packet;
  bool has_packet = false;
};

// Moves `in` to its next packet; false at the end or on a read error (recorded).
bool fetch(Input& in, ReplayStats& stats) {
  for (;;) {
    auto status = in.source->next(in.packet);
    if (status == capture::NextStatus::packet) return in.has_packet = true;
    if (status == capture::NextStatus::timeout) continue;
    if (status == capture::NextStatus::error) stats.read_errors.push_back(in.source->error());
    return in.has_packet = false;
  }
}

}  // namespace

Event flow_event(const flow::FlowRecord& r, const std::string& host_name, uint16_t community_id_seed) {
  Event e;
  set_common(e, r.start, "event", "network.flow", host_name);
  e.set(fields::source_ip, r.src_ip);
  e.set(fields::destination_ip, r.dst_ip);
  bool has_ports = r.transport == decode::Transport::tcp || r.transport == decode::Transport::udp;
  if (has_ports) {
    e.set(fields::source_port, Value(uint32_t{r.src_port}));
    e.set(fields::destination_port, Value(uint32_t{r.dst_port}));
  }
  e.set(fields::source_bytes, Value(r.src_bytes));
  e.set(fields::source_packets, Value(r.src_packets));
  e.set(fields::destination_bytes, Value(r.dst_bytes));
  e.set(fields::destination_packets, Value(r.dst_packets));
  e.set(fields::network_bytes, Value(r.src_bytes + r.dst_bytes));
  e.set(fields::network_packets, Value(r.src_packets + r.dst_packets));
  if (r.transport != decode::Transport::other) {
    e.set(fields::network_transport, decode::transport_name(r.transport));
  } else if (auto name = proto_name(r.ip_proto); !name.empty()) {
    e.set(fields::network_transport, name);
  } else {
    e.set(fields::network_transport, std::to_string(r.ip_proto));
  }
  e.set(fields::network_community_id,
        flow::community_id_v1_mapped(r.src_ip, r.dst_ip, r.ip_proto, r.src_port, r.dst_port, r.icmp_one_way,
                                     community_id_seed));
  if (r.vlan_id != 0) e.set(fields::network_vlan_id, Value(uint32_t{r.vlan_id}));
  e.set(fields::event_start, r.start);
  e.set(fields::event_end, r.end);
  if (r.transport == decode::Transport::tcp) e.set(fields::flow_tcp_flags, flow::tcp_flags_string(r.tcp_flags));
  e.set(fields::flow_end_reason, flow::end_reason_name(r.reason));
  return e;
}

Result<ReplayStats> run_replay(const ReplayOptions& options, const EventSink& sink) {
  if (options.pcaps.empty()) return make_error("no input: give at least one --pcap FILE");
  std::vector<Input> inputs;
  inputs.reserve(options.pcaps.size());
  for (const auto& path : options.pcaps) {
    auto source = capture::PcapFileSource::open(path);
    if (!source) return make_error(source.error());
    inputs.push_back(Input{std::move(source.value()), {}, false});
  }
  const std::string host = options.host_name.empty() ? local_host_name() : options.host_name;

  ReplayStats stats;
  flow::FlowTable flows(options.flows, [&](const flow::FlowRecord& record) {
    ++stats.flow_events;
    sink(flow_event(record, host, options.community_id_seed));
  });
  decode::Decoder decoder(options.decoder);
  std::array<uint32_t, decode::kAnomalyCount> anomaly_events{};
  decode::DecodedPacket decoded;

  // Packets are merged by timestamp across inputs: a min-heap of inputs keyed by their next
  // packet's time (ties by input order).
  auto later = [&inputs](size_t a, size_t b) {
    const auto& pa = inputs[a].packet;
    const auto& pb = inputs[b].packet;
    return pa.ts != pb.ts ? pa.ts > pb.ts : a > b;
  };
  std::vector<size_t> heap;
  heap.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (fetch(inputs[i], stats)) heap.push_back(i);
  }
  std::make_heap(heap.begin(), heap.end(), later);
  bool first = true;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    size_t current = heap.back();
    heap.pop_back();
    Input* next = &inputs[current];
    const capture::Packet& packet = next->packet;
    ++stats.packets_read;
    stats.bytes_read += packet.wire_len;
    if (first) stats.first_packet = packet.ts;
    first = false;
    if (packet.ts > stats.last_packet) stats.last_packet = packet.ts;

    auto result = decoder.decode(packet, decoded);
    if (result.status == decode::DecodeStatus::ok) {
      flows.add(decoded, packet.ts, packet.wire_len);
    } else {
      flows.advance(packet.ts);
      if (result.status == decode::DecodeStatus::malformed) {
        auto& n = anomaly_events[static_cast<size_t>(result.anomaly)];
        if (n < options.anomaly_events_per_kind) {
          ++n;
          ++stats.anomaly_events;
          Event e;
          set_common(e, packet.ts, "event", "network.anomaly", host);
          e.set(fields::anomaly_type, decode::anomaly_name(result.anomaly));
          if (decoded.src != IpAddress{}) {  // the IP header was read before the fault
            e.set(fields::source_ip, decoded.src);
            e.set(fields::destination_ip, decoded.dst);
          }
          if (decoded.vlan_id != 0) e.set(fields::network_vlan_id, Value(uint32_t{decoded.vlan_id}));
          e.set(fields::message, std::string(decode::anomaly_name(result.anomaly)) + " in " + next->source->name() +
                                     " (packet " + std::to_string(next->source->stats().packets) + ", " +
                                     std::to_string(packet.caplen) + " of " + std::to_string(packet.wire_len) +
                                     " bytes captured)");
          sink(e);
        } else {
          ++stats.anomaly_events_suppressed;
        }
      }
    }
    if (fetch(*next, stats)) {
      heap.push_back(current);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
  flows.flush(flow::EndReason::end_of_input);
  stats.decode = decoder.counters();
  stats.reassembly = decoder.reassembly_counters();
  stats.flows = flows.counters();
  sink(health_event(stats, host));
  return stats;
}

}  // namespace vigil::agent::replay
