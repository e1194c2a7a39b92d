#include "agent/fim/watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "agent/fim/scanner.h"

namespace vigil::agent::fim {

namespace {
constexpr uint32_t kMask = IN_CREATE | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO |
                           IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
}

Watcher::Watcher() { fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }

Watcher::~Watcher() {
  if (fd_ >= 0) ::close(fd_);
}

bool Watcher::add(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (fd_ < 0) {
    ++failures_;
    return false;
  }
  int wd = inotify_add_watch(fd_, dir.c_str(), kMask);
  if (wd < 0) {
    if (errno == ENOSPC) limit_reached_ = true;
    if (errno != ENOENT && errno != ENOTDIR) ++failures_;  // gone meanwhile: nothing to watch
    return false;
  }
  if (auto it = by_wd_.find(wd); it != by_wd_.end() && it->second != dir) by_path_.erase(it->second);
  by_wd_[wd] = dir;
  by_path_[dir] = wd;
  return true;
}

void Watcher::forget_under(const std::string& dir) {
  std::lock_guard lock(mu_);
  for (auto it = by_path_.lower_bound(dir); it != by_path_.end();) {
    if (it->first != dir && !path_under(it->first, dir)) {
      if (it->first.size() > dir.size() && it->first.starts_with(dir)) {
        ++it;  // "/a-b" sorts between "/a" and "/a/x"
        continue;
      }
      break;
    }
    inotify_rm_watch(fd_, it->second);
    by_wd_.erase(it->second);
    it = by_path_.erase(it);
  }
}

void Watcher::drain(const std::function<void(const std::string&, uint32_t)>& fn) {
  if (fd_ < 0) return;
  alignas(struct inotify_event) char buf[65536];
  std::vector<std::pair<std::string, uint32_t>> notes;
  // At most 16 reads a pass (about 1 MiB of notices): the descriptor stays readable and the
  // next pass goes on, so a burst neither holds the agent's loop nor grows `notes` without bound.
  for (int reads = 0; reads < 16; ++reads) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: drained
    std::lock_guard lock(mu_);
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        notes.emplace_back(std::string(), IN_Q_OVERFLOW);
        continue;
      }
      auto it = by_wd_.find(ev->wd);
      if (it == by_wd_.end()) continue;
      if (ev->mask & IN_IGNORED) {
        if (auto pit = by_path_.find(it->second); pit != by_path_.end() && pit->second == ev->wd) by_path_.erase(pit);
        by_wd_.erase(it);
        continue;
      }
      std::string path = it->second;
      if (ev->len > 0 && ev->name[0] != '\0') {
        if (path != "/") path += '/';
        path += ev->name;
      }
      notes.emplace_back(std::move(path), ev->mask);
    }
  }
  for (const auto& [path, mask] : notes) fn(path, mask);
}

size_t Watcher::watches() const {
  std::lock_guard lock(mu_);
  return by_wd_.size();
}

uint64_t Watcher::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

bool Watcher::take_limit_reached() {
  std::lock_guard lock(mu_);
  bool r = limit_reached_;
  limit_reached_ = false;
  return r;
}

}  // namespace vigil::agent::fim
