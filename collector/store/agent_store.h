// Enrollment and agents: agencies, enrollment tokens, agents and their certificates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

struct TokenInfo {
  std::string agency;
  int level = 1;  // security level (1-5) of the system the enrolled agent serves
  std::string group = "default";  // the group the enrolled agent joins
  std::vector<std::string> systems{};  // the information systems it serves (system_store.h)
};

struct AgentRecord {
  std::string id;
  std::string agency;
  int level = 1;
  std::string host;
  std::string version;
  std::string cert_serial;
  Timestamp enrolled{};
  Timestamp last_seen{};
  std::string status = "active";  // active | revoked
  std::string group = "default";
  // The bundle it last reported (collector/store/fleet_store.h BundleStatus).
  std::string bundle_group{};
  int64_t bundle_version = 0;
  Timestamp bundle_applied_at{};
  std::string bundle_error{};
  std::vector<std::string> systems{};  // the information systems it serves, sorted; empty: unassigned
};

struct AgencyRecord {
  std::string name;
  std::string framework;
};

// Agencies, the one-time tokens agents enroll with, and the agents themselves.
class AgentStore {
 public:
  virtual ~AgentStore() = default;

  virtual Result<void> ensure_agency(const std::string& name, const std::string& framework) = 0;

  // Tokens are stored by their SHA-256; one-time and expiring.
  virtual Result<void> add_token(const std::string& token_hash, const TokenInfo& info, Timestamp expires) = 0;
  // Marks the token used and returns what it grants; fails when unknown, used or expired.
  virtual Result<TokenInfo> consume_token(const std::string& token_hash, Timestamp now) = 0;

  // The agent and the systems it serves (which exist: the token was checked when made).
  virtual Result<void> add_agent(const AgentRecord& agent) = 0;
  virtual Result<std::optional<AgentRecord>> get_agent(const std::string& id) = 0;
  virtual Result<std::vector<AgentRecord>> list_agents() = 0;
  virtual Result<void> touch_agent(const std::string& id, Timestamp now) = 0;
  // Revokes the agent and its certificate serial; false when the agent is unknown.
  virtual Result<bool> revoke_agent(const std::string& id) = 0;
  virtual Result<bool> is_revoked(const std::string& cert_serial) = 0;
  // Certificate renewal: the agent's serial becomes `new_serial` if it still is `old_serial`
  // (false otherwise, or when the agent is not active).
  virtual Result<bool> replace_agent_cert(const std::string& id, const std::string& old_serial,
                                          const std::string& new_serial) = 0;

  virtual Result<std::vector<AgencyRecord>> list_agencies() = 0;
  // false when the agency or agent does not exist.
  virtual Result<bool> set_agency_framework(const std::string& name, const std::string& framework) = 0;
  virtual Result<bool> set_agent_level(const std::string& id, int level) = 0;
};

}  // namespace vigil::collector
