// Packets to events: decode, the flow table, TCP stream reassembly, protocol metadata (DNS, TLS,
// HTTP, SSH) and rate-limited network.anomaly events. A tunnel's packet is accounted twice: the
// outer packet as it is on the wire, then each inner packet (up to decode::kMaxTunnelDepth) with
// its own flow, streams and parsers. One
// pipeline serves offline replay (packets from files, merged by time) and the daemon's live
// captures, so both produce the same network.flow events.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "agent/capture/packet_source.h"
#include "agent/decode/decoder.h"
#include "agent/flow/flow_table.h"
#include "agent/proto/dispatcher.h"
#include "common/event/event.h"

namespace vigil::agent::traffic {

// Receives each event the traffic pipeline makes; it may take the event's contents (move from it).
using EventSink = std::function<void(Event&)>;

struct PipelineOptions {
  std::string host_name;  // host.name of the events
  flow::FlowOptions flows;
  decode::DecoderOptions decoder;
  uint32_t anomaly_events_per_kind = 10;  // network.anomaly events per kind until reset_anomaly_budget()
  uint16_t community_id_seed = 0;         // network.community_id seed (the spec's default is 0)
  bool protocols = true;                  // DNS, TLS, HTTP and SSH metadata events
  proto::ProtoOptions proto;
};

struct PipelineCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t flow_events = 0;
  uint64_t anomaly_events = 0;
  uint64_t anomaly_events_suppressed = 0;
  uint64_t protocol_events = 0;
  Timestamp first_packet;
  Timestamp last_packet;
};

// The network.flow event of an ended flow.
Event flow_event(const flow::FlowRecord& record, const std::string& host_name, uint16_t community_id_seed = 0);

// Sets @timestamp, event.id, event.kind, event.dataset and host.name.
void set_common(Event& e, Timestamp ts, const char* kind, const char* dataset, const std::string& host);

class PacketPipeline {
 public:
  PacketPipeline(PipelineOptions options, EventSink sink);

  // One captured packet; `source` and `index` (its number in that source) name it in anomalies.
  void packet(const capture::Packet& packet, const std::string& source, uint64_t index);
  // Ends flows whose timeouts passed at `now` (live capture calls this with the clock).
  void advance(Timestamp now) {
    flows_.advance(now);
    streams_.advance(now);
  }
  void flush(flow::EndReason reason) {
    flows_.flush(reason);
    streams_.flush();
  }
  // Starts a new allowance of network.anomaly events per kind (the daemon: every health interval).
  void reset_anomaly_budget() { anomaly_events_.fill(0); }

  const PipelineCounters& counters() const { return counters_; }
  const decode::DecodeCounters& decode_counters() const { return decoder_.counters(); }
  const decode::ReassemblyCounters& reassembly_counters() const { return decoder_.reassembly_counters(); }
  const flow::FlowCounters& flow_counters() const { return flows_.counters(); }
  const flow::StreamCounters& stream_counters() const { return streams_.counters(); }
  const proto::ProtoCounters& protocol_counters() const { return proto_.counters(); }
  // vigil.health.decode.*, .reassembly.*, .flow.* and .events.* counters into an agent.health event.
  void put_health(Event& e) const;

 private:
  PipelineOptions options_;
  EventSink sink_;
  PipelineCounters counters_;
  decode::Decoder decoder_;
  // One decoded packet (outer or inner) through flows, streams and the parsers.
  // `bytes`: the frame on the wire for an outer packet, what the tunnel carried for an inner one.
  void account(const decode::DecodedPacket& p, const capture::Packet& packet, uint32_t bytes);
  // A network.anomaly event, within the allowance per kind.
  void anomaly(decode::Anomaly a, const decode::DecodedPacket& p, const capture::Packet& packet,
               const std::string& source, uint64_t index);
  flow::FlowTable flows_;
  proto::Dispatcher proto_;
  flow::TcpReassembler streams_;
  decode::DecodedPacket decoded_;
  // The inner packets of tunnels; one more than the depth allowed, so that a deeper one is met
  // (and counted as tunnel_too_deep) rather than left unseen.
  std::array<decode::DecodedPacket, decode::kMaxTunnelDepth + 1> inner_;
  std::array<uint32_t, decode::kAnomalyCount> anomaly_events_{};
};

}  // namespace vigil::agent::traffic
