// Retention (collector.retention): what is older than its kind's period is purged from the store
// every `interval` (and at start, when the last round is that old), a chunk per transaction, on a
// thread of its own. Collectors sharing a database take turns: each round goes to one of them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "collector/config/collector_config.h"
#include "collector/store/retention_store.h"

namespace vigil::collector {

// The cutoffs of a purge at `now`: each kind's period measured back from it.
PurgeRequest retention_request(const RetentionSection& config, Timestamp now);

class Retention {
 public:
  // Rows removed since start, per kind, and the purges run and failed (for /metrics).
  struct Totals {
    std::atomic<uint64_t> events{0}, alerts{0}, alert_history{0}, health{0}, compliance_history{0}, audit{0};
    std::atomic<uint64_t> runs{0}, failures{0};
    std::atomic<uint64_t> skipped{0};  // rounds another collector sharing the database took
  };

  Retention(RetentionStore& store, RetentionSection config);
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

 private:
  RetentionStore& store_;
  RetentionSection config_;
  Totals totals_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace vigil::collector
