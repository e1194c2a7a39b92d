// The control catalogues shipped in rules/frameworks, compiled into the collector so summaries and
// self-assessments work without files; `collector.frameworks` adds catalogues or replaces these
// (same id), so an agency corrects a value without a new release.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vigil::collector {

// (name for diagnostics, YAML text) of each shipped catalogue.
std::vector<std::pair<std::string, std::string>> builtin_framework_texts();

}  // namespace vigil::collector
