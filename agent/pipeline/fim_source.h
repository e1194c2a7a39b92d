// File integrity monitoring as a source of the agent's pipeline (fim: in agent.yaml; shared/
// DESIGN.md "File integrity"). Its events are file.integrity changes (agent/fim/events.h).
//
// - The baseline lives in <state_dir>/fim.baseline (agent/fim/baseline.h, written atomically). At
//   start a scan compares the trees with it, so what changed while the agent was stopped is
//   reported as changes; with no baseline yet, the first scan records one silently (its size
//   logged). A tree that is new to the baseline (a restart or reload with another fim.paths) is
//   recorded silently too; entries of a tree no longer configured are dropped.
// - A full scan runs at start and every fim.interval on a worker thread of its own, in quick mode
//   (a file whose size, times, inode, mode and owner match the baseline keeps its hash unread);
//   what it finds comes back through a bounded hand-off, a slice per pass of the agent's loop.
// - Realtime trees are watched with inotify (agent/fim/watcher.h); new directories are watched as
//   they appear and walked (mkdir -p). Notifications are coalesced per path (agent/fim/pending.h)
//   and the paths that fall due are looked at again by a second worker (stat, SHA-256) and
//   compared with what the baseline holds for them: a change is one event with the final state.
// - Reading for hashing is paced by fim.max_read_rate, shared by both workers; neither ever
//   runs on the agent's loop.
// - The baseline is updated with every change reported and written once the spool holds the
//   events (commit), at most every 30 s, after each full scan and at stop.
// - Each change is attributed, best effort, to the user and process the audit log names for its
//   path at its time (agent/fim/audit.h), then marked in or out of the declared deploy windows
//   and by a deploy user or not, and, from dpkg's log, with the package activity around it
//   (agent/fim/deploy.h, agent/fim/packages.h). The audit log is read every second and again
//   just before each change is joined; a change is never held back for it: a realtime change
//   is looked at 200 ms after its last notification at the earliest (agent/fim/pending.h), and
//   auditd writes an event's records as the system call returns, so they are in the log by then
//   (under an audit backlog they may not be: that change carries no attribution).
// - Trees with diff on (default: those in /etc) keep the content of their small text files in
//   <state_dir>/fim-content (agent/fim/content.h); a change of such a file carries a unified diff.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "agent/config/agent_config.h"
#include "agent/fim/audit.h"
#include "agent/fim/baseline.h"
#include "agent/fim/content.h"
#include "agent/fim/diff.h"
#include "agent/fim/handoff.h"
#include "agent/fim/packages.h"
#include "agent/fim/pending.h"
#include "agent/fim/scanner.h"
#include "agent/fim/watcher.h"
#include "agent/pipeline/source.h"

namespace vigil::agent::pipeline {

class FimSource : public Source {
 public:
  // `baseline_file`: where the baseline is kept (<state_dir>/fim.baseline).
  FimSource(const FimSection& fim, std::string baseline_file, std::string host_name,
            fim::PendingSet::Options pending = {});
  ~FimSource() override;

  // Reads the baseline, starts the workers, the first scan and the watches.
  void start();
  // Stops the workers; the baseline is written when everything reported is in the spool.
  void stop();

  size_t poll(Pipeline& out) override;  // a bounded slice of what the workers found
  void wake_fds(std::vector<pollfd>& fds) const override;
  void commit(uint64_t synced_seq) override;
  void put_health(Event& health) const override;

  static constexpr const char* kBaselineName = "fim.baseline";

 private:
  struct PathLess {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return fim::path_less(a, b); }
  };
  using Overlay = std::map<std::string, std::optional<fim::FileInfo>, PathLess>;

