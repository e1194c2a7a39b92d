// Shared command-line plumbing for the three binaries (CLI11).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "common/config/yaml_reader.h"

namespace vigil::cli {

// Sets --version, the footer and help formatting common to all Vigil programs.
void setup_app(CLI::App& app, const std::string& program);

// Runs `body` after parsing, turning every escaped exception into a message and exit code 1.
int run(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

// Prints warnings to stderr and returns; used by check-config and at start-up.
void print_warnings(const config::Diagnostics& diags);

// Terminal columns of UTF-8 text: code points, so Vietnamese lines up in tables.
size_t columns(std::string_view s);
// `s` followed by spaces up to `width` columns.
std::string pad_columns(const std::string& s, size_t width);

}  // namespace vigil::cli
