#include "collector/store/fleet_sql.h"

#include <string>

namespace vigil::collector {

namespace {

const char* bytes(const SqlConnection& c) { return c.dialect() == SqlDialect::postgres ? " COLLATE \"C\"" : ""; }

constexpr const char* kGroupColumns =
    "SELECT g.name, g.description, g.created_at, "
    "COALESCE((SELECT MAX(b.version) FROM bundles b WHERE b.group_name = g.name), 0), "
    "(SELECT COUNT(*) FROM agents a WHERE a.group_name = g.name AND a.status = 'active') "
    "FROM agent_groups g ";

GroupRecord group_from(const SqlRows& r, size_t i) {
  GroupRecord g;
  g.name = r.text(i, 0);
  g.description = r.text(i, 1);
  g.created = Timestamp{r.integer(i, 2)};
  g.version = r.integer(i, 3);
  g.agents = r.integer(i, 4);
  return g;
}

constexpr const char* kBundleColumns =
    "SELECT group_name, version, sha256, signature, author, message, created_at, rollback_of, content FROM bundles ";
constexpr const char* kBundleListColumns =
    "SELECT group_name, version, sha256, signature, author, message, created_at, rollback_of FROM bundles ";

BundleRecord bundle_from(const SqlRows& r, size_t i, bool with_content) {
  BundleRecord b;
  b.group = r.text(i, 0);
  b.version = r.integer(i, 1);
  b.sha256 = r.text(i, 2);
  b.signature = r.text(i, 3);
  b.author = r.text(i, 4);
  b.message = r.text(i, 5);
  b.created = Timestamp{r.integer(i, 6)};
  b.rollback_of = r.integer(i, 7);
  if (with_content) b.content = r.text(i, 8);
  return b;
}

Result<std::optional<BundleRecord>> one_bundle(SqlConnection& c, const std::string& sql, const SqlParams& p) {
  using Out = std::optional<BundleRecord>;
  auto r = c.run(sql.c_str(), p);
  if (!r) return make_error(r.error());
  if (r->empty()) return Out();
  return Out(bundle_from(*r, 0, true));
}

}  // namespace

Result<bool> SqlFleetStore::add_group(const std::string& name, const std::string& description) {
  return database().query<bool>("add_group", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run("INSERT INTO agent_groups(name, description, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                   SqlParams().text(name).text(description).integer(Timestamp::now().ns));
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

Result<std::vector<GroupRecord>> SqlFleetStore::list_groups() {
  using Out = std::vector<GroupRecord>;
  return database().query<Out>("list_groups", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql = std::string(kGroupColumns) + "ORDER BY g.name" + bytes(c);
    auto r = c.run(sql.c_str());
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(group_from(*r, i));
    return out;
  });
}

Result<std::optional<GroupRecord>> SqlFleetStore::get_group(const std::string& name) {
  using Out = std::optional<GroupRecord>;
  return database().query<Out>("get_group", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kGroupColumns) + "WHERE g.name = ?1";
    auto r = c.run(sql.c_str(), SqlParams().text(name));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    return Out(group_from(*r, 0));
  });
}

Result<bool> SqlFleetStore::set_agent_group(const std::string& agent_id, const std::string& group) {
  return database().query<bool>("set_agent_group", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run("UPDATE agents SET group_name = ?1 WHERE id = ?2", SqlParams().text(group).text(agent_id));
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

Result<BundleRecord> SqlFleetStore::add_bundle(const std::string& group, const MakeBundle& make) {
  return database().transaction<BundleRecord>("add_bundle", [&](SqlConnection& c) -> Result<BundleRecord> {
    auto last = c.run("SELECT COALESCE(MAX(version), 0) FROM bundles WHERE group_name = ?1", SqlParams().text(group));
    if (!last) return make_error(last.error());
    auto b = make(last->integer(0, 0) + 1);
    if (!b) return make_error(b.error());
    SqlParams p;
    p.text(b->group).integer(b->version).text(b->sha256).text(b->signature).text(b->content).text(b->author);
    p.text(b->message).integer(b->created.ns).integer(b->rollback_of);
    auto r = c.run(
        "INSERT INTO bundles(group_name, version, sha256, signature, content, author, message, created_at, rollback_of)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        p);
    if (!r) return make_error(r.error());
    return std::move(*b);
  });
}

Result<int64_t> SqlFleetStore::bundle_version(const std::string& group) {
  return database().query<int64_t>("bundle_version", [&](SqlConnection& c) -> Result<int64_t> {
    auto r = c.run("SELECT COALESCE(MAX(version), 0) FROM bundles WHERE group_name = ?1", SqlParams().text(group));
    if (!r) return make_error(r.error());
    return r->integer(0, 0);
  });
}

Result<std::optional<BundleRecord>> SqlFleetStore::current_bundle(const std::string& group) {
  using Out = std::optional<BundleRecord>;
  return database().query<Out>("current_bundle", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kBundleColumns) + "WHERE group_name = ?1 ORDER BY version DESC LIMIT 1";
    return one_bundle(c, sql, SqlParams().text(group));
  });
}

Result<std::optional<BundleRecord>> SqlFleetStore::get_bundle(const std::string& group, int64_t version) {
  using Out = std::optional<BundleRecord>;
  return database().query<Out>("get_bundle", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kBundleColumns) + "WHERE group_name = ?1 AND version = ?2";
    return one_bundle(c, sql, SqlParams().text(group).integer(version));
  });
}

Result<std::vector<BundleRecord>> SqlFleetStore::list_bundles(const std::string& group) {
  using Out = std::vector<BundleRecord>;
  return database().query<Out>("list_bundles", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kBundleListColumns) + "WHERE group_name = ?1 ORDER BY version DESC";
    auto r = c.run(sql.c_str(), SqlParams().text(group));
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(bundle_from(*r, i, false));
    return out;
  });
}

Result<void> SqlFleetStore::set_bundle_status(const std::string& agent_id, const BundleStatus& s,
                                              const std::string& agent_version) {
  return database().with_connection("set_bundle_status", [&](SqlConnection& c) -> Result<void> {
    auto r = c.run(
        "UPDATE agents SET bundle_group = ?1, bundle_version = ?2, bundle_applied_at = ?3, bundle_error = ?4,"
        " version = CASE WHEN ?5 = '' THEN version ELSE ?5 END WHERE id = ?6",
        SqlParams()
            .text(s.group)
            .integer(s.version)
            .integer(s.applied_at.ns)
            .text(s.error)
            .text(agent_version)
            .text(agent_id));
    if (!r) return make_error(r.error());
    return {};
  });
}

}  // namespace vigil::collector
