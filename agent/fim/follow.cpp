#include "agent/fim/follow.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace vigil::agent::fim {

FollowedLog::FollowedLog(Options options, LineFn on_line, TooLongFn on_too_long)
    : opt_(std::move(options)), on_line_(std::move(on_line)), on_too_long_(std::move(on_too_long)) {}

void FollowedLog::feed(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view piece = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (skipping_) {
      if (nl != std::string_view::npos) skipping_ = false;
      continue;
    }
    if (partial_.size() + piece.size() > opt_.max_line) {
      on_too_long_();
      partial_.clear();
      skipping_ = nl == std::string_view::npos;
      continue;
    }
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      break;
    }
    if (partial_.empty()) {
      on_line_(piece);
    } else {
      partial_.append(piece);
      on_line_(partial_);
      partial_.clear();
    }
  }
}

uint64_t FollowedLog::read_from(const std::string& file, uint64_t offset) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    error_ = errno;
    return offset;
  }
  error_ = 0;
  char buf[64 * 1024];
  if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    ::close(fd);
    return offset;
  }
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    feed(std::string_view(buf, static_cast<size_t>(n)));
    offset += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return offset;
}

bool FollowedLog::refresh() {
  if (opt_.path.empty()) return true;
  struct stat st {};
  if (::stat(opt_.path.c_str(), &st) != 0) {
    error_ = errno == ENOENT ? 0 : errno;
    return error_ == 0;
  }
  if (!S_ISREG(st.st_mode)) return true;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (!opened_) {
    opened_ = true;
    inode_ = st.st_ino;
    offset_ = 0;
    if (size > opt_.first_read) {
      offset_ = size - opt_.first_read;
      skipping_ = true;  // the first line read is cut: skip to its end
    }
  } else if (st.st_ino != inode_) {
    // Rotated: the rest of the old file first, when it is <path>.1.
    struct stat old {};
    const std::string rotated = opt_.path + ".1";
    if (::stat(rotated.c_str(), &old) == 0 && old.st_ino == inode_ && static_cast<uint64_t>(old.st_size) > offset_) {
      read_from(rotated, offset_);
    }
    partial_.clear();
    skipping_ = false;
    inode_ = st.st_ino;
    offset_ = 0;
  } else if (size < offset_) {
    partial_.clear();  // truncated in place
    skipping_ = false;
    offset_ = 0;
  }
  if (size > offset_) offset_ = read_from(opt_.path, offset_);
  return error_ == 0;
}

}  // namespace vigil::agent::fim
