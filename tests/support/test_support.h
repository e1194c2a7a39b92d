// Paths and scratch space for tests.
#pragma once

#include <filesystem>
#include <string>

namespace vigil::test {

// The source tree (for fixtures and shipped rules).
std::filesystem::path source_dir();
// The build tree (for the binaries under test).
std::filesystem::path binary_dir();
// ../shared/data beside the source tree (or $VIGIL_SHARED_DATA); empty when absent. Tests that
// need it carry the ctest label `realdata` and GTEST_SKIP() when this is empty.
std::filesystem::path shared_data_dir();

// A fresh directory removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace vigil::test

// Skips the current test when ../shared/data is absent.
#define VIGIL_REQUIRE_SHARED_DATA()                                          \
  do {                                                                       \
    if (::vigil::test::shared_data_dir().empty()) {                          \
      GTEST_SKIP() << "shared data directory absent (../shared/data)";       \
    }                                                                        \
  } while (0)
