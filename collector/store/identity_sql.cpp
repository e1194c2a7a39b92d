#include "collector/store/identity_sql.h"

#include <algorithm>

#include "collector/store/common_sql.h"
#include "collector/store/records.h"

namespace vigil::collector {

namespace {

constexpr const char* kApiTokenColumns =
    "SELECT name, role, agencies, id, created_at, expires_at, revoked_at, created_by, bootstrap FROM api_tokens ";

ApiTokenRecord api_token_from(const SqlRows& r, size_t i) {
  ApiTokenRecord t{r.text(i, 0), r.text(i, 1), split_lines(r.text(i, 2))};
  t.id = r.integer(i, 3);
  t.created = Timestamp{r.integer(i, 4)};
  t.expires = Timestamp{r.integer(i, 5)};
  t.revoked = Timestamp{r.integer(i, 6)};
  t.created_by = r.text(i, 7);
  t.bootstrap = r.boolean(i, 8);
  return t;
}

constexpr const char* kUserColumns = "SELECT name, password, role, agencies, disabled, created_at FROM users ";

UserRecord user_from(const SqlRows& r, size_t i) {
  UserRecord u;
  u.name = r.text(i, 0);
  u.password = r.text(i, 1);
  u.role = r.text(i, 2);
  u.agencies = split_lines(r.text(i, 3));
  u.disabled = r.boolean(i, 4);
  u.created = Timestamp{r.integer(i, 5)};
  return u;
}

// Adds a token and returns its id; with `keep_existing` (the bootstrap token) a token already
// stored under the hash stays as it is and the answer is 0. SQLite numbers ids itself (the store
// has one writer); PostgreSQL's come from the column's sequence, safe across collectors.
Result<int64_t> insert_api_token(SqlConnection& c, const std::string& hash, const ApiTokenRecord& t,
                                 bool keep_existing) {
  std::string sql =
      "INSERT INTO api_tokens(hash, role, name, agencies, created_at, expires_at, created_by, bootstrap";
  sql += c.dialect() == SqlDialect::sqlite
             ? ", id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, (SELECT COALESCE(MAX(id), 0) + 1 FROM api_tokens))"
             : ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
  if (keep_existing) sql += " ON CONFLICT (hash) DO NOTHING";
  sql += " RETURNING id";
  SqlParams p;
  p.text(hash).text(t.role).text(t.name).text(join_lines(t.agencies));
  p.integer(t.created.ns != 0 ? t.created.ns : Timestamp::now().ns).integer(t.expires.ns).text(t.created_by);
  p.boolean(t.bootstrap);
  auto r = c.run(sql.c_str(), p);
  if (!r) return make_error(r.error());
  return r->empty() ? int64_t{0} : r->integer(0, 0);
}

}  // namespace

Result<int64_t> SqlIdentityStore::add_api_token(const std::string& hash, const ApiTokenRecord& t) {
  return database().query<int64_t>("add_api_token",
                                   [&](SqlConnection& c) { return insert_api_token(c, hash, t, false); });
}

Result<std::optional<ApiTokenRecord>> SqlIdentityStore::api_token(const std::string& hash) {
  using Out = std::optional<ApiTokenRecord>;
  return database().query<Out>("api_token", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kApiTokenColumns) + "WHERE hash = ?1";
    auto r = c.run(sql.c_str(), SqlParams().text(hash));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    return Out(api_token_from(*r, 0));
  });
}

Result<std::vector<ApiTokenRecord>> SqlIdentityStore::list_api_tokens() {
  using Out = std::vector<ApiTokenRecord>;
  return database().query<Out>("list_api_tokens", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kApiTokenColumns) + "ORDER BY id DESC LIMIT 10000";
    auto r = c.run(sql.c_str());
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(api_token_from(*r, i));
    return out;
  });
}

