// Readers for block-structured configuration (nginx, Apache httpd, nftables) under a HostRoot:
// the files are parsed into one tree of directives with their includes expanded in place, so
// probes can ask for effective values. Bounded: include depth, block depth, number of files and
// bytes read, nodes and words are capped; any problem (a loop, an unclosed block, an include that cannot be read)
// makes the whole read an error, never a partial tree that could pass a check.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/checks/host.h"

namespace vigil::agent::checks {

struct ConfNode {
  std::vector<std::string> words;  // the directive and its arguments, quotes removed; empty for the root
  std::vector<ConfNode> children;  // the contents of a block (a `{...}` or an Apache `<Section>`)
  bool block = false;
  std::shared_ptr<const std::string> file;  // shared by every node of one file; null for an empty node
  size_t line = 0;
  std::string where() const;        // "file:line"
  std::string text() const;         // the words joined by spaces
  const std::string& name() const;  // words[0] or ""
  std::string args() const;         // words[1..] joined by spaces
};

struct ConfLimits {
  int max_include_depth = 8;
  int max_block_depth = 64;
  size_t max_files = 512;
  size_t max_bytes = 16u << 20;
  // The bytes alone do not bound memory (a node costs far more than the `a;` that makes it).
  size_t max_nodes = 200'000;    // directives and blocks
  size_t max_words = 2'000'000;  // words of every directive
  size_t max_words_per_statement = 4096;
};

struct ConfRead {
  FileRead::Status status = FileRead::Status::missing;  // of the whole read; missing: the main file is absent
  ConfNode root;
  std::string reason;  // missing or error: why
};

// How files are read: HostRoot::read, or a cache in front of it.
using ConfFileSource = std::function<FileRead(const std::string& absolute)>;

// nginx: `name args;` and `name args { ... }`, # comments, "..." and '...' quotes, `include` with
// globs relative to `prefix` (the configuration prefix, /etc/nginx on Debian), anywhere.
ConfRead read_nginx_config(const HostRoot& host, const ConfFileSource& read, const std::string& path,
                           const std::string& prefix = "/etc/nginx", const ConfLimits& limits = {});

// Apache httpd: one directive a line (`\` continues it), `<Section args>` ... `</Section>`, # comment
// lines, quotes; `Include` (an error when nothing matches) and `IncludeOptional` with globs or
// directories relative to ServerRoot (/etc/apache2 on Debian, changed by a ServerRoot directive).
ConfRead read_apache_config(const HostRoot& host, const ConfFileSource& read, const std::string& path,
                            const std::string& server_root = "/etc/apache2", const ConfLimits& limits = {});

// nftables scripts: like nginx, but a newline also ends a statement; `include "file"` with globs
// relative to /etc.
ConfRead read_nftables_config(const HostRoot& host, const ConfFileSource& read, const std::string& path,
                              const ConfLimits& limits = {});

}  // namespace vigil::agent::checks
