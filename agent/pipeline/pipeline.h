// The agent's one pipeline: packets → decode, flows, streams, protocol metadata (traffic::
// PacketPipeline) → enrich → rules → sink. The daemon runs it on live sources with the spool as
// its sink; `replay` runs the same on recorded input with an output file as its sink, so replay
// is the live path on recorded input (events carry event.id, alerts their evidence ids).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/rules/engine.h"
#include "agent/traffic/packet_pipeline.h"
#include "common/event/event.h"

namespace vigil::agent::pipeline {

struct PipelineOptions {
  std::string host_name;            // host.name of events that carry none
  std::string agent_id;             // agent.id of every event and alert; empty: none (replay)
  traffic::PipelineOptions traffic;  // its host_name is host_name
};

struct PipelineCounters {
  uint64_t events = 0;  // events handed to the sink (alerts aside)
  uint64_t alerts = 0;
};

class Pipeline {
 public:
  // Where events and their alerts go; `origin` (file:line) names where an event came from, when
  // there is such a place, for the sink's messages about it. `json`, when not null, is the
  // event's JSON line (append_json_line's) already written: by the rules, which keep the event
  // as evidence in that form; the sink writes it as it is rather than again.
  using Sink = std::function<void(const Event&, std::string_view origin, const std::string* json)>;

  Pipeline(PipelineOptions options, Sink sink);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The rules events go through from now on; null: none (events only).
  void set_rules(std::shared_ptr<const rules::RuleSet> rules);
  const rules::Engine* engine() const { return engine_.get(); }

  // One event from a source: enriched (event.id, @timestamp, host.name, agent.id), through the
  // rules, to the sink, followed by the alerts it raised.
  void event(Event&& e, std::string_view origin = {});
  // The same for an event that already carries its id, time and host (flows, anomalies): copied
  // only when there is something to add.
  void event(const Event& e, std::string_view origin = {});

  // One captured packet; `source` and `index` (its number there) name it in anomalies.
  void packet(const capture::Packet& p, const std::string& source, uint64_t index) {
    traffic_.packet(p, source, index);
  }
  // Ends the flows and streams whose timeouts passed at `now` (live capture: the clock).
  void advance(Timestamp now) { traffic_.advance(now); }
  // Ends every flow and stream (at stop, or at the end of recorded input).
  void flush(flow::EndReason reason) { traffic_.flush(reason); }
  traffic::PacketPipeline& traffic() { return traffic_; }
  const traffic::PacketPipeline& traffic() const { return traffic_; }

  const PipelineCounters& counters() const { return counters_; }
  // vigil.rules.* (when rules are loaded) into an agent.health event.
  void put_health(Event& health) const;

 private:
  void run(const Event& e, std::string_view origin);
  // Enriches an event the pipeline owns as event(Event&&) does, then runs it.
  void enrich_and_run(Event& e, std::string_view origin);

  PipelineOptions options_;
  Sink sink_;
  std::unique_ptr<rules::Engine> engine_;
  std::vector<Event> alerts_;
  PipelineCounters counters_;
  traffic::PacketPipeline traffic_;
};

}  // namespace vigil::agent::pipeline
