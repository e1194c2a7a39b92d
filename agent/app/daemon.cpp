#include "agent/app/daemon.h"

#include <glob.h>
#include <poll.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cstdio>
#include <future>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "agent/app/privileges.h"
#include "agent/capture/pcap_live_source.h"
#include "agent/checks/compliance_runner.h"
#include "agent/logs/dir_watch.h"
#include "agent/logs/file_tail.h"
#include "agent/logs/journal_input.h"
#include "agent/logs/log_parser.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "agent/ship/identity.h"
#include "agent/ship/shipper.h"
#include "agent/spool/admission.h"
#include "agent/spool/spool.h"
#include "agent/traffic/packet_pipeline.h"
#include "common/event/json.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"
#include "common/util/host.h"
#include "common/util/signals.h"
#include "common/version.h"

namespace vigil::agent {

namespace fs = std::filesystem;

namespace {

struct LogSource {
  std::unique_ptr<logs::FileTail> tail;
  std::unique_ptr<logs::LogParser> parser;
  std::string format;
  std::string input;  // the path or glob of the logs: input that named this file
};

// A journal input's identity: its directory and matches (also names its cursor file).
std::string journal_id(const LogInput& in) {
  std::string id = in.directory;
  for (const auto& m : in.match) id += "\n" + m;
  return id;
}

struct CaptureSource {
  std::unique_ptr<capture::PcapLiveSource> source;
  capture::SourceStats stats;  // as of the last health event
};

traffic::PipelineOptions packet_options(const AgentConfig& cfg, const std::string& host) {
  traffic::PipelineOptions o;
  o.host_name = host;
  o.flows = flow_options(cfg.flows);
  return o;
}

const FieldId kTailPosition = field("vigil.tail.position");

class Pipeline {
 public:
  Pipeline(const AgentConfig& cfg, Spool& spool, std::string agent_id, std::string host,
           std::vector<CaptureSource> captures)
      : cfg_(cfg),
        spool_(spool),
        agent_id_(std::move(agent_id)),
        host_(std::move(host)),
        log_(logging::get("agent")),
        captures_(std::move(captures)),
        packets_(packet_options(cfg, host_), [this](const Event& e) { handle(Event(e)); }) {}

  // Reads what the captures hold now (bounded per pass so logs are not starved); returns the
  // number of packets read.
  size_t poll_captures() {
    size_t n = 0;
    for (auto& c : captures_) {
      capture::Packet packet;
      for (int i = 0; i < 20000; ++i) {
        auto st = c.source->next(packet);
        if (st == capture::NextStatus::packet) {
          packets_.packet(packet, c.source->name(), c.source->stats().packets);
          ++n;
          continue;
        }
        if (st == capture::NextStatus::error) {
          ++capture_errors_;
          if (capture_errors_ <= 10) log_->error("capture {}: {}", c.source->name(), c.source->error());
        }
        break;
      }
    }
    if (!captures_.empty()) packets_.advance(Timestamp::now());
    return n;
  }

  // Descriptors that become readable when there is something to read: captures, journals.
  void wake_fds(std::vector<pollfd>& fds) const {
    for (const auto& c : captures_) {
      if (c.source->fd() >= 0) fds.push_back({c.source->fd(), POLLIN, 0});
    }
    for (const auto& j : journals_) {
      if (j->fd() >= 0) fds.push_back({j->fd(), POLLIN, 0});
    }
    if (dir_watch_.fd() >= 0 && dir_watch_.watches() > 0) fds.push_back({dir_watch_.fd(), POLLIN, 0});
  }

  // Reads the directory notifications; true when a file appeared (look for new files now).
  bool take_new_files() { return dir_watch_.drain(); }

  void flush_flows() { packets_.flush(flow::EndReason::shutdown); }
  // Records appended to the spool since the last call.
  size_t take_appended() { return std::exchange(appended_, 0); }

