#include "agent/spool/spool.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include <fmt/format.h>

namespace vigil::agent {

namespace fs = std::filesystem;

namespace {

constexpr size_t kHeader = 17;  // u32 len, u32 crc, u64 seq, u8 priority (host byte order)

std::string errno_text() { return std::strerror(errno); }

uint32_t record_crc(uint64_t seq, uint8_t prio, std::string_view payload) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(&seq), sizeof(seq));
  crc = crc32(crc, &prio, 1);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
  return static_cast<uint32_t>(crc);
}

bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_exact(int fd, uint64_t offset, char* out, size_t n) {
  while (n > 0) {
    ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    out += r;
    offset += static_cast<uint64_t>(r);
    n -= static_cast<size_t>(r);
  }
  return true;
}

// fsyncs a directory, so that the entries created, renamed or removed in it survive a crash.
Result<void> fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(fmt::format("spool: cannot open directory {}: {}", dir.string(), errno_text()));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return make_error(fmt::format("spool: cannot fsync directory {}: {}", dir.string(), std::strerror(err)));
  return {};
}

// Replaces dir/name with `text` durably: a temporary file is written and fsynced, renamed over
// the name, and the directory fsynced. A crash leaves the old content or the new, never a part.
Result<void> replace_file(const fs::path& dir, const std::string& name, std::string_view text) {
  fs::path tmp = dir / (name + ".tmp");
  fs::path target = dir / name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(fmt::format("spool: cannot create {}: {}", tmp.string(), errno_text()));
  bool ok = write_all(fd, text.data(), text.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return make_error(fmt::format("spool: cannot write {}: {}", tmp.string(), std::strerror(err)));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return make_error(fmt::format("spool: cannot rename {} to {}: {}", tmp.string(), target.string(), std::strerror(err)));
  }
  return fsync_dir(dir);
}

struct RawRecord {
  uint64_t seq;
  uint8_t prio;
  uint64_t offset;  // of the header
  uint32_t len;
};

// Walks the valid records of a segment file; returns the offset just past the last valid one.
// `visit(record, payload)` is called for each; a torn or corrupt record ends the walk.
template <typename Visit>
uint64_t scan_segment(int fd, uint64_t file_size, uint64_t start, uint64_t prev_seq, uint32_t max_record,
                      Visit&& visit) {
  uint64_t off = start;
  std::string payload;
  while (off + kHeader <= file_size) {
    char hdr[kHeader];
    if (!read_exact(fd, off, hdr, kHeader)) break;
    uint32_t len, crc;
    uint64_t seq;
    uint8_t prio;
    std::memcpy(&len, hdr, 4);
    std::memcpy(&crc, hdr + 4, 4);
    std::memcpy(&seq, hdr + 8, 8);
    std::memcpy(&prio, hdr + 16, 1);
    if (len > max_record || prio > 2 || seq <= prev_seq || off + kHeader + len > file_size) break;
    payload.resize(len);
    if (len > 0 && !read_exact(fd, off + kHeader, payload.data(), len)) break;
    if (record_crc(seq, prio, payload) != crc) break;
    if (!visit(RawRecord{seq, prio, off, len}, payload)) return off;
    prev_seq = seq;
    off += kHeader + len;
  }
  return off;
}

std::string segment_name(uint64_t first_seq) { return fmt::format("seg-{:016x}.vsp", first_seq); }

}  // namespace

Spool::Spool(fs::path dir, SpoolOptions options) : dir_(std::move(dir)), options_(options) {}

Spool::~Spool() {
  if (tail_fd_ >= 0) {
    ::fsync(tail_fd_);
    ::close(tail_fd_);
  }
}

Result<std::unique_ptr<Spool>> Spool::open(const fs::path& dir, SpoolOptions options) {
  std::error_code ec;
  if (fs::create_directories(dir, ec)) {
    // The spool directory's own entry must survive a crash too.
    if (auto d = fsync_dir(dir.has_parent_path() ? dir.parent_path() : fs::path(".")); !d) return make_error(d.error());
  }
  if (ec) return make_error(fmt::format("spool: cannot create {}: {}", dir.string(), ec.message()));
  std::unique_ptr<Spool> s(new Spool(dir, options));
  auto r = s->recover();
  if (!r) return make_error(r.error());
  auto t = s->open_tail_for_append();
  if (!t) return make_error(t.error());
  return s;
}

