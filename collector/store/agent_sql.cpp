#include "collector/store/agent_sql.h"

#include <map>
#include <string>

#include "collector/store/records.h"

namespace vigil::collector {

namespace {

constexpr const char* kAgentColumns =
    "SELECT id, agency, level, host, version, cert_serial, enrolled_at, last_seen, status, group_name, bundle_group,"
    " bundle_version, bundle_applied_at, bundle_error FROM agents ";

AgentRecord agent_from(const SqlRows& r, size_t i) {
  AgentRecord a;
  a.id = r.text(i, 0);
  a.agency = r.text(i, 1);
  a.level = static_cast<int>(r.integer(i, 2));
  a.host = r.text(i, 3);
  a.version = r.text(i, 4);
  a.cert_serial = r.text(i, 5);
  a.enrolled = Timestamp{r.integer(i, 6)};
  a.last_seen = Timestamp{r.integer(i, 7)};
  a.status = r.text(i, 8);
  a.group = r.text(i, 9);
  a.bundle_group = r.text(i, 10);
  a.bundle_version = r.integer(i, 11);
  a.bundle_applied_at = Timestamp{r.integer(i, 12)};
  a.bundle_error = r.text(i, 13);
  return a;
}

// Text sorted byte by byte, as SQLite does, whatever PostgreSQL's locale.
const char* bytes(const SqlConnection& c) { return c.dialect() == SqlDialect::postgres ? " COLLATE \"C\"" : ""; }

// For statements whose answer is whether they touched a row.
Result<bool> changed(SqlConnection& c, const char* sql, const SqlParams& p) {
  auto r = c.run(sql, p);
  if (!r) return make_error(r.error());
  return r->changed > 0;
}

Result<void> command(SqlConnection& c, const char* sql, const SqlParams& p) {
  auto r = c.run(sql, p);
  if (!r) return make_error(r.error());
  return {};
}

// The systems each agent serves (one agent, or all when `id` is empty), sorted by name.
Result<std::map<std::string, std::vector<std::string>>> systems_of(SqlConnection& c, const std::string& id) {
  const std::string sql = std::string("SELECT agent_id, system_name FROM agent_systems WHERE (CAST(?1 AS TEXT) IS NULL"
                                      " OR agent_id = ?1) ORDER BY agent_id, system_name") +
                          bytes(c);
  auto r = c.run(sql.c_str(), SqlParams().text_or_null(id));
  if (!r) return make_error(r.error());
  std::map<std::string, std::vector<std::string>> out;
  for (size_t i = 0; i < r->size(); ++i) out[r->text(i, 0)].push_back(r->text(i, 1));
  return out;
}

}  // namespace

Result<void> SqlAgentStore::ensure_agency(const std::string& name, const std::string& framework) {
  return database().with_connection("ensure_agency", [&](SqlConnection& c) {
    return command(c, "INSERT INTO agencies(name, framework, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                   SqlParams().text(name).text(framework).integer(Timestamp::now().ns));
  });
}

Result<void> SqlAgentStore::add_token(const std::string& hash, const TokenInfo& info, Timestamp expires) {
  return database().with_connection("add_token", [&](SqlConnection& c) {
    return command(c,
                   "INSERT INTO enroll_tokens(hash, agency, level, expires_at, group_name, systems)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                   SqlParams()
                       .text(hash)
                       .text(info.agency)
                       .integer(info.level)
                       .integer(expires.ns)
                       .text(info.group)
                       .text(join_lines(info.systems)));
  });
}

Result<TokenInfo> SqlAgentStore::consume_token(const std::string& hash, Timestamp now) {
  return database().query<TokenInfo>("consume_token", [&](SqlConnection& c) -> Result<TokenInfo> {
    // One statement: a token is used once even when two enrollments race for it (the row lock,
    // or SQLite's one writer, makes the second see used_at set).
    auto r = c.run(
        "UPDATE enroll_tokens SET used_at = ?1 WHERE hash = ?2 AND used_at IS NULL AND expires_at > ?1"
        " RETURNING agency, level, group_name, systems",
        SqlParams().integer(now.ns).text(hash));
    if (!r) return make_error(r.error());
    if (r->size() == 1) {
      return TokenInfo{r->text(0, 0), static_cast<int>(r->integer(0, 1)), r->text(0, 2), split_lines(r->text(0, 3))};
    }
    auto why = c.run("SELECT used_at, expires_at FROM enroll_tokens WHERE hash = ?1", SqlParams().text(hash));
    if (!why) return make_error(why.error());
    if (why->empty()) return make_error("unknown enrollment token");
    if (!why->is_null(0, 0)) return make_error("enrollment token already used");
    return make_error("enrollment token expired");
  });
}

Result<void> SqlAgentStore::add_agent(const AgentRecord& a) {
  return database().in_transaction("add_agent", [&](SqlConnection& c) -> Result<void> {
    SqlParams p;
    p.text(a.id).text(a.agency).integer(a.level).text(a.host).text(a.version).text(a.cert_serial);
    p.integer(a.enrolled.ns).integer(a.last_seen.ns).text(a.status).text(a.group);
    auto r = command(c,
                     "INSERT INTO agents(id, agency, level, host, version, cert_serial, enrolled_at, last_seen, status,"
                     " group_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                     p);
    if (!r) return r;
    for (const auto& s : a.systems) {
      // A system removed since the token was made is skipped, not a reason to refuse the agent.
      r = command(c,
                  "INSERT INTO agent_systems(agent_id, system_name) SELECT ?1, name FROM systems WHERE name = ?2"
                  " ON CONFLICT DO NOTHING",
                  SqlParams().text(a.id).text(s));
      if (!r) return r;
    }
    return {};
  });
}

Result<std::optional<AgentRecord>> SqlAgentStore::get_agent(const std::string& id) {
  using Out = std::optional<AgentRecord>;
  return database().query<Out>("get_agent", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kAgentColumns) + "WHERE id = ?1";
    auto r = c.run(sql.c_str(), SqlParams().text(id));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    AgentRecord a = agent_from(*r, 0);
    auto systems = systems_of(c, id);
    if (!systems) return make_error(systems.error());
    a.systems = std::move((*systems)[id]);
    return Out(std::move(a));
  });
}

Result<std::vector<AgentRecord>> SqlAgentStore::list_agents() {
  using Out = std::vector<AgentRecord>;
  return database().query<Out>("list_agents", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql = std::string(kAgentColumns) + "ORDER BY agency" + bytes(c) + ", host" + bytes(c) +
                            ", id" + bytes(c);
    auto r = c.run(sql.c_str());
    if (!r) return make_error(r.error());
    auto systems = systems_of(c, "");
    if (!systems) return make_error(systems.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) {
      out.push_back(agent_from(*r, i));
      if (auto it = systems->find(out.back().id); it != systems->end()) out.back().systems = std::move(it->second);
    }
    return out;
  });
}

