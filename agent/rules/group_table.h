// The rule engine's aggregation groups: a pool of slots in fixed chunks (a slot never moves),
// an open-addressing index over it keyed by a seeded hash of the class and the group key
// (agent/flow/open_index.h), and two least-recently-used lists threaded through the slots: one
// over every group (eviction at the cap, shedding held events) and one per class (the engine's
// rule: within one rule, least recently used is soonest expired). A group is its class and key:
// the same key in two classes is two groups. Against a node-based hash map plus a linked list it
// makes no allocation per group beyond the payload's own (keys up to 20 bytes, an address with
// its tag, are kept in the slot), and a lookup touches the index and one slot.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/flow/open_index.h"

namespace vigil::agent::rules {

template <typename T>
class GroupTable {
 public:
  static constexpr uint32_t kNone = flow::kNoEntry;

  GroupTable() : index_(64, kNone), mask_(63) {}

  // The seeded hash of a class and key (the index's and the slot's).
  uint32_t hash(std::string_view key, uint32_t cls) const {
    using flow::mum;
    uint64_t h = mum(seeds_.k[0] ^ key.size(), seeds_.k[1] ^ cls);
    size_t i = 0;
    for (; i + 16 <= key.size(); i += 16) {
      uint64_t a, b;
      std::memcpy(&a, key.data() + i, 8);
      std::memcpy(&b, key.data() + i + 8, 8);
      h = mum(a ^ seeds_.k[1] ^ h, b ^ seeds_.k[2]);
    }
    uint64_t a = 0, b = 0;
    const size_t rest = key.size() - i;
    if (rest > 8) {
      std::memcpy(&a, key.data() + i, 8);
      std::memcpy(&b, key.data() + i + 8, rest - 8);
    } else {
      std::memcpy(&a, key.data() + i, rest);
    }
    h = mum(a ^ seeds_.k[3] ^ h, b ^ seeds_.k[4]);
    h = mum(h ^ seeds_.k[5], seeds_.k[0] ^ key.size());
    return static_cast<uint32_t>(h ^ (h >> 32));
  }

  uint32_t find(std::string_view key, uint32_t hash, uint32_t cls) const {
    for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint32_t e = index_[i];
      if (e == kNone) return kNone;
      const Slot& s = slot(e);
      if (s.hash == hash && s.cls == cls && s.key() == key) return e;
    }
  }

