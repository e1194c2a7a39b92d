// A group's bundle (shared/DESIGN.md "Groups and bundles"): rule files with their value lists and
// compliance policies, as one signed JSON document. The collector builds and signs it
// (collector/fleet/bundle_builder.h); the agent verifies and applies it (agent/fleet/bundle_client.h).
//
// The document is canonical JSON (keys sorted, no spaces):
//   {"author", "created", "files": [{"content", "path"}], "format": "vigil-bundle/1", "group",
//    "message", "rollback_of", "version"}
// and travels inside an envelope: {"group", "version", "sha256" (of the document), "signature"
// (Ed25519 of the document, hex), "document"}. What the agent trusts is inside the signed document;
// the envelope's copies only say what to expect.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::fleet {

// Bounds of what is pushed: the whole document, the files in it, one path.
inline constexpr size_t kMaxBundleBytes = 16u << 20;      // the files' contents
inline constexpr size_t kMaxDocumentBytes = 24u << 20;    // the signed document (JSON escapes included)
inline constexpr size_t kMaxBundleFiles = 2000;
inline constexpr size_t kMaxPathBytes = 240;
inline constexpr std::string_view kFormat = "vigil-bundle/1";

// Where a file goes: rules/ (rule files, *.yaml/*.yml, and value lists, *.txt), policies/
// (compliance policies, *.yaml/*.yml), or config/agent.yaml (the restricted overlay of agent.yaml,
// agent/config/agent_config.h ConfigOverlay).
enum class FileKind { rule, list, policy, config };
inline constexpr std::string_view kOverlayPath = "config/agent.yaml";

struct BundleFile {
  std::string path;  // relative, '/'-separated, under rules/ or policies/
  std::string content;
};

struct Bundle {
  std::string group;
  int64_t version = 0;
  std::string created;  // RFC 3339
  std::string author;
  std::string message;
  int64_t rollback_of = 0;
  std::vector<BundleFile> files;
};

// A group's name as the collector takes it ([A-Za-z0-9._@-], 1 to 64, not "." or ".."): the agent
// names a directory after it.
bool valid_group_name(std::string_view name);

// The kind of a path, or why it is refused: absolute, empty segments, '.' or '..', characters
// outside [A-Za-z0-9._-/], over kMaxPathBytes, outside rules/, policies/ and config/agent.yaml, or an
// extension of no known kind.
Result<FileKind> classify_path(std::string_view path);

// The files under `dir` as bundle files under `prefix` ("rules" or "policies"), sorted by path.
// Refused with every problem, one per line: a symlink, a file of no known kind, a path the bundle
// cannot hold, more than kMaxBundleFiles files or kMaxBundleBytes bytes in all (`budget` counts
// bytes across calls).
Result<std::vector<BundleFile>> read_bundle_dir(const std::string& dir, std::string_view prefix, size_t& budget);

// The canonical document of `bundle`. Fails when a file is not UTF-8 text.
Result<std::string> to_document(const Bundle& bundle);
// Reads a document back (bounded), checking format, paths and bounds.
Result<Bundle> from_document(std::string_view document);

struct Envelope {
  std::string group;
  int64_t version = 0;
  std::string sha256;
  std::string signature;
  std::string document;
};
std::string to_envelope(const Envelope& envelope);
Result<Envelope> from_envelope(std::string_view json);

// What the agent accepts (everything, or the first reason not):
//   - the signature verifies with `public_key_pem` and the document hashes to the envelope's sha256;
//   - the signed document names `expected_group` (the agent's group, as the collector said) and the
//     envelope's version;
//   - within the group the agent already runs (`running_group`), a version not above
//     `running_version` is a replay.
Result<Bundle> verify(const Envelope& envelope, const std::string& public_key_pem, const std::string& expected_group,
                      const std::string& running_group, int64_t running_version);

}  // namespace vigil::fleet
