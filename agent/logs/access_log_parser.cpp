#include "agent/logs/access_log_parser.h"

#include "agent/logs/scan.h"

namespace vigil::logs {

namespace {

// A double-quoted field at the start of s (after optional spaces); backslash escapes are skipped
// over, not decoded (the raw text is what rules see). Advances s past the closing quote.
bool read_quoted(std::string_view& s, std::string_view& value) {
  while (s.starts_with(' ')) s.remove_prefix(1);
  if (!s.starts_with('"')) return false;
  size_t i = 1;
  for (; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      break;
    }
  }
  if (i >= s.size()) return false;
  value = s.substr(1, i - 1);
  s.remove_prefix(i + 1);
  return true;
}

void set_unless_dash(Event& out, FieldId id, std::string_view v) {
  if (!v.empty() && v != "-") out.set(id, Value(v));
}

}  // namespace

std::optional<Timestamp> parse_clf_time(std::string_view s) {
  // dd/Mon/yyyy:hh:mm:ss +zzzz
  if (s.size() < 20 || s[2] != '/' || s[6] != '/' || s[11] != ':') return std::nullopt;
  auto day = parse_uint(s.substr(0, 2));
  int month = month_from_abbrev(s.substr(3, 3));
  auto year = parse_uint(s.substr(7, 4));
  if (!day || !month || !year) return std::nullopt;
  std::string_view rest = s.substr(12);
  int hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  if (!parse_clock(rest, hour, minute, second, nanos)) return std::nullopt;
  int64_t offset = 0;
  if (rest.size() >= 6 && rest[0] == ' ' && (rest[1] == '+' || rest[1] == '-')) {
    auto hh = parse_uint(rest.substr(2, 2));
    auto mm = parse_uint(rest.substr(4, 2));
    if (!hh || !mm) return std::nullopt;
    offset = (*hh * 3600 + *mm * 60) * (rest[1] == '-' ? -1 : 1);
  }
  return make_time(*year, month, static_cast<int>(*day), hour, minute, second, nanos, offset);
}

AccessLogParser::AccessLogParser(Flavor flavor)
    : dataset_(flavor == Flavor::nginx ? "nginx.access" : "apache.access") {}

bool AccessLogParser::parse_line(std::string_view line, const ParseContext&, Event& out) {
  std::string_view s = line;
  std::string_view vhost;
  auto ip = IpAddress::parse(next_token(s));
  if (!ip) {
    // Apache's vhost_combined: "example.org:443 IP - - [...] ..."
    vhost = line.substr(0, line.find(' '));
    ip = IpAddress::parse(next_token(s));
    if (!ip) return false;
    size_t colon = vhost.rfind(':');
    if (colon != std::string_view::npos && parse_uint(vhost.substr(colon + 1))) vhost = vhost.substr(0, colon);
  }
  next_token(s);  // ident
  // The user may be quoted or contain no spaces; the timestamp follows in brackets.
  size_t open = s.find(" [");
  if (open == std::string_view::npos) return false;
  std::string_view user = s.substr(0, open);
  s.remove_prefix(open + 2);
  size_t close = s.find(']');
  if (close == std::string_view::npos) return false;
  auto time = parse_clf_time(s.substr(0, close));
  if (!time) return false;
  s.remove_prefix(close + 1);
  std::string_view request;
  if (!read_quoted(s, request)) return false;
  while (s.starts_with(' ')) s.remove_prefix(1);
  auto status = parse_uint(next_token(s));
  if (!status) return false;
  while (s.starts_with(' ')) s.remove_prefix(1);
  std::string_view bytes = next_token(s);

  out.set(fields::event_dataset, Value(dataset_));
  out.set(fields::timestamp, *time);
  out.set(fields::source_ip, *ip);
  if (!vhost.empty()) out.set(fields::url_domain, Value(vhost));
  set_unless_dash(out, fields::user_name, user);
  out.set(fields::http_response_status_code, *status);
  if (auto b = parse_uint(bytes)) out.set(fields::http_response_body_bytes, *b);

  // "METHOD TARGET HTTP/x.y"; anything else (garbage, "-") stays in url.original only.
  std::string_view req = request;
  std::string_view method = next_token(req);
  size_t last_space = req.rfind(' ');
  std::string_view target = req;
  std::string_view version;
  if (last_space != std::string_view::npos && req.substr(last_space + 1).starts_with("HTTP/")) {
    target = req.substr(0, last_space);
    version = req.substr(last_space + 6);
  }
  bool method_ok = !method.empty() && method.size() <= 20;
  for (char c : method) {
    if (!(c >= 'A' && c <= 'Z') && c != '-' && c != '_') method_ok = false;
  }
  if (method_ok && !target.empty()) {
    out.set(fields::http_request_method, Value(method));
    set_url_target(out, target);
    if (!version.empty()) out.set(fields::http_version, Value(version));
  } else {
    set_unless_dash(out, fields::url_original, request);
  }

  std::string_view referrer, agent;
  if (read_quoted(s, referrer)) {
    // "-" is the format's "none" (absent); "" is a header sent empty (present, empty).
    if (referrer != "-") out.set(fields::http_request_referrer, Value(referrer));
    if (read_quoted(s, agent) && agent != "-") out.set(fields::user_agent_original, Value(agent));
  }
  return true;
}

}  // namespace vigil::logs
