#include "agent/logs/program_messages.h"

#include "agent/logs/error_log_parser.h"
#include "agent/logs/log_fields.h"
#include "agent/logs/scan.h"

namespace vigil::logs {

namespace {

using namespace std::string_view_literals;

void set_str(Event& out, FieldId id, std::string_view v) {
  if (!v.empty()) out.set(id, Value(v));
}

// Sets source.ip when `text` is an address, source.domain otherwise.
void set_source_host(Event& out, std::string_view text) {
  if (text.empty()) return;
  if (auto ip = IpAddress::parse(text)) {
    out.set(fields::source_ip, *ip);
  } else {
    out.set(LogFields::get().source_domain, Value(text));
  }
}

void set_port(Event& out, FieldId id, std::string_view text) {
  if (auto p = parse_uint(text); p && *p <= 65535) out.set(id, *p);
}

void set_outcome(Event& out, std::string_view action, std::string_view outcome) {
  out.set(fields::event_action, Value(action));
  if (!outcome.empty()) out.set(fields::event_outcome, Value(outcome));
}

std::string_view strip_suffix(std::string_view s, std::string_view suffix) {
  s = trim(s);
  if (s.ends_with(suffix)) s.remove_suffix(suffix.size());
  return trim(s);
}

// "pam_unix(sshd:auth): X" -> "X"; "(pam_unix) X" -> "X"; "pam_unix: X" -> "X".
std::string_view strip_pam_prefix(std::string_view msg) {
  if (msg.starts_with("pam_unix(")) {
    size_t close = msg.find("): ");
    if (close != std::string_view::npos) return msg.substr(close + 3);
  }
  if (msg.starts_with("pam_unix: ")) return msg.substr(10);
  if (msg.starts_with("(pam_unix) ")) return msg.substr(11);
  return msg;
}

// "[user U |invalid user U |authenticating user U ]IP [port P]" (sshd connection messages).
void read_user_ip_port(std::string_view rest, Event& out) {
  rest = strip_suffix(rest, "[preauth]");
  for (std::string_view p : {"authenticating user "sv, "invalid user "sv, "user "sv}) {
    if (rest.starts_with(p)) {
      rest.remove_prefix(p.size());
      set_str(out, fields::user_name, next_token(rest));
      break;
    }
  }
  std::string_view host = next_token(rest);
  if (host.ends_with(':')) host.remove_suffix(1);
  set_source_host(out, host);
  if (rest.starts_with("port ")) {
    rest.remove_prefix(5);
    std::string_view port = next_token(rest);
    set_port(out, fields::source_port, port.substr(0, port.find(':')));
  }
}

// "U from IP [port P] ..." with the user up to the last " from ".
bool read_user_from(std::string_view rest, Event& out) {
  size_t from = rest.rfind(" from ");
  if (from == std::string_view::npos) return false;
  set_str(out, fields::user_name, rest.substr(0, from));
  rest = rest.substr(from + 6);
  set_source_host(out, next_token(rest));
  if (rest.starts_with("port ")) {
    rest.remove_prefix(5);
    set_port(out, fields::source_port, next_token(rest));
  }
  return true;
}

// Reads an "authentication failure; ..." PAM body; false when `body` is not one.
bool read_pam_failure(std::string_view body, Event& out, bool ruser_is_actor) {
  size_t semi = body.find("authentication failure");
  if (semi == std::string_view::npos || semi > 20) return false;
  size_t kv_start = body.find(';', semi);
  PamFailure f = parse_pam_failure(kv_start == std::string_view::npos ? std::string_view() : body.substr(kv_start + 1));
  set_outcome(out, "authentication_failure", "failure");
  set_source_host(out, f.rhost);
  if (ruser_is_actor) {  // su/sudo: ruser is who asked, user the account asked for
    set_str(out, fields::user_name, !f.ruser.empty() ? f.ruser : f.logname);
    set_str(out, fields::user_target_name, f.user);
  } else {
    set_str(out, fields::user_name, !f.user.empty() ? f.user : f.ruser);
  }
  return true;
}

// "session opened for user T[(uid=0)] by [U](uid=..)" / "session closed for user T".
bool read_pam_session(std::string_view body, Event& out, bool target_is_user) {
  bool opened = body.starts_with("session opened for user ");
  bool closed = body.starts_with("session closed for user ");
  if (!opened && !closed) return false;
  std::string_view rest = body.substr(24);
  std::string_view account = next_token(rest);
  account = account.substr(0, account.find('('));
  set_outcome(out, opened ? "session_opened" : "session_closed", "success");
  if (target_is_user) {
    set_str(out, fields::user_name, account);
  } else {
    set_str(out, fields::user_target_name, account);
  }
  if (rest.starts_with("by ")) {
    std::string_view by = rest.substr(3);
    by = by.substr(0, by.find('('));
    by = trim(by);
    if (target_is_user) {
      // sshd: "by (uid=0)" names no user
    } else {
      set_str(out, fields::user_name, by);
    }
  }
  return true;
}

// The first 'quoted' word in s.
std::string_view single_quoted(std::string_view s, size_t from = 0) {
  size_t open = s.find('\'', from);
  if (open == std::string_view::npos) return {};
  size_t close = s.find('\'', open + 1);
  if (close == std::string_view::npos) return {};
  return s.substr(open + 1, close - open - 1);
}

// The value of "key=" up to ',' or space.
std::string_view key_value(std::string_view s, std::string_view key) {
  size_t pos = s.find(key);
  if (pos == std::string_view::npos) return {};
  std::string_view v = s.substr(pos + key.size());
  size_t end = v.find_first_of(", ");
  return v.substr(0, end);
}

}  // namespace

std::string_view program_base(std::string_view program) {
  size_t cut = program.find_first_of("(/");
  std::string_view base = program.substr(0, cut);
  if (base == "sshd-session" || base == "sshd-auth") return "sshd";
  return base;
}

PamFailure parse_pam_failure(std::string_view kv) {
  PamFailure f;
  f.logname = key_value(kv, "logname=");
  size_t ruser = kv.find("ruser=");
  size_t search = 0;
  size_t chosen_end = std::string_view::npos;
  while (true) {
    size_t pos = kv.find("rhost=", search);
    if (pos == std::string_view::npos) break;
    search = pos + 6;
    if (pos > 0 && kv[pos - 1] != ' ') continue;  // "ruser=" does not contain it, but be strict
    size_t end = kv.find_first_of(" \t", search);
    std::string_view value = kv.substr(search, end == std::string_view::npos ? std::string_view::npos : end - search);
    std::string_view tail = end == std::string_view::npos ? std::string_view() : trim(kv.substr(end));
    if (tail.empty() || tail.starts_with("user=")) {
      f.rhost = value;
      chosen_end = end;
      if (ruser != std::string_view::npos && ruser + 6 <= pos) {
        f.ruser = trim(kv.substr(ruser + 6, pos - ruser - 6));
      }
      if (!tail.empty()) f.user = trim(tail.substr(5));
      break;
    }
  }
  if (chosen_end == std::string_view::npos && f.rhost.empty() && ruser != std::string_view::npos) {
    std::string_view r = kv.substr(ruser + 6);
    f.ruser = r.substr(0, r.find(' '));
  }
  return f;
}

void parse_sshd_message(std::string_view msg, Event& out) {
  out.set(fields::event_dataset, Value("sshd"));
  msg = trim(msg);
  if (msg.starts_with("message repeated ")) {
    size_t open = msg.find(": [ ");
    if (open != std::string_view::npos) {
      msg = msg.substr(open + 4);
      if (msg.ends_with(']')) msg.remove_suffix(1);
      msg = trim(msg);
    }
  }
  if (msg.starts_with("error: ")) msg.remove_prefix(7);

  const bool accepted = msg.starts_with("Accepted ");
  if (accepted || msg.starts_with("Failed ")) {
    std::string_view rest = msg.substr(accepted ? 9 : 7);
    std::string_view method = next_token(rest);
    if (rest.starts_with("for ")) {
      rest.remove_prefix(4);
      if (rest.starts_with("invalid user ")) rest.remove_prefix(13);
      if (read_user_from(rest, out)) {
        set_outcome(out, "ssh_login", accepted ? "success" : "failure");
        set_str(out, LogFields::get().ssh_method, method);
        return;
      }
    }
  }
  if (msg.starts_with("Invalid user ")) {
    std::string_view rest = msg.substr(13);
    if (!read_user_from(rest, out)) set_str(out, fields::user_name, rest);
    set_outcome(out, "invalid_user", "failure");
    return;
  }
  if (msg.starts_with("input_userauth_request: invalid user ")) {
    set_str(out, fields::user_name, strip_suffix(msg.substr(37), "[preauth]"));
    set_outcome(out, "invalid_user", "failure");
    return;
  }
  std::string_view body = strip_pam_prefix(msg);
  if (read_pam_failure(body, out, false)) return;
  if (body.starts_with("PAM ") && body.find(" more authentication failure") != std::string_view::npos) {
    size_t semi = body.find(';');
    PamFailure f = parse_pam_failure(semi == std::string_view::npos ? std::string_view() : body.substr(semi + 1));
    set_outcome(out, "authentication_failure", "failure");
    set_source_host(out, f.rhost);
    set_str(out, fields::user_name, f.user);
    return;
  }
  if (body.starts_with("check pass; user unknown")) {
    out.set(fields::event_action, Value("user_unknown"));
    return;
  }
  if (read_pam_session(body, out, true)) return;
  if (msg.starts_with("Received disconnect from ")) {
    read_user_ip_port(msg.substr(25), out);
    out.set(fields::event_action, Value("disconnect"));
    return;
  }
  if (msg.starts_with("Disconnected from ")) {
    read_user_ip_port(msg.substr(18), out);
    out.set(fields::event_action, Value("disconnect"));
    return;
  }
  if (msg.starts_with("Disconnecting: Too many authentication failures")) {
    std::string_view rest = strip_suffix(msg.substr(48), "[preauth]");
    if (rest.starts_with("for ")) {
      rest.remove_prefix(4);
      if (rest.starts_with("invalid user ")) rest.remove_prefix(13);
      set_str(out, fields::user_name, rest);
    }
    set_outcome(out, "too_many_auth_failures", "failure");
    return;
  }
  if (msg.starts_with("Disconnecting ") && msg.find(": Too many authentication failures") != std::string_view::npos) {
    std::string_view rest = msg.substr(14);
    read_user_ip_port(rest.substr(0, rest.find(": Too many")), out);
    set_outcome(out, "too_many_auth_failures", "failure");
    return;
  }
  if (msg.starts_with("maximum authentication attempts exceeded for ")) {
    std::string_view rest = msg.substr(45);
    if (rest.starts_with("invalid user ")) rest.remove_prefix(13);
    read_user_from(rest, out);
    set_outcome(out, "too_many_auth_failures", "failure");
    return;
  }
  if (msg.starts_with("Connection closed by ")) {
    read_user_ip_port(msg.substr(21), out);
    out.set(fields::event_action, Value("connection_closed"));
    return;
  }
  if (msg.starts_with("Connection reset by ")) {
    read_user_ip_port(msg.substr(20), out);
    out.set(fields::event_action, Value("connection_reset"));
    return;
  }
  if (msg.starts_with("Did not receive identification string from ")) {
    read_user_ip_port(msg.substr(43), out);
    out.set(fields::event_action, Value("no_identification"));
    return;
  }
  if (msg.find("POSSIBLE BREAK-IN ATTEMPT") != std::string_view::npos) {
    if (msg.starts_with("reverse mapping checking getaddrinfo for ")) {
      size_t open = msg.find(" [");
      size_t close = msg.find("] ", open == std::string_view::npos ? 0 : open);
      if (open != std::string_view::npos && close != std::string_view::npos) {
        set_source_host(out, msg.substr(open + 2, close - open - 2));
      }
    } else if (msg.starts_with("Address ")) {
      std::string_view rest = msg.substr(8);
      set_source_host(out, next_token(rest));
    }
    out.set(fields::event_action, Value("possible_break_in"));
    return;
  }
  if (msg.starts_with("PAM: Authentication failure for ")) {  // UsePAM with keyboard-interactive
    std::string_view rest = msg.substr(32);
    if (rest.starts_with("illegal user ")) rest.remove_prefix(13);
    read_user_from(rest, out);
    set_outcome(out, "authentication_failure", "failure");
    return;
  }
  if (msg.starts_with("User ") && msg.find(" not allowed because ") != std::string_view::npos) {
    // "User root from 192.0.2.1 not allowed because not listed in AllowUsers"
    std::string_view rest = msg.substr(5, msg.find(" not allowed because ") - 5);
    if (!read_user_from(rest, out)) set_str(out, fields::user_name, rest);
    set_outcome(out, "user_not_allowed", "failure");
    return;
  }
  if (msg.starts_with("Unable to negotiate with ")) {
    std::string_view rest = msg.substr(25);
    read_user_ip_port(rest.substr(0, rest.find(": ")), out);
    out.set(fields::event_action, Value("negotiation_failed"));
    return;
  }
  if (msg.starts_with("PAM service(sshd) ignoring max retries")) {
    out.set(fields::event_action, Value("max_retries"));
    return;
  }
}

void parse_sudo_message(std::string_view msg, Event& out) {
  out.set(fields::event_dataset, Value("sudo"));
  msg = trim(msg);
  std::string_view body = strip_pam_prefix(msg);
  if (read_pam_failure(body, out, true)) return;
  if (read_pam_session(body, out, false)) return;
  if (body.starts_with("auth could not identify password for [")) {  // sudo -n / no terminal
    std::string_view user = body.substr(38);
    set_str(out, fields::user_name, user.substr(0, user.find(']')));
    set_outcome(out, "authentication_failure", "failure");
    return;
  }
  size_t colon = msg.find(" : ");
  if (colon == std::string_view::npos) return;
  set_str(out, fields::user_name, trim(msg.substr(0, colon)));
  std::string_view rest = msg.substr(colon + 3);
  std::string_view command;
  if (size_t c = rest.find("COMMAND="); c != std::string_view::npos) {
    command = trim(rest.substr(c + 8));
    rest = rest.substr(0, c);
  }
  std::string_view reason;
  bool first = true;
  while (!rest.empty()) {
    size_t semi = rest.find(" ; ");
    std::string_view part = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 3);
    if (part.starts_with("USER=")) {
      set_str(out, fields::user_target_name, part.substr(5));
    } else if (part.starts_with("PWD=")) {
      set_str(out, LogFields::get().process_working_directory, part.substr(4));
    } else if (first && part.find('=') == std::string_view::npos) {
      reason = part;
    }
    first = false;
  }
  set_str(out, fields::process_command_line, command);
  if (reason.empty()) {
    set_outcome(out, "sudo_command", "success");
  } else if (reason.find("incorrect password") != std::string_view::npos) {
    set_outcome(out, "sudo_auth_failure", "failure");
  } else if (reason.find("NOT in sudoers") != std::string_view::npos ||
             reason.find("not allowed") != std::string_view::npos) {
    set_outcome(out, "sudo_not_allowed", "failure");
  } else {
    set_outcome(out, "sudo_failure", "failure");
  }
}