Result<void> SqlAgentStore::touch_agent(const std::string& id, Timestamp now) {
  return database().with_connection("touch_agent", [&](SqlConnection& c) {
    return command(c, "UPDATE agents SET last_seen = ?1 WHERE id = ?2 AND last_seen < ?1",
                   SqlParams().integer(now.ns).text(id));
  });
}

Result<bool> SqlAgentStore::revoke_agent(const std::string& id) {
  // One transaction, so the agent's status and its serial's revocation change together.
  return database().transaction<bool>("revoke_agent", [&](SqlConnection& c) -> Result<bool> {
    auto a = c.run("UPDATE agents SET status = 'revoked' WHERE id = ?1 RETURNING cert_serial", SqlParams().text(id));
    if (!a) return make_error(a.error());
    if (a->empty()) return false;
    auto r = c.run("INSERT INTO revocations(serial, agent_id, revoked_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                   SqlParams().text(a->text(0, 0)).text(id).integer(Timestamp::now().ns));
    if (!r) return make_error(r.error());
    return true;
  });
}

Result<bool> SqlAgentStore::is_revoked(const std::string& serial) {
  return database().query<bool>("is_revoked", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run("SELECT 1 FROM revocations WHERE serial = ?1", SqlParams().text(serial));
    if (!r) return make_error(r.error());
    return !r->empty();
  });
}

Result<bool> SqlAgentStore::replace_agent_cert(const std::string& id, const std::string& old_serial,
                                               const std::string& new_serial) {
  return database().query<bool>("replace_agent_cert", [&](SqlConnection& c) {
    return changed(c, "UPDATE agents SET cert_serial = ?1 WHERE id = ?2 AND cert_serial = ?3 AND status = 'active'",
                   SqlParams().text(new_serial).text(id).text(old_serial));
  });
}

Result<std::vector<AgencyRecord>> SqlAgentStore::list_agencies() {
  using Out = std::vector<AgencyRecord>;
  return database().query<Out>("list_agencies", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql = std::string("SELECT name, framework FROM agencies ORDER BY name") + bytes(c);
    auto r = c.run(sql.c_str());
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back({r->text(i, 0), r->text(i, 1)});
    return out;
  });
}

Result<bool> SqlAgentStore::set_agency_framework(const std::string& name, const std::string& framework) {
  return database().query<bool>("set_agency_framework", [&](SqlConnection& c) {
    return changed(c, "UPDATE agencies SET framework = ?1 WHERE name = ?2", SqlParams().text(framework).text(name));
  });
}

Result<bool> SqlAgentStore::set_agent_level(const std::string& id, int level) {
  return database().query<bool>("set_agent_level", [&](SqlConnection& c) {
    return changed(c, "UPDATE agents SET level = ?1 WHERE id = ?2", SqlParams().integer(level).text(id));
  });
}

}  // namespace vigil::collector
