#include "common/fleet/bundle.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ingest/bounded_json.h"
#include "common/pki/pki.h"

namespace vigil::fleet {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

const nlohmann::json* member(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

Result<std::string> text(const nlohmann::json& j, const char* key) {
  const auto* v = member(j, key);
  if (!v || !v->is_string()) return make_error(fmt::format("'{}' missing or not a string", key));
  return v->get<std::string>();
}

Result<int64_t> number(const nlohmann::json& j, const char* key) {
  const auto* v = member(j, key);
  if (!v || !v->is_number_integer() || v->get<int64_t>() < 0) {
    return make_error(fmt::format("'{}' missing or not a non-negative integer", key));
  }
  return v->get<int64_t>();
}

}  // namespace

bool valid_group_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<FileKind> classify_path(std::string_view path) {
  if (path.empty()) return make_error("an empty path");
  if (path.size() > kMaxPathBytes) return make_error(fmt::format("a path over {} bytes", kMaxPathBytes));
  if (path.front() == '/') return make_error("an absolute path");
  for (char c : path) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '/';
    if (!ok) return make_error("a path may hold only letters, digits, '.', '_', '-' and '/'");
  }
  std::string_view rest = path;
  size_t segments = 0;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..")
      return make_error("a path escaping its directory or with empty parts");
    ++segments;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
    if (rest.empty()) return make_error("a path ending in '/'");
  }
  const bool yaml = ends_with(path, ".yaml") || ends_with(path, ".yml");
  if (path.starts_with("rules/") && segments >= 2) {
    if (yaml) return FileKind::rule;
    if (ends_with(path, ".txt")) return FileKind::list;
    return make_error("a file of no known kind (rules/ holds *.yaml and *.yml rule files and *.txt value lists)");
  }
  if (path.starts_with("policies/") && segments >= 2) {
    if (yaml) return FileKind::policy;
    return make_error("a file of no known kind (policies/ holds *.yaml and *.yml policies)");
  }
  if (path == kOverlayPath) return FileKind::config;
  return make_error("a file outside rules/, policies/ and config/agent.yaml");
}

Result<std::vector<BundleFile>> read_bundle_dir(const std::string& dir, std::string_view prefix, size_t& budget) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error(fmt::format("{}: not a directory", dir));
  std::vector<BundleFile> out;
  std::string problems;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return make_error(fmt::format("{}: {}", dir, ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return make_error(fmt::format("{}: {}", dir, ec.message()));
    const fs::path& p = it->path();
    const std::string rel = std::string(prefix) + "/" + fs::relative(p, dir, ec).generic_string();
    if (it->is_symlink(ec)) {
      problems += fmt::format("{}: a symlink; a bundle holds plain files only\n", p.string());
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) continue;
    if (!it->is_regular_file(ec)) {
      problems += fmt::format("{}: not a plain file\n", p.string());
      continue;
    }
    if (auto kind = classify_path(rel); !kind) {
      problems += fmt::format("{}: {}\n", p.string(), kind.error());
      continue;
    }
    const auto size = it->file_size(ec);
    if (ec || size > kMaxBundleBytes || budget + size > kMaxBundleBytes) {
      return make_error(fmt::format("{}: the bundle would be over 16 MiB", p.string()));
    }
    std::ifstream in(p, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) {
      problems += fmt::format("{}: cannot read\n", p.string());
      continue;
    }
    budget += content.size();
    out.push_back({rel, std::move(content)});
    if (out.size() > kMaxBundleFiles) return make_error(fmt::format("{}: over {} files", dir, kMaxBundleFiles));
  }
  if (!problems.empty()) return make_error(problems);
  std::sort(out.begin(), out.end(), [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });
  return out;
}

Result<std::string> to_document(const Bundle& b) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : b.files) files.push_back({{"path", f.path}, {"content", f.content}});
  nlohmann::json doc{
      {"format", kFormat},  {"group", b.group},     {"version", b.version},         {"created", b.created},
      {"author", b.author}, {"message", b.message}, {"rollback_of", b.rollback_of}, {"files", std::move(files)}};
  try {
    return doc.dump();
  } catch (const nlohmann::json::exception&) {
    return make_error("a file or the message is not UTF-8 text");
  }
}

