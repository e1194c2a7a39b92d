// Compliance policies inside the long-running agent (policies.run: internal): finds the policies
// and catalogues under policies.paths, scans on an interval or on request, and reports each
// check's result when it changes, plus every result in a periodic full report.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "agent/checks/policy_loader.h"
#include "agent/checks/scanner.h"
#include "common/event/event.h"
#include "common/result.h"

namespace vigil::agent::checks {

struct PolicySet {
  LoadedFrameworks frameworks;
  std::vector<Policy> policies;
  config::Diagnostics diagnostics;  // warnings
  std::vector<std::string> files;   // every policy and catalogue file loaded, as found
};

// Every policy file (top-level `policy:`) under `paths` (files, or directories searched
// recursively), with the catalogues found under `paths` and in each policy's ../frameworks.
// Files of other kinds (detection rules, Sigma) are skipped; a path that does not exist is a
// warning. Errors name file:line:column.
Result<PolicySet> load_policy_set(const std::vector<std::string>& paths);

// Decides which results to report and remembers what was reported, in a state file, across
// restarts. A result is reported when its outcome or evidence differs from the last one reported
// for the same policy and check; a full report (every result) goes out on the first scan and
// then once per `full_every`.
class ComplianceTracker {
 public:
  ComplianceTracker(std::filesystem::path state_file, std::chrono::seconds full_every);

  struct Report {
    std::vector<Event> events;
    bool full = false;
    size_t changed = 0;
  };
  Report report(const Policy& policy, const std::vector<CheckResult>& results, const std::string& host_name,
                Timestamp at);
  // The same for results that are already compliance.check events (a scheduled scan's child
  // prints them): keyed by vigil.policy.id and rule.id, stamped `at` and `host_name` (when not
  // empty). Events without a policy, check or result are not reported; `skipped` counts them.
  Report report(std::vector<Event> events, const std::string& host_name, Timestamp at, size_t* skipped = nullptr);
  // Marks a full report as done at `at` (after all the policies of one scan were reported).
  void full_done(Timestamp at);
  bool full_due(Timestamp at) const;
  // Writes the state (atomically); call once the reported events are durable.
  Result<void> save();
  // Reading an unreadable or malformed state file starts afresh (everything is reported again).
  const std::string& load_warning() const { return load_warning_; }

 private:
  std::filesystem::path file_;
  std::chrono::seconds full_every_;
  int64_t last_full_ms_ = 0;
  std::map<std::string, std::string> last_;  // "policy\x1fcheck" -> "outcome\x1fevidence"
  std::string load_warning_;
  bool dirty_ = false;
};

}  // namespace vigil::agent::checks
