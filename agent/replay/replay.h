// Offline replay of capture files and log files through the agent's pipeline (decode, flows,
// streams, log parsers, rules) without capture or network (shared/DESIGN.md, "Offline replay"):
// what `vigil-agent replay` runs and what tests and benchmarks drive.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/decode/decoder.h"
#include "agent/flow/flow_table.h"
#include "agent/rules/rule_loader.h"
#include "agent/traffic/packet_pipeline.h"
#include "common/event/event.h"
#include "common/result.h"

namespace vigil::agent::replay {

struct LogFile {
  std::string format;  // a log parser's format name (syslog, nginx, ...)
  std::string path;
};

struct ReplayOptions {
  std::vector<std::string> pcaps;
  std::vector<LogFile> logs;
  std::shared_ptr<const rules::RuleSet> rules;  // alerts from these rules; none when null
  size_t max_line = 64 * 1024;                  // longer log lines are cut (counted)
  std::string host_name;  // host.name of the events; empty: this machine's hostname
  flow::FlowOptions flows;
  decode::DecoderOptions decoder;
  uint32_t anomaly_events_per_kind = 10;  // network.anomaly events per kind per run; rest counted
  uint16_t community_id_seed = 0;         // network.community_id seed (the spec's default is 0)
  bool protocols = true;                  // DNS, TLS, HTTP and SSH metadata events
};

struct ReplayStats {
  uint64_t packets_read = 0;
  uint64_t bytes_read = 0;
  uint64_t flow_events = 0;
  uint64_t anomaly_events = 0;
  uint64_t anomaly_events_suppressed = 0;
  uint64_t log_lines = 0;
  uint64_t log_lines_unparsed = 0;
  uint64_t log_lines_cut = 0;
  uint64_t alerts = 0;
  decode::DecodeCounters decode;
  decode::ReassemblyCounters reassembly;
  flow::FlowCounters flows;
  Timestamp first_packet;
  Timestamp last_packet;
  std::vector<std::string> read_errors;  // inputs that failed part way (file:reason)
};

using EventSink = std::function<void(const Event&)>;
// The same with the event's JSON line when the rules already wrote it (pipeline::Pipeline::Sink).
using JsonSink = std::function<void(const Event&, const std::string* json)>;

using traffic::flow_event;

// Reads every input to its end, packets and log lines merged by timestamp across inputs, through
// the daemon's pipeline (agent/pipeline: the same sources' kinds, enrichment and rules), and hands
// each event to `sink`: log events, network.flow and network.anomaly events, each followed by the
// alerts it raised (their evidence ids name the events' event.id), then the agent.health event
// last. Fails before any event when an input cannot be opened.
Result<ReplayStats> run_replay(const ReplayOptions& options, const JsonSink& sink);
Result<ReplayStats> run_replay(const ReplayOptions& options, const EventSink& sink);

}  // namespace vigil::agent::replay
