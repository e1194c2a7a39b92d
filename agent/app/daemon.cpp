#include "agent/app/daemon.h"

#include <malloc.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

#include "agent/app/privileges.h"
#include "agent/app/systemd_notify.h"
#include "agent/capture/pcap_live_source.h"
#include "agent/checks/compliance_runner.h"
#include "agent/checks/scheduled_scans.h"
#include "agent/fleet/bundle_client.h"
#include "agent/pipeline/capture_source.h"
#include "agent/pipeline/fim_source.h"
#include "agent/pipeline/inbox_source.h"
#include "agent/pipeline/log_inputs.h"
#include "agent/pipeline/pipeline.h"
#include "agent/pipeline/spool_sink.h"
#include "agent/rules/rule_loader.h"
#include "agent/ship/identity.h"
#include "agent/ship/shipper.h"
#include "agent/spool/spool.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"
#include "common/util/host.h"
#include "common/util/signals.h"
#include "common/version.h"

namespace vigil::agent {

namespace fs = std::filesystem;

namespace {

// Loads (or reloads) the rules into the pipeline, the group bundle's over the configuration's; on
// failure keeps the previous ones.
bool load_rules(pipeline::Pipeline& p, const AgentConfig& cfg, fleet::BundleClient& bundles,
                spdlog::logger& log) {
  auto loaded = rules::load_rules(cfg.rules.paths, bundles.parts().rules);
  if (!loaded && !bundles.parts().rules.empty()) {
    log.error("rules with the group bundle not loaded; trying without it:\n{}", loaded.error());
    bundles.set_result("rejected: its rules no longer load with the local ones");
    loaded = rules::load_rules(cfg.rules.paths);
  }
  if (!loaded) {
    log.error("rules not loaded, keeping the previous set:\n{}", loaded.error());
    return false;
  }
  for (const auto& d : loaded->diagnostics.items()) log.warn("{}", d.to_string());
  log.info("{} rules loaded from {} files (version {})", loaded->set->rules.size(), loaded->set->files.size(),
           loaded->set->version);
  p.set_rules(loaded->set);
  return true;
}

// agent.yaml as read, with the overlay of the group bundle that runs over it; an overlay that no
// longer loads is left out, said.
AgentConfig with_overlay(const AgentConfig& base, const std::string& overlay_path, spdlog::logger& log) {
  AgentConfig out = base;
  if (overlay_path.empty()) return out;
  auto text = pki::read_file(overlay_path);
  // Named as in the bundle, as at the push and when it was applied, so it reads the same way.
  auto overlay =
      text ? load_config_overlay("config/agent.yaml", *text) : Result<ConfigOverlay>(make_error(text.error()));
  if (!overlay) {
    log.error("the group bundle's agent.yaml overlay does not load; running without it:\n{}", overlay.error());
    return out;
  }
  apply_overlay(out, *overlay);
  return out;
}

// The agent.health event: the spool, delivery, every source and the pipeline.
Event health_event(const pipeline::SpoolSink& sink, const Shipper& shipper,
                   const std::vector<pipeline::Source*>& sources, pipeline::Pipeline& p, bool capturing) {
  Event h;
  h.set(fields::timestamp, Timestamp::now());
  h.set(fields::event_kind, "metric");
  h.set(fields::event_dataset, "agent.health");
  sink.put_health(h);
  auto put = [&h](const char* name, uint64_t v) { h.set(field(name), static_cast<int64_t>(v)); };
  put("vigil.ship.batches", shipper.stats().batches.load());
  put("vigil.ship.failures", shipper.stats().failures.load());
  put("vigil.ship.bytes_raw", shipper.stats().bytes_raw.load());
  put("vigil.ship.bytes_sent", shipper.stats().bytes_sent.load());
  put("vigil.ship.renewals", shipper.stats().renewals.load());
  put("vigil.ship.renewal_failures", shipper.stats().renewal_failures.load());
  put("vigil.ship.in_flight_peak", shipper.stats().in_flight_peak.load());
  for (const auto* s : sources) s->put_health(h);
  if (capturing) {
    p.traffic().put_health(h);
    p.traffic().reset_anomaly_budget();
  }
  p.put_health(h);
  h.set(fields::agent_version, std::string(kVersion));
  return h;
}

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
  logging::setup("vigil-agent", logging::parse_level(initial.logging.level).value_or(spdlog::level::info));
  auto log = logging::get("agent");
  signals::install();
  // One malloc arena for every thread: the loop allocates, the delivery and a scan's thread
  // briefly; an arena per thread would keep megabytes a resting agent never uses again.
  ::mallopt(M_ARENA_MAX, 1);
  // agent.yaml as read (`base`), and what runs: with the group bundle's overlay over it (fleet/).
  AgentConfig base = initial;
  fleet::BundleClient bundles(base.agent.state_dir);
  bundles.load();
  AgentConfig cfg = with_overlay(base, bundles.parts().overlay, *log);

