// The reporting clock's deadlines passing unmet (collector.yaml `incidents.notify_overdue`): each
// told once, in every target's language, to the `notify:` targets whose severity and agencies the
// incident matches, whichever collector sharing the database sees it first; and the counts
// /metrics gives (incidents not yet reported, deadlines overdue).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "collector/notify/notifier.h"
#include "collector/store/incident_store.h"

namespace vigil::collector {

class IncidentDeadlines {
 public:
  IncidentDeadlines(IncidentStore& store, Notifier& notifier, std::string console_url, bool announce)
      : store_(store), notifier_(notifier), console_url_(std::move(console_url)), announce_(announce) {}

  // Looks at the incidents not yet reported (the newest kMaxWatched) at `now`.
  void check(Timestamp now);

  static constexpr int kMaxWatched = 1000;
  uint64_t active() const { return active_; }
  uint64_t overdue() const { return overdue_; }       // deadlines passed unmet
  uint64_t announced() const { return announced_; }   // of them, told by this collector

 private:
  IncidentStore& store_;
  Notifier& notifier_;
  std::string console_url_;
  bool announce_;
  std::atomic<uint64_t> active_{0};
  std::atomic<uint64_t> overdue_{0};
  std::atomic<uint64_t> announced_{0};
};

}  // namespace vigil::collector
