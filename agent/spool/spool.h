// The durable spool between the rule engine and the network (shared/DESIGN.md "Agent ⇄ collector").
//
// Append-only segment files of records [u32 length][u32 crc32][u64 seq][u8 priority][payload];
// the crc covers seq, priority and payload. Every record gets a monotonically increasing seq
// under the spool's random epoch. The epoch and the acknowledged seq are persisted (write, fsync,
// rename, fsync of the directory); sync() also makes new segments' names durable, and
// segments wholly acknowledged are deleted. On open, a torn or corrupt tail is truncated and
// everything before it kept. Over the size cap, the oldest unacknowledged segment is rewritten
// without its low-priority records (events first, then check results, alerts last); every record
// dropped is counted. Thread-safe: the pipeline appends while the shipper reads and acknowledges.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::agent {

enum class SpoolPriority : uint8_t { event = 0, state = 1, alert = 2 };

struct SpoolOptions {
  uint64_t max_size = 1ULL << 30;     // bytes of segments on disk
  uint64_t segment_size = 16ULL << 20;
  uint32_t max_record = 16U << 20;    // a record larger than this is refused
};

struct SpoolStats {
  uint64_t appended = 0;
  uint64_t dropped_events = 0;  // dropped for space, by priority
  uint64_t dropped_states = 0;
  uint64_t dropped_alerts = 0;
  uint64_t refused_too_large = 0;
  uint64_t recovered_truncated_bytes = 0;  // torn tail cut at open
  uint64_t bytes_on_disk = 0;
  uint64_t segments = 0;
  uint64_t pending = 0;  // records appended and not yet acknowledged (including dropped gaps)
};

struct SpoolRecord {
  uint64_t seq = 0;
  SpoolPriority priority = SpoolPriority::event;
  std::string payload;
};

class Spool {
 public:
  // Opens (creating when absent) the spool in `dir`, recovering what a crash left.
  static Result<std::unique_ptr<Spool>> open(const std::filesystem::path& dir, SpoolOptions options = {});
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends one record and returns its seq. Written to the OS at once; durable after sync().
  Result<uint64_t> append(std::string_view payload, SpoolPriority priority);
  // fsyncs what was appended: everything with seq <= the returned value survives a crash.
  Result<uint64_t> sync();

  // Up to max_records / max_bytes records with seq > after, in seq order (gaps where records
  // were dropped for space).
  Result<std::vector<SpoolRecord>> read(uint64_t after, size_t max_records, size_t max_bytes);
  // Records everything <= seq as delivered (persisted), and deletes segments no longer needed.
  Result<void> ack(uint64_t seq);

  // Keeps every segment holding records after `seq` even once acknowledged, so that a reader of
  // positions (the log tailer after a crash) still finds them; default: no such floor.
  void retain_after(uint64_t seq);

  const std::string& epoch() const { return epoch_; }
  uint64_t acked() const;
  uint64_t last_seq() const;
  SpoolStats stats() const;

 private:
  struct Segment {
    std::filesystem::path path;
    uint64_t first_seq = 0;  // seq of the first record appended to it (its name)
    uint64_t last_seq = 0;   // 0 while empty
    uint64_t bytes = 0;
    uint64_t count[3] = {0, 0, 0};  // records per priority
  };
  struct ReadCursor {
    uint64_t segment_first = 0;
    uint64_t offset = 0;
    uint64_t seq = 0;  // last seq before offset
    uint64_t generation = 0;
    bool valid = false;
  };

  Spool(std::filesystem::path dir, SpoolOptions options);
  Result<void> recover();
  Result<void> open_tail_for_append();
  Result<void> roll_segment();
  Result<void> enforce_cap();
  Result<bool> drop_priority(Segment& seg, SpoolPriority priority);
  uint64_t total_bytes() const;
  Result<void> persist_acked(uint64_t seq);
  void delete_acked_segments();

  std::filesystem::path dir_;
  SpoolOptions options_;
  std::string epoch_;
  mutable std::mutex mutex_;
  std::vector<Segment> segments_;  // oldest first; the last one takes appends
  int tail_fd_ = -1;
  uint64_t next_seq_ = 1;
  uint64_t acked_ = 0;
  uint64_t synced_seq_ = 0;
  bool dir_dirty_ = false;  // a segment was created since the directory was last fsynced
  std::string roll_sync_error_;  // fsync of a segment closed by a roll failed: every sync() reports it
  uint64_t generation_ = 0;  // bumped when a segment is rewritten or removed
  uint64_t retain_after_ = UINT64_MAX;
  ReadCursor cursor_;
  SpoolStats stats_;
};

}  // namespace vigil::agent
