#include "agent/replay/replay.h"

#include <limits>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "agent/capture/pcap_file_source.h"
#include "agent/pipeline/capture_source.h"
#include "agent/pipeline/log_sources.h"
#include "agent/pipeline/pipeline.h"
#include "common/util/host.h"

namespace vigil::agent::replay {

Result<ReplayStats> run_replay(const ReplayOptions& options, const EventSink& sink) {
  return run_replay(options, [&sink](const Event& e, const std::string*) { sink(e); });
}

Result<ReplayStats> run_replay(const ReplayOptions& options, const JsonSink& sink) {
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
  pipeline::Pipeline pipe(po, [&sink](const Event& e, std::string_view, const std::string* json) { sink(e, json); });
  pipe.set_rules(options.rules);

  // Every input merged by time: the one whose next unit is earliest goes next (the first of
  // those at equal times). It goes on as long as it would keep being chosen: while its next unit
  // is before that of every input listed before it and not after that of any listed after it.
  ReplayStats stats;
  constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<std::optional<Timestamp>> times(sources.size());
  for (;;) {
    size_t next = kNone;
    Timestamp at{};
    for (size_t i = 0; i < sources.size(); ++i) {
      times[i] = sources[i]->next_time();
      if (times[i] && (next == kNone || *times[i] < at)) {
        next = i;
        at = *times[i];
      }
    }
    if (next == kNone) break;
    Timestamp limit{std::numeric_limits<int64_t>::max()};
    bool at_limit = true;
    for (size_t i = 0; i < sources.size(); ++i) {
      if (i == next || !times[i]) continue;
      const bool inclusive = i > next;  // an input listed after it wins no tie
      if (*times[i] < limit || (*times[i] == limit && !inclusive)) {
        limit = *times[i];
        at_limit = inclusive;
      }
    }
    sources[next]->poll_while(pipe, limit, at_limit);
  }
  pipe.flush(flow::EndReason::end_of_input);
  // The packets' first and latest times, as the traffic pipeline saw them in merged order.
  if (pipe.traffic().counters().packets > 0) {
    stats.first_packet = pipe.traffic().counters().first_packet;
    stats.last_packet = pipe.traffic().counters().last_packet;
  }

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
  sink(health, nullptr);
  return stats;
}

}  // namespace vigil::agent::replay
