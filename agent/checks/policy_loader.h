// Loading policies and control catalogues with every problem reported as file:line:column.
#pragma once

#include <string>
#include <vector>

#include "agent/checks/policy.h"
#include "common/config/yaml_reader.h"
#include "common/result.h"

namespace vigil::agent::checks {

using compliance::LoadedFrameworks;
using compliance::load_frameworks;

struct LoadedPolicy {
  Policy policy;
  config::Diagnostics diagnostics;  // warnings
};

// One policy file. Every control id a check names must exist in `frameworks`.
Result<LoadedPolicy> load_policy(const std::string& path, const LoadedFrameworks& frameworks);

// The catalogues that go with a policy file when none are given: <policy dir>/../frameworks.
std::string default_frameworks_dir(const std::string& policy_path);

}  // namespace vigil::agent::checks
