#include "agent/replay/replay.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <memory>

#include "agent/capture/pcap_file_source.h"
#include "common/util/host.h"

namespace vigil::agent::replay {

namespace {

Event health_event(const ReplayStats& s, const traffic::PacketPipeline& pipeline, const std::string& host) {
  Event e;
  traffic::set_common(e, s.packets_read ? s.last_packet : Timestamp::now(), "metric", "agent.health", host);
  auto put = [&e](std::string_view name, uint64_t v) { e.set(field(name), Value(v)); };
  put("vigil.health.capture.packets_read", s.packets_read);
  put("vigil.health.capture.bytes_read", s.bytes_read);
  put("vigil.health.capture.read_errors", s.read_errors.size());
  pipeline.put_health(e);
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

Result<ReplayStats> run_replay(const ReplayOptions& options, const EventSink& sink) {
  if (options.pcaps.empty()) return make_error("no input: give at least one --pcap FILE");
  std::vector<Input> inputs;
  inputs.reserve(options.pcaps.size());
  for (const auto& path : options.pcaps) {
    auto source = capture::PcapFileSource::open(path);
    if (!source) return make_error(source.error());
    inputs.push_back(Input{std::move(source.value()), {}, false});
  }
  std::string host = options.host_name.empty() ? local_host_name() : options.host_name;
  if (host.empty()) host = "localhost";

  ReplayStats stats;
  traffic::PipelineOptions po;
  po.host_name = host;
  po.flows = options.flows;
  po.decoder = options.decoder;
  po.anomaly_events_per_kind = options.anomaly_events_per_kind;
  po.community_id_seed = options.community_id_seed;
  traffic::PacketPipeline pipeline(po, sink);

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

    pipeline.packet(packet, next->source->name(), next->source->stats().packets);
    if (fetch(*next, stats)) {
      heap.push_back(current);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
  pipeline.flush(flow::EndReason::end_of_input);
  stats.decode = pipeline.decode_counters();
  stats.reassembly = pipeline.reassembly_counters();
  stats.flows = pipeline.flow_counters();
  stats.flow_events = pipeline.counters().flow_events;
  stats.anomaly_events = pipeline.counters().anomaly_events;
  stats.anomaly_events_suppressed = pipeline.counters().anomaly_events_suppressed;
  sink(health_event(stats, pipeline, host));
  return stats;
}

}  // namespace vigil::agent::replay
