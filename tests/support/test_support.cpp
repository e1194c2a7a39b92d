#include "tests/support/test_support.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace vigil::test {

std::filesystem::path source_dir() { return VIGIL_SOURCE_DIR; }

std::filesystem::path binary_dir() { return VIGIL_BINARY_DIR; }

std::filesystem::path shared_data_dir() {
  if (const char* env = std::getenv("VIGIL_SHARED_DATA")) {
    std::filesystem::path p(env);
    return std::filesystem::is_directory(p) ? p : std::filesystem::path();
  }
  auto p = (source_dir() / ".." / "shared" / "data").lexically_normal();
  return std::filesystem::is_directory(p) ? p : std::filesystem::path();
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
  auto p = path_ / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + p.string());
  return p;
}

}  // namespace vigil::test
