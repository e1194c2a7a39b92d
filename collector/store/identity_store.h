// Identity: the console's users and sessions, operators' API tokens and the audit log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

// An operator's API token (stored by its SHA-256): a name for the audit log, a role, and the
// agencies it is limited to (empty: every agency); an optional expiry; revoked by id.
struct ApiTokenRecord {
  std::string name;
  std::string role;
  std::vector<std::string> agencies;
  int64_t id = 0;
  Timestamp created{};
  Timestamp expires{};  // 0: never
  Timestamp revoked{};  // 0: not revoked
  std::string created_by{};
  bool bootstrap = false;  // the admin token `vigil-collector init` made
  bool active(Timestamp now) const { return revoked.ns == 0 && (expires.ns == 0 || now < expires); }
};

// A local user of the console. `password` is the encoded PBKDF2 hash (collector/api/password.h),
// never the password itself. `agencies` empty: every agency.
struct UserRecord {
  std::string name;
  std::string password;
  std::string role;  // admin | analyst | auditor
  std::vector<std::string> agencies;
  bool disabled = false;
  Timestamp created{};
};

// A login session, stored by the SHA-256 of its token.
struct SessionRecord {
  std::string user;
  Timestamp created{};
  Timestamp last_used{};
};

// One line of the audit log: who did what to which target, and how.
struct AuditEntry {
  int64_t id = 0;
  Timestamp time{};
  std::string who;
  std::string action;  // e.g. alert.status, agent.revoke, user.add, login.failure
  std::string target;
  std::string detail;
};

// Failed logins under one key ("user:NAME" or "addr:IP"): how many since they were last forgotten,
// and the last one's time. Kept in the database, so every collector sharing it sees them.
struct LoginFailures {
  int64_t failures = 0;
  Timestamp last{};
};

// Newest first; `before_id` pages; empty means "any".
struct AuditFilter {
  std::string who;
  std::string action;
  int64_t before_id = 0;
  int limit = 100;
};

// Who may use the console and the API, and what they did.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // API tokens of operators, by hash. add_api_token returns the new token's id (`created` 0: now).
  // api_token finds revoked and expired tokens too: the caller judges with active().
  virtual Result<int64_t> add_api_token(const std::string& token_hash, const ApiTokenRecord& token) = 0;
  virtual Result<std::optional<ApiTokenRecord>> api_token(const std::string& token_hash) = 0;
  // Every token, newest first (no hashes).
  virtual Result<std::vector<ApiTokenRecord>> list_api_tokens() = 0;
  // false when the token is unknown or already revoked.
  virtual Result<bool> revoke_api_token(int64_t id, Timestamp when) = 0;
  // The admin token `init` made (its hash): added once (a token revoked stays revoked), and every
  // other bootstrap token still active is revoked, so `init --force` retires the old one.
  // Returns how many were retired.
  virtual Result<uint64_t> import_bootstrap_token(const std::string& token_hash, Timestamp now) = 0;

  // Local users. add_user is false when the name is taken; the others when it is unknown.
  virtual Result<bool> add_user(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> get_user(const std::string& name) = 0;
  virtual Result<std::vector<UserRecord>> list_users() = 0;
  // Disabling a user or changing the password also ends every session of the user.
  virtual Result<bool> set_user_disabled(const std::string& name, bool disabled) = 0;
  virtual Result<bool> set_user_password(const std::string& name, const std::string& encoded) = 0;

  // Sessions by token hash. get_session does not check expiry; the caller decides with the times.
  virtual Result<void> add_session(const std::string& token_hash, const SessionRecord& session) = 0;
  virtual Result<std::optional<SessionRecord>> get_session(const std::string& token_hash) = 0;
  virtual Result<void> touch_session(const std::string& token_hash, Timestamp now) = 0;
  virtual Result<bool> delete_session(const std::string& token_hash) = 0;
  // Drops sessions created before `created_before` or unused since `used_before`; returns how many.
  virtual Result<uint64_t> expire_sessions(Timestamp created_before, Timestamp used_before) = 0;

  // Failed logins (collector/api/console_api.h judges the lock from them). count_login_failures
  // counts one failure at `now` under each key, in one transaction that first drops every key
  // whose last failure is older than `forget_before` (its count starts again from one) and then,
  // past `max_keys`, the keys that failed longest ago; it returns how many the cap dropped.
  virtual Result<LoginFailures> login_failures(const std::string& key) = 0;
  virtual Result<uint64_t> count_login_failures(const std::vector<std::string>& keys, Timestamp now,
                                                Timestamp forget_before, uint64_t max_keys) = 0;
  virtual Result<void> clear_login_failures(const std::string& key) = 0;

  virtual Result<void> add_audit(const AuditEntry& entry) = 0;
  virtual Result<std::vector<AuditEntry>> list_audit(const AuditFilter& filter) = 0;
};

}  // namespace vigil::collector