  bool load_rules() {
    auto loaded = rules::load_rules(cfg_.rules.paths);
    if (!loaded) {
      log_->error("rules not loaded, keeping the previous set:\n{}", loaded.error());
      return false;
    }
    for (const auto& d : loaded->diagnostics.items()) log_->warn("{}", d.to_string());
    engine_ = std::make_unique<rules::Engine>(loaded->set);
    log_->info("{} rules loaded from {} files (version {})", loaded->set->rules.size(), loaded->set->files.size(),
               loaded->set->version);
    return true;
  }

  // The journal inputs not open yet (the journal itself follows its files' rotation).
  void open_journals() {
    for (const auto& in : cfg_.logs) {
      if (in.format != "journal") continue;
      std::string id = journal_id(in);
      if (std::find(journal_ids_.begin(), journal_ids_.end(), id) != journal_ids_.end()) continue;
      logs::JournalOptions o;
      o.match = in.match;
      o.directory = in.directory;
      o.state_file = fs::path(cfg_.agent.state_dir) / "tail" / ("journal-" + pki::sha256_hex(id).substr(0, 24));
      std::error_code ec;
      fs::create_directories(o.state_file.parent_path(), ec);
      auto j = logs::JournalInput::open(o, host_);
      if (!j) {
        log_->error("{}", j.error());
        continue;
      }
      log_->info("reading the {}{}", (*j)->name(),
                 in.match.empty() ? std::string() : fmt::format(" (entries matching any of: {})", fmt::join(in.match, ", ")));
      journals_.push_back(std::move(j.value()));
      journal_ids_.push_back(std::move(id));
    }
  }

