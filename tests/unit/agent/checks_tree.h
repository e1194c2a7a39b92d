// A host root tree built by a test in a temporary directory, and helpers to scan it.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/checks/policy_loader.h"
#include "agent/checks/scanner.h"
#include "tests/support/test_support.h"

namespace vigil::agent::checks::test {

class RootTree {
 public:
  const std::filesystem::path& path() const { return dir_.path(); }
  std::string root() const { return dir_.path().string(); }

  void file(const std::string& abs, const std::string& content, mode_t mode = 0644) const {
    auto p = dir_.write(abs.substr(1), content);
    ::chmod(p.c_str(), mode);
  }
  void dir(const std::string& abs, mode_t mode = 0755) const {
    auto p = dir_.path() / abs.substr(1);
    std::filesystem::create_directories(p);
    ::chmod(p.c_str(), mode);
  }
  void link(const std::string& abs, const std::string& target) const {
    auto p = dir_.path() / abs.substr(1);
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::remove(p);
    std::filesystem::create_symlink(target, p);
  }
  void remove(const std::string& abs) const { std::filesystem::remove_all(dir_.path() / abs.substr(1)); }

 private:
  vigil::test::TempDir dir_;
};

// Frameworks shipped in rules/frameworks.
inline LoadedFrameworks shipped_frameworks() {
  auto fws = load_frameworks({(vigil::test::source_dir() / "rules" / "frameworks").string()});
  EXPECT_TRUE(fws) << (fws ? "" : fws.error());
  return fws ? std::move(*fws) : LoadedFrameworks{};
}

// Results by check id.
inline std::map<std::string, CheckResult> scan_by_id(const Policy& policy, const std::string& root,
                                                     std::optional<int> level = std::nullopt) {
  ScanOptions o;
  o.root = root;
  o.level = level;
  Scanner s(o);
  std::map<std::string, CheckResult> out;
  for (auto& r : s.scan(policy)) out[r.check->id] = r;
  return out;
}

}  // namespace vigil::agent::checks::test
