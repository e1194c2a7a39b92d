#include "agent/checks/scheduled_scans.h"

#include "agent/checks/policy_loader.h"
#include "agent/checks/scanner.h"
#include "agent/pipeline/pipeline.h"
#include "common/log/logging.h"

namespace vigil::agent::checks {

namespace fs = std::filesystem;

ScheduledScans::ScheduledScans(const AgentConfig& cfg, std::string host_name)
    : cfg_(cfg),
      host_(std::move(host_name)),
      tracker_(fs::path(cfg.agent.state_dir) / "compliance-reported.json",
               std::chrono::duration_cast<std::chrono::seconds>(cfg.policies.full_report_interval)) {
  if (!tracker_.load_warning().empty()) logging::get("agent")->warn("{}", tracker_.load_warning());
}

bool ScheduledScans::load() {
  if (!enabled()) return true;
  auto log = logging::get("agent");
  std::vector<std::string> paths = cfg_.policies.paths;
  paths.insert(paths.end(), extra_paths_.begin(), extra_paths_.end());
  auto loaded = load_policy_set(paths);
  if (!loaded) {
    log->error("policies not loaded, keeping the previous set:\n{}", loaded.error());
    return false;
  }
  for (const auto& d : loaded->diagnostics.items()) log->warn("{}", d.to_string());
  size_t n = 0;
  for (const auto& p : loaded->policies) n += p.checks.size();
  log->info("{} compliance policies loaded ({} checks), scanning {} every {} s", loaded->policies.size(), n,
            cfg_.policies.root, std::chrono::duration_cast<std::chrono::seconds>(cfg_.policies.interval).count());
  set_ = std::make_shared<const PolicySet>(std::move(loaded.value()));
  return true;
}

size_t ScheduledScans::poll(pipeline::Pipeline& out) {
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
        out.event(std::move(e));
        ++n;
      }
    }
    if (full) tracker_.full_done(at);
    unsaved_ = true;
    logging::get("agent")->info("compliance scan: {} checks in {} ms, {} changed, {} reported{}", checks, done.millis,
                                changed, n, full ? " (full report)" : "");
  }
  auto now = std::chrono::steady_clock::now();
  if (!stopped_ && !running_.valid() && (requested_ || now >= next_)) {
    requested_ = false;
    next_ = now + cfg_.policies.interval;
    running_ = std::async(std::launch::async, [set = set_, root = cfg_.policies.root]() {
      Finished f;
      auto start = std::chrono::steady_clock::now();
      ScanOptions o;
      o.root = root;
      for (const auto& p : set->policies) {
        Scanner scanner(o);
        f.results.emplace_back(&p, scanner.scan(p));
      }
      f.set = set;
      f.millis =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      return f;
    });
  }
  return n;
}

void ScheduledScans::commit(uint64_t) {
  if (!unsaved_) return;
  if (auto r = tracker_.save(); !r) {
    logging::get("agent")->error("compliance state: {}", r.error());
  } else {
    unsaved_ = false;
  }
}

}  // namespace vigil::agent::checks