  // After a reload changed logs: stops following the files and journals no input names any more
  // (their positions were committed with the last spool sync and stay in state_dir, so an input
  // added back continues where it stopped), then opens the new ones.
  void apply_logs() {
    for (auto it = sources_.begin(); it != sources_.end();) {
      const LogSource& src = it->second;
      bool named = std::any_of(cfg_.logs.begin(), cfg_.logs.end(), [&](const LogInput& in) {
        return in.format == src.format && in.path == src.input;
      });
      if (named) {
        ++it;
        continue;
      }
      log_->info("no longer following {} ({}): its input left the configuration", it->first, src.format);
      it = sources_.erase(it);
    }
    for (size_t i = 0; i < journals_.size();) {
      bool named = std::any_of(cfg_.logs.begin(), cfg_.logs.end(), [&](const LogInput& in) {
        return in.format == "journal" && journal_id(in) == journal_ids_[i];
      });
      if (named) {
        ++i;
        continue;
      }
      log_->info("no longer reading the {}: its input left the configuration", journals_[i]->name());
      journals_.erase(journals_.begin() + static_cast<std::ptrdiff_t>(i));
      journal_ids_.erase(journal_ids_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    open_journals();
    discover_logs();
  }

  void discover_logs() {
    fs::path tail_state = fs::path(cfg_.agent.state_dir) / "tail";
    std::error_code ec;
    fs::create_directories(tail_state, ec);
    for (const auto& in : cfg_.logs) {
      if (in.format == "journal") continue;  // read by the journal input (not in this build)
      // A change in the file's directory wakes the loop at once (polling remains the fallback).
      std::string dir = fs::path(in.path).parent_path().string();
      if (dir.empty()) dir = ".";
      if (dir.find_first_of("*?[") == std::string::npos && fs::is_directory(dir, ec) && !dir_watch_.watch(dir) &&
          !watch_warned_) {
        watch_warned_ = true;
        log_->warn("cannot watch {} with inotify: following logs by polling every 200 ms", dir);
      }
      glob_t g{};
      if (glob(in.path.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          std::string path = g.gl_pathv[i];
          if (path.ends_with(".gz") || path.ends_with(".xz") || path.ends_with(".zst") || path.ends_with(".bz2")) continue;
          if (sources_.count(path)) continue;
          auto parser = logs::make_parser(in.format);
          if (!parser) continue;
          LogSource src;
          src.tail = std::make_unique<logs::FileTail>(path, tail_state / pki::sha256_hex(path).substr(0, 24));
          src.parser = std::move(parser.value());
          src.format = in.format;
          src.input = in.path;
          recover_position(path, *src.tail);
          log_->info("following {} ({})", path, in.format);
          sources_.emplace(path, std::move(src));
        }
      }
      globfree(&g);
    }
  }

  // One pass over every source; returns the number of events appended.
  size_t poll_sources() {
    size_t n = 0;
    for (auto& source : sources_) {
      const std::string& path = source.first;
      LogSource& src = source.second;
      auto ctx = logs::ParseContext::for_file(path, src.format, host_);
      if (!ctx) continue;
      // Bounded per pass, so positions are committed often and one busy file cannot starve the rest.
      src.tail->poll([&](std::string_view line) {
        Event e;
        if (line.empty() || !src.parser->parse(line, *ctx, e)) {
          if (e.empty()) return;
        }
        e.set(fields::log_file_path, path);
        e.set(kTailPosition, fmt::format("{}:{}:{}", src.tail->device(), src.tail->inode(), src.tail->line_end()));
        handle(std::move(e));
        ++n;
      }, 1 << 20);
    }
    for (auto& j : journals_) {
      n += j->poll([&](Event&& e) { handle(std::move(e)); });
    }
    n += poll_inbox();
    return n;
  }

  void commit_sources(uint64_t synced_seq) {
    for (auto& [path, src] : sources_) src.tail->commit(synced_seq);
    for (auto& j : journals_) j->commit();
  }

  // A crash between the spool sync and the tail commit leaves lines in the spool that the
  // committed position does not cover. Every log event carries where its line ends
  // (vigil.tail.position, "device:inode:end"), so the spool records after the commit tell how far
  // this file really got, and those lines are not read twice.
  void recover_position(const std::string& path, logs::FileTail& tail) {
    // Never committed: only what is still undelivered can be this file's.
    uint64_t after = tail.committed_seq() > 0 ? tail.committed_seq() : spool_.acked();
    uint64_t best_end = 0, dev = 0, ino = 0;
    size_t scanned = 0;
    const std::string quoted = nlohmann::json(path).dump();
    for (;;) {
      auto batch = spool_.read(after, 1000, 8 << 20);
      if (!batch || batch->empty()) break;
      for (const auto& rec : *batch) {
        after = rec.seq;
        ++scanned;
        if (rec.payload.find(quoted) == std::string::npos) continue;
        auto e = event_from_json_line(rec.payload);
        if (!e) continue;
        const std::string* p = e->get_string(fields::log_file_path);
        const std::string* pos = e->get_string(kTailPosition);
        if (!p || !pos || *p != path) continue;
        unsigned long long d = 0, i = 0, end = 0;
        if (std::sscanf(pos->c_str(), "%llu:%llu:%llu", &d, &i, &end) != 3) continue;
        if (end > best_end) {
          best_end = end;
          dev = d;
          ino = i;
        }
      }
    }
    if (best_end > 0) {
      tail.resume_at(dev, ino, best_end);
      log_->info("{}: lines up to offset {} were already spooled before the last stop; continuing after them "
                 "({} spool records checked)",
                 path, best_end, scanned);
    }
  }

  // Result files dropped by vigil-scan.service (policies.run: external): JSON lines, one event
  // each; the file is removed once its events are durably in the spool (commit_inbox after a
  // successful sync). A file read whose sync failed stays listed and is not read again (its
  // events are in the spool already, waiting for a sync that succeeds): no duplicates.
  size_t poll_inbox() {
    size_t n = 0;
    std::error_code ec;
    if (!fs::is_directory(cfg_.policies.inbox, ec)) return 0;
    for (const auto& entry : fs::directory_iterator(cfg_.policies.inbox, ec)) {
      auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".jsonl" && ext != ".json")) continue;
      if (std::find(done_inbox_.begin(), done_inbox_.end(), entry.path()) != done_inbox_.end()) continue;
      std::ifstream in(entry.path());
      size_t line_no = 0;
      for (std::string line; std::getline(in, line);) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        auto e = event_from_json_line(line);
        if (!e) {
          ++inbox_malformed_;
          if (inbox_malformed_ <= 10) log_->warn("{}:{}: skipped: {}", entry.path().string(), line_no, e.error());
          continue;
        }
        handle(std::move(e.value()), fmt::format("{}:{}", entry.path().string(), line_no));
        ++n;
      }
      done_inbox_.push_back(entry.path());
    }
    return n;
  }