void parse_su_message(std::string_view msg, Event& out) {
  out.set(fields::event_dataset, Value("su"));
  msg = trim(msg);
  std::string_view body = strip_pam_prefix(msg);
  if (read_pam_failure(body, out, true)) return;
  if (read_pam_session(body, out, false)) return;
  bool failed = false;
  if (msg.starts_with("FAILED SU ")) {
    failed = true;
    msg.remove_prefix(10);
  }
  if (msg.starts_with("(to ")) {  // util-linux: "(to root) alice on pts/0"
    size_t close = msg.find(") ");
    if (close != std::string_view::npos) {
      set_str(out, fields::user_target_name, msg.substr(4, close - 4));
      std::string_view rest = msg.substr(close + 2);
      set_str(out, fields::user_name, next_token(rest));
      set_outcome(out, "su", failed ? "failure" : "success");
    }
    return;
  }
  // shadow-utils: "FAILED su for root by alice", "Successful su for root by alice"
  const bool bad = msg.starts_with("FAILED su for ");
  if (bad || msg.starts_with("Successful su for ")) {
    std::string_view rest = msg.substr(bad ? 14 : 18);
    size_t by = rest.find(" by ");
    if (by != std::string_view::npos) {
      set_str(out, fields::user_target_name, rest.substr(0, by));
      set_str(out, fields::user_name, trim(rest.substr(by + 4)));
    }
    set_outcome(out, "su", bad ? "failure" : "success");
    return;
  }
  // "+ pts/0 alice:root" / "- pts/0 alice:root"
  if ((msg.starts_with("+ ") || msg.starts_with("- ")) && msg.find(':') != std::string_view::npos) {
    std::string_view rest = msg.substr(2);
    next_token(rest);
    std::string_view users = next_token(rest);
    size_t c = users.find(':');
    if (c != std::string_view::npos) {
      set_str(out, fields::user_name, users.substr(0, c));
      set_str(out, fields::user_target_name, users.substr(c + 1));
      set_outcome(out, "su", msg[0] == '+' ? "success" : "failure");
    }
    return;
  }
  if (body.starts_with("pam_authenticate: Authentication failure")) {
    set_outcome(out, "authentication_failure", "failure");
  }
}

