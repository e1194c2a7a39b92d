// File integrity: what a tree looked like (one entry per file, directory, symlink or special file)
// and the file that keeps it between runs. See the issue "File integrity monitoring" and
// shared/DESIGN.md "File integrity".
//
// The baseline file is text, one entry a line, tab-separated, so that it can be read with a pager
// and diffed with the usual tools:
//
//   vigil-fim-baseline <TAB> 1 <TAB> <entry count>
//   root <TAB> <path> <TAB> recursive|flat [<TAB> <ignore glob>]...        (one per scanned root)
//   <type code> <TAB> <path> <TAB> <size> <TAB> <mode, octal> <TAB> <uid> <TAB> <gid> <TAB>
//       <mtime ns> <TAB> <ctime ns> <TAB> <inode> <TAB> <sha256 hex or empty> <TAB>
//       <symlink target or empty> <TAB> <error or empty>
//   end <TAB> <entry count> <TAB> <sha256 hex of every byte before this line>
//
// Type codes: f file, d dir, l symlink, p fifo, s socket, c char device, b block device, o other.
// Strings are escaped: the bytes 0x00-0x1f, 0x7f and '%' are written as %XX. Entries are sorted by
// path_less() and unique. A file that does not have exactly this shape (a missing end line, a bad
// field, an overlong line, entries out of order, a checksum that does not match) is refused with
// FILE:LINE and the reason; reading never trusts a count or a length it has not checked.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::agent::fim {

enum class EntryType : uint8_t { file, dir, symlink, fifo, socket, char_device, block_device, other };

// ECS file.type words: file, dir, symlink; then fifo, socket, char_device, block_device, other.
std::string_view type_name(EntryType t);

using Sha256 = std::array<uint8_t, 32>;
std::string to_hex(const Sha256& h);

// One file system object as a scan saw it (owned strings: a scanner reuses one for every entry).
struct FileInfo {
  std::string path{};  // absolute, lexically normal, no trailing '/'
  EntryType type{EntryType::other};
  uint64_t size{0};
  uint32_t mode{0};  // st_mode & 07777: permission, set-id and sticky bits
  uint32_t uid{0};
  uint32_t gid{0};
  int64_t mtime_ns{0};
  // Never reported, but part of the quick re-check key: unlike mtime, no user can set it back.
  int64_t ctime_ns{0};
  uint64_t inode{0};
  bool has_hash{false};  // regular files whose content was read (or reused from the baseline)
  Sha256 sha256{};
  std::string target{};  // a symlink's target, as stored (never followed)
  std::string error{};   // why the entry or its content could not be read; empty when it could
};

// Orders paths component by component ('/' below every other byte), which is the order of a
// depth-first walk with each directory's names sorted: "/a" < "/a/x" < "/a-b".
bool path_less(std::string_view a, std::string_view b);

// A scanned root and how it was walked (kept in the baseline so that `fim check` can default to it).
struct Root {
  std::string path{};
  bool recursive{true};
  std::vector<std::string> ignore{};
};

// The entries of one or more trees, compact: a fixed ~96-byte record per entry and every string in
// one pool (100,000 entries of 60-byte paths take about 16 MB).
class Baseline {
 public:
  // An entry's fields without copies; string views point into the baseline.
  struct View {
    std::string_view path{};
    EntryType type{EntryType::other};
    uint64_t size{0};
    uint32_t mode{0};
    uint32_t uid{0};
    uint32_t gid{0};
    int64_t mtime_ns{0};
    int64_t ctime_ns{0};
    uint64_t inode{0};
    bool has_hash{false};
    const Sha256* sha256{nullptr};
    std::string_view target{};
    std::string_view error{};
  };

  std::vector<Root> roots{};

  void reserve(size_t entries, size_t pool_bytes);
  // Appends an entry (strings longer than the format allows are cut). finish() puts them in order.
  void add(const FileInfo& info);
  // Sorts by path_less() and keeps the first of entries with the same path.
  void finish();

  size_t size() const { return records_.size(); }
  View view(size_t i) const;
  FileInfo info(size_t i) const;
  // The index of `path` (after finish()), by binary search.
  std::optional<size_t> find(std::string_view path) const;
  // The index of the first entry not path_less() than `path` (size() when none): `path` itself,
  // then what lies under it, come next and in a row.
  size_t lower_bound(std::string_view path) const;
  // Bytes held (records and string pool), for the memory figures.
  size_t memory_bytes() const { return records_.capacity() * sizeof(Record) + pool_.capacity(); }

 private:
  struct Record {
    uint64_t size{0};
    int64_t mtime_ns{0};
    int64_t ctime_ns{0};
    uint64_t inode{0};
    uint32_t mode{0};
    uint32_t uid{0};
    uint32_t gid{0};
    uint32_t path_off{0};
    uint32_t aux_off{0};  // target then error
    uint16_t path_len{0};
    uint16_t target_len{0};
    uint16_t error_len{0};
    EntryType type{EntryType::other};
    bool has_hash{false};
    Sha256 sha256{};
  };
  std::string_view str(uint32_t off, uint32_t len) const { return {pool_.data() + off, len}; }
  uint32_t intern(std::string_view s);

  std::vector<Record> records_{};
  std::string pool_{};
};

// Limits of the format (a path is at most PATH_MAX; a line, escaped, stays under kMaxLine).
inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxError = 512;
inline constexpr size_t kMaxLine = 64 * 1024;

// Writes the baseline atomically: a temporary file beside `file`, fsync, rename, fsync of the
// directory; mode 0600 (a baseline lists what a host holds). `baseline` must be finish()ed.
Result<void> write_baseline(const Baseline& baseline, const std::string& file);
// Reads a baseline; errors name FILE:LINE and what is wrong.
Result<Baseline> read_baseline(const std::string& file);

}  // namespace vigil::agent::fim