  // The spool holds the events of the inbox files read: remove the files.
  void commit_inbox() {
    std::error_code ec;
    for (const auto& p : done_inbox_) fs::remove(p, ec);
    done_inbox_.clear();
  }
  // The spool could not be synced: keep the files until a sync succeeds (they are not read again).
  void keep_inbox() {}

  // `origin` (file:line) names the event's source in a refusal's log line, when there is one.
  void handle(Event e, std::string_view origin = {}) {
    if (!e.has(fields::event_id)) e.set(fields::event_id, new_event_id());
    if (!e.has(fields::timestamp)) e.set(fields::timestamp, Timestamp::now());
    if (!e.has(fields::host_name)) e.set(fields::host_name, host_);
    e.set(fields::agent_id, agent_id_);
    alerts_.clear();
    if (engine_) engine_->process(e, alerts_);
    append(e, origin);
    for (auto& a : alerts_) {
      a.set(fields::agent_id, agent_id_);
      append(a, origin);
    }
  }

  // The one place events enter the spool: what the collector would refuse is counted and logged
  // (the first few) instead, so it is never shipped.
  void append(const Event& e, std::string_view origin) {
    if (auto why = spool_refuse_reason(e)) {
      ++spool_refused_;
      if (spool_refused_ <= 10) {
        const std::string* dataset = e.get_string(fields::event_dataset);
        log_->warn("{}{}not spooled (the collector would refuse it): {} (event.dataset: {})", origin,
                   origin.empty() ? "" : ": ", *why, dataset ? *dataset : "none");
      }
      return;
    }
    const std::string* kind = e.get_string(fields::event_kind);
    SpoolPriority prio = SpoolPriority::event;
    if (kind && *kind == "alert") prio = SpoolPriority::alert;
    if (kind && *kind == "state") prio = SpoolPriority::state;
    ++appended_;
    auto r = spool_.append(to_json_line(e), prio);
    if (!r) {
      ++spool_errors_;
      if (spool_errors_ <= 10) log_->error("{}", r.error());
    }
  }