void parse_accounts_message(std::string_view program, std::string_view msg, Event& out) {
  out.set(fields::event_dataset, Value("accounts"));
  msg = trim(msg);
  const LogFields& lf = LogFields::get();
  std::string_view body = strip_pam_prefix(msg);
  if (body.starts_with("password changed for ")) {
    set_str(out, fields::user_target_name, trim(body.substr(21)));
    set_outcome(out, "password_changed", "success");
    return;
  }
  if (msg.starts_with("new user: ")) {
    set_str(out, fields::user_target_name, key_value(msg, "name="));
    set_outcome(out, "user_created", "success");
    return;
  }
  if (msg.starts_with("new group: ") || msg.starts_with("group added to ")) {
    set_str(out, lf.group_name, key_value(msg, "name="));
    set_outcome(out, "group_created", "success");
    return;
  }
  if (msg.starts_with("add '") || msg.starts_with("user ")) {
    // useradd/usermod: "add 'bob' to group 'sudo'"; gpasswd: "user bob added by root to group sudo"
    if (msg.starts_with("add '")) {
      set_str(out, fields::user_target_name, single_quoted(msg));
      size_t g = msg.find("group '");
      if (g != std::string_view::npos) set_str(out, lf.group_name, single_quoted(msg, g));
      set_outcome(out, "group_member_added", "success");
      return;
    }
    std::string_view rest = msg.substr(5);
    std::string_view user = next_token(rest);
    if (rest.starts_with("added by ")) {
      rest.remove_prefix(9);
      set_str(out, fields::user_target_name, user);
      set_str(out, fields::user_name, next_token(rest));
      if (rest.starts_with("to group ")) set_str(out, lf.group_name, trim(rest.substr(9)));
      set_outcome(out, "group_member_added", "success");
      return;
    }
  }
  if (msg.starts_with("delete user '")) {
    set_str(out, fields::user_target_name, single_quoted(msg));
    set_outcome(out, "user_deleted", "success");
    return;
  }
  if (msg.starts_with("removed group '") ||
      (msg.starts_with("group '") && msg.find("' removed") != std::string_view::npos)) {
    set_str(out, lf.group_name, single_quoted(msg));
    set_outcome(out, "group_deleted", "success");
    return;
  }
  if (msg.starts_with("change user '")) {
    set_str(out, fields::user_target_name, single_quoted(msg));
    set_outcome(out, msg.find("' password") != std::string_view::npos ? "password_changed" : "user_modified",
                "success");
    return;
  }
  if (msg.starts_with("password for '")) {  // passwd: "password for 'bob' changed by 'root'"
    set_str(out, fields::user_target_name, single_quoted(msg));
    size_t by = msg.find(" by '");
    if (by != std::string_view::npos) set_str(out, fields::user_name, single_quoted(msg, by));
    set_outcome(out, "password_changed", "success");
    return;
  }
  if (msg.starts_with("changed password expiry for ")) {
    set_str(out, fields::user_target_name, trim(msg.substr(28)));
    set_outcome(out, "password_expiry_changed", "success");
    return;
  }
  if (read_pam_failure(body, out, true)) return;
  if (program == "usermod" || program == "groupmod" || program == "chage" || program == "chfn" || program == "chsh") {
    std::string_view name = single_quoted(msg);
    if (!name.empty()) set_str(out, fields::user_target_name, name);
  }
}

