#include "agent/logs/syslog_parser.h"

#include "agent/logs/log_fields.h"
#include "agent/logs/program_messages.h"
#include "agent/logs/scan.h"

namespace vigil::logs {

namespace {

// "-" is RFC 5424's nil value.
std::string_view nil_to_empty(std::string_view s) { return s == "-" ? std::string_view() : s; }

bool parse_rfc5424(std::string_view s, SyslogHeader& h) {
  // s starts after "<PRI>1 "
  std::string_view ts = next_token(s);
  if (ts != "-") {
    auto t = parse_rfc3339(ts);
    if (!t) return false;
    h.time = *t;
  }
  h.host = nil_to_empty(next_token(s));
  h.program = nil_to_empty(next_token(s));
  h.pid = nil_to_empty(next_token(s));
  h.msgid = nil_to_empty(next_token(s));
  // Structured data: "-" or one or more "[id k="v" ...]" with \] escapes inside values.
  if (s.starts_with('-')) {
    s.remove_prefix(1);
  } else {
    while (s.starts_with('[')) {
      size_t i = 1;
      bool in_quotes = false;
      for (; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_quotes = !in_quotes;
        } else if (c == ']' && !in_quotes) {
          break;
        }
      }
      if (i >= s.size()) return false;
      s.remove_prefix(i + 1);
    }
  }
  if (s.starts_with(' ')) s.remove_prefix(1);
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);  // BOM
  h.message = s;
  return true;
}

}  // namespace

bool parse_syslog_header(std::string_view line, const ParseContext& ctx, SyslogHeader& h) {
  h = SyslogHeader{};
  std::string_view s = line;
  if (s.starts_with('<')) {
    size_t close = s.find('>');
    if (close == std::string_view::npos || close > 4) return false;
    auto pri = parse_uint(s.substr(1, close - 1));
    if (!pri || *pri > 191) return false;
    h.priority = static_cast<int>(*pri);
    s.remove_prefix(close + 1);
    if (s.size() > 2 && is_digit(s[0]) && s[1] == ' ') {
      h.rfc5424 = true;
      h.time = ctx.reference_time;  // for a nil timestamp
      return parse_rfc5424(s.substr(2), h);
    }
  }
  if (s.size() >= 15 && s[3] == ' ') {
    int month = month_from_abbrev(s.substr(0, 3));
    if (month == 0) return false;
    int day = 0;
    if (s[4] == ' ' && is_digit(s[5])) {
      day = s[5] - '0';
    } else if (is_digit(s[4]) && is_digit(s[5])) {
      day = (s[4] - '0') * 10 + (s[5] - '0');
    } else {
      return false;
    }
    if (s[6] != ' ') return false;
    s.remove_prefix(7);
    int hour = 0, minute = 0, second = 0;
    int64_t nanos = 0;
    if (!parse_clock(s, hour, minute, second, nanos)) return false;
    auto t = make_time(ctx.infer_year(month), month, day, hour, minute, second, nanos, ctx.utc_offset_s);
    if (!t) return false;
    h.time = *t;
  } else if (s.size() >= 20 && is_digit(s[0]) && s[4] == '-' && s[7] == '-' && s[10] == 'T') {
    size_t sp = s.find(' ');
    if (sp == std::string_view::npos) return false;
    auto t = parse_rfc3339(s.substr(0, sp));
    if (!t) return false;
    h.time = *t;
    s.remove_prefix(sp);
  } else {
    return false;
  }
  if (!s.starts_with(' ')) return false;
  while (s.starts_with(' ')) s.remove_prefix(1);

  // Host, unless the first word is already the tag ("kernel:", "httpd[12]:").
  size_t sp = s.find(' ');
  std::string_view first = s.substr(0, sp);
  if (!first.empty() && !first.ends_with(':') && first.find('[') == std::string_view::npos) {
    h.host = first;
    s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
  }
  // Tag: program[pid]:
  size_t i = 0;
  while (i < s.size() && s[i] != ':' && s[i] != '[' && s[i] != ' ') ++i;
  if (i < s.size() && s[i] == '[') {
    size_t close = s.find(']', i);
    if (close != std::string_view::npos && close + 1 < s.size() && s[close + 1] == ':') {
      h.program = s.substr(0, i);
      h.pid = s.substr(i + 1, close - i - 1);
      s.remove_prefix(close + 2);
    }
  } else if (i < s.size() && s[i] == ':' && i > 0) {
    h.program = s.substr(0, i);
    s.remove_prefix(i + 1);
  }
  if (s.starts_with(' ')) s.remove_prefix(1);
  h.message = s;
  return true;
}

SyslogParser::SyslogParser() { (void)LogFields::get(); }

bool SyslogParser::parse_line(std::string_view line, const ParseContext& ctx, Event& out) {
  SyslogHeader h;
  if (!parse_syslog_header(line, ctx, h)) return false;
  const LogFields& lf = LogFields::get();
  out.set(fields::timestamp, h.time);
  if (!h.host.empty()) out.set(fields::host_name, Value(h.host));
  if (h.priority >= 0) {
    out.set(lf.syslog_priority, h.priority);
    out.set(lf.syslog_facility_code, h.priority / 8);
    out.set(lf.syslog_severity_code, h.priority % 8);
  }
  if (!h.msgid.empty()) out.set(lf.syslog_msgid, Value(h.msgid));
  if (!h.program.empty()) {
    std::string_view name = h.program.substr(0, h.program.find('('));
    out.set(fields::process_name, Value(name));
  }
  if (auto pid = parse_uint(h.pid)) out.set(fields::process_pid, *pid);
  out.set(fields::message, Value(h.message));
  parse_program_message(h.program, h.message, out);
  return true;
}

}  // namespace vigil::logs
