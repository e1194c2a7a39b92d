// File integrity, realtime: inotify watches on the directories of the realtime trees.
//
// A directory is watched for entries created, written and closed, modified, changed in their
// attributes, moved in or out and deleted, and for its own deletion or move. Watches are added
// by the FIM worker as it walks (a new directory is watched before it is listed, so nothing
// created in it is missed) and notifications are read by the agent's loop: the maps are shared
// under a lock. A directory that cannot be watched (fs.inotify.max_user_watches reached, no
// inotify at all) is counted and left to the scheduled scan.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vigil::agent::fim {

class Watcher {
 public:
  Watcher();
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // The descriptor to poll for readability; -1 without inotify.
  int fd() const { return fd_; }
  // Watches directory `dir` (again: a directory moved inside a tree keeps its watch under its new
  // name). False when it cannot be watched (counted).
  bool add(const std::string& dir);
  // Forgets the watches of `dir` and of the directories under it (moved away or deleted).
  void forget_under(const std::string& dir);
  // Reads what is waiting and calls `fn` with the path each notification names (a watched
  // directory's entry, or the directory itself) and its inotify mask; an overflow of the kernel's
  // queue is reported with an empty path and IN_Q_OVERFLOW.
  void drain(const std::function<void(const std::string& path, uint32_t mask)>& fn);

  size_t watches() const;
  uint64_t failures() const;
  // Whether a watch was refused for the watch limit (ENOSPC) since the last call.
  bool take_limit_reached();

 private:
  int fd_{-1};
  mutable std::mutex mu_{};
  std::unordered_map<int, std::string> by_wd_{};
  std::map<std::string, int> by_path_{};
  uint64_t failures_{0};
  bool limit_reached_{false};
};

}  // namespace vigil::agent::fim
