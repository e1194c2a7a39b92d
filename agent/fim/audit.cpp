#include "agent/fim/audit.h"

#include <algorithm>
#include <filesystem>

namespace vigil::agent::fim {

namespace {

using namespace std::string_view_literals;

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The record's type, from the line's start ([node=H ]type=T msg=audit(...)), or "" when the line
// does not start like an audit record.
std::string_view record_type(std::string_view l) {
  if (l.starts_with("node=")) {
    size_t sp = l.find(' ');
    if (sp == std::string_view::npos) return {};
    l.remove_prefix(sp + 1);
  }
  if (!l.starts_with("type=")) return {};
  l.remove_prefix(5);
  size_t sp = l.find(' ');
  if (sp == std::string_view::npos || !l.substr(sp + 1).starts_with("msg=audit(")) return {};
  return l.substr(0, sp);
}

// An absolute, lexically normal path without a trailing slash; "" when it cannot be made.
std::string absolute_name(std::string_view name, std::string_view cwd) {
  if (name.empty() || name == "(null)") return {};
  std::string p;
  if (name.front() == '/') {
    p.assign(name);
  } else {
    if (cwd.empty() || cwd.front() != '/') return {};
    p.assign(cwd);
    if (p.back() != '/') p.push_back('/');
    p.append(name);
  }
  if (p.find("/.") != std::string::npos || p.find("//") != std::string::npos) {
    p = std::filesystem::path(p).lexically_normal().string();
  }
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

AuditLog::AuditLog(Options options)
    : opt_(std::move(options)),
      ctx_(logs::ParseContext::at("auditd", Timestamp{}, 0)),
      log_(
          FollowedLog::Options{opt_.log, kFirstRead, kMaxLine}, [this](std::string_view l) { line(l); },
          [this] {
            ++lines_;
            ++malformed_;
          }) {
  if (opt_.max_events == 0) opt_.max_events = 1;
}

bool AuditLog::refresh() { return log_.refresh(); }

void AuditLog::feed(std::string_view text) { log_.feed(text); }

void AuditLog::line(std::string_view l) {
  static const FieldId kSequence = field("auditd.sequence");
  static const FieldId kSuccess = field("auditd.data.success");
  static const FieldId kUid = field("auditd.data.uid");
  static const FieldId kAuid = field("auditd.data.auid");
  static const FieldId kUidName = field("auditd.data.UID");
  static const FieldId kAuidName = field("auditd.data.AUID");
  static const FieldId kExe = field("auditd.data.exe");
  static const FieldId kCwd = field("auditd.data.cwd");
  static const FieldId kName = field("auditd.data.name");
  static const FieldId kNameType = field("auditd.data.nametype");

  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.empty()) return;
  ++lines_;
  const std::string_view type = record_type(l);
  if (type.empty()) {
    ++malformed_;
    return;
  }
  // Only these records name who changed which file; the others are passed over unparsed.
  if (type != "SYSCALL"sv && type != "CWD"sv && type != "PATH"sv && type != "EOE"sv) return;
  if (!parser_.parse(l, ctx_, record_)) {
    ++malformed_;
    return;
  }
  const int64_t* seq = record_.get_int(kSequence);
  if (!seq || *seq < 0) {
    ++malformed_;
    return;
  }
  const uint64_t serial = static_cast<uint64_t>(*seq);
  size_t at = open_.size();
  for (size_t i = open_.size(); i-- > 0;) {
    if (open_[i].serial == serial) {
      at = i;
      break;
    }
  }
  if (type == "EOE"sv) {
    if (at < open_.size()) close_open(at);
    return;
  }
  if (at == open_.size()) {
    if (open_.size() >= kMaxOpen) {
      close_open(0);
      at = open_.size();
    }
    open_.push_back(Building{});
    open_.back().serial = serial;
    open_.back().who.serial = serial;
    open_.back().who.time_ns = record_.time().ns;
  }
  Building& b = open_[at];
  auto str = [&](FieldId id) -> std::string_view {
    const std::string* s = record_.get_string(id);
    return s ? std::string_view(*s) : std::string_view();
  };
  if (type == "SYSCALL"sv) {
    b.syscall = true;
    b.failed = str(kSuccess) == "no"sv;
    const std::string_view auid = str(kAuid);
    const std::string_view uid = str(kUid);
    if (all_digits(auid) && auid != "4294967295"sv) {
      b.who.user_id = auid;
      b.who.from_auid = true;
      const std::string_view name = str(kAuidName);
      if (!name.empty() && name != "unset"sv && name != "?"sv) b.who.user_name = name;
    } else if (all_digits(uid)) {
      b.who.user_id = uid;
      const std::string_view name = str(kUidName);
      if (!name.empty() && name != "unset"sv && name != "?"sv) b.who.user_name = name;
    }
    b.who.executable = str(kExe);
    if (const int64_t* pid = record_.get_int(fields::process_pid)) b.who.pid = *pid;
  } else if (type == "CWD"sv) {
    b.cwd = str(kCwd);
  } else {  // PATH
    const std::string_view name = str(kName);
    if (!name.empty() && str(kNameType) != "PARENT"sv && b.names.size() < kMaxNames) b.names.emplace_back(name);
  }
}

void AuditLog::close_open(size_t index) {
  Building b = std::move(open_[index]);
  open_.erase(open_.begin() + static_cast<ptrdiff_t>(index));
  if (!b.syscall || b.failed || b.names.empty()) return;
  Kept k;
  k.who = std::move(b.who);
  for (const auto& n : b.names) {
    std::string p = absolute_name(n, b.cwd);
    if (!p.empty() && std::find(k.paths.begin(), k.paths.end(), p) == k.paths.end()) k.paths.push_back(std::move(p));
  }
  if (k.paths.empty()) return;
  if (events_.size() >= opt_.max_events) {
    // The oldest goes, and with it the front of each of its paths' lists (ids are in order).
    for (const auto& p : events_.front().paths) {
      auto it = by_path_.find(p);
      if (it == by_path_.end()) continue;
      if (!it->second.empty() && it->second.front() == first_id_) it->second.pop_front();
      if (it->second.empty()) by_path_.erase(it);
    }
    events_.pop_front();
    ++first_id_;
    ++dropped_;
  }
  const uint64_t id = first_id_ + events_.size();
  for (const auto& p : k.paths) by_path_[p].push_back(id);
  events_.push_back(std::move(k));
}

void AuditLog::consider(const Who& who, int64_t t, int64_t& best_distance, const Who*& best) const {
  const int64_t distance = who.time_ns > t ? who.time_ns - t : t - who.time_ns;
  const int64_t window = std::chrono::duration_cast<std::chrono::nanoseconds>(opt_.window).count();
  if (distance > window) return;
  if (!best || distance < best_distance ||
      (distance == best_distance && std::pair(who.time_ns, who.serial) > std::pair(best->time_ns, best->serial))) {
    best = &who;
    best_distance = distance;
  }
}

std::optional<AuditLog::Who> AuditLog::near(std::chrono::system_clock::time_point at, std::string_view path) {
  const int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  const Who* best = nullptr;
  int64_t best_distance = 0;
  if (auto it = by_path_.find(std::string(path)); it != by_path_.end()) {
    for (uint64_t id : it->second) consider(events_[id - first_id_].who, t, best_distance, best);
  }
  // Events whose EOE is not written yet.
  for (const auto& b : open_) {
    if (!b.syscall || b.failed) continue;
    for (const auto& n : b.names) {
      if (absolute_name(n, b.cwd) == path) {
        consider(b.who, t, best_distance, best);
        break;
      }
    }
  }
  if (!best) return std::nullopt;
  ++joined_;
  return *best;
}

void mark_attribution(Event& e, const AuditLog::Who& who) {
  static const FieldId kUserId = field("user.id");
  static const FieldId kAuditUser = field("vigil.fim.audit_user");
  static const FieldId kAttribution = field("vigil.fim.attribution");
  static const FieldId kSerial = field("vigil.fim.audit_serial");
  if (!who.user_id.empty()) {
    e.set(kUserId, Value(who.user_id));
    e.set(kAuditUser, Value(who.from_auid ? "auid" : "uid"));
  }
  if (!who.user_name.empty()) e.set(fields::user_name, Value(who.user_name));
  if (!who.executable.empty()) e.set(fields::process_executable, Value(who.executable));
  if (who.pid >= 0) e.set(fields::process_pid, Value(who.pid));
  e.set(kAttribution, Value("auditd"));
  e.set(kSerial, Value(static_cast<int64_t>(who.serial)));
}

}  // namespace vigil::agent::fim
