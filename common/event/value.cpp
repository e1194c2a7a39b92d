#include "common/event/value.h"

#include <arpa/inet.h>

#include <charconv>
#include <limits>
#include <chrono>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "common/event/event.h"

namespace vigil {

IpAddress IpAddress::v4(uint32_t host_order) {
  uint8_t b[4] = {static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
                  static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order)};
  return v4_bytes(b);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  uint8_t out[16];
  if (inet_pton(AF_INET, buf, out) == 1) return v4_bytes(out);
  if (inet_pton(AF_INET6, buf, out) == 1) return v6_bytes(out);
  return std::nullopt;
}

size_t IpAddress::format(char* buf) const {
  if (v4_) {
    // Dotted quad by hand: inet_ntop's locale-free formatting is the same and slower.
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      unsigned b = bytes_[12 + static_cast<size_t>(i)];
      if (i) *p++ = '.';
      if (b >= 100) *p++ = static_cast<char>('0' + b / 100);
      if (b >= 10) *p++ = static_cast<char>('0' + b / 10 % 10);
      *p++ = static_cast<char>('0' + b % 10);
    }
    *p = '\0';
    return static_cast<size_t>(p - buf);
  }
  inet_ntop(AF_INET6, bytes_.data(), buf, kTextMax);
  return std::strlen(buf);
}

std::string IpAddress::to_string() const {
  char buf[kTextMax];
  return std::string(buf, format(buf));
}

Timestamp Timestamp::now() {
  auto d = std::chrono::system_clock::now().time_since_epoch();
  return {std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()};
}

namespace {

bool parse_digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::optional<Timestamp> Timestamp::parse(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  int year, mon, day, hour, min, sec;
  if (!parse_digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !parse_digits(s, 5, 2, mon) ||
      s[7] != '-' || !parse_digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !parse_digits(s, 11, 2, hour) || s[13] != ':' || !parse_digits(s, 14, 2, min) || s[16] != ':' ||
      !parse_digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return std::nullopt;
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 9; ++i) frac_ns *= 10;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset_s = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!parse_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !parse_digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = days_from_civil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + min * 60 + sec - offset_s;
  // Nanoseconds in 64 bits reach from 1677 to 2262: a time outside is not one we can hold.
  constexpr int64_t kMaxSecs = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) return std::nullopt;
  return Timestamp{secs * 1'000'000'000 + frac_ns};
}

namespace {

// The civil date of days since 1970-01-01 (Howard Hinnant's algorithm).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

char* put_digits(char* p, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

}  // namespace

size_t Timestamp::format(char* buf) const {
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  // "YYYY-MM-DDTHH:MM:SS" of the last second formatted on this thread.
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char cached[19];
  if (secs != cached_secs) {
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
      rem += 86400;
      --days;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    char* p = cached;
    p = put_digits(p, static_cast<uint64_t>(y), 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, static_cast<uint64_t>(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, static_cast<uint64_t>(rem / 60 % 60), 2);
    *p++ = ':';
    put_digits(p, static_cast<uint64_t>(rem % 60), 2);
    cached_secs = secs;
  }
  std::memcpy(buf, cached, sizeof cached);
  char* p = buf + sizeof cached;
  if (frac != 0) {
    *p++ = '.';
    if (frac % 1'000'000 == 0) {
      p = put_digits(p, static_cast<uint64_t>(frac / 1'000'000), 3);
    } else if (frac % 1'000 == 0) {
      p = put_digits(p, static_cast<uint64_t>(frac / 1'000), 6);
    } else {
      p = put_digits(p, static_cast<uint64_t>(frac), 9);
    }
  }
  *p++ = 'Z';
  return static_cast<size_t>(p - buf);
}

std::string Timestamp::to_string() const {
  char buf[kTextMax];
  return std::string(buf, format(buf));
}

std::string Value::to_string() const {
  switch (type()) {
    case Type::null: return {};
    case Type::boolean: return *as_bool() ? "true" : "false";
    case Type::integer: return std::to_string(*as_int());
    case Type::real: return fmt::format("{}", *as_real());
    case Type::string: return *as_string();
    case Type::ip: return as_ip()->to_string();
    case Type::timestamp: return as_timestamp()->to_string();
    case Type::list: {
      std::string out;
      for (const auto& item : *as_list()) {
        if (!out.empty()) out += ',';
        out += item.to_string();
      }
      return out;
    }
    case Type::event:
    case Type::json: return {};
  }
  return {};
}

bool operator==(const Value& a, const Value& b) {
  if (a.v.index() != b.v.index()) return false;
  if (const auto* ea = a.as_event()) {
    const auto* eb = b.as_event();
    if (!*ea || !*eb) return *ea == *eb;
    return **ea == **eb;
  }
  return a.v == b.v;
}

std::string_view type_name(Value::Type t) {
  switch (t) {
    case Value::Type::null: return "null";
    case Value::Type::boolean: return "bool";
    case Value::Type::integer: return "int";
    case Value::Type::real: return "float";
    case Value::Type::string: return "string";
    case Value::Type::ip: return "ip";
    case Value::Type::timestamp: return "timestamp";
    case Value::Type::list: return "list";
    case Value::Type::event: return "event";
    case Value::Type::json: return "json";
  }
  return "?";
}

}  // namespace vigil
