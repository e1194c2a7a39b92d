// File integrity: who changed a file, from the Linux audit log (agent.yaml fim.audit_log, default
// /var/log/audit/audit.log; "" turns it off; fim.audit_window, default 5 s). Best effort: only
// when the host runs auditd with a rule that records the change, e.g. a watch on the tree
//   auditctl -w /var/www -p wa -k vigil-fim
// and the agent can read the log (root, or auditd.conf log_group).
//
// The kernel writes one audit event as several records sharing its stamp msg=audit(TIME:SERIAL):
//   type=SYSCALL msg=audit(1780000000.123:4242): arch=c000003e syscall=257 success=yes ... pid=812
//            auid=1001 uid=33 ... exe="/usr/bin/vim" key="vigil-fim"  (ENRICHED logs: AUID="ann" UID="www-data")
//   type=CWD msg=audit(1780000000.123:4242): cwd="/var/www/html"
//   type=PATH msg=audit(1780000000.123:4242): item=1 name="index.html" ... nametype=CREATE
//   type=EOE msg=audit(1780000000.123:4242):
// Records are parsed by the auditd log parser (agent/logs/auditd_parser.h: hex values decoded) and
// grouped by serial until EOE (at most kMaxOpen events assembling at once; past it the oldest is
// closed as it stands). An event is kept when its SYSCALL succeeded and a PATH record names a file
// (nametype PARENT, the directory looked through, is not): each name absolute, or the CWD record's
// directory joined with it, made lexically normal. At most kMaxEvents are kept, indexed by path,
// the oldest dropped first (counted). The log is followed as it grows (agent/fim/follow.h: its
// last 8 MiB at start, rotation to <log>.1 followed).
//
// A change of path P placed at T (its ctime; a deletion when it is seen, agent/fim/deploy.h) is
// joined to the event naming P nearest to T within the window (a tie: the later one). None: no
// fields (never a guess). Joined, the change carries:
//   user.id                  auid, the login user, when set (not 4294967295); else uid
//   vigil.fim.audit_user     auid|uid: which of them user.id (and user.name) is
//   user.name                AUID= / UID= of an ENRICHED log, when the record has it
//   process.executable, process.pid
//   vigil.fim.attribution    auditd (best effort: the label says where the user came from)
//   vigil.fim.audit_serial   the audit event's serial
// A relative name under a directory descriptor (openat with a dirfd) is joined with the cwd as
// auditd records no better; such a path rarely names a watched file.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/fim/follow.h"
#include "agent/logs/auditd_parser.h"
#include "common/event/event.h"

namespace vigil::agent::fim {

inline constexpr const char* kDefaultAuditLog = "/var/log/audit/audit.log";

class AuditLog {
 public:
  static constexpr size_t kMaxEvents = 16384;      // audit events naming files, kept
  static constexpr size_t kMaxOpen = 64;           // events whose records are still arriving
  static constexpr size_t kMaxNames = 16;          // files kept per event
  static constexpr size_t kMaxLine = 64 * 1024;    // a longer line is malformed
  static constexpr uint64_t kFirstRead = 8 << 20;  // at start, the log's last bytes read

  struct Options {
    std::string log{kDefaultAuditLog};
    std::chrono::milliseconds window{std::chrono::seconds(5)};
    size_t max_events{kMaxEvents};
  };

  // Who an audit event names.
  struct Who {
    uint64_t serial{0};
    int64_t time_ns{0};
    std::string user_id{};  // auid when set, else uid ("" when the record has neither)
    bool from_auid{false};
    std::string user_name{};  // AUID= or UID= of an ENRICHED record
    std::string executable{};
    int64_t pid{-1};
  };

  explicit AuditLog(Options options);
  AuditLog(const AuditLog&) = delete;  // its reader calls back into it
  AuditLog& operator=(const AuditLog&) = delete;

  // Reads what was appended to the log since the last call; false when it cannot be opened
  // (error() holds errno).
  bool refresh();
  int error() const { return log_.error(); }
  // Parses complete lines of log text (a trailing partial line waits for the rest).
  void feed(std::string_view text);

  // The audit event naming `path` nearest to `at` within the window (counted in joined()).
  std::optional<Who> near(std::chrono::system_clock::time_point at, std::string_view path);

  uint64_t lines() const { return lines_; }
  uint64_t malformed() const { return malformed_; }
  uint64_t joined() const { return joined_; }
  uint64_t dropped() const { return dropped_; }
  size_t events() const { return events_.size(); }

 private:
  struct Building {
    uint64_t serial{0};
    Who who{};
    bool syscall{false};
    bool failed{false};
    std::string cwd{};
    std::vector<std::string> names{};  // as written (relative ones joined at close)
  };
  struct Kept {
    Who who{};
    std::vector<std::string> paths{};
  };

  void line(std::string_view l);
  void close_open(size_t index);
  // `who` in place of `best` when nearer to `t` (within the window).
  void consider(const Who& who, int64_t t, int64_t& best_distance, const Who*& best) const;

  Options opt_;
  logs::AuditdParser parser_{};
  logs::ParseContext ctx_{};
  Event record_{};  // reused for each line
  std::vector<Building> open_{};
  std::deque<Kept> events_{};
  uint64_t first_id_{0};                                             // the id of events_.front()
  std::unordered_map<std::string, std::deque<uint64_t>> by_path_{};  // ids, oldest first
  FollowedLog log_;
  uint64_t lines_{0};
  uint64_t malformed_{0};
  uint64_t joined_{0};
  uint64_t dropped_{0};
};

// The fields above, added to a file.integrity event.
void mark_attribution(Event& e, const AuditLog::Who& who);

}  // namespace vigil::agent::fim
