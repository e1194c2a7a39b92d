#include "collector/store/incident_sql.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "collector/store/common_sql.h"

namespace vigil::collector {

namespace {

bool postgres(const SqlConnection& c) { return c.dialect() == SqlDialect::postgres; }

constexpr const char* kIncidentColumns =
    "SELECT i.id, i.title, i.severity, i.status, i.assignee, i.created_by, i.created_at, i.detected_at,"
    " i.notify_within, i.report_within, i.notified_at, i.reported_at, i.updated_at,"
    " (SELECT COUNT(*) FROM incident_alerts ia WHERE ia.incident_id = i.id) FROM incidents i ";

IncidentRecord incident_from(const SqlRows& r, size_t i) {
  IncidentRecord out;
  out.id = r.integer(i, 0);
  out.title = r.text(i, 1);
  out.severity = static_cast<int>(r.integer(i, 2));
  out.status = r.text(i, 3);
  out.assignee = r.text(i, 4);
  out.created_by = r.text(i, 5);
  out.created_at = Timestamp{r.integer(i, 6)};
  out.detected_at = Timestamp{r.integer(i, 7)};
  out.notify_within_ns = r.integer(i, 8);
  out.report_within_ns = r.integer(i, 9);
  out.notified_at = Timestamp{r.integer(i, 10)};
  out.reported_at = Timestamp{r.integer(i, 11)};
  out.updated_at = Timestamp{r.integer(i, 12)};
  out.alert_count = r.integer(i, 13);
  return out;
}

Result<void> add_entry(SqlConnection& c, int64_t id, const IncidentEntry& e) {
  auto r = c.run("INSERT INTO incident_timeline(incident_id, ts, who, action, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                 SqlParams().integer(id).integer(e.time.ns).text(e.who).text(e.action).text(e.value));
  if (!r) return make_error(r.error());
  return {};
}

// The alert as it is now, kept with the incident; false when the incident already holds it.
Result<bool> add_alert(SqlConnection& c, int64_t id, const AlertRecord& a, const std::string& who, Timestamp now) {
  auto r = c.run(
      "INSERT INTO incident_alerts(incident_id, alert_id, ts, severity, rule_id, rule_name, agent_id, host, agency,"
      " source_ip, user_name, evidence, added_at, added_by, rule_name_vi) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
      " ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT DO NOTHING",
      SqlParams()
          .integer(id)
          .integer(a.id)
          .integer(a.time.ns)
          .integer(a.severity)
          .text(a.rule_id)
          .text(a.rule_name)
          .text(a.agent_id)
          .text(a.host)
          .text(a.agency)
          .text(a.entity.source_ip)
          .text(a.entity.user_name)
          .text(a.evidence)
          .integer(now.ns)
          .text(who)
          .text(a.rule_name_vi));
  if (!r) return make_error(r.error());
  return r->changed > 0;
}

// Whether the incident exists (on PostgreSQL it stays as it is until the transaction ends).
Result<bool> lock_incident(SqlConnection& c, int64_t id) {
  const char* sql = postgres(c) ? "SELECT id FROM incidents WHERE id = ?1 FOR UPDATE" : "SELECT id FROM incidents WHERE id = ?1";
  auto r = c.run(sql, SqlParams().integer(id));
  if (!r) return make_error(r.error());
  return !r->empty();
}

}  // namespace

Result<int64_t> SqlIncidentStore::create_incident(const NewIncident& n) {
  if (n.alerts.empty()) return make_error("an incident needs at least one alert");
  Timestamp detected = n.alerts.front().time;
  for (const auto& a : n.alerts) detected = Timestamp{std::min(detected.ns, a.time.ns)};
  return database().transaction<int64_t>("create_incident", [&](SqlConnection& c) -> Result<int64_t> {
    auto r = c.run(
        "INSERT INTO incidents(title, severity, status, assignee, created_by, created_at, detected_at, notify_within,"
        " report_within, updated_at) VALUES (?1, ?2, 'open', '', ?3, ?4, ?5, ?6, ?7, ?4) RETURNING id",
        SqlParams()
            .text(n.title)
            .integer(n.severity)
            .text(n.created_by)
            .integer(n.now.ns)
            .integer(detected.ns)
            .integer(n.notify_within_ns)
            .integer(n.report_within_ns));
    if (!r) return make_error(r.error());
    if (r->empty()) return make_error("the incident was not stored");
    const int64_t id = r->integer(0, 0);
    if (auto e = add_entry(c, id, {n.now, n.created_by, "created", n.title}); !e) return make_error(e.error());
    for (const auto& a : n.alerts) {
      auto added = add_alert(c, id, a, n.created_by, n.now);
      if (!added) return make_error(added.error());
      if (!*added) continue;  // the same alert named twice
      if (auto e = add_entry(c, id, {n.now, n.created_by, "alert", std::to_string(a.id)}); !e) return make_error(e.error());
    }
    return id;
  });
}

Result<std::vector<IncidentRecord>> SqlIncidentStore::list_incidents(const IncidentFilter& f) {
  using Out = std::vector<IncidentRecord>;
  return database().query<Out>("list_incidents", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql =
        std::string(kIncidentColumns) +
        "WHERE (CAST(?1 AS TEXT) IS NULL OR i.status = ?1)"
        " AND (CAST(?2 AS BIGINT) = 0 OR i.status <> 'reported')"
        " AND (CAST(?3 AS BIGINT) = 0 OR i.id < ?3)"
        " AND (CAST(?4 AS TEXT) IS NULL OR NOT EXISTS (SELECT 1 FROM incident_alerts ia WHERE ia.incident_id = i.id"
        " AND NOT (" +
        in_lines(postgres(c), "ia.agency", "?4") + ")))" + " ORDER BY i.id DESC LIMIT ?5";
    auto r = c.run(sql.c_str(), SqlParams()
                                    .text_or_null(f.status)
                                    .integer(f.open_only ? 1 : 0)
                                    .integer(f.before_id)
                                    .text_or_null(join_lines(f.agencies_in))
                                    .integer(std::clamp(f.limit, 1, 1000)));
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) out.push_back(incident_from(*r, i));
    if (out.empty()) return out;
    // Their agencies and hosts, in one statement over the ids listed.
    auto places = c.run("SELECT DISTINCT incident_id, agency, host FROM incident_alerts WHERE incident_id >= ?1 AND incident_id <= ?2",
                        SqlParams().integer(out.back().id).integer(out.front().id));
    if (!places) return make_error(places.error());
    std::map<int64_t, std::pair<std::set<std::string>, std::set<std::string>>> by_id;
    for (size_t i = 0; i < places->size(); ++i) {
      auto& [agencies, hosts] = by_id[places->integer(i, 0)];
      agencies.insert(places->text(i, 1));
      hosts.insert(places->text(i, 2));
    }
    for (auto& inc : out) {
      auto it = by_id.find(inc.id);
      if (it == by_id.end()) continue;
      inc.agencies.assign(it->second.first.begin(), it->second.first.end());
      inc.hosts.assign(it->second.second.begin(), it->second.second.end());
    }
    return out;
  });
}