  Event health(const Shipper& shipper) {
    Event h;
    h.set(fields::timestamp, Timestamp::now());
    h.set(fields::event_kind, "metric");
    h.set(fields::event_dataset, "agent.health");
    auto s = spool_.stats();
    auto put = [&](const char* name, uint64_t v) { h.set(field(name), static_cast<int64_t>(v)); };
    put("vigil.spool.bytes", s.bytes_on_disk);
    put("vigil.spool.pending", s.pending);
    put("vigil.spool.dropped_events", s.dropped_events);
    put("vigil.spool.dropped_alerts", s.dropped_alerts);
    put("vigil.spool.refused", spool_refused_);
    put("vigil.ship.batches", shipper.stats().batches.load());
    put("vigil.ship.failures", shipper.stats().failures.load());
    put("vigil.ship.bytes_raw", shipper.stats().bytes_raw.load());
    put("vigil.ship.bytes_sent", shipper.stats().bytes_sent.load());
    put("vigil.ship.renewals", shipper.stats().renewals.load());
    put("vigil.ship.renewal_failures", shipper.stats().renewal_failures.load());
    put("vigil.inbox.malformed", inbox_malformed_);
    put("vigil.health.logs.watched_dirs", dir_watch_.watches());
    put("vigil.health.logs.watch_failures", dir_watch_.failures());
    put("vigil.health.logs.watch_overflows", dir_watch_.overflows());
    uint64_t lines = 0, unparsed = 0;
    for (const auto& [p, src] : sources_) {
      lines += src.parser->counters().lines;
      unparsed += src.parser->counters().unparsed;
    }
    for (const auto& j : journals_) {
      lines += j->counters().entries;
      unparsed += j->counters().unparsed;
    }
    put("vigil.logs.lines", lines);
    put("vigil.logs.unparsed", unparsed);
    if (!journals_.empty()) {
      uint64_t errors = 0, cut = 0;
      for (const auto& j : journals_) {
        errors += j->counters().read_errors;
        cut += j->counters().cut;
      }
      put("vigil.logs.journal.read_errors", errors);
      put("vigil.logs.journal.cut", cut);
    }
    if (!captures_.empty()) {
      uint64_t received = 0, kernel_dropped = 0, if_dropped = 0;
      for (auto& c : captures_) {
        auto st = c.source->stats();
        received += st.kernel_received;
        kernel_dropped += st.kernel_dropped;
        if_dropped += st.interface_dropped;
        if (st.kernel_dropped > c.stats.kernel_dropped) {
          log_->warn("capture {}: the kernel dropped {} packets since the last report", c.source->name(),
                     st.kernel_dropped - c.stats.kernel_dropped);
        }
        c.stats = st;
      }
      put("vigil.health.capture.packets_read", packets_.counters().packets);
      put("vigil.health.capture.bytes_read", packets_.counters().bytes);
      put("vigil.health.capture.kernel_received", received);
      put("vigil.health.capture.kernel_dropped", kernel_dropped);
      put("vigil.health.capture.interface_dropped", if_dropped);
      put("vigil.health.capture.read_errors", capture_errors_);
      packets_.put_health(h);
      packets_.reset_anomaly_budget();
    }
    if (engine_) {
      put("vigil.rules.alerts", engine_->stats().alerts);
      put("vigil.rules.groups_evicted", engine_->stats().groups_evicted);
      put("vigil.rules.evidence_shed", engine_->stats().evidence_shed);
      put("vigil.rules.loaded", engine_->rule_set().rules.size());
      put("vigil.rules.rejected", engine_->rule_set().rejected);  // Sigma rules skipped as unsupported
      h.set(field("vigil.rules.version"), engine_->rule_set().version);
    }
    h.set(fields::agent_version, std::string(kVersion));
    return h;
  }

 private:
  const AgentConfig& cfg_;
  Spool& spool_;
  std::string agent_id_;
  std::string host_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<rules::Engine> engine_;
  std::map<std::string, LogSource> sources_;
  std::vector<std::unique_ptr<logs::JournalInput>> journals_;
  std::vector<std::string> journal_ids_;  // journal_id() of each of journals_
  logs::DirWatch dir_watch_;
  bool watch_warned_ = false;
  std::vector<Event> alerts_;
  std::vector<fs::path> done_inbox_;
  uint64_t inbox_malformed_ = 0;
  uint64_t spool_errors_ = 0;
  uint64_t spool_refused_ = 0;  // events the collector would refuse (spool_refuse_reason)
  std::vector<CaptureSource> captures_;
  uint64_t capture_errors_ = 0;
  size_t appended_ = 0;
  traffic::PacketPipeline packets_;
};


// policies.run: internal. Scans run on a thread of their own (a command probe may take its whole
// timeout) at start, every policies.interval and on SIGUSR1; the loop hands their events to the
// pipeline and saves what was reported once the spool holds it.
class ComplianceScans {
 public:
  ComplianceScans(const AgentConfig& cfg, std::string host)
      : cfg_(cfg),
        host_(std::move(host)),
        log_(logging::get("agent")),
        tracker_(fs::path(cfg.agent.state_dir) / "compliance-reported.json",
                 std::chrono::duration_cast<std::chrono::seconds>(cfg.policies.full_report_interval)) {
    if (!tracker_.load_warning().empty()) log_->warn("{}", tracker_.load_warning());
  }

