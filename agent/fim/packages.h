// File integrity: package upgrades told apart from other changes, by dpkg's log (agent.yaml
// fim.dpkg_log, default /var/log/dpkg.log; fim.package_window, default 10 minutes).
//
// dpkg writes a line per step of its work, in local time:
//   2026-12-01 10:23:45 upgrade coreutils:amd64 9.1-1 9.1-1+deb12u1
//   2026-12-01 10:23:45 status half-installed coreutils:amd64 9.1-1
//   2026-12-01 10:23:46 configure coreutils:amd64 9.1-1+deb12u1 <none>
//   2026-12-01 10:23:46 status installed coreutils:amd64 9.1-1+deb12u1
// Every install, upgrade, configure, remove, purge, trigproc and status line is package activity
// at that time; startup and conffile lines name no package and are passed over. A line without a
// valid time, or a package-naming line without its package, is malformed: counted and skipped.
//
// The log is read from where the last read stopped (at start, its last 8 MiB), each time a change
// is marked; when it was rotated, the rest of the old file is read from `<log>.1` (same inode)
// before the new one (agent/fim/follow.h). What is kept is bounded: one record per package and burst (lines of a
// package less than a minute apart fold into one), at most kMaxRecords, the oldest dropped first
// (counted).
//
// A change is marked (its time: its ctime when known, see deploy.h):
//   vigil.fim.package_activity: true|false  dpkg was at work within the window of the change
//   vigil.fim.packages: [name:arch, ...]    the packages it worked on then (at most 16)
//   vigil.fim.package: name:arch            the one of them whose file list
//                                           (<dpkg_info>/<package>.list) names the file
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "agent/fim/follow.h"
#include "common/event/event.h"

namespace vigil::agent::fim {

inline constexpr const char* kDefaultDpkgLog = "/var/log/dpkg.log";
inline constexpr const char* kDefaultDpkgInfo = "/var/lib/dpkg/info";

class DpkgLog {
 public:
  static constexpr size_t kMaxRecords = 8192;
  static constexpr size_t kMaxPackages = 16;       // named on one event
  static constexpr size_t kMaxLine = 4096;         // a longer line is malformed
  static constexpr uint64_t kFirstRead = 8 << 20;  // at start, the log's last bytes read
  static constexpr uint64_t kMaxList = 16 << 20;   // a package's file list larger than this is not read
  static constexpr size_t kMaxListsRead = 8;       // file lists read for one change

  struct Options {
    std::string log{kDefaultDpkgLog};
    std::string info_dir{kDefaultDpkgInfo};
    std::chrono::seconds window{std::chrono::minutes(10)};
  };

  struct Activity {
    bool any{false};
    std::vector<std::string> packages{};  // nearest in time first
    std::string owner{};                  // the package whose file list names the path, if any
  };

  explicit DpkgLog(Options options);
  DpkgLog(const DpkgLog&) = delete;  // its reader calls back into it
  DpkgLog& operator=(const DpkgLog&) = delete;

  // Reads what was appended to the log since the last call.
  void refresh();
  // Parses complete lines of log text (a trailing partial line waits for the rest).
  void feed(std::string_view text);

  // dpkg's work within the window of `at`, and which of those packages owns `path`.
  Activity near(std::chrono::system_clock::time_point at, std::string_view path) const;

  uint64_t lines() const { return lines_; }
  uint64_t malformed() const { return malformed_; }
  uint64_t dropped() const { return dropped_; }
  size_t records() const { return records_.size(); }

 private:
  struct Record {
    int64_t first{0};  // seconds since the epoch
    int64_t last{0};
    std::string package{};
  };

  void line(std::string_view l);
  void add(int64_t at, std::string_view package);
  bool list_names(const std::string& package, std::string_view path) const;

  Options opt_;
  std::deque<Record> records_{};
  FollowedLog log_;
  uint64_t lines_{0};
  uint64_t malformed_{0};
  uint64_t dropped_{0};
};

// The marks above, added to a file.integrity event.
void mark_packages(Event& e, const DpkgLog::Activity& activity);

}  // namespace vigil::agent::fim