Result<std::optional<IncidentRecord>> SqlIncidentStore::get_incident(int64_t id) {
  using Out = std::optional<IncidentRecord>;
  return database().query<Out>("get_incident", [&](SqlConnection& c) -> Result<Out> {
    const std::string sql = std::string(kIncidentColumns) + "WHERE i.id = ?1";
    auto r = c.run(sql.c_str(), SqlParams().integer(id));
    if (!r) return make_error(r.error());
    if (r->empty()) return Out();
    IncidentRecord inc = incident_from(*r, 0);
    auto alerts = c.run(
        "SELECT alert_id, ts, severity, rule_id, rule_name, agent_id, host, agency, source_ip, user_name, evidence,"
        " added_at, added_by, rule_name_vi FROM incident_alerts WHERE incident_id = ?1 ORDER BY ts, alert_id",
        SqlParams().integer(id));
    if (!alerts) return make_error(alerts.error());
    std::set<std::string> agencies, hosts;
    for (size_t i = 0; i < alerts->size(); ++i) {
      IncidentAlert a;
      a.alert_id = alerts->integer(i, 0);
      a.time = Timestamp{alerts->integer(i, 1)};
      a.severity = static_cast<int>(alerts->integer(i, 2));
      a.rule_id = alerts->text(i, 3);
      a.rule_name = alerts->text(i, 4);
      a.agent_id = alerts->text(i, 5);
      a.host = alerts->text(i, 6);
      a.agency = alerts->text(i, 7);
      a.source_ip = alerts->text(i, 8);
      a.user_name = alerts->text(i, 9);
      a.evidence = alerts->text(i, 10);
      a.added_at = Timestamp{alerts->integer(i, 11)};
      a.added_by = alerts->text(i, 12);
      a.rule_name_vi = alerts->text(i, 13);
      agencies.insert(a.agency);
      hosts.insert(a.host);
      inc.alerts.push_back(std::move(a));
    }
    inc.agencies.assign(agencies.begin(), agencies.end());
    inc.hosts.assign(hosts.begin(), hosts.end());
    auto timeline = c.run("SELECT ts, who, action, value FROM incident_timeline WHERE incident_id = ?1 ORDER BY n",
                          SqlParams().integer(id));
    if (!timeline) return make_error(timeline.error());
    for (size_t i = 0; i < timeline->size(); ++i) {
      inc.timeline.push_back({Timestamp{timeline->integer(i, 0)}, timeline->text(i, 1), timeline->text(i, 2), timeline->text(i, 3)});
    }
    return Out(std::move(inc));
  });
}