Result<void> Spool::recover() {
  // The epoch: made once with the spool, so (agent, epoch, seq) names every record for ever.
  fs::path epoch_path = dir_ / "epoch";
  {
    std::ifstream in(epoch_path);
    if (in) std::getline(in, epoch_);
  }
  if (epoch_.size() != 16) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != static_cast<ssize_t>(sizeof(r))) return make_error("spool: getrandom failed");
    epoch_ = fmt::format("{:016x}", r);
    if (auto w = replace_file(dir_, "epoch", epoch_ + '\n'); !w) return w;
  }
  {
    std::ifstream in(dir_ / "acked");
    uint64_t a = 0;
    if (in >> a) acked_ = a;
  }

  std::vector<Segment> found;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    std::string name = entry.path().filename().string();
    unsigned long long first = 0;
    if (name.size() == 24 && std::sscanf(name.c_str(), "seg-%16llx.vsp", &first) == 1) {
      Segment seg;
      seg.path = entry.path();
      seg.first_seq = first;
      found.push_back(seg);
    } else if (name.ends_with(".tmp")) {
      fs::remove(entry.path());  // an interrupted rewrite: the original is intact
    }
  }
  std::sort(found.begin(), found.end(), [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });

  uint64_t prev_seq = 0;
  for (auto& seg : found) {
    int fd = ::open(seg.path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return make_error(fmt::format("spool: cannot open {}: {}", seg.path.string(), errno_text()));
    struct stat st {};
    ::fstat(fd, &st);
    auto size = static_cast<uint64_t>(st.st_size);
    uint64_t end = scan_segment(fd, size, 0, prev_seq, options_.max_record, [&](const RawRecord& r, const std::string&) {
      seg.last_seq = r.seq;
      seg.count[r.prio]++;
      return true;
    });
    if (end < size) {
      // A torn write (crash mid-record) or corruption: keep everything before it.
      if (::ftruncate(fd, static_cast<off_t>(end)) != 0) {
        ::close(fd);
        return make_error(fmt::format("spool: cannot truncate {}: {}", seg.path.string(), errno_text()));
      }
      ::fsync(fd);
      stats_.recovered_truncated_bytes += size - end;
    }
    ::close(fd);
    seg.bytes = end;
    if (seg.last_seq != 0) prev_seq = seg.last_seq;
    if (seg.bytes == 0) {
      fs::remove(seg.path);
      continue;
    }
    segments_.push_back(seg);
  }
  next_seq_ = std::max(prev_seq, acked_) + 1;
  synced_seq_ = next_seq_ - 1;
  delete_acked_segments();
  return {};
}

