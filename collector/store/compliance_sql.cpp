#include "collector/store/compliance_sql.h"

#include "collector/store/common_sql.h"
#include "collector/store/records.h"

namespace vigil::collector {

namespace {

// The columns of compliance_latest and compliance_as_of, in this order.
ComplianceRow compliance_row(const SqlRows& r, size_t i) {
  ComplianceRow row;
  row.agent_id = r.text(i, 0);
  row.agency = r.text(i, 1);
  row.host = r.text(i, 2);
  row.agent_level = static_cast<int>(r.integer(i, 3));
  row.policy = r.text(i, 4);
  row.check_id = r.text(i, 5);
  row.title = r.text(i, 6);
  row.level = static_cast<int>(r.integer(i, 7));
  row.result = r.text(i, 8);
  row.controls = r.text(i, 9);
  row.evidence = r.text(i, 10);
  row.time = Timestamp{r.integer(i, 11)};
  row.remediation = r.text(i, 12);
  row.policy_version = r.text(i, 13);
  row.title_vi = r.text(i, 14);
  row.remediation_vi = r.text(i, 15);
  return row;
}

constexpr const char* kWaiverSelect =
    "SELECT id, agency, agent_id, policy, check_id, reason, accepted_by, created_by, created_at, expires_at,"
    " ended_at, ended_by FROM waivers";

WaiverRecord waiver_row(const SqlRows& r, size_t i) {
  WaiverRecord w;
  w.id = r.integer(i, 0);
  w.agency = r.text(i, 1);
  w.agent_id = r.text(i, 2);
  w.policy = r.text(i, 3);
  w.check_id = r.text(i, 4);
  w.reason = r.text(i, 5);
  w.accepted_by = r.text(i, 6);
  w.created_by = r.text(i, 7);
  w.created = Timestamp{r.integer(i, 8)};
  w.expires = Timestamp{r.integer(i, 9)};
  w.ended = Timestamp{r.integer(i, 10)};
  w.ended_by = r.text(i, 11);
  return w;
}

bool postgres(const SqlConnection& c) { return c.dialect() == SqlDialect::postgres; }

// Agency, host, policy, check: text compared byte by byte, as SQLite does, whatever PostgreSQL's
// locale.
std::string compliance_order(const SqlConnection& c) {
  const char* b = postgres(c) ? " COLLATE \"C\"" : "";
  return std::string(" ORDER BY g.agency") + b + ", g.host" + b + ", c.policy" + b + ", c.check_id" + b;
}

}  // namespace

Result<void> store_compliance_result(SqlConnection& c, const std::string& agent_id, const IncomingRecord& rec) {
  const auto& k = *rec.check;
  // PostgreSQL: the row stays locked to the end of the batch's transaction, so a collector storing
  // a result of the same check waits; SQLite has one writer.
  std::string sql = "SELECT result, ts FROM compliance_latest WHERE agent_id = ?1 AND policy = ?2 AND check_id = ?3";
  if (postgres(c)) sql += " FOR UPDATE";
  auto prev = c.run(sql.c_str(), SqlParams().text(agent_id).text(k.policy).text(k.check_id));
  if (!prev) return make_error(prev.error());
  const bool exists = !prev->empty();
  if (exists && prev->integer(0, 1) > rec.time.ns) return {};  // an older result delivered late
  const bool is_change = !exists || prev->text(0, 0) != k.result;
  SqlParams p;
  p.text(agent_id).text(k.policy).text(k.check_id).text(k.title).integer(k.level).text(k.result);
  p.text(k.controls).text(k.evidence).integer(rec.time.ns).text(k.remediation).text(k.policy_version);
  p.text(k.title_vi).text(k.remediation_vi);
  auto up = c.run(
      "INSERT INTO compliance_latest(agent_id, policy, check_id, title, level, result, controls, evidence, ts,"
      " remediation, policy_version, title_vi, remediation_vi)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
      " ON CONFLICT (agent_id, policy, check_id) DO UPDATE SET"
      " title = excluded.title, level = excluded.level, result = excluded.result, controls = excluded.controls,"
      " evidence = excluded.evidence, ts = excluded.ts, remediation = excluded.remediation,"
      " policy_version = excluded.policy_version, title_vi = excluded.title_vi,"
      " remediation_vi = excluded.remediation_vi"
      // Checked again here: a row another collector inserted since the SELECT may be newer.
      " WHERE compliance_latest.ts <= excluded.ts",
      p);
  if (!up) return make_error(up.error());
  if (is_change) {
    auto h = c.run("INSERT INTO compliance_history(agent_id, policy, check_id, result, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
                   SqlParams().text(agent_id).text(k.policy).text(k.check_id).text(k.result).integer(rec.time.ns));
    if (!h) return make_error(h.error());
  }
  return {};
}

Result<std::vector<ComplianceRow>> SqlComplianceStore::compliance_latest(const std::string& agency) {
  using Out = std::vector<ComplianceRow>;
  return database().query<Out>("compliance_latest", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql =
        "SELECT c.agent_id, g.agency, g.host, g.level, c.policy, c.check_id, c.title, c.level, c.result,"
        " c.controls, c.evidence, c.ts, c.remediation, c.policy_version, c.title_vi, c.remediation_vi"
        " FROM compliance_latest c"
        " JOIN agents g ON g.id = c.agent_id"
        " WHERE (CAST(?1 AS TEXT) IS NULL OR g.agency = ?1)" +
        compliance_order(c);
    auto r = c.run(sql.c_str(), SqlParams().text_or_null(agency));
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(compliance_row(*r, i));
    return out;
  });
}