Result<bool> SqlIncidentStore::add_incident_alert(int64_t id, const AlertRecord& alert, const std::string& who, Timestamp now) {
  return database().transaction<bool>("add_incident_alert", [&](SqlConnection& c) -> Result<bool> {
    auto exists = lock_incident(c, id);
    if (!exists || !*exists) return exists;
    auto added = add_alert(c, id, alert, who, now);
    if (!added || !*added) return added;
    // An earlier alert moves detection, and the reporting clock with it, earlier.
    auto u = c.run("UPDATE incidents SET detected_at = CASE WHEN ?1 < detected_at THEN ?1 ELSE detected_at END,"
                   " updated_at = ?2 WHERE id = ?3",
                   SqlParams().integer(alert.time.ns).integer(now.ns).integer(id));
    if (!u) return make_error(u.error());
    if (auto e = add_entry(c, id, {now, who, "alert", std::to_string(alert.id)}); !e) return make_error(e.error());
    return true;
  });
}

Result<bool> SqlIncidentStore::change_incident(int64_t id, const IncidentEntry& e) {
  const char* sql = nullptr;
  if (e.action == "status") {
    if (incident_status_rank(e.value) < 0) return make_error("unknown incident status '" + e.value + "'");
    // Forward only, checked in the statement itself: of two changes racing, a later status wins
    // and an earlier one changes nothing.
    sql = "UPDATE incidents SET status = ?1, updated_at = ?2,"
          " reported_at = CASE WHEN ?1 = 'reported' AND reported_at = 0 THEN ?2 ELSE reported_at END WHERE id = ?3"
          " AND (CASE status WHEN 'open' THEN 0 WHEN 'contained' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END) <"
          " (CASE ?1 WHEN 'open' THEN 0 WHEN 'contained' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END)";
  } else if (e.action == "assign") {
    sql = "UPDATE incidents SET assignee = ?1, updated_at = ?2 WHERE id = ?3";
  } else if (e.action == "notified") {
    // Once: a second record of the first notification changes nothing.
    sql = "UPDATE incidents SET notified_at = ?2, updated_at = ?2 WHERE id = ?3 AND notified_at = 0"
          " AND CAST(?1 AS TEXT) IS NOT NULL";
  } else if (e.action != "comment") {
    return make_error("unknown incident change '" + e.action + "'");
  }
  return database().transaction<bool>("change_incident", [&](SqlConnection& c) -> Result<bool> {
    if (sql) {
      auto u = c.run(sql, SqlParams().text(e.value).integer(e.time.ns).integer(id));
      if (!u) return make_error(u.error());
      if (u->changed == 0) return false;
    } else {
      auto exists = lock_incident(c, id);
      if (!exists || !*exists) return exists;
      auto u = c.run("UPDATE incidents SET updated_at = ?1 WHERE id = ?2", SqlParams().integer(e.time.ns).integer(id));
      if (!u) return make_error(u.error());
    }
    if (auto r = add_entry(c, id, e); !r) return make_error(r.error());
    return true;
  });
}

Result<bool> SqlIncidentStore::claim_overdue_notice(int64_t id, int which) {
  return database().query<bool>("claim_overdue_notice", [&](SqlConnection& c) -> Result<bool> {
    auto u = c.run("UPDATE incidents SET overdue_notices = overdue_notices | ?1 WHERE id = ?2 AND (overdue_notices & ?1) = 0",
                   SqlParams().integer(which).integer(id));
    if (!u) return make_error(u.error());
    return u->changed > 0;
  });
}

}  // namespace vigil::collector
