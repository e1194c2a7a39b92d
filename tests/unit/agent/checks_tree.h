// A host root tree built by a test in a temporary directory, and helpers to scan it.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
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
  // Sets a file's modification time.
  void touch(const std::string& abs, std::chrono::system_clock::time_point t) const {
    timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = std::chrono::system_clock::to_time_t(t);
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    EXPECT_EQ(::utimensat(AT_FDCWD, (dir_.path() / abs.substr(1)).c_str(), ts, 0), 0) << abs;
  }

 private:
  vigil::test::TempDir dir_;
};

// Frameworks shipped in rules/frameworks.
inline LoadedFrameworks shipped_frameworks() {
  auto fws = load_frameworks({(vigil::test::source_dir() / "rules" / "frameworks").string()});
  EXPECT_TRUE(fws) << (fws ? "" : fws.error());
  return fws ? std::move(*fws) : LoadedFrameworks{};
}

// The time prepared trees are scanned at (2026-12-01 12:00 UTC), so that file ages and release
// end-of-life dates give the same results whenever the tests run. Files the tests write carry the
// real time, later than this: as new as can be.
inline const std::chrono::system_clock::time_point kScanNow = std::chrono::system_clock::from_time_t(1796126400);

// Results by check id.
inline std::map<std::string, CheckResult> scan_by_id(const Policy& policy, const std::string& root,
                                                     std::optional<int> level = std::nullopt) {
  ScanOptions o;
  o.root = root;
  o.level = level;
  o.now = kScanNow;
  Scanner s(o);
  std::map<std::string, CheckResult> out;
  for (auto& r : s.scan(policy)) out[r.check->id] = r;
  return out;
}

}  // namespace vigil::agent::checks::test
