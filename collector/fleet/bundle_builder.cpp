#include "collector/fleet/bundle_builder.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include <fmt/format.h>

#include "agent/checks/policy_loader.h"
#include "agent/config/agent_config.h"
#include "agent/rules/rule_loader.h"
#include "common/config/content_files.h"

namespace vigil::collector {

namespace fs = std::filesystem;

namespace {

// A private directory removed with everything in it when it goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "vigil-bundle-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The loaders name files by where they were read: the bundle's own paths instead.
std::string relative_to(std::string text, const std::string& dir) {
  const std::string prefix = dir + "/";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at))
    text.erase(at, prefix.size());
  return text;
}

}  // namespace

Result<void> validate_bundle_files(const std::vector<fleet::BundleFile>& files,
                                   const compliance::LoadedFrameworks& frameworks) {
  std::string problems;
  auto problem = [&](const std::string& path, const std::string& what) {
    problems += fmt::format("{}:0:0: {}\n", path, what);
  };
  if (files.empty()) return make_error("the bundle holds no files\n");
  if (files.size() > fleet::kMaxBundleFiles) {
    return make_error(fmt::format("the bundle holds {} files; at most {}\n", files.size(), fleet::kMaxBundleFiles));
  }
  size_t total = 0;
  std::set<std::string> seen;
  std::vector<std::string> rule_files, policy_files;
  for (const auto& f : files) {
    total += f.content.size() + f.path.size();
    auto kind = fleet::classify_path(f.path);
    if (!kind) {
      problem(f.path, kind.error());
      continue;
    }
    if (!seen.insert(f.path).second) problem(f.path, "the same path twice");
    if (*kind == fleet::FileKind::rule) rule_files.push_back(f.path);
    if (*kind == fleet::FileKind::policy) policy_files.push_back(f.path);
    if (*kind == fleet::FileKind::config) {
      if (auto overlay = agent::load_config_overlay(f.path, f.content); !overlay) {
        problems += overlay.error();
        if (problems.back() != '\n') problems += '\n';
      }
    }
  }
  if (total > fleet::kMaxBundleBytes) {
    return make_error(fmt::format("the bundle is {} bytes; at most {} (16 MiB)\n", total, fleet::kMaxBundleBytes));
  }
  if (!problems.empty()) return make_error(problems);

  TempDir tmp;
  if (tmp.path().empty()) return make_error("cannot make a directory to check the bundle in\n");
  const std::string dir = tmp.path().string();
  for (const auto& f : files) {
    fs::path out = tmp.path() / f.path;
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    auto w = pki::write_file(out, f.content, false);
    if (!w) return make_error(w.error() + "\n");
  }
  // Each file of the kind its place says (common/config/content_files.h, the walk the agent's
  // loaders make), then loaded as the agent loads it.
  for (const auto& f : config::walk_content({dir}).files) {
    const std::string path = relative_to(f.path.string(), dir);
    const bool under_rules = path.starts_with("rules/");
    const bool rule_kind = f.kind == config::ContentKind::rules || f.kind == config::ContentKind::sigma ||
                           f.kind == config::ContentKind::unknown;
    if (under_rules && !rule_kind) {
      problem(path, "not a rule file (policies go under policies/; catalogues are not pushed)");
    } else if (path.starts_with("policies/") && f.kind != config::ContentKind::policy) {
      problem(path, "not a policy (a policy has a top-level 'policy:'; rules go under rules/)");
    }
  }
  if (!rule_files.empty()) {
    // As the agent loads a bundle: overriding, its value lists confined to its rules/.
    auto loaded = agent::rules::load_rules({}, {(tmp.path() / "rules").string()});
    if (!loaded) {
      problems += relative_to(loaded.error(), dir);
      if (!problems.empty() && problems.back() != '\n') problems += '\n';
    }
  }
  for (const auto& p : policy_files) {
    auto loaded = agent::checks::load_policy((tmp.path() / p).string(), frameworks);
    if (!loaded) {
      problems += relative_to(loaded.error(), dir);
      if (!problems.empty() && problems.back() != '\n') problems += '\n';
    }
  }
  if (!problems.empty()) return make_error(problems);
  return {};
}

Result<pki::Key> load_signing_key(const std::string& pki_dir) {
  const fs::path path = fs::path(pki_dir) / "bundle-signing.key";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return make_error(
        fmt::format("no signing key at {}: run 'vigil-collector signing-key create -c FILE' once", path.string()));
  }
  auto pem = pki::read_file(path);
  if (!pem) return make_error(pem.error());
  return pki::key_from_pem(*pem);
}

Result<bool> ensure_signing_key(const std::string& pki_dir) {
  const fs::path path = fs::path(pki_dir) / "bundle-signing.key";
  std::error_code ec;
  if (fs::exists(path, ec)) return false;
  // Root writing into a directory another user owns could be led by a planted link to write a
  // file of the system: the key is written by the directory's owner (runuser), never by root.
  struct stat dir {};
  if (::stat(pki_dir.c_str(), &dir) == 0 && dir.st_uid != ::geteuid()) {
    return make_error(fmt::format("{} belongs to another user: run this as that user (e.g. 'runuser -u vigil -- "
                                  "vigil-collector signing-key create ...')",
                                  pki_dir));
  }
  auto key = pki::generate_signing_key();
  if (!key) return make_error(key.error());
  auto pem = pki::to_pem(*key);
  auto pub = pki::public_pem(*key);
  if (!pem) return make_error(pem.error());
  if (!pub) return make_error(pub.error());
  if (auto w = pki::write_file(path, *pem, true); !w) return make_error(w.error());
  if (auto w = pki::write_file(fs::path(pki_dir) / "bundle-signing.pub", *pub, false); !w) return make_error(w.error());
  return true;
}

}  // namespace vigil::collector
