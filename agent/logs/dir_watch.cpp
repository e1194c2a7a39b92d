#include "agent/logs/dir_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

namespace vigil::logs {

DirWatch::DirWatch() { fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }

DirWatch::~DirWatch() {
  if (fd_ >= 0) ::close(fd_);
}

bool DirWatch::watch(const std::string& dir) {
  if (fd_ < 0) return false;
  if (dirs_.count(dir)) return true;
  int wd = inotify_add_watch(fd_, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB |
                                                   IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
  if (wd < 0) {
    ++failures_;
    return false;
  }
  dirs_.insert(dir);
  return true;
}

bool DirWatch::drain() {
  if (fd_ < 0) return false;
  bool appeared = false;
  alignas(struct inotify_event) char buf[16384];
  while (true) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: drained
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(p);
      if (ev->mask & IN_Q_OVERFLOW) {
        ++overflows_;
        appeared = true;  // events were lost: look at everything again
      }
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) appeared = true;
      p += sizeof(struct inotify_event) + ev->len;
    }
  }
  return appeared;
}

}  // namespace vigil::logs