Result<std::vector<ComplianceRow>> SqlComplianceStore::compliance_as_of(const std::string& agency, Timestamp at) {
  using Out = std::vector<ComplianceRow>;
  return database().query<Out>("compliance_as_of", [&](SqlConnection& c) -> Result<Out> {
    // Each check's last change at or before `at`, with the check's current title, level and controls.
    const std::string sql =
        "SELECT c.agent_id, g.agency, g.host, g.level, c.policy, c.check_id, c.title, c.level, h.result,"
        " c.controls, '', h.ts, '', c.policy_version, c.title_vi, '' FROM compliance_history h"
        " JOIN (SELECT agent_id, policy, check_id, MAX(ts) AS ts FROM compliance_history WHERE ts <= ?2"
        "       GROUP BY agent_id, policy, check_id) m"
        "   ON m.agent_id = h.agent_id AND m.policy = h.policy AND m.check_id = h.check_id AND m.ts = h.ts"
        " JOIN compliance_latest c ON c.agent_id = h.agent_id AND c.policy = h.policy AND c.check_id = h.check_id"
        " JOIN agents g ON g.id = h.agent_id"
        " WHERE (CAST(?1 AS TEXT) IS NULL OR g.agency = ?1)" +
        compliance_order(c);
    auto r = c.run(sql.c_str(), SqlParams().text_or_null(agency).integer(at.ns));
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) {
      ComplianceRow row = compliance_row(*r, i);
      // Two changes in the same nanosecond would both be the latest; keep one.
      if (!out.empty() && out.back().agent_id == row.agent_id && out.back().policy == row.policy &&
          out.back().check_id == row.check_id) {
        continue;
      }
      out.push_back(std::move(row));
    }
    return out;
  });
}

Result<int64_t> SqlComplianceStore::add_waiver(const WaiverRecord& w) {
  return database().query<int64_t>("add_waiver", [&](SqlConnection& c) -> Result<int64_t> {
    SqlParams p;
    p.text(w.agency).text(w.agent_id).text(w.policy).text(w.check_id).text(w.reason).text(w.accepted_by);
    p.text(w.created_by).integer((w.created.ns ? w.created : Timestamp::now()).ns).integer(w.expires.ns);
    auto r = c.run(
        "INSERT INTO waivers(agency, agent_id, policy, check_id, reason, accepted_by, created_by, created_at,"
        " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        p);
    if (!r) return make_error(r.error());
    if (r->empty()) return make_error("the waiver was not stored");
    return r->integer(0, 0);
  });
}

Result<std::vector<WaiverRecord>> SqlComplianceStore::list_waivers(const WaiverFilter& f) {
  using Out = std::vector<WaiverRecord>;
  return database().query<Out>("list_waivers", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql = std::string(kWaiverSelect) +
                            " WHERE (CAST(?1 AS TEXT) IS NULL OR agency = ?1)"
                            " AND (CAST(?2 AS BIGINT) = 0 OR (ended_at = 0 AND expires_at > ?3))"
                            " AND (CAST(?4 AS TEXT) IS NULL OR " +
                            in_lines(postgres(c), "agency", "?4") + ") ORDER BY id DESC LIMIT 10000";
    SqlParams p;
    p.text_or_null(f.agency).integer(f.active_only ? 1 : 0).integer(f.now.ns).text_or_null(join_lines(f.agencies_in));
    auto r = c.run(sql.c_str(), p);
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(waiver_row(*r, i));
    return out;
  });
}

Result<std::optional<WaiverRecord>> SqlComplianceStore::get_waiver(int64_t id) {
  using Out = std::optional<WaiverRecord>;
  return database().query<Out>("get_waiver", [&](SqlConnection& c) -> Result<Out> {
    static const std::string sql = std::string(kWaiverSelect) + " WHERE id = ?1";
    auto r = c.run(sql.c_str(), SqlParams().integer(id));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    return Out(waiver_row(*r, 0));
  });
}

Result<bool> SqlComplianceStore::expire_waiver(int64_t id, Timestamp when, const std::string& who) {
  return database().query<bool>("expire_waiver", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run("UPDATE waivers SET ended_at = ?1, ended_by = ?2 WHERE id = ?3 AND ended_at = 0 AND expires_at > ?1",
                   SqlParams().integer(when.ns).text(who).integer(id));
    if (!r) return make_error(r.error());
    return r->changed > 0;
  });
}

}  // namespace vigil::collector
