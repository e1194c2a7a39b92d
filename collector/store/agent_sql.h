// Enrollment and agents (agencies, enrollment tokens, agents and their certificates) written once,
// over the connection interface both stores give (collector/store/sql_database.h).
#pragma once

#include "collector/store/agent_store.h"
#include "collector/store/sql_database.h"

namespace vigil::collector {

class SqlAgentStore : public virtual AgentStore {
 public:
  Result<void> ensure_agency(const std::string& name, const std::string& framework) override;
  Result<void> add_token(const std::string& token_hash, const TokenInfo& info, Timestamp expires) override;
  Result<TokenInfo> consume_token(const std::string& token_hash, Timestamp now) override;
  Result<void> add_agent(const AgentRecord& agent) override;
  Result<std::optional<AgentRecord>> get_agent(const std::string& id) override;
  Result<std::vector<AgentRecord>> list_agents() override;
  Result<void> touch_agent(const std::string& id, Timestamp now) override;
  Result<bool> revoke_agent(const std::string& id) override;
  Result<bool> is_revoked(const std::string& cert_serial) override;
  Result<bool> replace_agent_cert(const std::string& id, const std::string& old_serial,
                                  const std::string& new_serial) override;
  Result<std::vector<AgencyRecord>> list_agencies() override;
  Result<bool> set_agency_framework(const std::string& name, const std::string& framework) override;
  Result<bool> set_agent_level(const std::string& id, int level) override;

 protected:
  // The store's connections.
  virtual SqlDatabase& database() = 0;
};

}  // namespace vigil::collector