  // From the scan worker: a change, or the end of the scan with the trees as it saw them.
  struct ScanItem {
    bool done{false};
    fim::Change change{};
    std::unique_ptr<fim::Baseline> seen{};
    fim::ScanStats stats{};
  };
  // To the realtime worker: a path to look at (or, `watch`, a tree whose directories to watch).
  struct Examine {
    std::string path{};
    bool subtree{false};
    bool watch{false};
  };
  // From it: an entry seen, or the end of one Examine.
  struct Seen {
    bool end{false};
    bool watch{false};  // the end of a tree's watches being set up
    fim::FileInfo info{};
    std::string path{};
    bool subtree{false};
  };

  void scan_worker();
  void realtime_worker();
  bool realtime_path(std::string_view path) const;  // under a realtime tree (its directories watched)
  void watch_tree(const std::string& root);

  std::optional<fim::FileInfo> known(const std::string& path) const;
  void emit(Pipeline& out, const fim::Change& c);
  // Whether changes of `path` carry a diff (its tree has diff on; not a secret).
  bool diff_path(std::string_view path) const;
  // A change's diff against the content kept for its previous hash, and its new content kept.
  void diff_and_keep(const fim::Change& c, Event& e);
  // Who (agent/fim/audit.h), then deploy window and user, package activity (agent/fim/deploy.h,
  // agent/fim/packages.h).
  void mark(const fim::Change& c, Event& e);
  // After a full scan: the contents of diffed files not kept yet are kept; the others dropped.
  void refresh_contents();
  void on_scan_item(Pipeline& out, ScanItem& item);
  void on_seen(Pipeline& out, Seen& s);
  void note(const std::string& path, uint32_t mask);
  // The baseline with the overlay over it.
  std::unique_ptr<fim::Baseline> merged() const;
  void persist();

  FimSection cfg_;
  std::string file_;
  std::string host_;
  fim::Scanner scope_;  // the configured trees (scope only, on the loop's thread)
  std::vector<fim::Root> realtime_roots_{};
  std::shared_ptr<fim::ReadRate> rate_;
  std::atomic<bool> cancel_{false};

  std::shared_ptr<const fim::Baseline> base_{};
  Overlay overlay_{};
  std::unordered_set<std::string> touched_{};  // looked at by the realtime path during a scan
  bool have_baseline_{false};
  bool scanning_{false};
  bool silent_{false};  // the scan running records the first baseline
  std::chrono::steady_clock::time_point next_scan_{};
  bool scan_requested_{true};
  bool persist_now_{false};

  // Realtime.
  fim::Watcher watcher_;
  fim::PendingSet pending_;
  std::unordered_set<std::string> seen_paths_{};  // entries seen for the Examine in progress
  bool limit_logged_{false};

  // Hand-offs (bounded both ways) and the workers.
  fim::Handoff<std::shared_ptr<const fim::Baseline>> scan_in_{1};
  fim::Handoff<ScanItem> scan_out_{256};
  fim::Handoff<Examine> exam_in_{256};
  fim::Handoff<Seen> exam_out_{1024};
  std::thread scan_thread_{};
  std::thread exam_thread_{};
  bool started_{false};

  // Contents of small text files for diffs (<state_dir>/fim-content).
  fim::ContentStore content_;
  uint64_t diffs_{0};

  // dpkg's log, when fim.dpkg_log is set (read on the loop's thread, as changes are marked).
  std::unique_ptr<fim::DpkgLog> dpkg_{};
  // The audit log, when fim.audit_log is set (read on the loop's thread).
  std::unique_ptr<fim::AuditLog> audit_{};
  std::chrono::steady_clock::time_point next_audit_read_{};
  bool audit_error_logged_{false};
  void read_audit();

  // Persistence.
  bool dirty_{false};
  bool emitted_since_commit_{false};
  std::chrono::steady_clock::time_point last_persist_{};

  // Counters (agent.health).
  uint64_t events_{0};
  uint64_t rescans_{0};
  uint64_t capped_{0};
  uint64_t known_count_{0};
};

}  // namespace vigil::agent::pipeline