  // Captures need root (or CAP_NET_RAW); they are opened first, then privileges go.
  std::vector<std::unique_ptr<pipeline::CaptureSource>> captures;
  for (const auto& c : cfg.capture) {
    capture::LiveOptions lo;
    lo.interface = c.interface;
    lo.bpf = c.bpf;
    lo.snaplen = c.snaplen;
    lo.buffer_size = c.buffer_size;
    lo.promiscuous = c.promiscuous;
    auto src = capture::PcapLiveSource::open(lo);
    if (!src) {
      // A filter from the group bundle's overlay that does not open here: the agent.yaml one, so
      // that the agent still starts and can fetch a fixed bundle.
      auto own = std::find_if(base.capture.begin(), base.capture.end(),
                              [&](const CaptureInput& b) { return b.interface == c.interface; });
      if (own != base.capture.end() && own->bpf != c.bpf) {
        log->error("capture {}: {}; trying agent.yaml's filter instead of the group bundle's", c.interface, src.error());
        bundles.set_result("rejected: its capture filter does not open here");
        lo.bpf = own->bpf;
        src = capture::PcapLiveSource::open(lo);
      }
    }
    if (!src) {
      log->error("capture: {}", src.error());
      return 1;
    }
    if (!(*src)->warning().empty()) log->warn("capture {}: {}", c.interface, (*src)->warning());
    log->info("capturing on {}{}", c.interface, c.bpf.empty() ? "" : " (filter: " + c.bpf + ")");
    captures.push_back(std::make_unique<pipeline::CaptureSource>(std::move(src.value()), false));
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
  auto opened = Spool::open(fs::path(cfg.agent.state_dir) / "spool", so);
  if (!opened) {
    log->error("{}", opened.error());
    return 1;
  }
  Spool& spool = **opened;
  std::string host = cfg.agent.name.empty() ? local_host_name() : cfg.agent.name;

  // Sources → pipeline (packets → flows, enrich → rules) → spool.
  pipeline::SpoolSink sink(spool);
  pipeline::PipelineOptions po;
  po.host_name = host;
  po.agent_id = identity->agent_id;
  po.traffic.flows = flow_options(cfg.flows);
  pipeline::Pipeline pipe(po, [&sink](const Event& e, std::string_view origin, const std::string* json) {
    sink(e, origin, json);
  });
  if (!load_rules(pipe, cfg, bundles, *log)) return 1;
  pipeline::LogInputs logs(cfg.logs, cfg.agent.state_dir, spool, host);
  logs.open_journals();
  pipeline::InboxSource inbox(cfg.policies.inbox);
  checks::ScheduledScans scans(cfg, host);
  scans.set_extra_paths(bundles.parts().policies);
  if (!scans.load()) {
    if (bundles.parts().policies.empty()) return 1;
    log->error("policies with the group bundle not loaded; trying without it");
    bundles.set_result("rejected: its policies no longer load with the local ones");
    scans.set_extra_paths({});
    if (!scans.load()) return 1;
  }
  // File integrity (fim:), its baseline under state_dir; off without trees.
  std::unique_ptr<pipeline::FimSource> fim;
  auto start_fim = [&] {
    if (!cfg.fim.enabled()) return;
    fim = std::make_unique<pipeline::FimSource>(
        cfg.fim, (fs::path(cfg.agent.state_dir) / pipeline::FimSource::kBaselineName).string(), host);
    size_t realtime = std::count_if(cfg.fim.paths.begin(), cfg.fim.paths.end(), [](const FimPath& p) { return p.realtime; });
    log->info("file integrity: {} trees ({} in realtime), full scan every {} s", cfg.fim.paths.size(), realtime,
              std::chrono::duration_cast<std::chrono::seconds>(cfg.fim.interval).count());
    fim->start();
  };
  start_fim();
  std::vector<pipeline::Source*> sources;
  for (auto& c : captures) sources.push_back(c.get());
  sources.push_back(&logs);
  sources.push_back(&inbox);
  sources.push_back(&scans);
  if (fim) sources.push_back(fim.get());
  // fim: changed by a reload: the source is rebuilt on the baseline it kept (a tree still watched
  // keeps its baseline, one added is baselined silently, one removed dropped). What it reported is
  // made durable first, so that the baseline written as it stops holds it.
  auto restart_fim = [&] {
    if (fim) {
      if (auto synced = spool.sync()) fim->commit(*synced);
      fim->stop();
      std::erase(sources, static_cast<pipeline::Source*>(fim.get()));
      fim.reset();
    }
    log->info("file integrity: fim changed; restarting on the kept baseline{}", cfg.fim.enabled() ? "" : " (now off)");
    start_fim();
    if (fim) sources.push_back(fim.get());
  };

  ShipperOptions sh;
  sh.addresses = cfg.collector.addresses;
  sh.batch_max_records = cfg.collector.batch_max_records;
  sh.batch_max_bytes = cfg.collector.batch_max_bytes;
  sh.batches_in_flight = cfg.collector.batches_in_flight;
  sh.connect_timeout = cfg.collector.connect_timeout;
  sh.retry_max_backoff = cfg.collector.retry_max_backoff;
  sh.compression = cfg.collector.compression;
  sh.state_dir = cfg.agent.state_dir;
  sh.on_answer = [&bundles](std::string_view answer, const Fetch& fetch) { bundles.on_answer(answer, fetch); };
  Shipper shipper(spool, *identity, sh);
  shipper.start();
  log->info("vigil-agent {} running as {} (agent {}), spool epoch {}", kVersion, host, identity->agent_id,
            spool.epoch());
  notify_systemd("READY=1");

  // SIGHUP: agent.yaml again. An invalid file changes nothing (its problems are logged with
  // file:line:column); otherwise what can change in flight changes, and what cannot is named.
  auto reload = [&] {
    log->info("SIGHUP: reloading {}", config_path);
    bundles.retry_refused();  // a version refused for a local reason may pass now
    auto loaded = load_agent_config(config_path);
    if (!loaded) {
      std::string why = loaded.error();
      while (!why.empty() && why.back() == '\n') why.pop_back();
      log->error("SIGHUP: {} is not valid; the agent keeps running on its current configuration:\n{}", config_path,
                 why);
      log->info("SIGHUP: reloading the rules and policies of the current configuration");
      load_rules(pipe, cfg, bundles, *log);
      scans.load();
      return;
    }
    for (const auto& d : loaded->diagnostics.items()) log->warn("{}", d.to_string());
    base = loaded->config;
    auto plan = plan_reload(cfg, with_overlay(base, bundles.parts().overlay, *log));
    for (const auto& setting : plan.needs_restart) {
      log->warn("SIGHUP: {} changed in {} but needs a restart; it keeps its running value until then", setting,
                config_path);
    }
    cfg = std::move(plan.applied);
    if (plan.logging_changed) {
      logging::setup("vigil-agent", logging::parse_level(cfg.logging.level).value_or(spdlog::level::info));
      log->info("log level {}", cfg.logging.level);
    }
    if (plan.logs_changed) logs.apply();
    if (plan.fim_changed) restart_fim();
    load_rules(pipe, cfg, bundles, *log);  // the rule files may have changed even where their paths did not
    scans.load();
    log->info("SIGHUP: configuration reloaded ({} log inputs; {} setting(s) waiting for a restart)", cfg.logs.size(),
              plan.needs_restart.size());
  };

  // A group bundle the shipper verified and staged, applied through the reload path: its overlay
  // over agent.yaml, its rules over the configuration's and its policies beside them, all loaded
  // before anything changes (all or nothing); refused with the loaders' reasons otherwise.
  bool health_now = false;
  auto apply_bundle = [&](const fleet::StagedBundle& b) {
    std::error_code ec;
    if (!b.dir.empty() && !fs::is_directory(b.dir, ec)) return bundles.rejected(b, "its files are gone from " + b.dir);
    const fleet::BundleParts parts = fleet::parts_of(b.dir);
    const std::vector<std::string>& rule_dirs = parts.rules;
    const std::vector<std::string>& policy_dirs = parts.policies;
    AgentConfig next = base;
    if (!parts.overlay.empty()) {
      auto text = pki::read_file(parts.overlay);
      if (!text) return bundles.rejected(b, text.error());
      auto overlay = load_config_overlay("config/agent.yaml", *text);
      if (!overlay) return bundles.rejected(b, "its agent.yaml overlay does not load here: " + overlay.error());
      for (const auto& input : overlay->logs) {
        for (const std::string* p : {&input.path, &input.directory}) {
          if (!p->empty() && (*p + "/").starts_with(base.agent.state_dir + "/")) {
            return bundles.rejected(b, "its agent.yaml overlay names " + *p + ", under this agent's state_dir");
          }
        }
      }
      apply_overlay(next, *overlay);
    }
    auto loaded = rules::load_rules(next.rules.paths, rule_dirs);
    if (!loaded) return bundles.rejected(b, "its rules do not load here: " + loaded.error());
    std::vector<std::string> policy_paths = next.policies.paths;
    policy_paths.insert(policy_paths.end(), policy_dirs.begin(), policy_dirs.end());
    if (!policy_dirs.empty()) {
      auto policies = checks::load_policy_set(policy_paths);
      if (!policies) return bundles.rejected(b, "its policies do not load here: " + policies.error());
    }
    auto plan = plan_reload(cfg, next);
    for (const auto& setting : plan.needs_restart) {
      log->warn("group bundle: {} changed by its agent.yaml overlay; it takes effect at the next restart", setting);
    }
    cfg = std::move(plan.applied);
    if (plan.logs_changed) logs.apply();
    if (plan.fim_changed) restart_fim();
    for (const auto& d : loaded->diagnostics.items()) log->warn("{}", d.to_string());
    pipe.set_rules(loaded->set);
    log->info("{} rules loaded from {} files (version {}) with group {}'s bundle version {}",
              loaded->set->rules.size(), loaded->set->files.size(), loaded->set->version, b.group, b.version);
    scans.set_extra_paths(policy_dirs);
    scans.load();
    bundles.applied(b);
    health_now = true;  // the collector learns it with the next delivery, not a heartbeat later
  };

  // One loop: every source a bounded slice per pass, then the spool synced (on a cadence:
  // spool.sync_interval) and the positions that produced what it holds committed. Nothing lies
  // between a source and the spool but this pass, so a slow spool slows reading (backpressure)
  // instead of filling a queue.
  auto next_health = std::chrono::steady_clock::now();
  auto next_discover = std::chrono::steady_clock::now();
  auto last_sync = std::chrono::steady_clock::now();
  bool unsynced = false;
  // After busy passes (a scan, a burst of lines), the memory they freed goes back to the system
  // once the agent rests: at most every 10 s, only when the loop is idle.
  bool trim_due = true;
  auto next_trim = last_sync + std::chrono::seconds(10);
  std::vector<pollfd> fds;
  while (true) {
    bool stopping = signals::stop_requested();
    auto now = std::chrono::steady_clock::now();
    if (now >= next_discover) {
      logs.discover();
      next_discover = now + std::chrono::seconds(5);
    }
    size_t packets = 0;
    for (auto& c : captures) packets += c->poll(pipe);
    if (!captures.empty()) pipe.advance(Timestamp::now());
    if (signals::take_scan_request()) {
      if (scans.enabled()) {
        log->info("SIGUSR1: compliance scan requested");
        scans.request();
      } else {
        request_external_scan(cfg.policies.inbox, *log);
      }
    }
    if (stopping) scans.stop();
    size_t n = logs.poll(pipe) + inbox.poll(pipe) + scans.poll(pipe) + (fim ? fim->poll(pipe) : 0);
    if (now >= next_health || stopping || health_now) {
      health_now = false;
      Event health = health_event(sink, shipper, sources, pipe, !captures.empty());
      bundles.put_health(health);
      pipe.event(std::move(health));
      next_health = now + cfg.agent.health_interval;
      ++n;
    }
    if (stopping) {
      pipe.flush(flow::EndReason::shutdown);
      ++n;
    }
    if (sink.take_appended() > 0 || n > 0) unsynced = true;
    if (unsynced && (stopping || now - last_sync >= cfg.spool.sync_interval)) {
      // Durable first, then the positions that produced it are committed.
      last_sync = now;
      unsynced = false;
      auto synced = spool.sync();
      if (!synced) {
        log->error("{}", synced.error());  // the inbox files stay until a later sync succeeds: never lost
      } else {
        for (auto* s : sources) s->commit(*synced);
        spool.retain_after(*synced);
      }
      shipper.wake();
    }
    if (stopping) break;
    if (auto staged = bundles.take_staged()) apply_bundle(*staged);
    if (signals::take_reload_request()) {
      notify_systemd("RELOADING=1");
      reload();
      notify_systemd("READY=1");
    }
    notify_systemd("WATCHDOG=1");
    if (n > 0 || packets > 0) trim_due = true;
    if (n == 0 && packets == 0) {
      if (trim_due && now >= next_trim) {
        ::malloc_trim(0);
        trim_due = false;
        next_trim = now + std::chrono::seconds(10);
      }
      fds.clear();
      fds.push_back({signals::wake_fd(), POLLIN, 0});
      for (const auto* s : sources) s->wake_fds(fds);
      // Sleep no longer than what is waiting for its sync.
      int timeout_ms = 200;
      if (unsynced) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.spool.sync_interval - (now - last_sync));
        timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 200));
      }
      ::poll(fds.data(), fds.size(), timeout_ms);
      if (fds[0].revents & POLLIN) {
        uint64_t drain;
        [[maybe_unused]] auto r = ::read(fds[0].fd, &drain, sizeof(drain));
      }
      if (logs.take_new_files()) next_discover = std::chrono::steady_clock::now();  // a file appeared
    }
  }
  notify_systemd("STOPPING=1");
  scans.wait();
  if (fim) fim->stop();  // its baseline written when what it reported is in the spool
  log->info("stopping: delivering what is spooled (up to 5 s)");
  shipper.stop(std::chrono::seconds(5));
  auto st = spool.stats();
  log->info("stopped: {} records delivered this run, {} waiting in the spool", shipper.stats().records.load(),
            st.pending);
  return 0;
}

}  // namespace vigil::agent
