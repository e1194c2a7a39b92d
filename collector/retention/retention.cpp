#include "collector/retention/retention.h"

#include <chrono>

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

Retention::Retention(RetentionStore& store, RetentionSection config) : store_(store), config_(config) {}

Retention::~Retention() { stop(); }

Result<PurgeCounts> Retention::run_once(Timestamp now) {
  auto log = logging::get("retention");
  auto started = std::chrono::steady_clock::now();
  // Collectors sharing a database take turns: a round goes to whichever asks first once the
  // interval has passed since the last one, and the others leave it.
  auto claimed = store_.claim_retention_round(now, back(now, config_.interval));
  if (claimed && !*claimed) {
    ++totals_.skipped;
    log->debug("retention: this round was taken by another collector sharing the database");
    return PurgeCounts{};
  }
  PurgeRequest request = retention_request(config_, now);
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
