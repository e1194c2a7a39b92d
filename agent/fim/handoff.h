// File integrity: the bounded hand-off between the agent's loop and the FIM worker threads. A
// producer blocks while it is full (a worker waits for the loop; the loop never waits for a
// worker: it only takes, or pushes what there is room for), so nothing grows without bound.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace vigil::agent::fim {

template <class T>
class Handoff {
 public:
  explicit Handoff(size_t capacity) : capacity_(capacity) {}

  // Waits for room; false (and `v` dropped) once closed.
  bool push(T&& v) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(v));
    not_empty_.notify_one();
    return true;
  }
  // Without waiting: false when full or closed.
  bool try_push(T&& v) {
    std::lock_guard lock(mu_);
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(v));
    not_empty_.notify_one();
    return true;
  }
  std::optional<T> try_pop() {
    std::lock_guard lock(mu_);
    if (items_.empty()) return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return v;
  }
  // Waits for an item; nullopt once closed.
  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (closed_) return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return v;
  }
  size_t room() const {
    std::lock_guard lock(mu_);
    return closed_ ? 0 : capacity_ - items_.size();
  }
  bool empty() const {
    std::lock_guard lock(mu_);
    return items_.empty();
  }
  // Wakes every waiter; pushes fail from now on.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_{};
  std::condition_variable not_full_{};
  std::condition_variable not_empty_{};
  std::deque<T> items_{};
  bool closed_{false};
};

}  // namespace vigil::agent::fim
