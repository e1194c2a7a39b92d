// Loads native rule files, validating everything with file:line:column (see DESIGN.md "Rules").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/rules/rule.h"
#include "common/config/yaml_reader.h"
#include "common/result.h"

namespace vigil::agent::rules {

struct RuleSet {
  std::vector<std::shared_ptr<const Rule>> rules;
  std::vector<std::string> files;  // rule files read (native and Sigma)
  size_t rejected = 0;             // Sigma rules skipped as unsupported (each reported as "rejected: FILE: reason")
  std::string version;             // hash of the files' contents: the rule set version in health
};

struct LoadedRules {
  std::shared_ptr<const RuleSet> set;
  config::Diagnostics diagnostics;  // warnings and "rejected" notes when loading succeeded
};

// Walks files and directories (recursively, *.yaml and *.yml, each file once) and reads the rule
// files among them: native (a YAML list at the top) and Sigma (one or more documents with
// `detection` or `correlation`). Files of other loaders (`policy:`, `framework:`) are left alone.
// A Sigma rule using something we do not support is skipped and reported as a warning
// "rejected: FILE: reason". Fails with every problem, one per line, when any rule file is
// invalid: the caller keeps its old set.
//
// `overrides` (a group's bundle, agent/fleet/bundle_client.h) are read first: a rule of `paths`
// with the id of one of theirs is left out, with a warning naming both.
Result<LoadedRules> load_rules(const std::vector<std::string>& paths, const std::vector<std::string>& overrides = {});

// Parses the rules of one YAML document (tests and `rules test`).
// `confine`: when not empty, value lists (in_file) must lie under this directory.
void parse_rule_document(config::YamlReader& reader, const YAML::Node& root, std::vector<Rule>& out,
                         const std::string& confine = {});

}  // namespace vigil::agent::rules
