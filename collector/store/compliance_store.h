// Compliance: the latest result of every check, its history, and waivers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

struct ComplianceRow {
  std::string agent_id;
  std::string agency;
  std::string host;
  int agent_level = 1;  // security level of the system the agent serves
  std::string policy;
  std::string check_id;
  std::string title;
  int level = 1;
  std::string result;
  std::string controls;
  std::string evidence;
  std::string remediation;
  std::string policy_version;
  Timestamp time{};
  std::string title_vi;        // empty: the English text serves both languages
  std::string remediation_vi;
};

// An accepted exception to a compliance check: the check (of one policy, or of any policy when
// `policy` is empty) waived for one agent or for every agent of an agency (`agent_id` empty), with
// the reason, who accepted the risk and an expiry. Past its expiry, or once expired by hand, the
// check's results count as what they are again; the record stays for the audit.
struct WaiverRecord {
  int64_t id = 0;
  std::string agency;
  std::string agent_id;
  std::string policy;
  std::string check_id;
  std::string reason;
  std::string accepted_by;  // who accepted the risk, as the operator names them
  std::string created_by;   // the console user or API token that recorded it
  Timestamp created{};
  Timestamp expires{};
  Timestamp ended{};  // when expired by hand (0: not)
  std::string ended_by;
  bool active(Timestamp now) const { return ended.ns == 0 && now < expires; }
  // Whether the waiver covers this result of this agent.
  bool covers(const std::string& agency_name, const std::string& agent, const std::string& policy_id,
              const std::string& check) const {
    return agency == agency_name && (agent_id.empty() || agent_id == agent) &&
           (policy.empty() || policy == policy_id) && check_id == check;
  }
};

// Empty or false means "any"; `agencies_in` scopes the caller as for alerts.
struct WaiverFilter {
  std::string agency;
  bool active_only = false;
  Timestamp now{};  // what "active" is judged against
  std::vector<std::string> agencies_in;
};

// Results as agents report them (the newest wins, a change goes to history) and accepted exceptions.
class ComplianceStore {
 public:
  virtual ~ComplianceStore() = default;

  // Latest compliance result of every (agent, policy, check), of one agency or all (empty).
  virtual Result<std::vector<ComplianceRow>> compliance_latest(const std::string& agency) = 0;
  // The result each (agent, policy, check) had at `at` (the last change at or before it), with the
  // check's current title, level and controls; no evidence. Checks first seen later are absent.
  virtual Result<std::vector<ComplianceRow>> compliance_as_of(const std::string& agency, Timestamp at) = 0;

  // Waivers. add_waiver returns the new id; expire_waiver is false when the waiver is unknown or
  // no longer active. Newest first, at most 10,000.
  virtual Result<int64_t> add_waiver(const WaiverRecord& waiver) = 0;
  virtual Result<std::vector<WaiverRecord>> list_waivers(const WaiverFilter& filter) = 0;
  virtual Result<std::optional<WaiverRecord>> get_waiver(int64_t id) = 0;
  virtual Result<bool> expire_waiver(int64_t id, Timestamp when, const std::string& who) = 0;
};

}  // namespace vigil::collector
