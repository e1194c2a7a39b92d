// One counted hit of an aggregation group, and a group's list of them. A group lives for its
// rule's window (a password spray leaves one group per address and rule), so both are kept
// small: a hit is 32 bytes (its time and either the kept event, while it may still become
// evidence, or only the event's id, packed in 16 bytes when it has the agent's form), and a list
// keeps its first hit inline, so a group with one hit allocates nothing.
//
// A kept event is its JSON line, written once when a rule first keeps it and shared by every hit
// and alert citing it (an alert copies the text as it is), with its id beside it: letting a hit's
// evidence go reads the id from the block whose count it drops anyway, and nothing of the event
// itself, long gone by then.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "common/event/value.h"

namespace vigil::agent::rules {

// An event a rule keeps: its JSON line (append_json_line's) and its id, packed when it has the
// agent's form (common/event/event.h), else as text.
struct KeptEvent {
  std::string json;
  unsigned char packed_id[16]{};
  bool id_packed = false;
  std::string id;  // when not packed ("" when the event has none)
  static std::shared_ptr<const KeptEvent> make(std::string_view json, std::string_view id);
};
using KeptPtr = std::shared_ptr<const KeptEvent>;

class Hit {
 public:
  Hit() = default;
  Hit(Timestamp t, KeptPtr e) : time(t) {
    if (e) {
      new (store_) KeptPtr(std::move(e));
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
  // The event's JSON line, sharing the kept event's ownership; only while holds_event().
  std::shared_ptr<const std::string> evidence() const { return {*ev(), &(*ev())->json}; }
  // The event's id ("" when it had none).
  std::string id() const;
  // Keeps only the event's id; true if an event was held and is no longer (false also when there
  // was no memory to keep a long id: the event stays).
  bool drop_event() noexcept;

  Timestamp time{};

 private:
  enum class Kind : uint8_t { none, event, packed, long_id };
  KeptPtr* ev() { return std::launder(reinterpret_cast<KeptPtr*>(store_)); }
  const KeptPtr* ev() const { return std::launder(reinterpret_cast<const KeptPtr*>(store_)); }
  std::string* long_id() const { return *std::launder(reinterpret_cast<std::string* const*>(store_)); }
  void take(Hit& o) noexcept;
  void reset() noexcept;

  alignas(8) unsigned char store_[16];
  Kind kind_ = Kind::none;
};
static_assert(sizeof(KeptPtr) <= 16 && sizeof(Hit) == 32);

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
  // Hits holding their kept event.
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
