// Small string_view scanning helpers shared by the log parsers: no allocation, no regex.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/event/value.h"

namespace vigil::logs {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_space(char c) { return c == ' ' || c == '\t'; }
inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Removes leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view s);

// Removes and returns the text before the first `sep` (all of `s` when absent).
std::string_view next_token(std::string_view& s, char sep = ' ');

// Parses all of `s` as an unsigned decimal integer; nullopt when empty, not all digits, or too big.
std::optional<int64_t> parse_uint(std::string_view s);

// 1..12 for "Jan".."Dec" (first three letters, case as written in logs); 0 when unknown.
int month_from_abbrev(std::string_view s);

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
// The year and month (1..12) of a day count since 1970-01-01.
void civil_from_days(int64_t days, int& year, int& month, int& day);

// Seconds since the epoch of a wall-clock date and time at the given UTC offset (seconds east).
// Returns nullopt for an out-of-range field (years 1900..2261: nanoseconds fit in 64 bits).
std::optional<Timestamp> make_time(int64_t year, int month, int day, int hour, int minute, int second, int64_t nanos,
                                   int64_t utc_offset_s);

// An RFC 3339 timestamp (Timestamp::parse) whose year is within make_time's range, so the
// nanosecond count cannot overflow.
std::optional<Timestamp> parse_rfc3339(std::string_view s);

// "hh:mm:ss" with an optional ".fraction"; advances `s` past it.
bool parse_clock(std::string_view& s, int& hour, int& minute, int& second, int64_t& nanos);

// An IP address, also "[v6]" or an IPv4 address followed by ":port"; the port, when present,
// is stored in *port.
std::optional<IpAddress> parse_ip_port(std::string_view s, int64_t* port);

// Decodes hex pairs into out; false (out unspecified) when `s` is not even-length hex.
bool hex_decode(std::string_view s, std::string& out);

}  // namespace vigil::logs
