// File integrity: what changed between a baseline and a scan.
//
// Compared per entry type (a directory's own mtime and size only echo changes to its entries,
// which are reported themselves; a FIFO's mtime moves whenever it is written to):
//   file                    hash, size, mode, owner (uid/gid), mtime, inode
//   dir                     mode, owner, inode
//   symlink                 target, owner, inode
//   fifo, socket, devices   mode, owner, inode
// and `type` when the entry became something else (then the attributes of both are compared).
// An entry the scan could not read (FileInfo::error) is always reported, as a creation or a change,
// with the attributes it could compare: never as unchanged. A rename is a deletion and a creation.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "agent/fim/baseline.h"

namespace vigil::agent::fim {

enum class ChangeType : uint8_t { creation, change, deletion };
std::string_view change_type_name(ChangeType t);  // creation, change, deletion (ECS event.type)

// Attributes a change may list (vigil.fim.changed), as bits.
namespace attr {
inline constexpr uint32_t hash = 1u << 0;
inline constexpr uint32_t size = 1u << 1;
inline constexpr uint32_t mode = 1u << 2;
inline constexpr uint32_t owner = 1u << 3;
inline constexpr uint32_t mtime = 1u << 4;
inline constexpr uint32_t inode = 1u << 5;
inline constexpr uint32_t type = 1u << 6;
inline constexpr uint32_t target = 1u << 7;
}  // namespace attr

// The names of the bits set in `mask`, in the order above: hash, size, mode, owner, mtime, inode,
// type, target.
std::vector<std::string_view> attribute_names(uint32_t mask);

// The attributes that differ between two observations of one path.
uint32_t compare(const FileInfo& before, const FileInfo& now);

struct Change {
  ChangeType type{ChangeType::change};
  FileInfo now{};     // unset (empty path) for a deletion
  FileInfo before{};  // unset (empty path) for a creation
  uint32_t changed{0};
  const FileInfo& entry() const { return type == ChangeType::deletion ? before : now; }
};

struct CompareCounts {
  uint64_t creations{0};
  uint64_t changes{0};
  uint64_t deletions{0};
  uint64_t unreadable{0};  // changes or creations whose content could not be read
  uint64_t total() const { return creations + changes + deletions; }
};

// Streams a scan against a baseline: each scanned entry is looked up (binary search) and marked
// seen; after the scan, deletions() reports what was in the baseline and in scope but not seen.
// Memory: one bit per baseline entry.
class Comparer {
 public:
  explicit Comparer(const Baseline& baseline);

  // A scanned entry; true (and `out` filled) when it is a creation or a change.
  bool observe(const FileInfo& now, Change& out);
  // Baseline entries not observed for which `in_scope` holds, in path order.
  void deletions(const std::function<bool(std::string_view)>& in_scope, const std::function<void(const Change&)>& sink);

  const CompareCounts& counts() const { return counts_; }

 private:
  const Baseline& baseline_;
  std::vector<bool> seen_;
  CompareCounts counts_{};
};

}  // namespace vigil::agent::fim
