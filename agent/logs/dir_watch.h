// Wakes the agent when a followed log changes: inotify watches on the directories of the
// configured log paths (a file written, created, renamed into place, its attributes changed).
// Where inotify is unavailable (no instance or watch left, a directory with glob characters,
// a filesystem without events), the agent's 200 ms polling and 5 s rediscovery still apply.
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace vigil::logs {

class DirWatch {
 public:
  DirWatch();
  ~DirWatch();
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

  // Watches `dir` (once). False when inotify cannot watch it (the caller falls back to polling).
  bool watch(const std::string& dir);
  // The descriptor to poll for readability, or -1 without inotify.
  int fd() const { return fd_; }
  // Reads the pending notifications. Returns true when a file appeared (created or renamed into
  // a watched directory): time to look for new files.
  bool drain();

  size_t watches() const { return dirs_.size(); }
  uint64_t failures() const { return failures_; }
  uint64_t overflows() const { return overflows_; }

 private:
  int fd_ = -1;
  std::set<std::string> dirs_;
  uint64_t failures_ = 0;
  uint64_t overflows_ = 0;
};

}  // namespace vigil::logs