Result<void> Spool::open_tail_for_append() {
  if (!segments_.empty() && segments_.back().bytes < options_.segment_size) {
    tail_fd_ = ::open(segments_.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (tail_fd_ < 0) return make_error(fmt::format("spool: cannot open {}: {}", segments_.back().path.string(), errno_text()));
    return {};
  }
  return roll_segment();
}

Result<void> Spool::roll_segment() {
  if (tail_fd_ >= 0) {
    if (::fsync(tail_fd_) != 0) roll_sync_error_ = "spool: fsync of a full segment failed: " + errno_text();
    ::close(tail_fd_);
    tail_fd_ = -1;
  }
  Segment seg;
  seg.first_seq = next_seq_;
  seg.path = dir_ / segment_name(next_seq_);
  tail_fd_ = ::open(seg.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (tail_fd_ < 0) return make_error(fmt::format("spool: cannot create {}: {}", seg.path.string(), errno_text()));
  segments_.push_back(seg);
  dir_dirty_ = true;  // the new segment's name is made durable by the next sync()
  return {};
}

Result<uint64_t> Spool::append(std::string_view payload, SpoolPriority priority) {
  std::lock_guard lock(mutex_);
  if (payload.size() > options_.max_record) {
    ++stats_.refused_too_large;
    return make_error(fmt::format("spool: record of {} bytes exceeds the {}-byte limit", payload.size(), options_.max_record));
  }
  if (segments_.empty() || segments_.back().bytes >= options_.segment_size) {
    auto r = roll_segment();
    if (!r) return make_error(r.error());
  }
  uint64_t seq = next_seq_;
  auto prio = static_cast<uint8_t>(priority);
  auto len = static_cast<uint32_t>(payload.size());
  uint32_t crc = record_crc(seq, prio, payload);
  thread_local std::string buf;
  buf.resize(kHeader + payload.size());
  std::memcpy(buf.data(), &len, 4);
  std::memcpy(buf.data() + 4, &crc, 4);
  std::memcpy(buf.data() + 8, &seq, 8);
  std::memcpy(buf.data() + 16, &prio, 1);
  std::memcpy(buf.data() + kHeader, payload.data(), payload.size());
  if (!write_all(tail_fd_, buf.data(), buf.size())) {
    std::string err = errno_text();
    // Cut a partial write so the segment stays valid for the next append.
    if (::ftruncate(tail_fd_, static_cast<off_t>(segments_.back().bytes)) != 0) {
      err += "; truncating the partial record failed too";
    }
    return make_error("spool: write failed: " + err);
  }
  Segment& tail = segments_.back();
  tail.bytes += buf.size();
  tail.last_seq = seq;
  tail.count[prio]++;
  next_seq_ = seq + 1;
  ++stats_.appended;
  if (total_bytes() > options_.max_size) {
    auto r = enforce_cap();
    if (!r) return make_error(r.error());
  }
  return seq;
}

Result<uint64_t> Spool::sync() {
  std::lock_guard lock(mutex_);
  if (tail_fd_ >= 0 && ::fsync(tail_fd_) != 0) return make_error("spool: fsync failed: " + errno_text());
  // Sticky: after a failed fsync the kernel may have dropped that segment's pages, so nothing
  // written since is reported durable (positions and inbox files are not committed past it)
  // until a restart recovers the spool from what is on disk.
  if (!roll_sync_error_.empty()) return make_error(roll_sync_error_ + " (restart the agent to recover the spool)");
  if (dir_dirty_) {
    if (auto d = fsync_dir(dir_); !d) return make_error(d.error());
    dir_dirty_ = false;
  }
  synced_seq_ = next_seq_ - 1;
  return synced_seq_;
}

uint64_t Spool::total_bytes() const {
  uint64_t n = 0;
  for (const auto& s : segments_) n += s.bytes;
  return n;
}

Result<void> Spool::enforce_cap() {
  for (auto prio : {SpoolPriority::event, SpoolPriority::state, SpoolPriority::alert}) {
    for (size_t i = 0; i < segments_.size() && total_bytes() > options_.max_size; ++i) {
      if (i + 1 == segments_.size()) {
        // The tail itself: close it off so it can be rewritten like the others.
        if (segments_[i].bytes == 0) break;
        auto r = roll_segment();
        if (!r) return make_error(r.error());
      }
      auto dropped = drop_priority(segments_[i], prio);
      if (!dropped) return make_error(dropped.error());
      if (segments_[i].bytes == 0) {
        fs::remove(segments_[i].path);
        segments_.erase(segments_.begin() + static_cast<long>(i));
        --i;
      }
    }
    if (total_bytes() <= options_.max_size) return {};
  }
  return {};
}

Result<bool> Spool::drop_priority(Segment& seg, SpoolPriority priority) {
  auto p = static_cast<uint8_t>(priority);
  if (seg.count[p] == 0) return false;
  int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(fmt::format("spool: cannot open {}: {}", seg.path.string(), errno_text()));
  fs::path tmp = seg.path;
  tmp += ".tmp";
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    ::close(fd);
    return make_error(fmt::format("spool: cannot create {}: {}", tmp.string(), errno_text()));
  }
  Segment kept = seg;
  kept.bytes = 0;
  kept.last_seq = 0;
  std::fill(std::begin(kept.count), std::end(kept.count), 0);
  bool ok = true;
  uint64_t dropped = 0;
  std::string rec;
  scan_segment(fd, seg.bytes, 0, 0, options_.max_record, [&](const RawRecord& r, const std::string& payload) {
    if (r.prio == p || r.seq <= acked_) {
      if (r.seq > acked_) ++dropped;
      return true;
    }
    uint32_t crc = record_crc(r.seq, r.prio, payload);
    rec.resize(kHeader + payload.size());
    std::memcpy(rec.data(), &r.len, 4);
    std::memcpy(rec.data() + 4, &crc, 4);
    std::memcpy(rec.data() + 8, &r.seq, 8);
    std::memcpy(rec.data() + 16, &r.prio, 1);
    std::memcpy(rec.data() + kHeader, payload.data(), payload.size());
    if (!write_all(out, rec.data(), rec.size())) {
      ok = false;
      return false;
    }
    kept.bytes += rec.size();
    kept.last_seq = r.seq;
    kept.count[r.prio]++;
    return true;
  });
  ::close(fd);
  if (!ok || ::fsync(out) != 0) {
    ::close(out);
    fs::remove(tmp);
    return make_error("spool: rewriting a segment failed: " + errno_text());
  }
  ::close(out);
  if (::rename(tmp.c_str(), seg.path.c_str()) != 0) {
    auto err = make_error(fmt::format("spool: cannot rename {}: {}", tmp.string(), errno_text()));
    fs::remove(tmp);
    return err;
  }
  // Best effort: were the rename lost in a crash, the records dropped here would come back,
  // which does no harm.
  (void)fsync_dir(dir_);
  switch (priority) {
    case SpoolPriority::event: stats_.dropped_events += dropped; break;
    case SpoolPriority::state: stats_.dropped_states += dropped; break;
    case SpoolPriority::alert: stats_.dropped_alerts += dropped; break;
  }
  seg = kept;
  ++generation_;
  return true;
}

Result<std::vector<SpoolRecord>> Spool::read(uint64_t after, size_t max_records, size_t max_bytes) {
  std::lock_guard lock(mutex_);
  std::vector<SpoolRecord> out;
  size_t bytes = 0;
  for (const auto& seg : segments_) {
    if (seg.last_seq <= after || seg.bytes == 0) continue;
    int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(fmt::format("spool: cannot open {}: {}", seg.path.string(), errno_text()));
    uint64_t start = 0, prev = 0;
    if (cursor_.valid && cursor_.generation == generation_ && cursor_.segment_first == seg.first_seq &&
        cursor_.seq == after) {
      start = cursor_.offset;
      prev = cursor_.seq;
    }
    uint64_t end = scan_segment(fd, seg.bytes, start, prev, options_.max_record, [&](const RawRecord& r, const std::string& payload) {
      if (r.seq <= after) return true;
      if (out.size() >= max_records || (!out.empty() && bytes + payload.size() > max_bytes)) return false;
      bytes += payload.size();
      out.push_back({r.seq, static_cast<SpoolPriority>(r.prio), payload});
      return true;
    });
    ::close(fd);
    if (!out.empty()) cursor_ = {seg.first_seq, end, out.back().seq, generation_, true};
    if (out.size() >= max_records || bytes >= max_bytes) break;
  }
  return out;
}

Result<void> Spool::persist_acked(uint64_t seq) {
  return replace_file(dir_, "acked", fmt::format("{}\n", seq));
}

Result<void> Spool::ack(uint64_t seq) {
  std::lock_guard lock(mutex_);
  seq = std::min(seq, next_seq_ - 1);
  if (seq <= acked_) return {};
  auto r = persist_acked(seq);
  if (!r) return r;
  acked_ = seq;
  delete_acked_segments();
  return {};
}

void Spool::delete_acked_segments() {
  // Every segment but the tail whose records are all acknowledged goes.
  while (segments_.size() > 1 && segments_.front().last_seq <= acked_ &&
         segments_.front().last_seq <= retain_after_) {
    fs::remove(segments_.front().path);
    segments_.erase(segments_.begin());
    ++generation_;
  }
}

void Spool::retain_after(uint64_t seq) {
  std::lock_guard lock(mutex_);
  retain_after_ = seq;
  delete_acked_segments();
}

uint64_t Spool::acked() const {
  std::lock_guard lock(mutex_);
  return acked_;
}

uint64_t Spool::last_seq() const {
  std::lock_guard lock(mutex_);
  return next_seq_ - 1;
}

SpoolStats Spool::stats() const {
  std::lock_guard lock(mutex_);
  SpoolStats s = stats_;
  s.bytes_on_disk = total_bytes();
  s.segments = segments_.size();
  s.pending = next_seq_ - 1 - acked_;
  return s;
}

}  // namespace vigil::agent
