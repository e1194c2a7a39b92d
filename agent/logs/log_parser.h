// Log line parsers: one line in, exactly one event out. See shared/DESIGN.md "Events".
//
// Every non-empty line becomes one event carrying event.original (the raw line), @timestamp,
// event.kind "event" and event.dataset. A line the format does not recognise still becomes an
// event (the format's fallback dataset, with `message`) and is counted as unparsed: lines are
// never dropped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/event/event.h"
#include "common/result.h"

namespace vigil::logs {

// What a parser needs to know about where a line came from.
struct ParseContext {
  // The format name the parser was made for ("syslog", "nginx", ...).
  std::string format;
  // host.name for lines that do not name their host (access logs, syslog without a host).
  std::string host_name;
  // RFC 3164 timestamps carry no year and no zone: the year comes from the reference time (the
  // file's modification time), rolled back one year when the line's month is later than the
  // reference month (a December line read in January); the zone is the host's local zone.
  int reference_year = 1970;
  int reference_month = 1;
  // Seconds east of UTC of the local zone (zone-less timestamps are taken in this zone).
  int64_t utc_offset_s = 0;
  // @timestamp of lines whose own time cannot be read.
  Timestamp reference_time{};

  // A context whose year, month and fallback time come from `reference` seen at `utc_offset_s`.
  static ParseContext at(std::string format, Timestamp reference, int64_t utc_offset_s, std::string host_name = {});
  // The context for reading the file at `path`: reference time = its modification time, zone =
  // the host's local zone at that time. An error names the file when it cannot be examined.
  static Result<ParseContext> for_file(const std::string& path, std::string format, std::string host_name = {});
  // The local zone's offset from UTC at `when` (from the C library's zone database).
  static int64_t local_utc_offset(Timestamp when);
  // The year of an RFC 3164 line of month `month` (1..12) under this context.
  int infer_year(int month) const { return month > reference_month ? reference_year - 1 : reference_year; }
};

struct ParseCounters {
  uint64_t lines = 0;     // non-empty lines seen
  uint64_t parsed = 0;    // lines the format recognised
  uint64_t unparsed = 0;  // lines kept as fallback events
  uint64_t empty = 0;     // blank lines (no event)
};

// One parser per input (file or stream): parsers keep counters and caches, so an instance is
// used by one thread at a time; make one per reader thread.
class LogParser {
 public:
  virtual ~LogParser() = default;

  // Fills `out` (cleared first) from `line` (a trailing CR/LF is ignored). Returns true when the
  // format recognised the line. A blank line leaves `out` empty and returns false; any other line
  // always yields an event.
  bool parse(std::string_view line, const ParseContext& ctx, Event& out);

  const ParseCounters& counters() const { return counters_; }
  // The dataset of lines this parser cannot read.
  virtual std::string_view fallback_dataset() const = 0;

 protected:
  // Parses a non-empty line into `out`, which already holds event.original, event.kind and
  // host.name (when the context names one). Sets @timestamp and event.dataset when it
  // recognises the line; returns false otherwise (the base then completes the fallback event).
  virtual bool parse_line(std::string_view line, const ParseContext& ctx, Event& out) = 0;

 private:
  ParseCounters counters_;
};

// The formats make_parser knows (the configuration also accepts "journal", read elsewhere).
inline constexpr std::string_view kLogFormats[] = {"syslog",       "nginx",  "apache", "nginx_error",
                                                   "apache_error", "auditd", "raw"};

// The parser for a format name: syslog, nginx, apache, nginx_error, apache_error, auditd, raw.
Result<std::unique_ptr<LogParser>> make_parser(std::string_view format);

}  // namespace vigil::logs