  // A new group of class `cls` with an empty payload, at the back of both lists (most recently
  // used).
  uint32_t insert(std::string_view key, uint32_t hash, uint32_t cls) {
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      if (used_ / kChunk == chunks_.size()) chunks_.push_back(std::make_unique<Slot[]>(kChunk));
      id = used_++;
    }
    Slot& s = slot(id);
    s.set_key(key);
    s.hash = hash;
    s.cls = cls;
    if (cls >= classes_.size()) classes_.resize(cls + 1);
    link_back(id);
    class_link_back(id);
    ++size_;
    if (2 * size_ > index_.size()) grow();
    flow::open_index_insert(index_, mask_, id, hash);
    return id;
  }

  void erase(uint32_t id) {
    Slot& s = slot(id);
    flow::open_index_erase(index_, mask_, id, s.hash, [this](uint32_t e) { return slot(e).hash; });
    unlink(id);
    class_unlink(id);
    s.value = T{};
    s.set_key({});
    free_.push_back(id);
    --size_;
  }

  // To the back of both lists (most recently used).
  void touch(uint32_t id) {
    if (tail_ != id) {
      unlink(id);
      link_back(id);
    }
    if (classes_[slot(id).cls].tail != id) {
      class_unlink(id);
      class_link_back(id);
    }
  }

  T& operator[](uint32_t id) { return slot(id).value; }
  const T& operator[](uint32_t id) const { return slot(id).value; }
  size_t size() const { return size_; }
  uint32_t front() const { return head_; }              // least recently used, kNone when empty
  uint32_t next(uint32_t id) const { return slot(id).next; }  // towards the most recent; kNone after the last
  // The least recently used group of class `cls`, kNone when it has none.
  uint32_t class_front(uint32_t cls) const { return cls < classes_.size() ? classes_[cls].head : kNone; }

 private:
  static constexpr uint32_t kChunk = 1024;
  // A key of up to 20 bytes (an address with its tag and separator: 18) is kept in the slot; a
  // longer one on the heap, its pointer in the same bytes.
  static constexpr size_t kInlineKey = 20;
  struct Slot {
    Slot() = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { set_key({}); }
    const char* heap_key() const {
      const char* p;
      std::memcpy(&p, key_bytes, sizeof p);
      return p;
    }
    std::string_view key() const { return {key_len > kInlineKey ? heap_key() : key_bytes, key_len}; }
    void set_key(std::string_view k) {
      char* to = k.size() > kInlineKey ? new char[k.size()] : key_bytes;  // first: if it throws, nothing changed
      if (key_len > kInlineKey) delete[] heap_key();
      if (to != key_bytes) std::memcpy(key_bytes, &to, sizeof to);
      if (!k.empty()) std::memcpy(to, k.data(), k.size());
      key_len = static_cast<uint32_t>(k.size());
    }
    char key_bytes[kInlineKey];
    uint32_t key_len = 0;
    uint32_t hash = 0;
    uint32_t prev = kNone;
    uint32_t next = kNone;
    uint32_t cls = 0;
    uint32_t class_prev = kNone;
    uint32_t class_next = kNone;
    T value{};
  };
  struct Ends {
    uint32_t head = kNone;
    uint32_t tail = kNone;
  };
  Slot& slot(uint32_t id) { return chunks_[id / kChunk][id % kChunk]; }
  const Slot& slot(uint32_t id) const { return chunks_[id / kChunk][id % kChunk]; }

  void link_back(uint32_t id) {
    Slot& s = slot(id);
    s.prev = tail_;
    s.next = kNone;
    if (tail_ != kNone) slot(tail_).next = id;
    tail_ = id;
    if (head_ == kNone) head_ = id;
  }
  void unlink(uint32_t id) {
    Slot& s = slot(id);
    if (s.prev != kNone) slot(s.prev).next = s.next; else head_ = s.next;
    if (s.next != kNone) slot(s.next).prev = s.prev; else tail_ = s.prev;
    s.prev = s.next = kNone;
  }
  void class_link_back(uint32_t id) {
    Slot& s = slot(id);
    Ends& c = classes_[s.cls];
    s.class_prev = c.tail;
    s.class_next = kNone;
    if (c.tail != kNone) slot(c.tail).class_next = id;
    c.tail = id;
    if (c.head == kNone) c.head = id;
  }
  void class_unlink(uint32_t id) {
    Slot& s = slot(id);
    Ends& c = classes_[s.cls];
    if (s.class_prev != kNone) slot(s.class_prev).class_next = s.class_next; else c.head = s.class_next;
    if (s.class_next != kNone) slot(s.class_next).class_prev = s.class_prev; else c.tail = s.class_prev;
    s.class_prev = s.class_next = kNone;
  }
  void grow() {
    std::vector<uint32_t> bigger(index_.size() * 2, kNone);
    mask_ = static_cast<uint32_t>(bigger.size() - 1);
    for (uint32_t e : index_) {
      if (e != kNone) flow::open_index_insert(bigger, mask_, e, slot(e).hash);
    }
    index_.swap(bigger);
  }

  flow::HashSeeds seeds_;
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> index_;
  uint32_t mask_;
  uint32_t used_ = 0;  // slots ever handed out (the rest of the last chunk is unused)
  size_t size_ = 0;
  uint32_t head_ = kNone;
  uint32_t tail_ = kNone;
  std::vector<Ends> classes_;
};

}  // namespace vigil::agent::rules