  bool enabled() const { return cfg_.policies.run == "internal"; }

  // Loads (or reloads) the policies; on failure keeps the previous ones.
  bool load() {
    if (!enabled()) return true;
    auto loaded = checks::load_policy_set(cfg_.policies.paths);
    if (!loaded) {
      log_->error("policies not loaded, keeping the previous set:\n{}", loaded.error());
      return false;
    }
    for (const auto& d : loaded->diagnostics.items()) log_->warn("{}", d.to_string());
    size_t n = 0;
    for (const auto& p : loaded->policies) n += p.checks.size();
    log_->info("{} compliance policies loaded ({} checks), scanning {} every {} s", loaded->policies.size(), n,
               cfg_.policies.root, std::chrono::duration_cast<std::chrono::seconds>(cfg_.policies.interval).count());
    set_ = std::make_shared<const checks::PolicySet>(std::move(loaded.value()));
    return true;
  }

  void request() { requested_ = true; }

  // Starts a scan when one is due; hands the finished scan's events to `emit`. Returns the number
  // of events emitted.
  template <typename Emit>
  size_t poll(std::chrono::steady_clock::time_point now, Emit&& emit) {
    if (!enabled() || !set_) return 0;
    size_t n = 0;
    if (running_.valid() && running_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      auto done = running_.get();
      Timestamp at = Timestamp::now();
      bool full = tracker_.full_due(at);
      size_t changed = 0, checks = 0;
      for (const auto& [policy, results] : done.results) {
        auto report = tracker_.report(*policy, results, host_, at);
        changed += report.changed;
        checks += results.size();
        for (auto& e : report.events) {
          emit(std::move(e));
          ++n;
        }
      }
      if (full) tracker_.full_done(at);
      unsaved_ = true;
      log_->info("compliance scan: {} checks in {} ms, {} changed, {} reported{}", checks, done.millis, changed, n,
                 full ? " (full report)" : "");
    }
    if (!running_.valid() && (requested_ || now >= next_)) {
      requested_ = false;
      next_ = now + cfg_.policies.interval;
      running_ = std::async(std::launch::async, [set = set_, root = cfg_.policies.root]() {
        Finished f;
        auto start = std::chrono::steady_clock::now();
        checks::ScanOptions o;
        o.root = root;
        for (const auto& p : set->policies) {
          checks::Scanner scanner(o);
          f.results.emplace_back(&p, scanner.scan(p));
        }
        f.set = set;
        f.millis = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        return f;
      });
    }
    return n;
  }

  // The reported events are in the spool: remember them.
  void commit() {
    if (!unsaved_) return;
    if (auto r = tracker_.save(); !r) {
      log_->error("compliance state: {}", r.error());
    } else {
      unsaved_ = false;
    }
  }

  // Waits for a running scan (at stop), so its thread never outlives the agent.
  void wait() {
    if (running_.valid()) running_.wait();
  }

 private:
  struct Finished {
    std::shared_ptr<const checks::PolicySet> set;  // keeps the policies the results point into
    std::vector<std::pair<const checks::Policy*, std::vector<checks::CheckResult>>> results;
    int64_t millis = 0;
  };

  const AgentConfig& cfg_;
  std::string host_;
  std::shared_ptr<spdlog::logger> log_;
  checks::ComplianceTracker tracker_;
  std::shared_ptr<const checks::PolicySet> set_;
  std::future<Finished> running_;
  std::chrono::steady_clock::time_point next_{};
  bool requested_ = false;
  bool unsaved_ = false;
};

// policies.run: external. vigil-scan.path watches <inbox>/scan.request; writing it asks
// vigil-scan.service for a scan now (the inbox takes only .json and .jsonl files, so the agent
// never reads it back).
void request_external_scan(const std::string& inbox, spdlog::logger& log) {
  const fs::path request = fs::path(inbox) / "scan.request";
  std::ofstream out(request, std::ios::trunc);
  out << Timestamp::now().to_string() << '\n';
  out.close();
  if (!out) {
    log.error("SIGUSR1: cannot write {} to ask vigil-scan.service for a scan", request.string());
  } else {
    log.info("SIGUSR1: compliance scan requested from vigil-scan.service ({})", request.string());
  }
}

}  // namespace

