// Retention (collector.retention): what is older than its kind's period is purged from the store
// every `interval` (and at start, when the last round is that old), a chunk per transaction, on a
// thread of its own. Collectors sharing a database take turns: each round goes to one of them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/config/collector_config.h"
#include "collector/store/agent_store.h"
#include "collector/store/retention_store.h"
#include "collector/store/system_store.h"
#include "common/compliance/framework.h"

namespace vigil::collector {

// The cutoffs of a purge at `now`: each kind's period measured back from it.
PurgeRequest retention_request(const RetentionSection& config, Timestamp now);

// How long the information systems' levels require events to be kept: the longest log retention
// control (catalogue `retention:`) of each system's agency's framework at the system's level, and
// which system and control asks it ("" when none does).
struct RetentionNeed {
  std::chrono::milliseconds events{0};
  std::string because{};  // e.g. "system cong-dich-vu (level 3): tcvn14423 log-retention-3m"
};
RetentionNeed events_retention_needed(const std::vector<SystemRecord>& systems, const std::vector<AgencyRecord>& agencies,
                                      const compliance::LoadedFrameworks& frameworks,
                                      const std::string& default_framework);
// The events retention in force: the configured one when collector.yaml sets it, else the longer of
// the default and the need.
std::chrono::milliseconds effective_events_retention(const RetentionSection& config, const RetentionNeed& need);
// What `configured` falls short of, per catalogue: "tcvn14423 asks 92d at level 3 (log-retention-3m)",
// one line per level whose requirement is longer (check-config's warning).
std::vector<std::string> retention_shortfalls(std::chrono::milliseconds configured,
                                              const compliance::LoadedFrameworks& frameworks);


class Retention {
 public:
  // Rows removed since start, per kind, and the purges run and failed (for /metrics).
  struct Totals {
    std::atomic<uint64_t> events{0}, alerts{0}, alert_history{0}, health{0}, compliance_history{0}, audit{0};
    std::atomic<uint64_t> runs{0}, failures{0};
    std::atomic<uint64_t> skipped{0};  // rounds another collector sharing the database took
    std::atomic<uint64_t> unreadable_bodies{0};  // purged events whose body could not be read
  };

  // `need` (may be empty) tells each round what the systems' levels require of events retention.
  using Need = std::function<Result<RetentionNeed>()>;
  Retention(RetentionStore& store, RetentionSection config, Need need = {});
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // One round now: claimed in the store (counted as skipped when another collector took it), then
  // purged, logged and added to the totals; stops early when stop() is called.
  Result<PurgeCounts> run_once(Timestamp now);
  // A round now, then one every interval, until stop().
  void start();
  void stop();
  const Totals& totals() const { return totals_; }
  // The events retention of the last round (the configured one before the first).
  std::chrono::milliseconds events_retention() const { return std::chrono::milliseconds(events_ms_.load()); }

 private:
  RetentionStore& store_;
  RetentionSection config_;
  Need need_;
  std::atomic<int64_t> events_ms_{0};
  std::string last_shortfall_;  // logged once while it lasts
  Totals totals_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace vigil::collector
