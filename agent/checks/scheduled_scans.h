// Compliance scans run by the agent itself (policies.run: internal), as a pipeline source: a scan
// on a thread of its own (a command probe may take its whole timeout) at start, every
// policies.interval and on request (SIGUSR1); its changed results become events when it ends, and
// what was reported is saved once the spool holds it (commit).
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/checks/compliance_runner.h"
#include "agent/checks/policy.h"
#include "agent/config/agent_config.h"
#include "agent/pipeline/source.h"

namespace vigil::agent::checks {

class ScheduledScans : public pipeline::Source {
 public:
  // `cfg` is read again on load() (the daemon's running configuration).
  ScheduledScans(const AgentConfig& cfg, std::string host_name);
  ~ScheduledScans() override { wait(); }

  bool enabled() const { return cfg_.policies.run == "internal"; }
  // Loads (or reloads) the policies; on failure keeps the previous ones.
  bool load();
  // Policy paths besides the configuration's (a group bundle's), read from the next load().
  void set_extra_paths(std::vector<std::string> paths) { extra_paths_ = std::move(paths); }
  // A scan as soon as none is running.
  void request() { requested_ = true; }
  // No scan starts from now on (the agent is stopping).
  void stop() { stopped_ = true; }
  // Waits for a running scan, so its thread never outlives the agent.
  void wait() {
    if (running_.valid()) running_.wait();
  }

  // Starts a scan when one is due; hands a finished scan's events to the pipeline.
  size_t poll(pipeline::Pipeline& out) override;
  // The reported events are in the spool: remember them.
  void commit(uint64_t synced_seq) override;

 private:
  struct Finished {
    std::shared_ptr<const PolicySet> set;  // keeps the policies the results point into
    std::vector<std::pair<const Policy*, std::vector<CheckResult>>> results;
    int64_t millis = 0;
  };

  const AgentConfig& cfg_;
  std::vector<std::string> extra_paths_;
  std::string host_;
  ComplianceTracker tracker_;
  std::shared_ptr<const PolicySet> set_;
  std::future<Finished> running_;
  std::chrono::steady_clock::time_point next_{};
  bool requested_ = false;
  bool stopped_ = false;
  bool unsaved_ = false;
};

}  // namespace vigil::agent::checks
