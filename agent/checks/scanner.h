// Evaluates a policy's checks against a root directory and turns results into compliance.check
// events and the `vigil-agent scan` document (shared/DESIGN.md "Compliance policies").
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "agent/checks/policy.h"
#include "common/event/event.h"

namespace vigil::agent::checks {

struct ProbeResult {
  Outcome outcome = Outcome::error;
  std::string evidence;  // what decided it: the line, the mode, the port, or why it could not
};

struct CheckResult {
  const Check* check = nullptr;
  Outcome outcome = Outcome::error;
  std::string evidence;
};

struct ScanSummary {
  size_t pass = 0, fail = 0, error = 0, not_applicable = 0;
  // pass / (pass + fail); nullopt when nothing passed or failed.
  std::optional<double> score() const;
};

struct ScanOptions {
  std::string root = "/";
  std::optional<int> level;  // checks with level <= this; every check when unset
  // The time file ages and end-of-life dates are measured against; the clock when unset (tests fix it).
  std::optional<std::chrono::system_clock::time_point> now;
};

class Scanner {
 public:
  explicit Scanner(ScanOptions options);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Every selected check of the policy, in policy order.
  std::vector<CheckResult> scan(const Policy& policy);
  CheckResult evaluate(const Check& check);
  ProbeResult evaluate(const Condition& condition);
  const ScanOptions& options() const { return options_; }

  struct State;  // parsed host files shared by the probes of one scan

 private:
  ScanOptions options_;
  std::unique_ptr<State> state_;
};

ScanSummary summarize(const std::vector<CheckResult>& results);

// One compliance.check event (event.kind state).
Event to_event(const Policy& policy, const CheckResult& result, const std::string& host_name, Timestamp at);

// {policy, root, level, results: [events], summary: {pass, fail, error, not_applicable, score}}
nlohmann::json scan_document(const Policy& policy, const ScanOptions& options,
                             const std::vector<CheckResult>& results, const std::string& host_name);

// The host name of the root: gethostname() for "/", else <root>/etc/hostname.
std::string root_host_name(const std::string& root);

// 0 when nothing fails, 2 when a check fails, 1 when a check could not be evaluated (error).
int scan_exit_code(const ScanSummary& summary);

}  // namespace vigil::agent::checks
