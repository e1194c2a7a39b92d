#include "agent/logs/file_tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/pki/pki.h"

namespace vigil::logs {

namespace {
constexpr uint64_t kHeadBytes = 256;

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}
}  // namespace

FileTail::FileTail(std::filesystem::path path, std::filesystem::path state_file, size_t max_line)
    : path_(std::move(path)), state_file_(std::move(state_file)), max_line_(max_line) {
  std::ifstream in(state_file_);
  in >> dev_ >> ino_ >> offset_;
  if (!in) {
    dev_ = ino_ = offset_ = 0;
  } else if (!(in >> committed_seq_)) {
    committed_seq_ = 0;  // a state from before positions carried the spool seq
  } else if (!(in >> head_len_ >> head_hash_)) {
    head_len_ = head_hash_ = 0;  // a state from before fingerprints
  }
}

bool FileTail::head_hash(uint64_t len, uint64_t& hash) const {
  char buf[kHeadBytes];
  ssize_t n = ::pread(fd_, buf, static_cast<size_t>(len), 0);
  if (n < 0 || static_cast<uint64_t>(n) < len) return false;
  hash = fnv1a(buf, static_cast<size_t>(len));
  return true;
}

bool FileTail::rewritten() {
  if (head_len_ == 0 || offset_ == 0) return false;
  uint64_t h = 0;
  return !head_hash(head_len_, h) || h != head_hash_;
}

void FileTail::take_fingerprint() {
  if (head_len_ >= kHeadBytes) return;
  uint64_t len = std::min<uint64_t>(kHeadBytes, offset_);
  if (len <= head_len_) return;
  uint64_t h = 0;
  if (head_hash(len, h)) {
    head_len_ = len;
    head_hash_ = h;
  }
}

FileTail::~FileTail() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileTail::open_current() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<uint64_t>(st.st_dev) != dev_ || static_cast<uint64_t>(st.st_ino) != ino_) {
    // Another file than the one we had: start at its beginning.
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
    head_len_ = head_hash_ = 0;
    partial_.clear();
    skipping_ = false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  seen_size_ = seen_ctime_ns_ = -1;  // check the fingerprint at the next poll
  return true;
}

bool FileTail::open_rotated_predecessor() {
  if (dev_ == 0 && ino_ == 0) return false;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_dev) == dev_ &&
      static_cast<uint64_t>(st.st_ino) == ino_) {
    return false;  // still there under its name
  }
  const std::string name = path_.filename().string();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_.parent_path().empty() ? "." : path_.parent_path(), ec)) {
    const std::string other = entry.path().filename().string();
    if (other == name || !other.starts_with(name)) continue;
    struct stat os {};
    if (::stat(entry.path().c_str(), &os) != 0 || !S_ISREG(os.st_mode)) continue;
    if (static_cast<uint64_t>(os.st_dev) != dev_ || static_cast<uint64_t>(os.st_ino) != ino_) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    fd_ = fd;
    seen_size_ = seen_ctime_ns_ = -1;
    ++counters_.rotations_while_stopped;
    return true;
  }
  return false;
}

void FileTail::deliver(const std::function<void(std::string_view)>& on_line, std::string_view line) {
  ++counters_.lines;
  if (line.size() > max_line_) {
    ++counters_.long_lines_cut;
    line = line.substr(0, max_line_);
  }
  on_line(line);
}

size_t FileTail::read_lines(const std::function<void(std::string_view)>& on_line, size_t max_bytes) {
  char buf[65536];
  size_t total = 0;
  while (total < max_bytes) {
    ssize_t n = ::pread(fd_, buf, sizeof(buf), static_cast<off_t>(offset_));
    if (n <= 0) break;
    const uint64_t base = offset_;
    offset_ += static_cast<uint64_t>(n);
    total += static_cast<size_t>(n);
    counters_.bytes += static_cast<uint64_t>(n);
    size_t start = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (buf[i] != '\n') continue;
      line_end_ = base + i + 1;
      if (skipping_) {
        // The end of a line already delivered cut: nothing more of it.
        skipping_ = false;
      } else if (partial_.empty()) {
        deliver(on_line, std::string_view(buf + start, i - start));
      } else {
        partial_.append(buf + start, i - start);
        deliver(on_line, partial_);
        partial_.clear();
      }
      start = i + 1;
    }
    if (!skipping_) partial_.append(buf + start, static_cast<size_t>(n) - start);
    if (partial_.size() > max_line_) {
      // A line without end within the cap: deliver it cut rather than grow without bound, and
      // drop the rest of it up to its newline.
      line_end_ = offset_;
      deliver(on_line, partial_);
      partial_.clear();
      skipping_ = true;
    }
  }
  return total;
}

void FileTail::poll(const std::function<void(std::string_view)>& on_line, size_t max_bytes) {
  if (fd_ < 0 && !open_rotated_predecessor() && !open_current()) return;
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    const int64_t ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    const bool changed = st.st_size != seen_size_ || ctime_ns != seen_ctime_ns_;
    seen_size_ = st.st_size;
    seen_ctime_ns_ = ctime_ns;
    // Shorter than what was read, or (checked when it changed) no longer starting with the bytes
    // read before: copytruncate or a rewrite. Read from the start again.
    if (static_cast<uint64_t>(st.st_size) < offset_ || (changed && rewritten())) {
      ++counters_.truncations;
      offset_ = 0;
      head_len_ = head_hash_ = 0;
      partial_.clear();
      skipping_ = false;
    }
  }
  read_lines(on_line, max_bytes);
  take_fingerprint();
  // Rotated away (rename + create)? Having read the rest of the old file, move to the new one.
  struct stat now {};
  if (::stat(path_.c_str(), &now) == 0 &&
      (static_cast<uint64_t>(now.st_dev) != dev_ || static_cast<uint64_t>(now.st_ino) != ino_)) {
    ++counters_.rotations;
    if (open_current()) {
      read_lines(on_line, max_bytes);
      take_fingerprint();
    }
  }
}

void FileTail::commit(uint64_t spool_seq) {
  // The offset of the last complete line: a partial line is read again after a restart.
  uint64_t committed = offset_ - partial_.size();
  std::string text = std::to_string(dev_) + " " + std::to_string(ino_) + " " + std::to_string(committed) + " " +
                     std::to_string(spool_seq) + " " + std::to_string(head_len_) + " " + std::to_string(head_hash_) +
                     "\n";
  if (pki::write_file(state_file_, text, false)) committed_seq_ = spool_seq;
}

void FileTail::resume_at(uint64_t device, uint64_t inode, uint64_t end) {
  if (fd_ >= 0) return;
  if (dev_ == 0 && ino_ == 0) {
    // Nothing was ever committed (a crash before the first commit): the position applies when
    // the file at our path is still the one it was taken from.
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_dev) != device ||
        static_cast<uint64_t>(st.st_ino) != inode) {
      return;
    }
    dev_ = device;
    ino_ = inode;
  }
  if (device != dev_ || inode != ino_ || end <= offset_) return;
  offset_ = end;
  partial_.clear();
}

}  // namespace vigil::logs
