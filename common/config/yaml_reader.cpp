#include "common/config/yaml_reader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace vigil::config {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return fmt::format("'{}'", n.Scalar());
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

std::string join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

}  // namespace

std::string Diagnostic::to_string() const {
  const char* sev = severity == Severity::error ? "error" : "warning";
  if (line > 0) return fmt::format("{}:{}:{}: {}: {}", file, line, column, sev, message);
  return fmt::format("{}: {}: {}", file, sev, message);
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

size_t Diagnostics::error_count() const {
  return static_cast<size_t>(std::count_if(items_.begin(), items_.end(),
                                           [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::error; }));
}

std::string Diagnostics::to_string() const {
  std::vector<const Diagnostic*> sorted;
  for (const auto& d : items_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    return std::tie(a->file, a->line, a->column) < std::tie(b->file, b->line, b->column);
  });
  std::string out;
  for (const auto* d : sorted) {
    out += d->to_string();
    out += '\n';
  }
  return out;
}

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > 1'000'000'000'000ULL) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  uint64_t ms_per;
  if (unit == "ms") ms_per = 1;
  else if (unit == "s") ms_per = 1000;
  else if (unit == "m") ms_per = 60'000;
  else if (unit == "h") ms_per = 3'600'000;
  else if (unit == "d") ms_per = 86'400'000;
  else return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(n * ms_per));
}

std::optional<uint64_t> parse_size(std::string_view text) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (1ULL << 40)) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  uint64_t mul;
  if (unit.empty() || unit == "B") mul = 1;
  else if (unit == "KiB") mul = 1ULL << 10;
  else if (unit == "MiB") mul = 1ULL << 20;
  else if (unit == "GiB") mul = 1ULL << 30;
  else if (unit == "TiB") mul = 1ULL << 40;
  else if (unit == "KB" || unit == "kB") mul = 1000;
  else if (unit == "MB") mul = 1000'000;
  else if (unit == "GB") mul = 1000'000'000;
  else return std::nullopt;
  return n * mul;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint ep;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    ep.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    ep.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (ep.host.empty()) return std::nullopt;
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string_view>& candidates) {
  std::string best_name;
  size_t best = 3;
  std::string l = lower(name);
  for (auto c : candidates) {
    size_t d = edit_distance(l, c);
    if (d < best) {
      best = d;
      best_name = std::string(c);
    }
  }
  return best_name.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", best_name);
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 86'400'000 == 0 && ms != 0) return fmt::format("{}d", ms / 86'400'000);
  if (ms % 3'600'000 == 0 && ms != 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0 && ms != 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::string format_size(uint64_t bytes) {
  if (bytes != 0 && bytes % (1ULL << 30) == 0) return fmt::format("{}GiB", bytes >> 30);
  if (bytes != 0 && bytes % (1ULL << 20) == 0) return fmt::format("{}MiB", bytes >> 20);
  if (bytes != 0 && bytes % (1ULL << 10) == 0) return fmt::format("{}KiB", bytes >> 10);
  return fmt::format("{}", bytes);
}

std::pair<int, int> position(const YAML::Node& n) {
  if (!n.IsDefined()) return {0, 0};
  YAML::Mark m = n.Mark();
  if (m.is_null()) return {0, 0};
  return {m.line + 1, m.column + 1};
}

YamlReader::YamlReader(std::string file) : file_(std::move(file)) {
  base_dir_ = std::filesystem::path(file_).parent_path();
  if (base_dir_.empty()) base_dir_ = ".";
}

std::optional<YAML::Node> YamlReader::load_file() {
  std::ifstream in(file_, std::ios::binary);
  if (!in) {
    diags_.add({Diagnostic::Severity::error, file_, 0, 0, "cannot open file: " + std::string(std::strerror(errno))});
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str());
}

std::optional<YAML::Node> YamlReader::load_string(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    error_at(e.mark, "YAML syntax: " + e.msg);
    return std::nullopt;
  }
}