bool parse_firewall_message(std::string_view msg, Event& out) {
  size_t in = msg.find("IN=");
  if (in == std::string_view::npos || (in > 0 && msg[in - 1] != ' ' && msg[in - 1] != ']')) return false;
  if (msg.find(" OUT=", in) == std::string_view::npos) return false;
  const LogFields& lf = LogFields::get();
  out.set(fields::event_dataset, Value("firewall"));
  // The log prefix (iptables --log-prefix), after the kernel's "[uptime]" stamp.
  std::string_view prefix = msg.substr(0, in);
  if (prefix.starts_with('[')) {
    size_t close = prefix.find(']');
    bool uptime = close != std::string_view::npos && close > 1 &&
                  prefix.substr(1, close - 1).find_first_not_of(" .0123456789") == std::string_view::npos;
    if (uptime) prefix = prefix.substr(close + 1);
  }
  prefix = trim(prefix);
  if (prefix.size() >= 2 && prefix.front() == '[' && prefix.back() == ']')
    prefix = trim(prefix.substr(1, prefix.size() - 2));
  set_str(out, lf.firewall_prefix, prefix);
  // What the rule that logged did, when its prefix says (UFW: [UFW BLOCK], [UFW AUDIT], [UFW ALLOW]).
  std::string lowered(prefix);
  for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view word : {"block", "drop", "deny", "reject"}) {
    if (lowered.find(word) != std::string::npos) out.set(fields::event_action, Value("blocked"));
  }
  for (std::string_view word : {"allow", "accept", "audit"}) {
    if (!out.has(fields::event_action) && lowered.find(word) != std::string::npos) {
      out.set(fields::event_action, Value("allowed"));
    }
  }
  std::string_view rest = msg.substr(in);
  while (!rest.empty()) {
    std::string_view tok = next_token(rest);
    size_t eq = tok.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = tok.substr(0, eq);
    std::string_view value = tok.substr(eq + 1);
    if (key == "IN") {
      set_str(out, fields::observer_ingress_interface_name, value);
    } else if (key == "OUT") {
      set_str(out, lf.observer_egress_interface_name, value);
    } else if (key == "SRC") {
      if (auto ip = IpAddress::parse(value)) out.set(fields::source_ip, *ip);
    } else if (key == "DST") {
      if (auto ip = IpAddress::parse(value)) out.set(fields::destination_ip, *ip);
    } else if (key == "SPT") {
      set_port(out, fields::source_port, value);
    } else if (key == "DPT") {
      set_port(out, fields::destination_port, value);
    } else if (key == "PROTO") {
      char lower[16];
      size_t n = std::min(value.size(), sizeof(lower));
      for (size_t i = 0; i < n; ++i) {
        char c = value[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      }
      out.set(fields::network_transport, Value(std::string_view(lower, n)));
    }
  }
  return true;
}

void parse_program_message(std::string_view program, std::string_view message, Event& out) {
  std::string_view base = program_base(program);
  if (base == "sshd") {
    parse_sshd_message(message, out);
  } else if (base == "sudo") {
    parse_sudo_message(message, out);
  } else if (base == "su") {
    parse_su_message(message, out);
  } else if (base == "useradd" || base == "userdel" || base == "usermod" || base == "groupadd" || base == "groupdel" ||
             base == "groupmod" || base == "passwd" || base == "chpasswd" || base == "chage" || base == "gpasswd" ||
             base == "chfn" || base == "chsh" || base == "newusers") {
    parse_accounts_message(base, message, out);
  } else if (base == "kernel" && parse_firewall_message(message, out)) {
    // done
  } else if ((base == "httpd" || base == "apache2" || base == "apache") && trim(message).starts_with('[')) {
    out.set(fields::event_dataset, Value("apache.error"));
    parse_apache_error_body(trim(message), out);
  } else {
    out.set(fields::event_dataset, Value("syslog"));
    read_pam_failure(strip_pam_prefix(trim(message)), out, false);
  }
}

}  // namespace vigil::logs
