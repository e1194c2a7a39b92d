#include "agent/logs/error_log_parser.h"

#include "agent/logs/log_fields.h"
#include "agent/logs/scan.h"
#include "agent/logs/syslog_parser.h"

namespace vigil::logs {

namespace {

using namespace std::string_view_literals;

void set_client(Event& out, std::string_view text) {
  int64_t port = -1;
  if (auto ip = parse_ip_port(text, &port)) {
    out.set(fields::source_ip, *ip);
    if (port >= 0) out.set(fields::source_port, port);
  }
}

void set_failure(Event& out, std::string_view action) {
  out.set(fields::event_action, Value(action));
  out.set(fields::event_outcome, Value("failure"));
}

// Apache messages fail2ban's apache-auth filter counts as authentication or access failures.
void classify_apache_message(std::string_view msg, Event& out) {
  if (msg.starts_with("Digest: ")) msg.remove_prefix(8);
  if (msg.starts_with("user ")) {
    std::string_view rest = msg.substr(5);
    if (rest.find(" not found") != std::string_view::npos) {
      // "user bob not found: /x", "user `bob' in realm `r' not found: /x", "user  not found: /"
      std::string_view name = rest.substr(0, rest.find(' '));
      if (name.starts_with('`')) {
        size_t q = rest.find('\'');
        name = q == std::string_view::npos ? std::string_view() : rest.substr(1, q - 1);
      }
      if (!name.empty()) out.set(fields::user_name, Value(name));
      set_failure(out, "user_not_found");
      return;
    }
    size_t colon = rest.find(": ");
    if (colon != std::string_view::npos) {
      std::string_view what = rest.substr(colon + 2);
      if (what.starts_with("authentication failure") || what.starts_with("password mismatch")) {
        out.set(fields::user_name, Value(rest.substr(0, colon)));
        set_failure(out, "authentication_failure");
        return;
      }
      if (what.starts_with("authorization failure")) {
        out.set(fields::user_name, Value(rest.substr(0, colon)));
        set_failure(out, "authorization_failure");
        return;
      }
    }
  }
  if (msg.starts_with("Authorization of user ") && msg.find(" failed") != std::string_view::npos) {
    std::string_view rest = msg.substr(22);
    out.set(fields::user_name, Value(rest.substr(0, rest.find(' '))));
    set_failure(out, "authorization_failure");
    return;
  }
  if (msg.starts_with("client denied by server configuration")) {
    set_failure(out, "access_denied");
    return;
  }
  for (std::string_view p : {"client used wrong authentication scheme"sv, "realm mismatch"sv, "unknown algorithm"sv,
                             "invalid qop"sv, "invalid nonce"sv}) {
    if (msg.starts_with(p)) {
      set_failure(out, "authentication_failure");
      return;
    }
  }
  if (msg.find("provided via SNI") != std::string_view::npos) {
    set_failure(out, "sni_mismatch");
  }
}

// "Sun Dec 04 04:47:44 2005" / "Sat Jul 20 21:34:49.453232 2013", local time.
std::optional<Timestamp> parse_apache_time(std::string_view s, int64_t utc_offset_s) {
  if (s.size() < 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ') return std::nullopt;
  int month = month_from_abbrev(s.substr(4, 3));
  std::string_view d = s.substr(8, 2);
  if (d[0] == ' ') d.remove_prefix(1);
  auto day = parse_uint(d);
  std::string_view rest = s.substr(11);
  int hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  if (!month || !day || !parse_clock(rest, hour, minute, second, nanos)) return std::nullopt;
  if (!rest.starts_with(' ')) return std::nullopt;
  auto year = parse_uint(rest.substr(1));
  if (!year) return std::nullopt;
  return make_time(*year, month, static_cast<int>(*day), hour, minute, second, nanos, utc_offset_s);
}

}  // namespace

void parse_apache_error_body(std::string_view s, Event& out) {
  const LogFields& lf = LogFields::get();
  bool first = true;
  while (s.starts_with('[')) {
    size_t close = s.find(']');
    if (close == std::string_view::npos) break;
    std::string_view inner = s.substr(1, close - 1);
    if (inner.starts_with("client ") || inner.starts_with("remote ")) {
      // "[client [2001:db8::1]:51548]" holds a bracket of its own
      std::string_view addr = inner.substr(7);
      if (addr.starts_with('[')) {
        size_t end = s.find(']', close + 1);
        if (end == std::string_view::npos) break;
        addr = s.substr(8, end - 8);
        close = end;
      }
      set_client(out, addr);
    } else if (inner.starts_with("pid ")) {
      std::string_view pid = inner.substr(4);
      if (auto p = parse_uint(pid.substr(0, pid.find(':')))) out.set(fields::process_pid, *p);
    } else if (first) {
      size_t colon = inner.find(':');
      if (colon != std::string_view::npos) {
        if (colon > 0) out.set(lf.apache_error_module, Value(inner.substr(0, colon)));
        inner.remove_prefix(colon + 1);
      }
      out.set(lf.log_level, Value(inner));
    } else {
      break;
    }
    first = false;
    s.remove_prefix(close + 1);
    while (s.starts_with(' ')) s.remove_prefix(1);
  }
  std::string_view msg = trim(s);
  if (size_t ref = msg.rfind(", referer: "); ref != std::string_view::npos) {
    out.set(fields::http_request_referrer, Value(msg.substr(ref + 11)));
    msg = msg.substr(0, ref);
  }
  out.set(fields::message, Value(msg));
  // "AH01618: " error code
  if (msg.size() > 9 && msg.starts_with("AH") && msg[7] == ':' && parse_uint(msg.substr(2, 5))) {
    out.set(lf.error_code, Value(msg.substr(0, 7)));
    msg = trim(msg.substr(8));
  }
  classify_apache_message(msg, out);
}

ApacheErrorParser::ApacheErrorParser() { (void)LogFields::get(); }

bool ApacheErrorParser::parse_line(std::string_view line, const ParseContext& ctx, Event& out) {
  if (!line.starts_with('[')) {
    // ErrorLog syslog: the body follows a syslog header.
    SyslogHeader h;
    if (!parse_syslog_header(line, ctx, h) || !trim(h.message).starts_with('[')) return false;
    out.set(fields::timestamp, h.time);
    if (!h.host.empty()) out.set(fields::host_name, Value(h.host));
    if (!h.program.empty()) out.set(fields::process_name, Value(h.program));
    out.set(fields::event_dataset, Value("apache.error"));
    parse_apache_error_body(trim(h.message), out);
    return true;
  }
  size_t close = line.find(']');
  if (close == std::string_view::npos) return false;
  auto time = parse_apache_time(line.substr(1, close - 1), ctx.utc_offset_s);
  if (!time) return false;
  out.set(fields::timestamp, *time);
  out.set(fields::event_dataset, Value("apache.error"));
  std::string_view body = line.substr(close + 1);
  while (body.starts_with(' ')) body.remove_prefix(1);
  parse_apache_error_body(body, out);
  return true;
}

NginxErrorParser::NginxErrorParser() { (void)LogFields::get(); }

bool NginxErrorParser::parse_line(std::string_view line, const ParseContext& ctx, Event& out) {
  // yyyy/mm/dd hh:mm:ss [level] pid#tid: [*cid ]message[, client: X, server: Y, request: "R", host: "H"]
  if (line.size() < 22 || line[4] != '/' || line[7] != '/' || line[10] != ' ') return false;
  auto year = parse_uint(line.substr(0, 4));
  auto month = parse_uint(line.substr(5, 2));
  auto day = parse_uint(line.substr(8, 2));
  std::string_view s = line.substr(11);
  int hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  if (!year || !month || !day || !parse_clock(s, hour, minute, second, nanos)) return false;
  auto time =
      make_time(*year, static_cast<int>(*month), static_cast<int>(*day), hour, minute, second, nanos, ctx.utc_offset_s);
  if (!time || !s.starts_with(" [")) return false;
  size_t close = s.find(']');
  if (close == std::string_view::npos) return false;
  const LogFields& lf = LogFields::get();
  out.set(fields::timestamp, *time);
  out.set(fields::event_dataset, Value("nginx.error"));
  out.set(lf.log_level, Value(s.substr(2, close - 2)));
  s.remove_prefix(close + 1);
  while (s.starts_with(' ')) s.remove_prefix(1);
  // "123#0: "
  size_t hash = s.find('#');
  size_t colon = s.find(": ");
  if (hash != std::string_view::npos && colon != std::string_view::npos && hash < colon) {
    if (auto pid = parse_uint(s.substr(0, hash))) out.set(fields::process_pid, *pid);
    s.remove_prefix(colon + 2);
  }
  if (s.starts_with('*')) {
    size_t sp = s.find(' ');
    s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
  }
  std::string_view msg = s;
  size_t client = s.find(", client: ");
  if (client != std::string_view::npos) {
    msg = s.substr(0, client);
    std::string_view tail = s.substr(client + 10);
    set_client(out, tail.substr(0, tail.find(',')));
    if (size_t srv = tail.find(", server: "); srv != std::string_view::npos) {
      std::string_view server = tail.substr(srv + 10);
      server = server.substr(0, server.find(','));
      if (!server.empty()) out.set(fields::url_domain, Value(server));
    }
    if (size_t req = tail.find(", request: \""); req != std::string_view::npos) {
      std::string_view r = tail.substr(req + 12);
      r = r.substr(0, r.find('"'));
      std::string_view method = next_token(r);
      size_t sp = r.rfind(' ');
      std::string_view target = sp == std::string_view::npos ? r : r.substr(0, sp);
      if (!method.empty()) out.set(fields::http_request_method, Value(method));
      if (!target.empty()) out.set(fields::url_original, Value(target));
    }
    if (size_t host = tail.find(", host: \""); host != std::string_view::npos) {
      std::string_view h = tail.substr(host + 9);
      h = h.substr(0, h.find('"'));
      if (!h.empty()) out.set(fields::url_domain, Value(h));
    }
  }
  out.set(fields::message, Value(msg));
  // auth_basic: user "bob": password mismatch / user "bob" was not found in "/etc/nginx/.htpasswd"
  if (msg.starts_with("user \"")) {
    std::string_view rest = msg.substr(6);
    size_t q = rest.find('"');
    if (q != std::string_view::npos) {
      out.set(fields::user_name, Value(rest.substr(0, q)));
      std::string_view what = rest.substr(q + 1);
      if (what.starts_with(": password mismatch")) {
        set_failure(out, "authentication_failure");
      } else if (what.starts_with(" was not found")) {
        set_failure(out, "user_not_found");
      }
    }
  }
  return true;
}

}  // namespace vigil::logs
