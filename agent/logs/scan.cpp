#include "agent/logs/scan.h"

#include <string>

namespace vigil::logs {

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view next_token(std::string_view& s, char sep) {
  size_t pos = s.find(sep);
  std::string_view token = s.substr(0, pos);
  s = pos == std::string_view::npos ? std::string_view() : s.substr(pos + 1);
  return token;
}

std::optional<int64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

int month_from_abbrev(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() < 3) return 0;
  s = s.substr(0, 3);
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == s) return i + 1;
  }
  return 0;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int& year, int& month, int& day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<int>(y + (m <= 2));
  month = static_cast<int>(m);
  day = static_cast<int>(d);
}

std::optional<Timestamp> make_time(int64_t year, int month, int day, int hour, int minute, int second, int64_t nanos,
                                   int64_t utc_offset_s) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1900 || year > 2261 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || hour < 0 ||
      hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return std::nullopt;
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - utc_offset_s;
  return Timestamp::from_seconds(secs, nanos);
}

std::optional<Timestamp> parse_rfc3339(std::string_view s) {
  auto year = parse_uint(s.substr(0, 4));
  if (!year || *year < 1900 || *year > 2261) return std::nullopt;
  return Timestamp::parse(s);
}

bool parse_clock(std::string_view& s, int& hour, int& minute, int& second, int64_t& nanos) {
  if (s.size() < 8 || s[2] != ':' || s[5] != ':') return false;
  for (size_t i : {0, 1, 3, 4, 6, 7}) {
    if (!is_digit(s[i])) return false;
  }
  hour = (s[0] - '0') * 10 + (s[1] - '0');
  minute = (s[3] - '0') * 10 + (s[4] - '0');
  second = (s[6] - '0') * 10 + (s[7] - '0');
  nanos = 0;
  size_t i = 8;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t scale = 100'000'000;
    while (i < s.size() && is_digit(s[i])) {
      nanos += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
  }
  s.remove_prefix(i);
  return true;
}

std::optional<IpAddress> parse_ip_port(std::string_view s, int64_t* port) {
  if (s.empty()) return std::nullopt;
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto ip = IpAddress::parse(s.substr(1, close - 1));
    if (ip && port && close + 1 < s.size() && s[close + 1] == ':') {
      if (auto p = parse_uint(s.substr(close + 2)); p && *p <= 65535) *port = *p;
    }
    return ip;
  }
  if (auto ip = IpAddress::parse(s)) return ip;
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto ip = IpAddress::parse(s.substr(0, colon));
  if (ip && ip->is_v4() && port) {
    if (auto p = parse_uint(s.substr(colon + 1)); p && *p <= 65535) *port = *p;
  }
  return ip && ip->is_v4() ? ip : std::nullopt;
}

bool hex_decode(std::string_view s, std::string& out) {
  if (s.empty() || s.size() % 2 != 0) return false;
  out.clear();
  out.reserve(s.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = nibble(s[i]);
    int lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

}  // namespace vigil::logs
