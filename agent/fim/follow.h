// File integrity: a log file followed as it grows, line by line (dpkg's log, agent/fim/packages.h;
// the audit log, agent/fim/audit.h).
//
// Each refresh() reads what was appended since the last one. The first reads the file's last
// `first_read` bytes (the line cut there is skipped). When the file was rotated (another inode at
// its path), the rest of the old file is read from `<path>.1` when that is the same inode, then the
// new file from its start; a file truncated in place is read again from its start. A line longer
// than `max_line` is not passed on: `on_too_long` is called once for it. A trailing partial line
// waits for the rest.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace vigil::agent::fim {

class FollowedLog {
 public:
  struct Options {
    std::string path{};
    uint64_t first_read{8 << 20};
    size_t max_line{4096};
  };
  using LineFn = std::function<void(std::string_view line)>;
  using TooLongFn = std::function<void()>;

  FollowedLog(Options options, LineFn on_line, TooLongFn on_too_long);

  // Reads what was appended since the last call. Returns false when the file exists but cannot
  // be opened (`error()` then holds errno); a file that is not there is no error.
  bool refresh();
  // Splits text into lines (as read from the file).
  void feed(std::string_view text);

  const std::string& path() const { return opt_.path; }
  int error() const { return error_; }

 private:
  // Reads `file` from `offset` to its end; returns the new offset.
  uint64_t read_from(const std::string& file, uint64_t offset);

  Options opt_;
  LineFn on_line_;
  TooLongFn on_too_long_;
  std::string partial_{};
  bool skipping_{false};  // inside a line past max_line (or cut by the first read)
  bool opened_{false};
  ino_t inode_{0};
  uint64_t offset_{0};
  int error_{0};
};

}  // namespace vigil::agent::fim
