// A thread that runs a round of work when woken, or at least every `period`, until stopped: what
// the collector's exports and notifications each run on (collector/export, collector/notify).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vigil::util {

class WorkerLoop {
 public:
  WorkerLoop() = default;
  ~WorkerLoop() { stop(); }
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

  // Runs `round` on a thread of its own after each wake() and at least every `period`.
  void start(std::chrono::milliseconds period, std::function<void()> round) {
    stop_ = false;
    thread_ = std::thread([this, period, round = std::move(round)] {
      while (true) {
        {
          std::unique_lock lock(mu_);
          cv_.wait_for(lock, period, [&] { return stop_.load() || woken_; });
          if (stop_) return;
          woken_ = false;
        }
        round();
      }
    });
  }
  // Ends the loop after the round in progress (which may look at stopping() to end early); joins.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void wake() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }
  bool stopping() const { return stop_; }

 private:
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  bool woken_ = false;  // guarded by mu_
};

}  // namespace vigil::util
