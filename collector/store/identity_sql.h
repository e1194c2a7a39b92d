// Identity (users, sessions, API tokens, failed logins, the audit log) written once, over the
// connection interface both stores give (collector/store/sql_database.h).
#pragma once

#include "collector/store/identity_store.h"
#include "collector/store/sql_database.h"

namespace vigil::collector {

class SqlIdentityStore : public virtual IdentityStore {
 public:
  Result<int64_t> add_api_token(const std::string& token_hash, const ApiTokenRecord& token) override;
  Result<std::optional<ApiTokenRecord>> api_token(const std::string& token_hash) override;
  Result<std::vector<ApiTokenRecord>> list_api_tokens() override;
  Result<bool> revoke_api_token(int64_t id, Timestamp when) override;
  Result<uint64_t> import_bootstrap_token(const std::string& token_hash, Timestamp now) override;

  Result<bool> add_user(const UserRecord& user) override;
  Result<std::optional<UserRecord>> get_user(const std::string& name) override;
  Result<std::vector<UserRecord>> list_users() override;
  Result<bool> set_user_disabled(const std::string& name, bool disabled) override;
  Result<bool> set_user_password(const std::string& name, const std::string& encoded) override;

  Result<void> add_session(const std::string& token_hash, const SessionRecord& session) override;
  Result<std::optional<SessionRecord>> get_session(const std::string& token_hash) override;
  Result<void> touch_session(const std::string& token_hash, Timestamp now) override;
  Result<bool> delete_session(const std::string& token_hash) override;
  Result<uint64_t> expire_sessions(Timestamp created_before, Timestamp used_before) override;

  Result<LoginFailures> login_failures(const std::string& key) override;
  Result<uint64_t> count_login_failures(const std::vector<std::string>& keys, Timestamp now, Timestamp forget_before,
                                        uint64_t max_keys) override;
  Result<void> clear_login_failures(const std::string& key) override;

  Result<void> add_audit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> list_audit(const AuditFilter& filter) override;

 protected:
  // The store's connections.
  virtual SqlDatabase& database() = 0;

 private:
  Result<bool> update_user_ending_sessions(const char* op, const std::string& name, const char* sql,
                                           const SqlParams& params);
};

}  // namespace vigil::collector
