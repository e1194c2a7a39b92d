// Strict YAML reading for configuration and rule files: typed values, unknown keys, ranges, and
// every problem reported as file:line:column with what was expected. All problems are collected
// before the caller decides to fail.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/i18n/text.h"

namespace vigil::config {

struct Diagnostic {
  enum class Severity { error, warning };
  Severity severity = Severity::error;
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;

  // "file:line:column: error: message"
  std::string to_string() const;
};

class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  bool has_errors() const;
  size_t error_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  // One diagnostic per line, in order of position.
  std::string to_string() const;

 private:
  std::vector<Diagnostic> items_;
};

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;
};

// Parsers for the value syntaxes of our files; nullopt when the text is not of that form.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);  // 500ms 30s 10m 6h 7d
std::optional<uint64_t> parse_size(std::string_view text);  // 4096, 64KiB, 128MiB, 2GiB, 10MB
std::optional<Endpoint> parse_endpoint(std::string_view text);  // host:port, [v6]:port
std::string format_duration(std::chrono::milliseconds d);
// " (did you mean 'x'?)" for the candidate closest to `name` (edit distance <= 2), else "".
std::string did_you_mean(std::string_view name, const std::vector<std::string_view>& candidates);
std::string format_size(uint64_t bytes);

class YamlReader {
 public:
  // `file` is the path as the user gave it; it prefixes every diagnostic.
  explicit YamlReader(std::string file);

  std::optional<YAML::Node> load_file();
  std::optional<YAML::Node> load_string(const std::string& text);
  // Every document of a multi-document file (`---` separated); empty on a syntax error.
  std::vector<YAML::Node> load_all_file();
  std::vector<YAML::Node> load_all_string(const std::string& text);

  const std::string& file() const { return file_; }
  // Relative paths in the file are taken relative to its own directory.
  std::filesystem::path resolve(const std::string& path) const;

  void error(const YAML::Node& at, std::string message);
  void warning(const YAML::Node& at, std::string message);
  void error_at(const YAML::Mark& mark, std::string message);
  void warning_at(const YAML::Mark& mark, std::string message);
  Diagnostics& diagnostics() { return diags_; }
  const Diagnostics& diagnostics() const { return diags_; }

  // Leaf readers: each checks the node's type and range, and on failure records an error at the
  // value's position and leaves `out` unchanged. `what` names the setting in messages.
  bool read(const YAML::Node& n, std::string& out, std::string_view what);
  // A text a person reads: a plain string (both languages) or `{vi: ..., en: ...}`, both given.
  bool read(const YAML::Node& n, i18n::Text& out, std::string_view what);
  bool read(const YAML::Node& n, bool& out, std::string_view what);
  bool read(const YAML::Node& n, int64_t& out, std::string_view what, int64_t min, int64_t max);
  bool read(const YAML::Node& n, uint32_t& out, std::string_view what, uint32_t min, uint32_t max);
  bool read_duration(const YAML::Node& n, std::chrono::milliseconds& out, std::string_view what,
                     std::chrono::milliseconds min, std::chrono::milliseconds max);
  bool read_size(const YAML::Node& n, uint64_t& out, std::string_view what, uint64_t min, uint64_t max);
  bool read_endpoint(const YAML::Node& n, Endpoint& out, std::string_view what);
  bool read_choice(const YAML::Node& n, std::string& out, std::string_view what,
                   std::initializer_list<std::string_view> choices);
  bool read_list(const YAML::Node& n, std::vector<std::string>& out, std::string_view what);
  // A path, resolved against the file's directory.
  bool read_path(const YAML::Node& n, std::string& out, std::string_view what);

 private:
  std::string file_;
  std::filesystem::path base_dir_;
  Diagnostics diags_;
};

// Reads one YAML mapping: callers ask for the keys they know; finish() reports every other key
// (with a "did you mean" when one is close), duplicate keys, and a non-map node.
class MapReader {
 public:
  // `context` names the mapping in messages ("agent", "capture[0]"). A null or absent node is an
  // empty mapping.
  MapReader(YamlReader& reader, const YAML::Node& node, std::string context);
  ~MapReader();
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  bool is_map() const { return ok_; }
  const YAML::Node& node() const { return node_; }
  const std::string& context() const { return context_; }

  // The value of `key` when present (and not null), else an undefined node.
  YAML::Node get(std::string_view key);
  // Like get(), but records "missing required key" when absent.
  YAML::Node require(std::string_view key);
  // A key earlier versions took and this one no longer reads: when present, a warning that says
  // why (never an error, so an old file still loads); not offered among the keys the mapping takes.
  void retired(std::string_view key, std::string_view why);
  // "context.key" for messages.
  std::string path(std::string_view key) const;

  void finish();

 private:
  YamlReader& reader_;
  YAML::Node node_;
  std::string context_;
  std::vector<std::string> known_;
  std::vector<std::string> retired_;
  bool ok_ = true;
  bool finished_ = false;
};

// 1-based position of a node, or the given fallback when the node has none.
std::pair<int, int> position(const YAML::Node& n);

}  // namespace vigil::config
