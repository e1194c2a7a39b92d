#include "agent/replay/replay.h"

#include <memory>

#include <fmt/format.h>

#include "agent/capture/pcap_file_source.h"
#include "agent/pipeline/capture_source.h"
#include "agent/pipeline/log_sources.h"
#include "agent/pipeline/pipeline.h"
#include "common/util/host.h"

namespace vigil::agent::replay {

Result<ReplayStats> run_replay(const ReplayOptions& options, const EventSink& sink) {
  if (options.pcaps.empty() && options.logs.empty()) {
    return make_error("no input: give at least one --pcap FILE or --log FORMAT:FILE");
  }
  std::string host = options.host_name.empty() ? local_host_name() : options.host_name;
  if (host.empty()) host = "localhost";
  // Log files first: at equal times a log line goes before a packet, and inputs of one kind go
  // in the order given.
  std::vector<std::unique_ptr<pipeline::LogFileSource>> logs;
  for (const auto& spec : options.logs) {
    auto in = pipeline::LogFileSource::open(spec.format, spec.path, host, options.max_line);
    if (!in) return make_error(in.error());
    logs.push_back(std::move(in.value()));
  }
  std::vector<std::unique_ptr<pipeline::CaptureSource>> pcaps;
  for (const auto& path : options.pcaps) {
    auto source = capture::PcapFileSource::open(path);
    if (!source) return make_error(source.error());
    pcaps.push_back(std::make_unique<pipeline::CaptureSource>(std::move(source.value()), true));
  }
  std::vector<pipeline::Source*> sources;
  for (auto& l : logs) sources.push_back(l.get());
  for (auto& p : pcaps) sources.push_back(p.get());

  // The daemon's pipeline, its sink the caller's.
  pipeline::PipelineOptions po;
  po.host_name = host;
  po.traffic.flows = options.flows;
  po.traffic.decoder = options.decoder;
  po.traffic.anomaly_events_per_kind = options.anomaly_events_per_kind;
  po.traffic.community_id_seed = options.community_id_seed;
  po.traffic.protocols = options.protocols;
  pipeline::Pipeline pipe(po, [&sink](const Event& e, std::string_view) { sink(e); });
  pipe.set_rules(options.rules);

  // Every input merged by time: the one whose next unit is earliest goes next (the first of
  // those at equal times).
  ReplayStats stats;
  bool first = true;
  constexpr size_t kNone = static_cast<size_t>(-1);
  for (;;) {
    size_t next = kNone;
    Timestamp at{};
    for (size_t i = 0; i < sources.size(); ++i) {
      auto t = sources[i]->next_time();
      if (t && (next == kNone || *t < at)) {
        next = i;
        at = *t;
      }
    }
    if (next == kNone) break;
    if (next >= logs.size()) {  // a packet
      if (first) stats.first_packet = at;
      first = false;
      if (at > stats.last_packet) stats.last_packet = at;
    }
    sources[next]->poll(pipe);
  }
  pipe.flush(flow::EndReason::end_of_input);

  for (const auto& l : logs) {
    stats.log_lines += l->parser_counters().lines;
    stats.log_lines_unparsed += l->parser_counters().unparsed;
    stats.log_lines_cut += l->lines_cut();
  }
  for (const auto& p : pcaps) {
    stats.packets_read += p->packets();
    stats.bytes_read += p->bytes();
  }
  for (const auto* s : sources) {
    if (!s->error().empty()) stats.read_errors.push_back(s->error());
  }
  const auto& traffic = pipe.traffic();
  stats.decode = traffic.decode_counters();
  stats.reassembly = traffic.reassembly_counters();
  stats.flows = traffic.flow_counters();
  stats.flow_events = traffic.counters().flow_events;
  stats.anomaly_events = traffic.counters().anomaly_events;
  stats.anomaly_events_suppressed = traffic.counters().anomaly_events_suppressed;
  stats.alerts = pipe.counters().alerts;

  // The agent.health event last, as the daemon's: what every input and stage counted.
  Event health;
  traffic::set_common(health, stats.packets_read ? stats.last_packet : Timestamp::now(), "metric", "agent.health",
                      host);
  for (const auto* s : sources) s->put_health(health);
  traffic.put_health(health);
  pipe.put_health(health);
  sink(health);
  return stats;
}

}  // namespace vigil::agent::replay