Result<bool> SqlIdentityStore::revoke_api_token(int64_t id, Timestamp when) {
  return database().query<bool>("revoke_api_token", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run("UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at = 0",
                   SqlParams().integer(when.ns).integer(id));
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

Result<uint64_t> SqlIdentityStore::import_bootstrap_token(const std::string& hash, Timestamp now) {
  return database().transaction<uint64_t>("import_bootstrap_token", [&](SqlConnection& c) -> Result<uint64_t> {
    ApiTokenRecord t{"init", "admin", {}};
    t.created = now;
    t.created_by = "vigil-collector init";
    t.bootstrap = true;
    auto added = insert_api_token(c, hash, t, true);
    if (!added) return make_error(added.error());
    auto r = c.run("UPDATE api_tokens SET revoked_at = ?1 WHERE bootstrap = ?3 AND revoked_at = 0 AND hash <> ?2",
                   SqlParams().integer(now.ns).text(hash).boolean(true));
    if (!r) return make_error(r.error());
    return r->changed;
  });
}

Result<bool> SqlIdentityStore::add_user(const UserRecord& u) {
  return database().query<bool>("add_user", [&](SqlConnection& c) -> Result<bool> {
    SqlParams p;
    p.text(u.name).text(u.password).text(u.role).text(join_lines(u.agencies)).boolean(u.disabled);
    p.integer((u.created.ns ? u.created : Timestamp::now()).ns);
    auto r = c.run(
        "INSERT INTO users(name, password, role, agencies, disabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT (name) DO NOTHING",
        p);
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

Result<std::optional<UserRecord>> SqlIdentityStore::get_user(const std::string& name) {
  using Out = std::optional<UserRecord>;
  return database().query<Out>("get_user", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kUserColumns) + "WHERE name = ?1";
    auto r = c.run(sql.c_str(), SqlParams().text(name));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    return Out(user_from(*r, 0));
  });
}

Result<std::vector<UserRecord>> SqlIdentityStore::list_users() {
  using Out = std::vector<UserRecord>;
  return database().query<Out>("list_users", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kUserColumns) + "ORDER BY name";
    auto r = c.run(sql.c_str());
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(user_from(*r, i));
    return out;
  });
}

// One transaction: the user's row changes and every session of the user ends.
Result<bool> SqlIdentityStore::update_user_ending_sessions(const char* op, const std::string& name, const char* sql,
                                                           const SqlParams& params) {
  return database().transaction<bool>(op, [&](SqlConnection& c) -> Result<bool> {
    auto u = c.run(sql, params);
    if (!u) return make_error(u.error());
    auto d = c.run("DELETE FROM sessions WHERE user_name = ?1", SqlParams().text(name));
    if (!d) return make_error(d.error());
    return u->changed > 0;
  });
}

Result<bool> SqlIdentityStore::set_user_disabled(const std::string& name, bool disabled) {
  return update_user_ending_sessions("set_user_disabled", name, "UPDATE users SET disabled = ?1 WHERE name = ?2",
                                     SqlParams().boolean(disabled).text(name));
}

Result<bool> SqlIdentityStore::set_user_password(const std::string& name, const std::string& encoded) {
  return update_user_ending_sessions("set_user_password", name, "UPDATE users SET password = ?1 WHERE name = ?2",
                                     SqlParams().text(encoded).text(name));
}

Result<void> SqlIdentityStore::add_session(const std::string& hash, const SessionRecord& session) {
  return database().with_connection("add_session", [&](SqlConnection& c) -> Result<void> {
    auto r = c.run("INSERT INTO sessions(hash, user_name, created_at, last_used) VALUES (?1, ?2, ?3, ?4)",
                   SqlParams().text(hash).text(session.user).integer(session.created.ns).integer(session.last_used.ns));
    if (!r) return make_error(r.error());
    return {};
  });
}

Result<std::optional<SessionRecord>> SqlIdentityStore::get_session(const std::string& hash) {
  using Out = std::optional<SessionRecord>;
  return database().query<Out>("get_session", [&](SqlConnection& c) -> Result<Out> {
    auto r = c.run("SELECT user_name, created_at, last_used FROM sessions WHERE hash = ?1", SqlParams().text(hash));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    return Out(SessionRecord{r->text(0, 0), Timestamp{r->integer(0, 1)}, Timestamp{r->integer(0, 2)}});
  });
}

Result<void> SqlIdentityStore::touch_session(const std::string& hash, Timestamp now) {
  return database().with_connection("touch_session", [&](SqlConnection& c) -> Result<void> {
    auto r = c.run("UPDATE sessions SET last_used = ?1 WHERE hash = ?2 AND last_used < ?1",
                   SqlParams().integer(now.ns).text(hash));
    if (!r) return make_error(r.error());
    return {};
  });
}

Result<bool> SqlIdentityStore::delete_session(const std::string& hash) {
  return database().query<bool>("delete_session", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run("DELETE FROM sessions WHERE hash = ?1", SqlParams().text(hash));
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

Result<uint64_t> SqlIdentityStore::expire_sessions(Timestamp created_before, Timestamp used_before) {
  return database().query<uint64_t>("expire_sessions", [&](SqlConnection& c) -> Result<uint64_t> {
    auto r = c.run("DELETE FROM sessions WHERE created_at < ?1 OR last_used < ?2",
                   SqlParams().integer(created_before.ns).integer(used_before.ns));
    if (!r) return make_error(r.error());
    return r->changed;
  });
}

Result<LoginFailures> SqlIdentityStore::login_failures(const std::string& key) {
  return database().query<LoginFailures>("login_failures", [&](SqlConnection& c) -> Result<LoginFailures> {
    auto r = c.run("SELECT failures, last_failure FROM login_failures WHERE key = ?1", SqlParams().text(key));
    if (!r) return make_error(r.error());
    if (r->empty()) return LoginFailures{};
    return LoginFailures{r->integer(0, 0), Timestamp{r->integer(0, 1)}};
  });
}

Result<uint64_t> SqlIdentityStore::count_login_failures(const std::vector<std::string>& keys, Timestamp now,
                                                        Timestamp forget_before, uint64_t max_keys) {
  return database().transaction<uint64_t>("count_login_failures", [&](SqlConnection& c) -> Result<uint64_t> {
    auto forget = c.run("DELETE FROM login_failures WHERE last_failure < ?1", SqlParams().integer(forget_before.ns));
    if (!forget) return make_error(forget.error());
    for (const auto& key : keys) {
      auto r = c.run(kCountLoginFailure, SqlParams().text(key).integer(now.ns).integer(forget_before.ns));
      if (!r) return make_error(r.error());
    }
    // The cap: every key at or past the (max_keys + 1)-th newest failure goes (nothing when fewer).
    auto capped = c.run(
        "DELETE FROM login_failures WHERE last_failure <= (SELECT last_failure FROM login_failures"
        " ORDER BY last_failure DESC LIMIT 1 OFFSET ?1)",
        SqlParams().integer(static_cast<int64_t>(max_keys)));
    if (!capped) return make_error(capped.error());
    return capped->changed;
  });
}

Result<void> SqlIdentityStore::clear_login_failures(const std::string& key) {
  return database().with_connection("clear_login_failures", [&](SqlConnection& c) -> Result<void> {
    auto r = c.run("DELETE FROM login_failures WHERE key = ?1", SqlParams().text(key));
    if (!r) return make_error(r.error());
    return {};
  });
}

Result<void> SqlIdentityStore::add_audit(const AuditEntry& e) {
  return database().with_connection("add_audit", [&](SqlConnection& c) -> Result<void> {
    SqlParams p;
    p.integer((e.time.ns ? e.time : Timestamp::now()).ns).text(e.who).text(e.action).text(e.target).text(e.detail);
    auto r = c.run("INSERT INTO audit(ts, who, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)", p);
    if (!r) return make_error(r.error());
    return {};
  });
}

Result<std::vector<AuditEntry>> SqlIdentityStore::list_audit(const AuditFilter& f) {
  using Out = std::vector<AuditEntry>;
  return database().query<Out>("list_audit", [&](SqlConnection& c) -> Result<Out> {
    SqlParams p;
    p.text_or_null(f.who).text_or_null(f.action).integer(f.before_id).integer(std::clamp(f.limit, 1, 10000));
    auto r = c.run(
        "SELECT id, ts, who, action, target, detail FROM audit WHERE (CAST(?1 AS TEXT) IS NULL OR who = ?1)"
        " AND (CAST(?2 AS TEXT) IS NULL OR action = ?2) AND (CAST(?3 AS BIGINT) = 0 OR id < ?3)"
        " ORDER BY id DESC LIMIT ?4",
        p);
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) {
      out.push_back({r->integer(i, 0), Timestamp{r->integer(i, 1)}, r->text(i, 2), r->text(i, 3), r->text(i, 4),
                     r->text(i, 5)});
    }
    return out;
  });
}

}  // namespace vigil::collector
