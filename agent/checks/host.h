// Reading host state under a root directory: bounded file reads, globs, dpkg versions, commands.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::agent::checks {

// Files larger than this are refused (policies read configuration, not data).
inline constexpr size_t kMaxFileBytes = 8u << 20;

// A file read under the root. `missing` when neither the path nor a symlink at it exists; any
// other failure (a directory, a dangling symlink, permission, too large) is an error with reason.
struct FileRead {
  enum class Status : uint8_t { ok, missing, error };
  Status status = Status::missing;
  std::string content;
  std::string reason;
};

class HostRoot {
 public:
  explicit HostRoot(std::string root);
  const std::string& root() const { return root_; }
  bool is_live() const { return live_; }  // the running system ("/")
  // root + absolute path ("/etc/passwd" under "/img" is "/img/etc/passwd"). Under a root other
  // than "/", symbolic links are followed inside the root, as they would be on that host: an
  // absolute link target never escapes to the scanning machine's files.
  std::string path(std::string_view absolute) const;
  // Like path(), but a symbolic link in the last component is left as is (for lstat/readlink).
  std::string path_nofollow(std::string_view absolute) const;
  FileRead read(std::string_view absolute, size_t max_bytes = kMaxFileBytes) const;
  // Absolute paths (as seen inside the root) matching a glob, sorted; a path without wildcards is
  // returned as is.
  std::vector<std::string> glob(std::string_view pattern) const;

 private:
  std::string resolve(std::string_view absolute, bool follow_last) const;
  std::string root_;
  bool live_ = false;
};

// Debian version ordering (deb-version(7)): <0, 0, >0.
int compare_debian_versions(std::string_view a, std::string_view b);

struct CommandOutput {
  int exit_code = -1;
  std::string out;  // stdout, at most 64 KiB kept
  bool timed_out = false;
};
// Runs argv (no shell) with stdin from /dev/null, stderr discarded, killed after `timeout`.
Result<CommandOutput> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);
// The process group of the command run_command is waiting for, 0 when none: a scan ended by a
// signal kills it from the handler (async-signal-safe).
int running_command_group();

std::string_view trim(std::string_view s);
std::vector<std::string_view> split_lines(std::string_view text);
std::vector<std::string_view> split_fields(std::string_view line, char sep);  // keeps empty fields
std::vector<std::string_view> split_ws(std::string_view line);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);  // ASCII, case-insensitive
std::string join(const std::vector<std::string>& v, std::string_view sep = ", ");
std::optional<long long> parse_int(std::string_view s);

}  // namespace vigil::agent::checks
