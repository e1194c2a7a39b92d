// Alert notices to people: each `notify:` target (e-mail, Telegram) gets one notice per alert at
// or above its severity, of its agencies, in its language, with a link to the alert in the
// console. A durable cursor per target in <data_dir>/notify/<name>.cursor (the last alert whose
// notice, alone or inside a digest, the server accepted) with the rate window's state beside it:
// an outage delays notices, a restart neither repeats one nor resets the rate.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/config/collector_config.h"
#include "collector/notify/message.h"
#include "collector/notify/senders.h"
#include "collector/store/triage_store.h"
#include "common/util/worker_loop.h"

namespace vigil::collector {

struct NotifyStats {
  std::atomic<uint64_t> sent{0};      // notices of one alert accepted by the server
  std::atomic<uint64_t> digests{0};   // digests accepted
  std::atomic<uint64_t> failures{0};  // failed attempts
  std::atomic<int64_t> cursor{0};
  std::atomic<uint64_t> announcements{0};          // announcements accepted (incident deadlines)
  std::atomic<uint64_t> announcements_dropped{0};  // refused: kMaxAnnouncements were waiting
};

namespace notify {

struct Announcement {
  std::string id{};  // names the message (Message-ID), e.g. incident-7-notify
  int severity{0};
  std::vector<std::string> agencies{};
  Notice vi{};
  Notice en{};
};

// What the cursor file keeps: the cursor and the rate window (wall clock, so it outlives restarts).
struct CursorState {
  int64_t cursor{0};
  int64_t window_start_ms{0};  // 0: no window open
  uint32_t sent{0};            // notices sent in the window
  int64_t held_upto{0};        // the newest alert held for the window's digest (0: none held)
};

std::string format_cursor(const CursorState& s);
std::optional<CursorState> parse_cursor(std::string_view text);

// The rate limit of one target: `count` notices per `period`, the alerts beyond folded into one
// digest when the period ends. A window opens with the first notice after the last one closed.
class RateWindow {
 public:
  RateWindow(uint32_t count, std::chrono::milliseconds period) : count_(count), period_ms_(period.count()) {}

  bool limited() const { return count_ > 0; }
  // A notice of its own may leave now (nothing held, and the window has room or is over).
  bool allows(const CursorState& s, int64_t now_ms) const;
  // Alerts are held and their window is over: the digest is due.
  bool digest_due(const CursorState& s, int64_t now_ms) const;
  // A notice was accepted at now_ms (opens a window when none is open).
  void noticed(CursorState& s, int64_t now_ms) const;
  // Alert `id` goes into the window's digest.
  void hold(CursorState& s, int64_t id) const;
  // The digest was accepted: the cursor moves past the held alerts and the window closes.
  void digested(CursorState& s) const;

 private:
  bool window_over(const CursorState& s, int64_t now_ms) const {
    return s.window_start_ms == 0 || now_ms >= s.window_start_ms + period_ms_;
  }
  uint32_t count_;
  int64_t period_ms_;
};

}  // namespace notify

class Notifier {
 public:
  Notifier(TriageStore& store, const std::vector<NotifySection>& targets, std::string data_dir,
           std::string console_url);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void start();
  void stop();
  // Looks for new alerts now (after a batch that held alerts).
  void wake();
  // A notice about something other than one alert (an incident's deadline passing), in both
  // languages, to the targets whose min_severity and agencies it matches: sent before alerts as
  // soon as the server takes it; kept in memory only. Returns how many targets took it.
  size_t announce(const notify::Announcement& a);

  size_t size() const { return targets_.size(); }
  const std::string& name(size_t i) const { return targets_[i].config.name; }
  const NotifyStats& stats(size_t i) const { return *targets_[i].stats; }

 private:
  struct Target {
    NotifySection config;
    std::unique_ptr<notify::Sender> sender;
    std::unique_ptr<NotifyStats> stats;
    notify::CursorState state;
    std::deque<std::pair<notify::Notice, std::string>> announcements;  // with message ids; guarded by mu_
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
  };
  void run_target(Target& t);
  bool deliver(Target& t, const notify::Notice& n, const std::string& message_id);
  bool save(const Target& t);
  Result<std::vector<AlertRecord>> pending(const Target& t, int64_t upto);

  TriageStore& store_;
  std::string dir_;
  std::string console_url_;
  std::vector<Target> targets_;
  std::mutex mu_;  // guards each target's announcements
  util::WorkerLoop loop_;  // its last member: stopped first
};

}  // namespace vigil::collector
