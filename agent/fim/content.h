// File integrity: what changed inside small text files (Wazuh's report_changes). The content of a
// file under a root with diffs on (by default roots at or under /etc), of at most 64 KiB, without
// NUL bytes and not matching the deny list of secrets, is kept beside the baseline; a later change
// of that file carries a unified diff against it (`vigil.fim.diff`, at most 8 KiB).
//
// Contents are stored one file per content, named by their SHA-256 (hex), 0600 in a 0700
// directory; the store is capped (bytes, counted when a content is refused) and keeps only what
// the current baseline names (retain()).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "agent/fim/baseline.h"
#include "common/result.h"

namespace vigil::agent::fim {

inline constexpr size_t kMaxDiffFile = 64 * 1024;          // larger files get no diff
inline constexpr size_t kMaxDiffText = 8 * 1024;           // a diff is cut here
inline constexpr uint64_t kDefaultContentBytes = 32 << 20;  // the store's cap

// Name globs (any depth) and anchored path globs of files never stored nor diffed: password
// hashes, private keys, keytabs, anything named like a secret. `extra` adds the user's (agent.yaml
// fim.nodiff), in the same syntax as ignore globs, relative to "/".
const std::vector<std::string>& default_nodiff();
bool diff_denied(std::string_view path, const std::vector<std::string>& extra);

// Whether a root gets diffs when agent.yaml does not say: roots at or under /etc.
bool diff_by_default(std::string_view root);

// A unified diff (3 lines of context, "--- a/PATH" / "+++ b/PATH" headers) of two texts; "" when
// they are equal. Past kMaxDiffText bytes it ends with a line saying it was cut. The common
// beginning and end are set aside first; when what is left is too large to compare line by line
// it is shown as one replacement.
std::string unified_diff(std::string_view before, std::string_view after, std::string_view path);

class ContentStore {
 public:
  // `dir` is created (0700) on first put().
  explicit ContentStore(std::string dir, uint64_t max_bytes = kDefaultContentBytes);

  // The text of `path` when it is a regular file (not followed if a symlink) of at most
  // kMaxDiffFile bytes, without a NUL byte, whose SHA-256 is `expect`; nullopt otherwise (it
  // changed again since it was hashed, or is binary, or too large).
  static std::optional<std::string> read_text(const std::string& path, const Sha256& expect);

  // Keeps `text` under its hash; false when the cap would be passed (counted) or the write failed.
  bool put(const Sha256& hash, std::string_view text);
  std::optional<std::string> get(const Sha256& hash) const;
  bool has(const Sha256& hash) const;
  // Removes every content whose hex hash is not in `keep`; recounts the bytes held.
  void retain(const std::unordered_set<std::string>& keep);

  uint64_t bytes() const { return bytes_; }
  uint64_t refused() const { return refused_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string path_of(const Sha256& hash) const;
  void count_existing();

  std::string dir_;
  uint64_t max_bytes_;
  uint64_t bytes_{0};
  uint64_t refused_{0};
  bool counted_{false};
};

}  // namespace vigil::agent::fim
