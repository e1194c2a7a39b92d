// Fleet: agent groups and the versioned, signed bundles of content pushed to them
// (shared/DESIGN.md "Groups and bundles").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

inline constexpr const char* kDefaultGroup = "default";

struct GroupRecord {
  std::string name;
  std::string description;
  Timestamp created{};
  int64_t version = 0;  // the current bundle's (the highest); 0: none pushed yet
  int64_t agents = 0;   // active agents in the group
};

// One version of a group's bundle. `content` is the signed document exactly as signed
// (collector/fleet/bundle.h); `sha256` its hash, kept to notice a change in storage.
struct BundleRecord {
  std::string group;
  int64_t version = 0;
  std::string sha256;
  std::string signature;  // Ed25519, hex
  std::string content;    // empty in lists
  std::string author;
  std::string message;
  Timestamp created{};
  int64_t rollback_of = 0;  // the version whose content this one restores; 0: a push
};

// What an agent last reported of its bundle (agent.health).
struct BundleStatus {
  std::string group;
  int64_t version = 0;
  Timestamp applied_at{};
  std::string error;  // empty: the last one applied
};

class FleetStore {
 public:
  virtual ~FleetStore() = default;

  // false when the name is taken.
  virtual Result<bool> add_group(const std::string& name, const std::string& description) = 0;
  // Every group with its current version and its number of active agents, by name.
  virtual Result<std::vector<GroupRecord>> list_groups() = 0;
  virtual Result<std::optional<GroupRecord>> get_group(const std::string& name) = 0;
  // false when the agent is unknown (the caller checks that the group exists).
  virtual Result<bool> set_agent_group(const std::string& agent_id, const std::string& group) = 0;

  // Stores the group's next version, in one transaction: `make` is given the version number and
  // returns the record to store (signed with that number inside). Two pushes racing for one
  // number: the second fails and may push again.
  using MakeBundle = std::function<Result<BundleRecord>(int64_t version)>;
  virtual Result<BundleRecord> add_bundle(const std::string& group, const MakeBundle& make) = 0;
  // The group's current version (0: none pushed yet).
  virtual Result<int64_t> bundle_version(const std::string& group) = 0;
  // The group's current bundle (its highest version), with content.
  virtual Result<std::optional<BundleRecord>> current_bundle(const std::string& group) = 0;
  virtual Result<std::optional<BundleRecord>> get_bundle(const std::string& group, int64_t version) = 0;
  // The group's versions, newest first, without content.
  virtual Result<std::vector<BundleRecord>> list_bundles(const std::string& group) = 0;

  // What the agent reports (and the program version it runs, when not empty).
  virtual Result<void> set_bundle_status(const std::string& agent_id, const BundleStatus& status,
                                         const std::string& agent_version) = 0;
};

}  // namespace vigil::collector
