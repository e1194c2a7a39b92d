// File integrity: walking the monitored trees and hashing what they hold.
//
// The walk:
// - never follows a symlink (it is recorded with its target, so a symlink loop cannot be entered),
//   not even when a root itself is one; a root is recorded as the entry it is;
// - records devices, FIFOs and sockets by their metadata alone, never opening them;
// - visits each directory's names in sorted order, so entries come out in path_less() order;
// - hashes regular files with SHA-256 (OpenSSL EVP), streamed through one fixed buffer, opened
//   with O_NOFOLLOW | O_NONBLOCK (and O_NOATIME where allowed), optionally paced by a read rate;
// - in quick mode (a baseline given, `full` off) reuses the baseline's hash of a regular file whose
//   size, mtime, ctime, inode, mode, uid and gid are all unchanged, without opening it;
// - reports an entry it cannot read with its error (a scan never presents it as unchanged);
//   an entry that vanishes between the directory listing and its stat or open is left out (a
//   deletion to whoever compares), counted in `vanished`, not an error;
// - stops recording at max_files entries, then only counts what it would have recorded
//   (`capped`, `over_cap`): a capped scan cannot tell a deleted file from one it did not reach.
//
// Ignore globs are per root and relative to it:
// - a glob without '/' matches an entry's name at any depth ("*.log", "*.swp");
// - a glob with '/' matches the path relative to the root, component by component ("cache/**",
//   "uploads/*/tmp", "/build" — a leading '/' only anchors, as every such glob is anchored);
// - in a component, '*', '?' and "[...]" match as in fnmatch(3) (a '*' never crosses a '/');
//   a "**" component matches zero or more components; a trailing "**" one or more, so "cache/**"
//   ignores everything inside cache/ but still records cache/ itself, and "cache" ignores both;
// - an ignored directory is not entered.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/fim/baseline.h"
#include "common/result.h"

namespace vigil::agent::fim {

// The default cap on recorded entries (fim.max_files).
inline constexpr uint64_t kDefaultMaxFiles = 500'000;
// The default read rate of the agent's scans (fim.max_read_rate), bytes per second.
inline constexpr uint64_t kDefaultMaxReadRate = 50ULL << 20;

// A read rate shared by scanners on several threads (the agent's scheduled scan and its realtime
// re-examinations draw on one budget): a token bucket holding a tenth of a second of reading.
class ReadRate {
 public:
  explicit ReadRate(uint64_t bytes_per_second) : rate_(bytes_per_second) {}
  // Takes `bytes` from the budget, sleeping while it is overdrawn; returns the time slept.
  std::chrono::nanoseconds take(size_t bytes);
  uint64_t rate() const { return rate_; }

 private:
  const uint64_t rate_;
  std::mutex mu_{};
  double tokens_{-1};  // negative before the first take: the bucket starts full
  std::chrono::steady_clock::time_point refilled_{};
};

struct ScanOptions {
  std::vector<Root> roots{};
  uint64_t max_files{kDefaultMaxFiles};  // 0: no cap
  uint64_t max_read_rate{0};             // bytes per second read for hashing; 0: unthrottled
  bool full{false};                      // re-hash every file even when its metadata match the baseline
  bool missing_root_is_error{true};      // false when checking: a deleted root is a change
  std::shared_ptr<ReadRate> shared_rate{};  // when set, paces reads instead of max_read_rate
  const std::atomic<bool>* cancel{nullptr};  // when set and true, the walk stops (entries after it are left out)
};

// Bound of a walk over trees others may write to: a directory this deep, or whose entries' paths
// could pass the baseline's kMaxPath, is recorded but not entered (counted in ScanStats::too_deep),
// so a hostile `mkdir -p` neither exhausts the stack and descriptors nor makes paths the baseline
// cannot hold.
inline constexpr size_t kMaxDepth = 256;

struct ScanStats {
  uint64_t entries{0};  // recorded
  uint64_t files{0};
  uint64_t dirs{0};
  uint64_t symlinks{0};
  uint64_t special{0};
  uint64_t hashed{0};  // files whose content was read
  uint64_t reused{0};  // files whose baseline hash was reused without opening them
  uint64_t bytes_read{0};
  uint64_t read_calls{0};
  uint64_t errors{0};    // entries recorded with an error
  uint64_t vanished{0};  // gone between listing and stat/open
  uint64_t ignored{0};
  uint64_t over_cap{0};  // entries seen past max_files and not recorded
  uint64_t too_deep{0};  // directories not entered: kMaxDepth levels or kMaxPath bytes reached
  bool capped{false};
  std::chrono::nanoseconds throttled{0};  // time spent waiting for the read rate
};

// A read rate as agent.yaml and `fim --max-read-rate` write it ("50MiB/s" or "50MiB": bytes per
// second), within 64KiB/s..64GiB/s; nullopt otherwise.
std::optional<uint64_t> parse_read_rate(std::string_view text);

// Whether `relative` (a path relative to a root, no leading '/') matches an ignore glob.
bool glob_match(std::string_view glob, std::string_view relative);

// Whether `path` lies strictly under the directory `dir` ("/" holds every other absolute path).
bool path_under(std::string_view path, std::string_view dir);

// Normalises a root path: absolute (relative to the working directory), lexically normal, no
// trailing '/'.
std::string normalize_root(std::string_view path);

class Scanner {
 public:
  using Sink = std::function<void(const FileInfo&)>;

  // Roots are normalised and sorted; a root inside a recursive root is covered by it (the outer
  // root's ignore globs apply) and dropped.
  explicit Scanner(ScanOptions options);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Walks every root and hands each entry to `sink`. `baseline` (optional) enables quick re-checks.
  // Fails only on a root that cannot be walked at all (missing when missing_root_is_error).
  Result<void> run(const Sink& sink, const Baseline* baseline = nullptr);

  // Walks one path inside the roots as run() would (its root's ignore globs and depth apply): the
  // entry itself and, when `subtree` and it is a directory the walk would enter, what lies under
  // it. Nothing is handed out for a path out of scope or gone. `on_dir`, when set, is called with
  // each directory before it is listed (a realtime watch added there misses nothing created after
  // the listing).
  void run_path(std::string_view path, bool subtree, const Sink& sink, const Baseline* baseline = nullptr,
                const Sink& on_dir = {});

  // Whether a scan of these roots would record `path` (under a root, within its depth, not
  // ignored): what a comparison may call deleted when the scan did not see it.
  bool in_scope(std::string_view path) const;

  const std::vector<Root>& roots() const { return options_.roots; }
  const ScanOptions& options() const { return options_; }
  const ScanStats& stats() const { return stats_; }

 private:
  struct Walk;
  bool cancelled() const { return options_.cancel && options_.cancel->load(std::memory_order_relaxed); }
  bool ignored(const Root& root, std::string_view relative, std::string_view name) const;
  void visit(Walk& w, int dirfd, const char* name, const Root& root, bool list_children, bool emit_self);
  void walk_dir(Walk& w, int fd, const Root& root);
  bool hash_file(Walk& w, int dirfd, const char* name);
  void pace(size_t bytes);

  ScanOptions options_;
  ScanStats stats_{};
  std::vector<unsigned char> buf_;
  double tokens_{0};
  std::chrono::steady_clock::time_point refilled_{};
};

}  // namespace vigil::agent::fim
