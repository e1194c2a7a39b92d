// The agent's side of group bundles (shared/DESIGN.md "Groups and bundles"). Each batch's answer
// names the agent's group and its current version; when that is not what the agent runs, the
// shipper's thread fetches GET /v1/bundle, verifies it (common/fleet/bundle.h: signature by the
// key from enrollment, hash, group, no replay) and stages it under state_dir/bundles/. The main
// loop applies a staged bundle through the reload path, all or nothing, and records it in
// state_dir/bundles/current.json, which survives restarts. agent.health says what runs.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ship/shipper.h"
#include "common/event/event.h"

namespace spdlog {
class logger;
}

namespace vigil::agent::fleet {

// A verified bundle on disk (dir empty: the group has none; apply means run without one).
struct StagedBundle {
  std::string group;
  int64_t version = 0;
  std::string sha256;
  std::string dir;
};

// Where a bundle on disk keeps its parts (each empty when it has none): what the loaders read.
struct BundleParts {
  std::vector<std::string> rules;     // <dir>/rules
  std::vector<std::string> policies;  // <dir>/policies
  std::string overlay;                // <dir>/config/agent.yaml
};
BundleParts parts_of(const std::string& dir);

class BundleClient {
 public:
  explicit BundleClient(std::string state_dir);

  // The bundle applied before (current.json), if its files are still there.
  void load();

  // Shipper thread: the collector's answer to a batch; fetches and stages when needed.
  void on_answer(std::string_view answer, const Fetch& fetch);

  // Main loop: the bundle staged since the last call, if any; until applied() or rejected() the
  // shipper's thread leaves it alone.
  std::optional<StagedBundle> take_staged();
  // Main loop: the staged bundle runs now (recorded in current.json; other versions' files go),
  // or it was refused by the loaders (the agent keeps what it runs).
  void applied(const StagedBundle& bundle);
  void rejected(const StagedBundle& bundle, const std::string& reason);
  // SIGHUP: a version refused for a local reason (a local file since fixed) may be tried again.
  void retry_refused();
  // What health reports as the last result, when the main loop had to run without the bundle.
  void set_result(const std::string& result);

  // The parts of the bundle that runs.
  BundleParts parts() const;
  // vigil.bundle.{group, version, applied_at, result}.
  void put_health(Event& health) const;

 private:
  bool ensure_signing_key(const Fetch& fetch);
  Result<StagedBundle> fetch_and_stage(const std::string& group, int64_t version, const Fetch& fetch);
  void refuse(const std::string& group, int64_t version, const std::string& reason);

  const std::string state_dir_;
  const std::string dir_;  // state_dir/bundles
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mutex_;
  std::string signing_key_;
  StagedBundle running_;
  std::string applied_at_;
  std::string result_;  // "applied", "rejected: why"; empty before the first
  std::optional<StagedBundle> staged_;
  std::optional<StagedBundle> applying_;
  // The highest version applied per group, kept across restarts and group moves: a version not
  // above it is a replay, whatever the agent runs now.
  std::map<std::string, int64_t> high_;
  // The last version refused, not fetched again until the collector names another.
  std::string refused_group_;
  int64_t refused_version_ = -1;
};

}  // namespace vigil::agent::fleet
