#include "collector/retention/retention.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "common/config/yaml_reader.h"
#include "common/log/logging.h"

namespace vigil::collector {

namespace {

Timestamp back(Timestamp now, std::chrono::milliseconds period) {
  return Timestamp{now.ns - std::chrono::duration_cast<std::chrono::nanoseconds>(period).count()};
}

}  // namespace

PurgeRequest retention_request(const RetentionSection& config, Timestamp now) {
  PurgeRequest r;
  r.events_before = back(now, config.events);
  r.alerts_before = back(now, config.alerts);
  r.health_before = back(now, config.health);
  r.compliance_history_before = back(now, config.compliance_history);
  r.audit_before = back(now, config.audit);
  return r;
}

RetentionNeed events_retention_needed(const std::vector<SystemRecord>& systems, const std::vector<AgencyRecord>& agencies,
                                      const compliance::LoadedFrameworks& frameworks,
                                      const std::string& default_framework) {
  std::map<std::string, std::string> framework_of;
  for (const auto& a : agencies) framework_of[a.name] = a.framework;
  RetentionNeed need;
  for (const auto& s : systems) {
    auto it = framework_of.find(s.agency);
    const compliance::Framework* fw = frameworks.find(it == framework_of.end() ? default_framework : it->second);
    if (!fw) continue;
    for (const auto& c : fw->controls) {
      if (!c.retention || !c.applies_to(s.level) || *c.retention <= need.events) continue;
      need.events = *c.retention;
      need.because = fmt::format("system {} (level {}): {} {}", s.name, s.level, fw->id, c.id);
    }
  }
  return need;
}

std::chrono::milliseconds effective_events_retention(const RetentionSection& config, const RetentionNeed& need) {
  if (config.events_line > 0) return config.events;
  return std::max(config.events, need.events);
}

std::vector<std::string> retention_shortfalls(std::chrono::milliseconds configured,
                                              const compliance::LoadedFrameworks& frameworks) {
  std::vector<std::string> out;
  for (const auto& fw : frameworks.frameworks) {
    for (int level = 1; level <= 5; ++level) {
      for (const auto& c : fw.controls) {
        if (c.retention && c.applies_to(level) && *c.retention > configured) {
          out.push_back(fmt::format("{} asks {} at level {} ({})", fw.id, config::format_duration(*c.retention), level, c.id));
        }
      }
    }
  }
  return out;
}

Retention::Retention(RetentionStore& store, RetentionSection config, Need need)
    : store_(store), config_(config), need_(std::move(need)), events_ms_(config.events.count()) {}

Retention::~Retention() { stop(); }

Result<PurgeCounts> Retention::run_once(Timestamp now) {
  auto log = logging::get("retention");
  auto started = std::chrono::steady_clock::now();
  // The events retention in force is worked out by every collector, whoever purges.
  RetentionSection config = config_;
  if (need_) {
    auto need = need_();
    if (!need) {
      // Without the systems' levels the purge would keep too little: this round waits.
      ++totals_.failures;
      log->warn("retention: the systems' levels cannot be read (purge skipped this round): {}", need.error());
      return make_error(need.error());
    }
    config.events = effective_events_retention(config_, *need);
    std::string shortfall;
    if (config.events < need->events) {
      shortfall = fmt::format("retention.events {} is below the {} {} requires: its log retention control fails "
                              "(remove retention.events to follow the systems' levels)",
                              config::format_duration(config.events), config::format_duration(need->events), need->because);
    }
    if (shortfall != last_shortfall_ && !shortfall.empty()) log->warn("{}", shortfall);
    if (config.events != std::chrono::milliseconds(events_ms_.load())) {
      log->info("retention: events kept {}{}", config::format_duration(config.events),
                need->events > config_.events && config_.events_line == 0 ? " (as " + need->because + " requires)" : "");
    }
    last_shortfall_ = shortfall;
  }
  events_ms_ = config.events.count();
  // Collectors sharing a database take turns: a round goes to whichever asks first once the
  // interval has passed since the last one, and the others leave it.
  auto claimed = store_.claim_retention_round(now, back(now, config_.interval));
  if (claimed && !*claimed) {
    ++totals_.skipped;
    log->debug("retention: this round was taken by another collector sharing the database");
    return PurgeCounts{};
  }
  PurgeRequest request = retention_request(config, now);
  request.cancelled = [this] { return stopping_.load(); };
  auto r = store_.purge(request);
  ++totals_.runs;
  if (!r) {
    ++totals_.failures;
    log->warn("retention: purge failed (tried again in {}s): {}",
              std::chrono::duration_cast<std::chrono::seconds>(config_.interval).count(), r.error());
    return r;
  }
  totals_.events += r->events;
  totals_.alerts += r->alerts;
  totals_.alert_history += r->alert_history;
  totals_.health += r->health;
  totals_.compliance_history += r->compliance_history;
  totals_.audit += r->audit;
  totals_.unreadable_bodies += r->unreadable_bodies;
  if (r->unreadable_bodies > 0) {
    log->warn("retention: {} purged events had a body that could not be read (a damaged block); their words stay "
              "in the full-text index",
              r->unreadable_bodies);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto level = r->total() > 0 ? spdlog::level::info : spdlog::level::debug;
  log->log(level,
           "retention: purged {} events, {} alerts ({} history entries), {} health records, {} compliance changes, "
           "{} audit entries in {:.2f}s",
           r->events, r->alerts, r->alert_history, r->health, r->compliance_history, r->audit, seconds);
  return r;
}

void Retention::start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      (void)run_once(Timestamp::now());
      lock.lock();
      wake_.wait_for(lock, config_.interval, [this] { return stopping_.load(); });
    }
  });
}

void Retention::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vigil::collector
