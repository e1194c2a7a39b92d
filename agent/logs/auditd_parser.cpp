#include "agent/logs/auditd_parser.h"

#include <algorithm>

#include "agent/logs/log_fields.h"
#include "agent/logs/scan.h"
#include "agent/logs/syscalls_x86_64.h"

namespace vigil::logs {

namespace {

using namespace std::string_view_literals;

constexpr int64_t kMaxSeconds = 9'000'000'000;  // year 2255

// Keys whose values auditd writes as hex when they hold spaces, quotes or control characters.
bool is_hex_encodable(std::string_view key) {
  static constexpr std::string_view kKeys[] = {"proctitle"sv, "cmd"sv,   "comm"sv,  "exe"sv,  "cwd"sv,
                                               "name"sv,      "path"sv,  "acct"sv,  "data"sv, "dir"sv,
                                               "file"sv,      "ocomm"sv, "watch"sv, "new"sv,  "old"sv};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

// EXECVE's argument keys: a0, a1, ... (not a0_len, and not SYSCALL's a0..a3, which are numbers).
bool is_argument_key(std::string_view key) {
  return key.size() >= 2 && key[0] == 'a' && std::all_of(key.begin() + 1, key.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool all_hex(std::string_view s) {
  if (s.empty() || s.size() % 2 != 0) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_hex(c); });
}

}  // namespace

AuditdParser::AuditdParser() { (void)LogFields::get(); }

std::optional<FieldId> AuditdParser::key_field(std::string_view key) {
  auto it = keys_.find(key);
  if (it != keys_.end()) return it->second;
  if (keys_.size() >= kMaxKeys || key.empty() || key.size() > 64) {
    ++dropped_keys_;
    return std::nullopt;
  }
  std::string name = "auditd.data.";
  name.append(key);
  FieldId id = field(name);
  keys_.emplace(std::string(key), id);
  return id;
}

void AuditdParser::read_pairs(std::string_view s, Event& out, int depth, bool execve) {
  while (true) {
    // ENRICHED records put a GS (0x1d) before the resolved names (AUID="root" UID="root").
    while (s.starts_with(' ') || s.starts_with('\x1d')) s.remove_prefix(1);
    if (s.empty()) return;
    size_t eq = s.find('=');
    size_t sp = s.find_first_of(" \x1d");
    if (eq == std::string_view::npos) return;
    if (sp < eq) {  // a word without '=': skip it
      s.remove_prefix(sp + 1);
      continue;
    }
    std::string_view key = s.substr(0, eq);
    s.remove_prefix(eq + 1);
    std::string_view value;
    bool quoted = false;
    if (s.starts_with('"') || s.starts_with('\'')) {
      char q = s[0];
      size_t end = s.find(q, 1);
      if (end == std::string_view::npos) end = s.size();
      value = s.substr(1, end - 1);
      s.remove_prefix(std::min(s.size(), end + 1));
      quoted = true;
      if (q == '\'' && key == "msg" && depth == 0) {  // USER_* records nest their fields
        read_pairs(value, out, depth + 1, false);
        continue;
      }
    } else {
      size_t end = s.find_first_of(" \x1d");
      value = s.substr(0, end);
      s = end == std::string_view::npos ? std::string_view() : s.substr(end);
    }
    auto id = key_field(key);
    if (!id) continue;
    if (!quoted && (is_hex_encodable(key) || (execve && is_argument_key(key))) && all_hex(value) &&
        hex_decode(value, decoded_)) {
      std::replace(decoded_.begin(), decoded_.end(), '\0', ' ');  // proctitle: NUL between args
      while (!decoded_.empty() && decoded_.back() == ' ') decoded_.pop_back();
      out.set(*id, Value(std::string_view(decoded_)));
    } else {
      out.set(*id, Value(value));
    }
    // A few ECS fields every rule wants.
    if (key == "addr" || key == "saddr_ip") {
      if (auto ip = IpAddress::parse(value)) out.set(fields::source_ip, *ip);
    } else if (key == "acct") {
      if (const std::string* v = out.get_string(*id)) out.set(fields::user_name, Value(*v));
    } else if (key == "res" || key == "success") {
      bool ok = value == "success" || value == "yes";
      out.set(fields::event_outcome, Value(ok ? "success" : "failure"));
    } else if (key == "pid") {
      if (auto p = parse_uint(value)) out.set(fields::process_pid, *p);
    } else if (key == "comm" && depth == 0) {
      if (const std::string* v = out.get_string(*id)) out.set(fields::process_name, Value(*v));
    } else if (key == "exe") {
      if (const std::string* v = out.get_string(*id)) out.set(LogFields::get().process_executable, Value(*v));
    }
  }
}

bool AuditdParser::parse_line(std::string_view line, const ParseContext&, Event& out) {
  std::string_view s = line;
  if (s.starts_with("node=")) {
    std::string_view node = next_token(s);
    out.set(fields::host_name, Value(node.substr(5)));
  }
  if (!s.starts_with("type=")) return false;
  s.remove_prefix(5);
  std::string_view type = next_token(s);
  if (type.empty() || !s.starts_with("msg=audit(")) return false;
  s.remove_prefix(10);
  size_t close = s.find("):");
  if (close == std::string_view::npos) return false;
  std::string_view stamp = s.substr(0, close);
  s.remove_prefix(close + 2);
  size_t colon = stamp.find(':');
  size_t dot = stamp.find('.');
  if (colon == std::string_view::npos || dot == std::string_view::npos || dot > colon) return false;
  auto secs = parse_uint(stamp.substr(0, dot));
  std::string_view frac = stamp.substr(dot + 1, colon - dot - 1);
  auto seq = parse_uint(stamp.substr(colon + 1));
  if (!secs || !seq || frac.empty() || frac.size() > 9 || !parse_uint(frac)) return false;
  if (*secs > kMaxSeconds) return false;  // nanoseconds since the epoch must fit in 64 bits
  int64_t nanos = *parse_uint(frac);
  for (size_t i = frac.size(); i < 9; ++i) nanos *= 10;

  const LogFields& lf = LogFields::get();
  out.set(fields::event_dataset, Value("auditd"));
  out.set(fields::timestamp, Timestamp::from_seconds(*secs, nanos));
  out.set(lf.auditd_message_type, Value(type));
  out.set(lf.auditd_sequence, *seq);
  read_pairs(s, out, 0, type == "EXECVE");
  // Raw records name the system call by number; ENRICHED ones add SYSCALL=name (kept as is).
  if (type == "SYSCALL") {
    static const FieldId kSyscallName = field("auditd.data.SYSCALL");
    static const FieldId kSyscall = field("auditd.data.syscall");
    static const FieldId kArch = field("auditd.data.arch");
    const std::string* arch = out.get_string(kArch);
    const std::string* number = out.get_string(kSyscall);
    if (!out.has(kSyscallName) && arch && number && *arch == "c000003e") {
      auto n = parse_uint(*number);
      if (n && static_cast<size_t>(*n) < std::size(kX86_64Syscalls) && !kX86_64Syscalls[*n].empty()) {
        out.set(kSyscallName, Value(kX86_64Syscalls[*n]));
      }
    }
  }
  return true;
}

}  // namespace vigil::logs
