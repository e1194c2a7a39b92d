#include "collector/store/triage_sql.h"

#include <string>

namespace vigil::collector {

Result<std::vector<AlertChange>> SqlTriageStore::alert_history(int64_t id) {
  using Out = std::vector<AlertChange>;
  return database().query<Out>("alert_history", [&](SqlConnection& c) -> Result<Out> {
    // In the order they were made: time, then the order of insertion.
    const char* sql = c.dialect() == SqlDialect::postgres
                          ? "SELECT ts, who, action, value FROM alert_history WHERE alert_id = ?1 ORDER BY ts, n"
                          : "SELECT ts, who, action, value FROM alert_history WHERE alert_id = ?1 ORDER BY ts, rowid";
    auto r = c.run(sql, SqlParams().integer(id));
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) {
      out.push_back({Timestamp{r->integer(i, 0)}, r->text(i, 1), r->text(i, 2), r->text(i, 3)});
    }
    return out;
  });
}

Result<bool> SqlTriageStore::change_alert(int64_t id, const AlertChange& change) {
  const char* sql = nullptr;
  if (change.action == "status") {
    if (!is_alert_status(change.value)) return make_error("unknown alert status '" + change.value + "'");
    sql = "UPDATE alerts SET status = ?1 WHERE id = ?2";
  } else if (change.action == "assign") {
    sql = "UPDATE alerts SET assignee = ?1 WHERE id = ?2";
  } else if (change.action != "comment") {
    return make_error("unknown alert change '" + change.action + "'");
  }
  // One transaction: the change and its history entry are written together or not at all.
  return database().transaction<bool>("change_alert", [&](SqlConnection& c) -> Result<bool> {
    if (sql) {
      auto u = c.run(sql, SqlParams().text(change.value).integer(id));
      if (!u) return make_error(u.error());
      if (u->changed == 0) return false;
    } else {
      // A comment changes nothing but its history: the alert must exist (and, on PostgreSQL,
      // stays as it is until the comment is in).
      const char* exists = c.dialect() == SqlDialect::postgres ? "SELECT id FROM alerts WHERE id = ?1 FOR UPDATE"
                                                               : "SELECT id FROM alerts WHERE id = ?1";
      auto e = c.run(exists, SqlParams().integer(id));
      if (!e) return make_error(e.error());
      if (e->empty()) return false;
    }
    auto h = c.run("INSERT INTO alert_history(alert_id, ts, who, action, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                   SqlParams()
                       .integer(id)
                       .integer((change.time.ns ? change.time : Timestamp::now()).ns)
                       .text(change.who)
                       .text(change.action)
                       .text(change.value));
    if (!h) return make_error(h.error());
    return true;
  });
}

Result<std::vector<AlertTally>> SqlTriageStore::alert_tally(const std::string& agency, Timestamp since) {
  using Out = std::vector<AlertTally>;
  return database().query<Out>("alert_tally", [&](SqlConnection& c) -> Result<Out> {
    const char* bytes = c.dialect() == SqlDialect::postgres ? " COLLATE \"C\"" : "";
    const std::string sql =
        std::string(
            "SELECT COALESCE(g.agency, ''), a.severity, a.status, COUNT(*) FROM alerts a"
            " LEFT JOIN agents g ON g.id = a.agent_id WHERE (CAST(?1 AS TEXT) IS NULL OR g.agency = ?1) AND a.ts >= ?2"
            " GROUP BY 1, 2, 3 ORDER BY COALESCE(g.agency, '')") +
        bytes + ", a.severity, a.status" + bytes;
    auto r = c.run(sql.c_str(), SqlParams().text_or_null(agency).integer(since.ns));
    if (!r) return make_error(r.error());
    Out out;
    for (size_t i = 0; i < r->size(); ++i) {
      out.push_back({r->text(i, 0), static_cast<int>(r->integer(i, 1)), r->text(i, 2),
                     static_cast<uint64_t>(r->integer(i, 3))});
    }
    return out;
  });
}

Result<std::array<uint64_t, 6>> SqlTriageStore::open_alert_counts() {
  using Out = std::array<uint64_t, 6>;
  return database().query<Out>("open_alert_counts", [&](SqlConnection& c) -> Result<Out> {
    // Each status alone, so the (status, severity) index answers by a range scan of its own
    // entries and never reads the table.
    Out out{};
    for (const char* status : {"new", "acknowledged"}) {
      auto r = c.run("SELECT severity, COUNT(*) FROM alerts WHERE status = ?1 GROUP BY severity",
                     SqlParams().text(status));
      if (!r) return make_error(r.error());
      for (size_t i = 0; i < r->size(); ++i) {
        const int64_t sev = r->integer(i, 0);
        if (sev >= 1 && sev <= 5) out[static_cast<size_t>(sev)] += static_cast<uint64_t>(r->integer(i, 1));
      }
    }
    return out;
  });
}

}  // namespace vigil::collector
