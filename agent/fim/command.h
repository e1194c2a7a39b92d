// `vigil-agent fim baseline` and `vigil-agent fim check`: the one-shot file integrity commands
// (shared/DESIGN.md "File integrity"). They run the daemon's scanner, unthrottled unless
// --max-read-rate is given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/fim/scanner.h"

namespace vigil::agent::fim {

struct CommandArgs {
  std::vector<std::string> paths{};   // roots; `check` defaults to the baseline's own
  std::vector<std::string> ignore{};  // globs applied to every root (see scanner.h)
  bool no_recursive{false};
  uint64_t max_files{kDefaultMaxFiles};
  std::string max_read_rate{};  // "50MiB" or "50MiB/s" per second; empty: unthrottled
  std::string out{};            // baseline: the file written; check: JSON lines, "-" for stdout
  std::string baseline{};       // check: the baseline read
  bool full{false};             // check: re-hash every file
  std::string host_name{};      // host.name of the events (default: this host's name)
  bool diff{false};             // baseline: keep small text files' contents in <out>.content
};

// Walks the roots and writes the baseline to `out` (with --diff, the contents of small text files,
// secrets aside, to the directory <out>.content: agent/fim/content.h). Exit 0, or 1 with a message
// on stderr.
int baseline_command(const CommandArgs& args);
// Compares the roots with the baseline and writes one event per change (a changed text file kept in
// <baseline>.content carries vigil.fim.diff; the kept contents are not updated). Exit 0 when nothing
// changed, 2 when something did, 1 on an error (an unreadable baseline, output or root, or
// entries that could not be read and nothing else changed).
int check_command(const CommandArgs& args);

}  // namespace vigil::agent::fim
