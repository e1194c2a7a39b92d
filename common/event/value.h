// Typed values carried by events: string, integer, float, IP address, bool, timestamp, lists.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigil {

// An IPv4 or IPv6 address; IPv4 is kept in the IPv4-mapped form so both compare alike.
class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress v4(uint32_t host_order);
  // Inline and made of two 8-byte words: the decoder makes two per packet, and an address put
  // together byte by byte in memory stalled the copy that read it back whole.
  static IpAddress v4_bytes(const uint8_t bytes[4]) {
    uint32_t v4;
    std::memcpy(&v4, bytes, 4);
    // Bytes 8..15 of ::ffff:a.b.c.d: 0, 0, ff, ff, a, b, c, d (the word in the host's order).
    uint64_t high;
    if constexpr (std::endian::native == std::endian::little) {
      high = 0xffff0000ULL | (uint64_t{v4} << 32);
    } else {
      high = (0xffffULL << 32) | v4;
    }
    return IpAddress(0, high, true);
  }
  static IpAddress v6_bytes(const uint8_t bytes[16]) {
    uint64_t w[2];
    std::memcpy(w, bytes, 16);
    return IpAddress(w[0], w[1], false);
  }
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const { return v4_; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // The 4 address bytes of an IPv4 address (bytes 12..15 of the mapped form).
  const uint8_t* v4_data() const { return bytes_.data() + 12; }
  std::string to_string() const;
  // The text form written into `buf` (kTextMax bytes at least), no allocation; returns its length.
  static constexpr size_t kTextMax = 48;
  size_t format(char* buf) const;

  // Two 8-byte loads, not a call to memcmp: flow and stream keys compare addresses per packet.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    uint64_t x[2];
    uint64_t y[2];
    std::memcpy(x, a.bytes_.data(), 16);
    std::memcpy(y, b.bytes_.data(), 16);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0 && a.v4_ == b.v4_;
  }
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  IpAddress(uint64_t low, uint64_t high, bool v4) : v4_(v4) {
    std::memcpy(bytes_.data(), &low, 8);
    std::memcpy(bytes_.data() + 8, &high, 8);
  }

  std::array<uint8_t, 16> bytes_{};
  bool v4_ = false;
};

// Event time: nanoseconds since the Unix epoch, UTC.
struct Timestamp {
  int64_t ns = 0;

  static Timestamp now();
  static Timestamp from_seconds(int64_t s, int64_t ns_part = 0) { return {s * 1'000'000'000 + ns_part}; }
  // RFC 3339 ("2024-05-01T10:00:00.123456Z", offsets such as +07:00 accepted).
  static std::optional<Timestamp> parse(std::string_view text);
  // RFC 3339 UTC with the shortest of 0, 3, 6 or 9 fraction digits that keeps the value.
  std::string to_string() const;
  // The same written into `buf` (kTextMax bytes at least), no allocation; returns its length.
  // The date and time of day are computed once per second (per thread): events come in time order.
  static constexpr size_t kTextMax = 40;
  size_t format(char* buf) const;

  friend bool operator==(const Timestamp&, const Timestamp&) = default;
  friend auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

class Event;
struct Value;
using ValueList = std::vector<Value>;
using EventPtr = std::shared_ptr<const Event>;

// A value already written as JSON (compact, one line), written out as it is: the rule engine
// writes an event it keeps as evidence once, and each alert citing it copies that text.
struct RawJson {
  std::shared_ptr<const std::string> text;
  friend bool operator==(const RawJson& a, const RawJson& b) {
    return a.text == b.text || (a.text && b.text && *a.text == *b.text);
  }
};

// One field value. The index order of the variant is part of the type tag below.
struct Value {
  enum class Type : uint8_t { null, boolean, integer, real, string, ip, timestamp, list, event, json };

  std::variant<std::monostate, bool, int64_t, double, std::string, IpAddress, Timestamp, ValueList,
               EventPtr, RawJson>
      v;

  Value() = default;
  Value(bool b) : v(b) {}                                   // NOLINT
  Value(int64_t i) : v(i) {}                                // NOLINT
  Value(int i) : v(static_cast<int64_t>(i)) {}              // NOLINT
  Value(uint32_t i) : v(static_cast<int64_t>(i)) {}         // NOLINT
  Value(uint64_t i) : v(static_cast<int64_t>(i)) {}         // NOLINT
  Value(double d) : v(d) {}                                 // NOLINT
  Value(std::string s) : v(std::move(s)) {}                 // NOLINT
  Value(std::string_view s) : v(std::string(s)) {}          // NOLINT
  Value(const char* s) : v(std::string(s)) {}               // NOLINT
  Value(IpAddress ip) : v(ip) {}                            // NOLINT
  Value(Timestamp t) : v(t) {}                              // NOLINT
  Value(ValueList l) : v(std::move(l)) {}                   // NOLINT
  Value(EventPtr e) : v(std::move(e)) {}                    // NOLINT
  Value(RawJson j) : v(std::move(j)) {}                     // NOLINT

  Type type() const { return static_cast<Type>(v.index()); }
  bool is_null() const { return v.index() == 0; }

  const bool* as_bool() const { return std::get_if<bool>(&v); }
  const int64_t* as_int() const { return std::get_if<int64_t>(&v); }
  const double* as_real() const { return std::get_if<double>(&v); }
  const std::string* as_string() const { return std::get_if<std::string>(&v); }
  const IpAddress* as_ip() const { return std::get_if<IpAddress>(&v); }
  const Timestamp* as_timestamp() const { return std::get_if<Timestamp>(&v); }
  const ValueList* as_list() const { return std::get_if<ValueList>(&v); }
  const EventPtr* as_event() const { return std::get_if<EventPtr>(&v); }
  const RawJson* as_json() const { return std::get_if<RawJson>(&v); }

  // The value as text, as a rule compares it (IPs and timestamps in their canonical form).
  std::string to_string() const;

  friend bool operator==(const Value& a, const Value& b);
};

std::string_view type_name(Value::Type t);

}  // namespace vigil
