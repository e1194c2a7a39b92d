#include "common/config/content_files.h"

#include <algorithm>
#include <fstream>

namespace vigil::config {

namespace fs = std::filesystem;

namespace {

std::string canonical_or_same(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? p.string() : c.string();
}

bool yaml_name(const fs::path& p) {
  auto ext = p.extension();
  return ext == ".yaml" || ext == ".yml";
}

bool top_key(const std::string& line, std::string_view key) {
  return line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':';
}

}  // namespace

std::vector<fs::path> ContentFiles::of(ContentKind kind) const {
  std::vector<fs::path> out;
  for (const auto& f : files) {
    if (f.kind == kind) out.push_back(f.path);
  }
  return out;
}

ContentKind classify_content(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  bool first = true;
  bool sigma = false, policy = false, framework = false;
  for (size_t n = 0; n < 100000 && std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    policy = policy || top_key(line, "policy");
    framework = framework || top_key(line, "framework");
    sigma = sigma || top_key(line, "detection") || top_key(line, "correlation");
    const auto start = line.find_first_not_of(" \t");
    if (!first || start == std::string::npos || line[start] == '#' || line.starts_with("---") ||
        line.starts_with("%")) {
      continue;
    }
    first = false;
    if (line[0] == '-' && (line.size() == 1 || line[1] == ' ' || line[1] == '\t')) return ContentKind::rules;
  }
  // A Sigma rule may carry any custom top-level key, `policy:` too; a policy has no `detection:`.
  if (sigma) return ContentKind::sigma;
  if (policy) return ContentKind::policy;
  if (framework) return ContentKind::framework;
  return ContentKind::unknown;
}

void walk_content(const std::vector<std::string>& paths, bool recursive, ContentFiles& into,
                  std::set<std::string>& seen) {
  auto take = [&](const fs::path& p, std::vector<fs::path>& out) {
    if (seen.insert(canonical_or_same(p)).second) out.push_back(p);
  };
  for (const auto& p : paths) {
    std::vector<fs::path> found;
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      if (recursive) {
        for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
          if (it->is_regular_file(ec) && yaml_name(it->path())) take(it->path(), found);
        }
      } else {
        for (const auto& e : fs::directory_iterator(p, ec)) {
          if (e.is_regular_file(ec) && yaml_name(e.path())) take(e.path(), found);
        }
      }
      std::sort(found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      take(p, found);
    } else {  // absent, or not a plain file (a pipe would block the reader)
      into.missing.push_back(p);
    }
    for (auto& f : found) {
      ContentKind kind = classify_content(f);
      into.files.push_back({std::move(f), kind});
    }
  }
}

ContentFiles walk_content(const std::vector<std::string>& paths, bool recursive) {
  ContentFiles out;
  std::set<std::string> seen;
  walk_content(paths, recursive, out, seen);
  return out;
}

}  // namespace vigil::config
