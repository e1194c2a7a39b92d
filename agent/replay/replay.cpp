#include "agent/replay/replay.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <array>
#include <memory>

#include <fmt/format.h>

#include "agent/capture/pcap_file_source.h"
#include "agent/logs/log_parser.h"
#include "agent/rules/engine.h"
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


// One log file read line by line; `event()` is its next line's event, in file order.
class LogInput {
 public:
  static Result<LogInput> open(const LogFile& spec, const std::string& host, size_t max_line) {
    auto parser = logs::make_parser(spec.format);
    if (!parser) return make_error(fmt::format("--log {}:{}: {}", spec.format, spec.path, parser.error()));
    auto ctx = logs::ParseContext::for_file(spec.path, spec.format, host);
    if (!ctx) return make_error(ctx.error());
    auto in = std::make_unique<std::ifstream>(spec.path, std::ios::binary);
    if (!*in) return make_error(fmt::format("{}: cannot open: {}", spec.path, std::strerror(errno)));
    LogInput l;
    l.path_ = spec.path;
    l.parser_ = std::move(parser.value());
    l.ctx_ = std::move(ctx.value());
    l.in_ = std::move(in);
    l.max_line_ = max_line;
    return l;
  }

  // Reads lines up to the next one that makes an event (blank lines make none).
  void advance() {
    has_event_ = false;
    while (in_ && !has_event_ && read_line()) {
      event_.clear();
      parser_->parse(line_, ctx_, event_);
      if (event_.empty()) continue;
      event_.set(fields::log_file_path, path_);
      const Timestamp* ts = event_.get_timestamp(fields::timestamp);
      time_ = ts ? *ts : ctx_.reference_time;
      has_event_ = true;
    }
  }
  bool has_event() const { return has_event_; }
  Timestamp time() const { return time_; }
  const Event& event() const { return event_; }
  const logs::ParseCounters& parser_counters() const { return parser_->counters(); }
  uint64_t lines_cut() const { return cut_; }
  const std::string& error() const { return error_; }

 private:
  // One line, cut at max_line (the rest of an overlong line is skipped), read from a 64 KiB
  // buffer refilled by blocks.
  bool read_line() {
    line_.clear();
    bool any = false, cut = false;
    for (;;) {
      if (pos_ == end_) {
        in_->read(buf_, sizeof buf_);
        end_ = static_cast<size_t>(in_->gcount());
        pos_ = 0;
        if (end_ == 0) {
          if (in_->bad()) error_ = fmt::format("{}: read error: {}", path_, std::strerror(errno));
          return any;
        }
      }
      any = true;
      const char* start = buf_ + pos_;
      const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
      const size_t n = nl ? static_cast<size_t>(nl - start) : end_ - pos_;
      if (!cut) {
        const size_t room = max_line_ - line_.size();
        line_.append(start, std::min(n, room));
        if (n > room) {
          cut = true;
          ++cut_;
        }
      }
      pos_ += n;
      if (nl) {
        ++pos_;
        return true;
      }
    }
  }

  std::string path_;
  std::unique_ptr<logs::LogParser> parser_;
  logs::ParseContext ctx_;
  std::unique_ptr<std::ifstream> in_;
  char buf_[64 * 1024];
  size_t pos_ = 0, end_ = 0;
  size_t max_line_ = 0;
  std::string line_;
  Event event_;
  Timestamp time_{};
  bool has_event_ = false;
  uint64_t cut_ = 0;
  std::string error_;
};

}  // namespace

Result<ReplayStats> run_replay(const ReplayOptions& options, const EventSink& sink) {
  if (options.pcaps.empty() && options.logs.empty()) {
    return make_error("no input: give at least one --pcap FILE or --log FORMAT:FILE");
  }
  std::vector<Input> inputs;
  inputs.reserve(options.pcaps.size());
  for (const auto& path : options.pcaps) {
    auto source = capture::PcapFileSource::open(path);
    if (!source) return make_error(source.error());
    inputs.push_back(Input{std::move(source.value()), {}, false});
  }
  std::string host = options.host_name.empty() ? local_host_name() : options.host_name;
  if (host.empty()) host = "localhost";
  std::vector<LogInput> logs;
  logs.reserve(options.logs.size());
  for (const auto& spec : options.logs) {
    auto in = LogInput::open(spec, host, options.max_line);
    if (!in) return make_error(in.error());
    logs.push_back(std::move(in.value()));
  }

  ReplayStats stats;
  std::unique_ptr<rules::Engine> engine;
  if (options.rules) engine = std::make_unique<rules::Engine>(options.rules);
  std::vector<Event> alerts;
  auto emit = [&](const Event& e) {
    sink(e);
    if (!engine) return;
    alerts.clear();
    engine->process(e, alerts);
    for (const auto& a : alerts) sink(a);
    stats.alerts += alerts.size();
  };

  traffic::PipelineOptions po;
  po.host_name = host;
  po.flows = options.flows;
  po.decoder = options.decoder;
  po.anomaly_events_per_kind = options.anomaly_events_per_kind;
  po.community_id_seed = options.community_id_seed;
  po.protocols = options.protocols;
  traffic::PacketPipeline pipeline(po, emit);

  // Packets are merged by timestamp across inputs: a min-heap of inputs keyed by their next
  // packet's time (ties by input order). Log lines join by their events' @timestamp.
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
  for (auto& l : logs) l.advance();
  bool first = true;
  for (;;) {
    LogInput* log = nullptr;
    for (auto& l : logs) {
      if (l.has_event() && (!log || l.time() < log->time())) log = &l;
    }
    if (log && (heap.empty() || log->time() <= inputs[heap.front()].packet.ts)) {
      emit(log->event());
      log->advance();
      continue;
    }
    if (heap.empty()) break;
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
  for (const auto& l : logs) {
    stats.log_lines += l.parser_counters().lines;
    stats.log_lines_unparsed += l.parser_counters().unparsed;
    stats.log_lines_cut += l.lines_cut();
    if (!l.error().empty()) stats.read_errors.push_back(l.error());
  }
  stats.decode = pipeline.decode_counters();
  stats.reassembly = pipeline.reassembly_counters();
  stats.flows = pipeline.flow_counters();
  stats.flow_events = pipeline.counters().flow_events;
  stats.anomaly_events = pipeline.counters().anomaly_events;
  stats.anomaly_events_suppressed = pipeline.counters().anomaly_events_suppressed;
  auto health = health_event(stats, pipeline, host);
  if (engine) {
    health.set(field("vigil.rules.alerts"), Value(stats.alerts));
    health.set(field("vigil.rules.version"), engine->rule_set().version);
  }
  sink(health);
  return stats;
}

}  // namespace vigil::agent::replay
