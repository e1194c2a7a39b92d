// Shared command-line plumbing for the three binaries (CLI11).
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/config/yaml_reader.h"

namespace vigil::cli {

// Sets --version, the footer and help formatting common to all Vigil programs.
void setup_app(CLI::App& app, const std::string& program);

// Runs `body` after parsing, turning every escaped exception into a message and exit code 1.
int run(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

// Prints warnings to stderr and returns; used by check-config and at start-up.
void print_warnings(const config::Diagnostics& diags);

}  // namespace vigil::cli
