// One counted hit of an aggregation group, and a group's list of them. A group lives for its
// rule's window (a password spray leaves one group per address and rule), so both are kept
// small: a hit is 32 bytes (its time and either the event, while it may still become evidence,
// or only the event's id, packed in 16 bytes when it has the agent's form), and a list keeps its
// first hit inline, so a group with one hit allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "common/event/value.h"

namespace vigil::agent::rules {

class Hit {
 public:
  Hit() = default;
  Hit(Timestamp t, EventPtr e) : time(t) {
    if (e) {
      new (store_) EventPtr(std::move(e));
      kind_ = Kind::event;
    }
  }
  Hit(Hit&& o) noexcept : time(o.time) { take(o); }
  Hit& operator=(Hit&& o) noexcept {
    if (this != &o) {
      reset();
      time = o.time;
      take(o);
    }
    return *this;
  }
  Hit(const Hit&) = delete;
  Hit& operator=(const Hit&) = delete;
  ~Hit() { reset(); }

  bool holds_event() const { return kind_ == Kind::event; }
  const EventPtr& event() const { return *ev(); }  // only while holds_event()
  // The event's id ("" when it had none).
  std::string id() const;
  // Keeps only the event's id; true if an event was held and is no longer (false also when there
  // was no memory to keep a long id: the event stays).
  bool drop_event() noexcept;

  Timestamp time{};

 private:
  enum class Kind : uint8_t { none, event, packed, long_id };
  EventPtr* ev() { return std::launder(reinterpret_cast<EventPtr*>(store_)); }
  const EventPtr* ev() const { return std::launder(reinterpret_cast<const EventPtr*>(store_)); }
  std::string* long_id() const { return *std::launder(reinterpret_cast<std::string* const*>(store_)); }
  void take(Hit& o) noexcept;
  void reset() noexcept;

  alignas(8) unsigned char store_[16];
  Kind kind_ = Kind::none;
};
static_assert(sizeof(EventPtr) <= 16 && sizeof(Hit) == 32);

// A group's hits, oldest first: the first inline, more on the heap.
class HitList {
 public:
  HitList() = default;
  HitList(HitList&& o) noexcept;
  HitList& operator=(HitList&& o) noexcept;
  HitList(const HitList&) = delete;
  HitList& operator=(const HitList&) = delete;
  ~HitList() { release(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Hit* begin() { return data(); }
  Hit* end() { return data() + size_; }
  const Hit* begin() const { return data(); }
  const Hit* end() const { return data() + size_; }
  Hit& operator[](size_t i) { return *std::launder(data() + i); }
  const Hit& operator[](size_t i) const { return *std::launder(data() + i); }

  void push_back(Hit&& h);
  // Removes the hits from `first` to the end.
  void truncate(Hit* first);
  void erase_front();
  // Grows with empty hits, or shrinks.
  void resize(size_t n);
  void clear() { truncate(begin()); }
  // Hits holding an event.
  size_t held() const;

 private:
  // Where the hits are (an address only: there may be none; the elements are reached through it
  // as objects constructed there).
  Hit* data() { return cap_ == 1 ? reinterpret_cast<Hit*>(inline_) : heap_; }
  const Hit* data() const { return cap_ == 1 ? reinterpret_cast<const Hit*>(inline_) : heap_; }
  void reserve(size_t n);
  void release() noexcept;

  uint32_t size_ = 0;
  uint32_t cap_ = 1;
  union {
    alignas(Hit) unsigned char inline_[sizeof(Hit)];
    Hit* heap_;
  };
};

}  // namespace vigil::agent::rules
