// Follows one log file: new complete lines since the last read, across truncation and rotation
// (rename + create: the rest of the old file is read before the new one), with the offset and the
// file identity (device, inode, and a fingerprint of its first bytes) persisted so a restart
// neither re-reads nor skips lines. The fingerprint catches a file truncated and rewritten past
// the old offset between two reads (copytruncate), which its size alone cannot show.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace vigil::logs {

struct TailCounters {
  uint64_t lines = 0;
  uint64_t bytes = 0;
  uint64_t truncations = 0;
  uint64_t rotations = 0;
  uint64_t rotations_while_stopped = 0;  // the file found renamed beside its path at start
  uint64_t long_lines_cut = 0;  // lines longer than the cap, delivered cut
};

class FileTail {
 public:
  // `state_file` keeps "device inode offset spool_seq head_length head_hash". A file seen for
  // the first time is read from its start.
  FileTail(std::filesystem::path path, std::filesystem::path state_file, size_t max_line = 64 * 1024);
  ~FileTail();
  FileTail(const FileTail&) = delete;
  FileTail& operator=(const FileTail&) = delete;

  // Reads what is new and calls `on_line` for each complete line (without its newline). At most
  // `max_bytes` per call, so one busy file cannot starve the others.
  void poll(const std::function<void(std::string_view)>& on_line, size_t max_bytes = 4 << 20);
  // Persists the position of the last complete line delivered, with the spool seq that makes it
  // durable. Call it once what poll() delivered is durable (the spool synced), so a crash
  // re-reads rather than loses.
  void commit(uint64_t spool_seq = 0);
  // During an on_line callback: where the line delivered ends (the offset after its newline).
  uint64_t line_end() const { return line_end_; }
  uint64_t device() const { return dev_; }
  uint64_t inode() const { return ino_; }
  // The spool seq stored with the committed position (0 when none).
  uint64_t committed_seq() const { return committed_seq_; }
  // Lines up to `end` of the file (device, inode) are known to be in the spool already (found
  // there after a crash between spool sync and commit): continue after them.
  void resume_at(uint64_t device, uint64_t inode, uint64_t end);
  const std::filesystem::path& path() const { return path_; }
  const TailCounters& counters() const { return counters_; }

 private:
  bool open_current();
  // At start, when the file at our path is no longer the one the state names: that file renamed
  // beside it (app.log.1, app.log-20250101) while the agent was stopped, so its rest is read first.
  bool open_rotated_predecessor();
  // The hash of the file's first `len` bytes; false when it has fewer.
  bool head_hash(uint64_t len, uint64_t& hash) const;
  // True when the file no longer starts with the bytes fingerprinted (it was rewritten).
  bool rewritten();
  void take_fingerprint();
  size_t read_lines(const std::function<void(std::string_view)>& on_line, size_t max_bytes);
  void deliver(const std::function<void(std::string_view)>& on_line, std::string_view line);

  std::filesystem::path path_;
  std::filesystem::path state_file_;
  size_t max_line_;
  int fd_ = -1;
  uint64_t dev_ = 0, ino_ = 0, offset_ = 0;
  uint64_t line_end_ = 0;
  uint64_t committed_seq_ = 0;
  uint64_t head_len_ = 0;   // bytes fingerprinted (up to kHeadBytes)
  uint64_t head_hash_ = 0;
  int64_t seen_size_ = -1;  // size and change time at the last fingerprint check
  int64_t seen_ctime_ns_ = -1;
  std::string partial_;
  bool skipping_ = false;  // inside the rest of a line delivered cut
  TailCounters counters_;
};

}  // namespace vigil::logs
