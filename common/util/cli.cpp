#include "common/util/cli.h"

#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "common/version.h"

namespace vigil::cli {

void setup_app(CLI::App& app, const std::string& program) {
  app.set_version_flag("-V,--version", fmt::format("{} {}", program, kVersion));
  app.footer("Documentation: README.md in /usr/share/doc/vigil-agent or /usr/share/doc/vigil-collector, or in the "
             "Vigil source tree.");
  app.get_formatter()->column_width(34);
}

int run(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what());
    return 1;
  }
}

void print_warnings(const config::Diagnostics& diags) {
  std::string text = diags.to_string();
  if (!text.empty()) std::fputs(text.c_str(), stderr);
}

size_t columns(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad_columns(const std::string& s, size_t width) {
  const size_t cols = columns(s);
  return cols >= width ? s : s + std::string(width - cols, ' ');
}

}  // namespace vigil::cli