int run_agent(const AgentConfig& initial, const std::string& config_path) {
  // The running configuration; a reload replaces what can change in flight (plan_reload), and the
  // pipeline and the scans read it from here.
  AgentConfig cfg = initial;
  logging::setup("vigil-agent", logging::parse_level(cfg.logging.level).value_or(spdlog::level::info));
  auto log = logging::get("agent");
  signals::install();

  // Captures need root (or CAP_NET_RAW); they are opened first, then privileges go.
  std::vector<CaptureSource> captures;
  for (const auto& c : cfg.capture) {
    capture::LiveOptions lo;
    lo.interface = c.interface;
    lo.bpf = c.bpf;
    lo.snaplen = c.snaplen;
    lo.buffer_size = c.buffer_size;
    lo.promiscuous = c.promiscuous;
    auto src = capture::PcapLiveSource::open(lo);
    if (!src) {
      log->error("capture: {}", src.error());
      return 1;
    }
    if (!(*src)->warning().empty()) log->warn("capture {}: {}", c.interface, (*src)->warning());
    log->info("capturing on {}{}", c.interface, c.bpf.empty() ? "" : " (filter: " + c.bpf + ")");
    captures.push_back({std::move(src.value()), {}});
  }
  std::error_code mk;
  fs::create_directories(cfg.agent.state_dir, mk);
  fs::create_directories(cfg.policies.inbox, mk);
  if (auto dropped = drop_privileges(cfg.agent.user, {cfg.agent.state_dir, cfg.policies.inbox}); !dropped) {
    log->error("{}", dropped.error());
    return 1;
  } else if (!dropped->empty()) {
    log->info("{}", *dropped);
  }

  auto identity = load_identity(cfg.agent.state_dir);
  if (!identity) {
    log->error("{}", identity.error());
    return 1;
  }
  SpoolOptions so;
  so.max_size = cfg.spool.max_size;
  so.segment_size = cfg.spool.segment_size;
  auto spool = Spool::open(fs::path(cfg.agent.state_dir) / "spool", so);
  if (!spool) {
    log->error("{}", spool.error());
    return 1;
  }
  std::string host = cfg.agent.name.empty() ? local_host_name() : cfg.agent.name;
  Pipeline pipeline(cfg, **spool, identity->agent_id, host, std::move(captures));
  if (!pipeline.load_rules()) return 1;
  pipeline.open_journals();
  ComplianceScans compliance(cfg, host);
  if (!compliance.load()) return 1;
  ShipperOptions sh;
  sh.addresses = cfg.collector.addresses;
  sh.batch_max_records = cfg.collector.batch_max_records;
  sh.batch_max_bytes = cfg.collector.batch_max_bytes;
  sh.connect_timeout = cfg.collector.connect_timeout;
  sh.retry_max_backoff = cfg.collector.retry_max_backoff;
  sh.compression = cfg.collector.compression;
  sh.state_dir = cfg.agent.state_dir;
  Shipper shipper(**spool, *identity, sh);
  shipper.start();
  log->info("vigil-agent {} running as {} (agent {}), spool epoch {}", kVersion, host, identity->agent_id,
            (*spool)->epoch());
  sd_notify(0, "READY=1");

  // SIGHUP: agent.yaml again. An invalid file changes nothing (its problems are logged with
  // file:line:column); otherwise what can change in flight changes, and what cannot is named.
  auto reload = [&] {
    log->info("SIGHUP: reloading {}", config_path);
    auto loaded = load_agent_config(config_path);
    if (!loaded) {
      std::string why = loaded.error();
      while (!why.empty() && why.back() == '\n') why.pop_back();
      log->error("SIGHUP: {} is not valid; the agent keeps running on its current configuration:\n{}", config_path,
                 why);
      log->info("SIGHUP: reloading the rules and policies of the current configuration");
      pipeline.load_rules();
      compliance.load();
      return;
    }
    for (const auto& d : loaded->diagnostics.items()) log->warn("{}", d.to_string());
    auto plan = plan_reload(cfg, loaded->config);
    for (const auto& setting : plan.needs_restart) {
      log->warn("SIGHUP: {} changed in {} but needs a restart; it keeps its running value until then", setting,
                config_path);
    }
    cfg = std::move(plan.applied);
    if (plan.logging_changed) {
      logging::setup("vigil-agent", logging::parse_level(cfg.logging.level).value_or(spdlog::level::info));
      log->info("log level {}", cfg.logging.level);
    }
    if (plan.logs_changed) pipeline.apply_logs();
    pipeline.load_rules();  // the rule files may have changed even where their paths did not
    compliance.load();
    log->info("SIGHUP: configuration reloaded ({} log inputs; {} setting(s) waiting for a restart)", cfg.logs.size(),
              plan.needs_restart.size());
  };

  auto next_health = std::chrono::steady_clock::now();
  auto next_discover = std::chrono::steady_clock::now();
  std::vector<pollfd> fds;
  while (true) {
    bool stopping = signals::stop_requested();
    auto now = std::chrono::steady_clock::now();
    if (now >= next_discover) {
      pipeline.discover_logs();
      next_discover = now + std::chrono::seconds(5);
    }
    size_t packets = pipeline.poll_captures();
    size_t n = pipeline.poll_sources();
    if (signals::take_scan_request()) {
      if (compliance.enabled()) {
        log->info("SIGUSR1: compliance scan requested");
        compliance.request();
      } else {
        request_external_scan(cfg.policies.inbox, *log);
      }
    }
    if (!stopping) n += compliance.poll(now, [&](Event e) { pipeline.handle(std::move(e)); });
    if (now >= next_health || stopping) {
      pipeline.handle(pipeline.health(shipper));
      next_health = now + cfg.agent.health_interval;
      ++n;
    }
    if (stopping) {
      pipeline.flush_flows();
      ++n;
    }
    if (pipeline.take_appended() > 0 || n > 0) {
      // Durable first, then the positions that produced it are committed.
      auto synced = (*spool)->sync();
      if (!synced) {
        log->error("{}", synced.error());
        pipeline.keep_inbox();  // removed once a later sync succeeds: never lost
      } else {
        pipeline.commit_sources(*synced);
        compliance.commit();
        (*spool)->retain_after(*synced);
        pipeline.commit_inbox();
      }
      shipper.wake();
    }
    if (stopping) break;
    if (signals::take_reload_request()) {
      sd_notify(0, "RELOADING=1");
      reload();
      sd_notify(0, "READY=1");
    }
    sd_notify(0, "WATCHDOG=1");
    if (n == 0 && packets == 0) {
      fds.clear();
      fds.push_back({signals::wake_fd(), POLLIN, 0});
      pipeline.wake_fds(fds);
      ::poll(fds.data(), fds.size(), 200);
      if (fds[0].revents & POLLIN) {
        uint64_t drain;
        [[maybe_unused]] auto r = ::read(fds[0].fd, &drain, sizeof(drain));
      }
      if (pipeline.take_new_files()) next_discover = std::chrono::steady_clock::now();  // a file appeared
    }
  }
  sd_notify(0, "STOPPING=1");
  compliance.wait();
  log->info("stopping: delivering what is spooled (up to 5 s)");
  shipper.stop(std::chrono::seconds(5));
  auto st = (*spool)->stats();
  log->info("stopped: {} records delivered this run, {} waiting in the spool", shipper.stats().records.load(),
            st.pending);
  return 0;
}

}  // namespace vigil::agent
