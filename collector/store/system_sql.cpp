#include "collector/store/system_sql.h"

#include <string>

namespace vigil::collector {

namespace {

const char* bytes(const SqlConnection& c) { return c.dialect() == SqlDialect::postgres ? " COLLATE \"C\"" : ""; }

constexpr const char* kSystemColumns =
    "SELECT s.name, s.agency, s.level, s.description, s.created_at,"
    " (SELECT COUNT(*) FROM agent_systems m JOIN agents a ON a.id = m.agent_id"
    "  WHERE m.system_name = s.name AND a.status = 'active') FROM systems s ";

SystemRecord system_from(const SqlRows& r, size_t i) {
  SystemRecord s;
  s.name = r.text(i, 0);
  s.agency = r.text(i, 1);
  s.level = static_cast<int>(r.integer(i, 2));
  s.description = r.text(i, 3);
  s.created = Timestamp{r.integer(i, 4)};
  s.agents = r.integer(i, 5);
  return s;
}

}  // namespace

Result<bool> SqlSystemStore::add_system(const SystemRecord& s) {
  return database().query<bool>("add_system", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run(
        "INSERT INTO systems(name, agency, level, description, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT DO NOTHING",
        SqlParams().text(s.name).text(s.agency).integer(s.level).text(s.description).integer(Timestamp::now().ns));
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

Result<std::vector<SystemRecord>> SqlSystemStore::list_systems() {
  using Out = std::vector<SystemRecord>;
  return database().query<Out>("list_systems", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql = std::string(kSystemColumns) + "ORDER BY s.agency" + bytes(c) + ", s.name" + bytes(c);
    auto r = c.run(sql.c_str());
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(system_from(*r, i));
    return out;
  });
}

Result<std::optional<SystemRecord>> SqlSystemStore::get_system(const std::string& name) {
  using Out = std::optional<SystemRecord>;
  return database().query<Out>("get_system", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql = std::string(kSystemColumns) + "WHERE s.name = ?1";
    auto r = c.run(sql.c_str(), SqlParams().text(name));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    return Out(system_from(*r, 0));
  });
}

Result<bool> SqlSystemStore::update_system(const std::string& name, std::optional<int> level,
                                           std::optional<std::string> description) {
  return database().query<bool>("update_system", [&](SqlConnection& c) -> Result<bool> {
    SqlParams p;
    p.text(name);
    if (level) {
      p.integer(*level);
    } else {
      p.null();
    }
    p.text_or_null(description.value_or(std::string()));
    p.integer(description ? 1 : 0);
    auto r = c.run(
        "UPDATE systems SET level = COALESCE(CAST(?2 AS BIGINT), level),"
        " description = CASE WHEN CAST(?4 AS BIGINT) = 1 THEN COALESCE(CAST(?3 AS TEXT), '') ELSE description END"
        " WHERE name = ?1",
        p);
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

Result<bool> SqlSystemStore::set_agent_systems(const std::string& agent_id, const std::vector<std::string>& systems) {
  return database().transaction<bool>("set_agent_systems", [&](SqlConnection& c) -> Result<bool> {
    const char* lock = c.dialect() == SqlDialect::postgres ? "SELECT id FROM agents WHERE id = ?1 FOR UPDATE"
                                                           : "SELECT id FROM agents WHERE id = ?1";
    auto a = c.run(lock, SqlParams().text(agent_id));
    if (!a) return make_error(a.error());
    if (a->empty()) return false;
    auto d = c.run("DELETE FROM agent_systems WHERE agent_id = ?1", SqlParams().text(agent_id));
    if (!d) return make_error(d.error());
    for (const auto& s : systems) {
      auto r = c.run("INSERT INTO agent_systems(agent_id, system_name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                     SqlParams().text(agent_id).text(s));
      if (!r) return make_error(r.error());
    }
    return true;
  });
}

}  // namespace vigil::collector