Result<Bundle> from_document(std::string_view document) {
  if (document.size() > kMaxDocumentBytes) return make_error("the bundle is over 24 MiB encoded");
  auto parsed = ingest::parse_bounded_json(document, 8);
  if (!parsed) return make_error("the bundle: " + parsed.error());
  const auto& j = *parsed;
  if (!j.is_object()) return make_error("the bundle is not a JSON object");
  auto format = text(j, "format");
  if (!format || *format != kFormat) return make_error(fmt::format("the bundle is not of format {}", kFormat));
  Bundle b;
  auto group = text(j, "group");
  auto version = number(j, "version");
  auto created = text(j, "created");
  auto author = text(j, "author");
  auto message = text(j, "message");
  auto rollback_of = number(j, "rollback_of");
  for (const auto* r : {&group, &created, &author, &message}) {
    if (!*r) return make_error("the bundle: " + r->error());
  }
  if (!version) return make_error("the bundle: " + version.error());
  if (!rollback_of) return make_error("the bundle: " + rollback_of.error());
  if (!valid_group_name(*group)) return make_error("the bundle: its group name is not valid");
  b.group = *group;
  b.version = *version;
  b.created = *created;
  b.author = *author;
  b.message = *message;
  b.rollback_of = *rollback_of;
  const auto* files = member(j, "files");
  if (!files || !files->is_array()) return make_error("the bundle: 'files' missing or not a list");
  if (files->size() > kMaxBundleFiles)
    return make_error(fmt::format("the bundle holds over {} files", kMaxBundleFiles));
  for (const auto& f : *files) {
    if (!f.is_object()) return make_error("the bundle: a file is not an object");
    auto path = text(f, "path");
    auto content = text(f, "content");
    if (!path || !content) return make_error("the bundle: a file without path or content");
    if (auto kind = classify_path(*path); !kind)
      return make_error(fmt::format("the bundle: {}: {}", *path, kind.error()));
    b.files.push_back({*path, *content});
  }
  return b;
}

std::string to_envelope(const Envelope& e) {
  return nlohmann::json{{"group", e.group},
                        {"version", e.version},
                        {"sha256", e.sha256},
                        {"signature", e.signature},
                        {"document", e.document}}
      .dump();
}

Result<Envelope> from_envelope(std::string_view json) {
  if (json.size() > 2 * kMaxDocumentBytes) return make_error("the bundle answer is over 48 MiB");
  auto parsed = ingest::parse_bounded_json(json, 4);
  if (!parsed || !parsed->is_object()) return make_error("the bundle answer is not a JSON object");
  Envelope e;
  auto group = text(*parsed, "group");
  auto version = number(*parsed, "version");
  auto sha = text(*parsed, "sha256");
  auto sig = text(*parsed, "signature");
  auto doc = text(*parsed, "document");
  if (!group || !version || !sha || !sig || !doc) return make_error("the bundle answer lacks a member");
  e.group = *group;
  e.version = *version;
  e.sha256 = *sha;
  e.signature = *sig;
  e.document = std::move(*doc);
  return e;
}

Result<Bundle> verify(const Envelope& e, const std::string& public_key_pem, const std::string& expected_group,
                      const std::string& running_group, int64_t running_version) {
  if (pki::sha256_hex(e.document) != e.sha256) return make_error("its content does not match its hash");
  if (auto ok = pki::verify_hex(public_key_pem, e.document, e.signature); !ok) return make_error(ok.error());
  auto b = from_document(e.document);
  if (!b) return b;
  if (b->group != e.group || b->version != e.version) {
    return make_error(fmt::format("it is signed as group '{}' version {}, not as sent ('{}' version {})", b->group,
                                  b->version, e.group, e.version));
  }
  if (b->group != expected_group) {
    return make_error(fmt::format("it is group '{}''s, and this agent is in '{}'", b->group, expected_group));
  }
  if (b->group == running_group && b->version <= running_version) {
    return make_error(
        fmt::format("version {} is not newer than version {} this agent runs (a replay)", b->version, running_version));
  }
  return b;
}

}  // namespace vigil::fleet
