// An event: a small set of (field id, typed value) pairs. See shared/DESIGN.md "Events".
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/event/fields.h"
#include "common/event/value.h"

namespace vigil {

class Event {
 public:
  using Entry = std::pair<FieldId, Value>;

  Event() = default;

  // Sets a field, replacing any earlier value of it.
  void set(FieldId id, Value value);
  // Adds a field the event does not carry (a fresh event being filled): no search.
  void add(FieldId id, Value value) {
    fields_.emplace_back(id, std::move(value));
    present_ |= bit(id);
  }
  void reserve(size_t n) { fields_.reserve(n); }
  const Value* get(FieldId id) const;
  bool has(FieldId id) const { return get(id) != nullptr; }
  bool erase(FieldId id);
  void clear() {
    fields_.clear();
    present_ = 0;
  }

  // Typed accessors; nullptr when absent or of another type.
  const std::string* get_string(FieldId id) const;
  const int64_t* get_int(FieldId id) const;
  const IpAddress* get_ip(FieldId id) const;
  const Timestamp* get_timestamp(FieldId id) const;

  // Event time (@timestamp), or zero when unset.
  Timestamp time() const;

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

  // Equal when both carry the same fields with equal values, in any order.
  friend bool operator==(const Event& a, const Event& b);

 private:
  static uint64_t bit(FieldId id) { return uint64_t{1} << (id.v & 63); }
  // Events carry tens of fields: a flat vector with linear search beats any hash table here.
  std::vector<Entry> fields_;
  // A bit per field id modulo 64 for the fields present: most lookups of a field the event does
  // not carry (the rules ask many) end here, without the search.
  uint64_t present_ = 0;
};

// A fresh event id: 26 characters of Crockford base32 (48-bit millisecond time then 80 random
// bits), so ids sort by creation time and never collide in practice.
std::string new_event_id();

// An id of new_event_id's form (26 characters of its alphabet, the first at most '7') as 16
// bytes, and back to the same text; false for any other id.
bool pack_event_id(std::string_view id, unsigned char out[16]);
std::string unpack_event_id(const unsigned char in[16]);

// An HTTP request target as url.original, with url.path, url.query (without '?') and
// url.extension (the last path segment's extension without the dot, as ECS defines it).
void set_url_target(Event& e, std::string_view target);

}  // namespace vigil
