// Event bodies compressed in blocks (SQLite): the JSON of records of one batch and one retention
// class (alerts' records, health records, other events), in their order, up to kBlockRecords of
// them or about kBlockBytes, in one zstd frame stored as one row of event_blocks. Each events row points at its block and its slot there (body_at: block id << 16 |
// slot). Bodies are most of what ingest writes; a block of them shrinks about 5-7x where one body
// alone shrinks less than 2x (shared field names, hosts, agents), as search engines keep their
// stored documents. Blocks are made off the one writer (IngestStore::pack, on the thread that
// parsed the batch); the writer only inserts them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collector/store/ingest_store.h"

struct sqlite3;

namespace vigil::collector::body_blocks {

inline constexpr size_t kBlockRecords = 64;
inline constexpr size_t kBlockBytes = 16 * 1024;
// A block read back is refused above this many bytes once decompressed (a body is bounded by a
// batch's, far below).
inline constexpr size_t kMaxBlockBytes = size_t{256} << 20;
// body_at's low bits: the slot.
inline constexpr int kSlotBits = 16;

// Where a record's body goes: its block (shared by the records of the block) and its slot there.
struct Ref {
  std::shared_ptr<const std::string> block;
  uint32_t slot = 0;
};

// The records' bodies packed into blocks (one retention class each, in the records' order); one
// Ref per record, in order; a Ref without a block where compressing failed.
std::vector<Ref> pack(const std::vector<IncomingRecord>& records);

// Reads blocks back. Keeps the last blocks it decompressed (a page of search hits, or a scan in
// id order over the interleaved batches of many agents, reads a block many times), each checked
// against the stored bytes, so it never answers for other data under the same id. One per
// connection: not shared between threads.
class Reader {
 public:
  // The body at `slot` of the block stored as `data` under `id`; false (with `error` set) when
  // `data` is not a block or has no such slot. `body` is valid until the next read.
  bool read(int64_t id, std::string_view data, size_t slot, std::string_view& body, std::string& error);
  // Bytes decompressed so far (blocks not found kept): a search's cost cap counts them.
  uint64_t decoded_bytes() const { return decoded_bytes_; }
  // Bodies read leniently (retention) whose block could not be read: answered NULL.
  uint64_t unreadable() const { return unreadable_; }
  void count_unreadable() { ++unreadable_; }

 private:
  struct Entry {
    int64_t id = 0;
    uint64_t used = 0;
    std::string stored;          // the compressed bytes, to check a hit against
    std::string payload;         // decompressed
    std::vector<uint32_t> ends;  // each slot's end within the bodies; empty: not a block
    size_t bodies_at = 0;        // where the bodies begin in payload
  };
  static bool decode(std::string_view data, size_t size, Entry& e, std::string& error);
  // At most kEntries blocks of at most kKeptBlockBytes each are kept (8 MiB decompressed, with
  // their compressed bytes beside), per connection; a larger one is read into scratch_ and let
  // go at the next miss.
  static constexpr size_t kEntries = 128;
  static constexpr size_t kKeptBlockBytes = 4 * kBlockBytes;
  std::vector<Entry> entries_;
  Entry scratch_;
  uint64_t clock_ = 0;
  uint64_t decoded_bytes_ = 0;
  uint64_t unreadable_ = 0;
};

// Registers vigil_body(block id, block data, slot[, lenient]) on a connection: an event's body
// from its block (NULL data: NULL), for search, the alerts' evidence, retention and the records
// view; an error for a block that cannot be read, or NULL when lenient is true (retention). Each
// connection has its own Reader, freed with it; returned for its counts.
Reader* add_sql_function(sqlite3* db);

}  // namespace vigil::collector::body_blocks