std::vector<YAML::Node> YamlReader::load_all_file() {
  std::ifstream in(file_, std::ios::binary);
  if (!in) {
    diags_.add({Diagnostic::Severity::error, file_, 0, 0, "cannot open file: " + std::string(std::strerror(errno))});
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_all_string(ss.str());
}

std::vector<YAML::Node> YamlReader::load_all_string(const std::string& text) {
  try {
    return YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    error_at(e.mark, "YAML syntax: " + e.msg);
    return {};
  }
}

std::filesystem::path YamlReader::resolve(const std::string& path) const {
  std::filesystem::path p(path);
  if (p.is_absolute()) return p;
  return (base_dir_ / p).lexically_normal();
}

void YamlReader::error(const YAML::Node& at, std::string message) {
  auto [line, col] = position(at);
  diags_.add({Diagnostic::Severity::error, file_, line, col, std::move(message)});
}

void YamlReader::warning(const YAML::Node& at, std::string message) {
  auto [line, col] = position(at);
  diags_.add({Diagnostic::Severity::warning, file_, line, col, std::move(message)});
}

void YamlReader::error_at(const YAML::Mark& mark, std::string message) {
  int line = mark.is_null() ? 0 : mark.line + 1;
  int col = mark.is_null() ? 0 : mark.column + 1;
  diags_.add({Diagnostic::Severity::error, file_, line, col, std::move(message)});
}

void YamlReader::warning_at(const YAML::Mark& mark, std::string message) {
  int line = mark.is_null() ? 0 : mark.line + 1;
  int col = mark.is_null() ? 0 : mark.column + 1;
  diags_.add({Diagnostic::Severity::warning, file_, line, col, std::move(message)});
}

bool YamlReader::read(const YAML::Node& n, std::string& out, std::string_view what) {
  if (!n.IsScalar()) {
    error(n, fmt::format("{}: expected a string, got {}", what, describe(n)));
    return false;
  }
  out = n.Scalar();
  return true;
}

bool YamlReader::read(const YAML::Node& n, i18n::Text& out, std::string_view what) {
  if (n.IsScalar()) {
    out = i18n::Text::both(n.Scalar());
    return true;
  }
  if (!n.IsMap()) {
    error(n, fmt::format("{}: expected a string or {{vi: ..., en: ...}}, got {}", what, describe(n)));
    return false;
  }
  i18n::Text text;
  const size_t errors_before = diags_.error_count();
  bool ok = true;
  {
    MapReader m(*this, n, std::string(what));
    for (auto [key, field] : {std::pair{"vi", &text.vi}, std::pair{"en", &text.en}}) {
      if (auto v = m.require(key)) {
        ok = read(v, *field, m.path(key)) && ok;
        if (ok && field->empty()) {
          error(v, fmt::format("{}: empty", m.path(key)));
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    m.finish();
  }
  ok = ok && diags_.error_count() == errors_before;  // an unknown key too
  if (ok) out = std::move(text);
  return ok;
}

bool YamlReader::read(const YAML::Node& n, bool& out, std::string_view what) {
  if (n.IsScalar()) {
    std::string v = lower(n.Scalar());
    if (v == "true" || v == "yes" || v == "on") {
      out = true;
      return true;
    }
    if (v == "false" || v == "no" || v == "off") {
      out = false;
      return true;
    }
  }
  error(n, fmt::format("{}: expected true or false, got {}", what, describe(n)));
  return false;
}

bool YamlReader::read(const YAML::Node& n, int64_t& out, std::string_view what, int64_t min, int64_t max) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) {
      if (v < min || v > max) {
        error(n, fmt::format("{}: {} is out of range (expected {} to {})", what, v, min, max));
        return false;
      }
      out = v;
      return true;
    }
  }
  error(n, fmt::format("{}: expected an integer from {} to {}, got {}", what, min, max, describe(n)));
  return false;
}

bool YamlReader::read(const YAML::Node& n, uint32_t& out, std::string_view what, uint32_t min, uint32_t max) {
  int64_t v = 0;
  if (!read(n, v, what, min, max)) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

bool YamlReader::read_duration(const YAML::Node& n, std::chrono::milliseconds& out, std::string_view what,
                               std::chrono::milliseconds min, std::chrono::milliseconds max) {
  std::optional<std::chrono::milliseconds> d;
  if (n.IsScalar()) d = parse_duration(n.Scalar());
  if (!d) {
    error(n, fmt::format("{}: expected a duration such as 30s, 10m, 6h or 7d, got {}", what, describe(n)));
    return false;
  }
  if (*d < min || *d > max) {
    error(n, fmt::format("{}: {} is out of range (expected {} to {})", what, n.Scalar(), format_duration(min),
                         format_duration(max)));
    return false;
  }
  out = *d;
  return true;
}

bool YamlReader::read_size(const YAML::Node& n, uint64_t& out, std::string_view what, uint64_t min, uint64_t max) {
  std::optional<uint64_t> s;
  if (n.IsScalar()) s = parse_size(n.Scalar());
  if (!s) {
    error(n, fmt::format("{}: expected a size such as 4096, 64KiB, 128MiB or 2GiB, got {}", what, describe(n)));
    return false;
  }
  if (*s < min || *s > max) {
    error(n, fmt::format("{}: {} is out of range (expected {} to {})", what, n.Scalar(), format_size(min),
                         format_size(max)));
    return false;
  }
  out = *s;
  return true;
}

bool YamlReader::read_endpoint(const YAML::Node& n, Endpoint& out, std::string_view what) {
  std::optional<Endpoint> ep;
  if (n.IsScalar()) ep = parse_endpoint(n.Scalar());
  if (!ep) {
    error(n, fmt::format("{}: expected HOST:PORT (IPv6 as [ADDR]:PORT, port 1-65535), got {}", what, describe(n)));
    return false;
  }
  out = *ep;
  return true;
}

bool YamlReader::read_choice(const YAML::Node& n, std::string& out, std::string_view what,
                             std::initializer_list<std::string_view> choices) {
  if (n.IsScalar()) {
    for (auto c : choices) {
      if (n.Scalar() == c) {
        out = std::string(c);
        return true;
      }
    }
  }
  std::string hint = n.IsScalar() ? did_you_mean(n.Scalar(), std::vector<std::string_view>(choices)) : "";
  error(n, fmt::format("{}: expected one of {}, got {}{}", what, join(choices), describe(n), hint));
  return false;
}

bool YamlReader::read_list(const YAML::Node& n, std::vector<std::string>& out, std::string_view what) {
  if (!n.IsSequence()) {
    error(n, fmt::format("{}: expected a list of strings, got {}", what, describe(n)));
    return false;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (const auto& item : n) {
    std::string s;
    if (read(item, s, what)) {
      items.push_back(std::move(s));
    } else {
      ok = false;
    }
  }
  if (ok) out = std::move(items);
  return ok;
}

bool YamlReader::read_path(const YAML::Node& n, std::string& out, std::string_view what) {
  std::string s;
  if (!read(n, s, what)) return false;
  if (s.empty()) {
    error(n, fmt::format("{}: expected a path, got an empty string", what));
    return false;
  }
  out = resolve(s).string();
  return true;
}

MapReader::MapReader(YamlReader& reader, const YAML::Node& node, std::string context)
    : reader_(reader), node_(node), context_(std::move(context)) {
  if (!node_.IsDefined() || node_.IsNull()) {
    node_ = YAML::Node(YAML::NodeType::Map);
    ok_ = true;
  } else if (!node_.IsMap()) {
    reader_.error(node, fmt::format("{}: expected a mapping of settings, got {}",
                                    context_.empty() ? "top level" : context_, describe(node)));
    ok_ = false;
  }
}

MapReader::~MapReader() {
  if (!finished_) finish();
}

std::string MapReader::path(std::string_view key) const {
  return context_.empty() ? std::string(key) : fmt::format("{}.{}", context_, key);
}

YAML::Node MapReader::get(std::string_view key) {
  known_.emplace_back(key);
  if (!ok_) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Node k = it->first;  // copies: the iterator yields a temporary pair
    if (k.IsScalar() && k.Scalar() == key) {
      YAML::Node v = it->second;
      if (v.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
      return v;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

void MapReader::retired(std::string_view key, std::string_view why) {
  retired_.emplace_back(key);
  if (!ok_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: the iterator yields a temporary pair
    if (k.IsScalar() && k.Scalar() == key) {
      reader_.warning(k, fmt::format("{}: no longer read ({}); remove it", path(key), why));
      return;
    }
  }
}

YAML::Node MapReader::require(std::string_view key) {
  YAML::Node n = get(key);
  if (ok_ && !n.IsDefined()) {
    reader_.error(node_, fmt::format("{}: missing required key '{}'", context_.empty() ? "top level" : context_, key));
  }
  return n;
}

void MapReader::finish() {
  finished_ = true;
  if (!ok_) return;
  std::vector<std::pair<std::string, int>> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: the iterator yields a temporary pair
    if (!key.IsScalar()) {
      reader_.error(key, fmt::format("{}: keys must be plain names", context_.empty() ? "top level" : context_));
      continue;
    }
    const std::string& name = key.Scalar();
    auto prev = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == name; });
    if (prev != seen.end()) {
      reader_.error(key, fmt::format("duplicate key '{}' (first given on line {})", path(name), prev->second));
      continue;
    }
    seen.emplace_back(name, position(key).first);
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    if (std::find(retired_.begin(), retired_.end(), name) != retired_.end()) continue;
    std::string hint = did_you_mean(name, std::vector<std::string_view>(known_.begin(), known_.end()));
    std::string expected;
    for (const auto& k : known_) {
      if (!expected.empty()) expected += ", ";
      expected += k;
    }
    reader_.error(key, fmt::format("unknown key '{}'{}; {} takes: {}", path(name), hint,
                                   context_.empty() ? "the top level" : context_, expected));
  }
}

}  // namespace vigil::config
