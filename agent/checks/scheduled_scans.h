// Compliance scans run by the agent itself (policies.run: internal), as a pipeline source: a scan
// at start, every policies.interval and on request (SIGUSR1); its changed results become events
// when it ends, and what was reported is saved once the spool holds it (commit).
//
// Policies are parsed and scans run in child processes (`vigil-agent scheduled-scan`,
// run_scheduled_scan below): load() has one check the policies and copy their files under
// state_dir (compliance-policies/), and each scan has one evaluate that copy and print one
// compliance.check event per line. The daemon keeps only what it reported (ComplianceTracker),
// never the parsed policies nor a scan's working memory (issue 22: an idle agent's memory); a
// policy file broken on disk after a reload changes nothing until it loads again. A scan that
// outlives its bound (every command probe's timeout, plus a minute) is killed, and so is one
// still running when the agent stops.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/checks/compliance_runner.h"
#include "agent/config/agent_config.h"
#include "agent/pipeline/source.h"

namespace vigil::agent::checks {

class ScheduledScans : public pipeline::Source {
 public:
  // `cfg` is read again on load() (the daemon's running configuration).
  ScheduledScans(const AgentConfig& cfg, std::string host_name);
  ~ScheduledScans() override {
    stop();
    wait();
  }

  bool enabled() const { return cfg_.policies.run == "internal"; }
  // Loads (or reloads) the policies to check them, and keeps a copy of their files for the scans;
  // on failure keeps the previous ones.
  bool load();
  // Policy paths besides the configuration's (a group bundle's), read from the next load().
  void set_extra_paths(std::vector<std::string> paths) { extra_paths_ = std::move(paths); }
  // A scan as soon as none is running.
  void request() { requested_ = true; }
  // No scan starts from now on (the agent is stopping), and a running one is ended.
  void stop() {
    stopped_ = true;
    cancel_->store(true);
  }
  // Waits for a running scan, so its thread never outlives the agent.
  void wait() {
    if (running_.valid()) running_.wait();
  }

  // Starts a scan when one is due; hands a finished scan's events to the pipeline.
  size_t poll(pipeline::Pipeline& out) override;
  // The reported events are in the spool: remember them.
  void commit(uint64_t synced_seq) override;

  struct Finished {
    std::vector<Event> events;  // compliance.check events, as the child printed them
    size_t malformed = 0;       // lines that were not an event
    std::string error;          // why the scan failed (nothing is reported then)
    std::string stderr_text;    // what the child wrote on stderr
    int64_t millis = 0;
  };

 private:
  const AgentConfig& cfg_;
  std::vector<std::string> extra_paths_;
  std::string host_;
  std::string program_ = "/proc/self/exe";  // the child runs the daemon's own executable
  ComplianceTracker tracker_;
  std::filesystem::path copy_;       // <state_dir>/compliance-policies: what the scans read
  bool copy_pending_ = false;        // <copy_>.next holds newer policies, swapped in before a scan
  bool loaded_ = false;
  std::chrono::milliseconds bound_{std::chrono::minutes(1)};  // longest a scan may take
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
  std::future<Finished> running_;
  std::chrono::steady_clock::time_point next_{};
  bool requested_ = false;
  bool stopped_ = false;
  bool unsaved_ = false;
};

// `vigil-agent scheduled-scan --path P... [--root R]` (the child, not for people): every policy
// under the paths evaluated against `root`, one compliance.check event per line on stdout, without
// host.name (the daemon sets it). With `check`: the policies are only loaded, their warnings
// printed on stderr (one per line), their files copied under `copy_to` (at their absolute paths)
// and {"policies", "checks", "command_ms" (the sum of the command probes' timeouts)} printed.
// Exit 0 when the policies loaded (and were evaluated), 1 otherwise, with the reason on stderr.
// `drop_ambient`: the daemon raised CAP_DAC_READ_SEARCH as an ambient capability for this child
// alone; it is cleared so that command probes run without it, as they did inside the daemon.
struct ScheduledScanArgs {
  std::vector<std::string> paths;
  std::string root = "/";
  bool check = false;
  std::string copy_to;
  bool drop_ambient = false;
};
int run_scheduled_scan(const ScheduledScanArgs& args);

}  // namespace vigil::agent::checks
