#include "collector/search/search_sql.h"

#include <algorithm>

namespace vigil::collector::search {

namespace {

// The conditions every statement of a search shares: the window, the caller's agencies, the query.
void common_conditions(const EventQuery& q, Dialect d, SqlCondition& out, bool paged) {
  out.sql += " WHERE s.ts >= " + std::string(d == Dialect::sqlite ? "?1" : "$1") + " AND s.ts < " +
             (d == Dialect::sqlite ? "?2" : "$2");
  auto add = [&](SqlParam p) {
    out.params.push_back(std::move(p));
    return (d == Dialect::sqlite ? "?" : "$") + std::to_string(out.params.size());
  };
  if (paged && (q.before_ts != 0 || q.before_id != 0)) {
    std::string ts = add(q.before_ts);
    std::string id = add(q.before_id);
    out.sql += " AND (s.ts < " + ts + " OR (s.ts = " + ts + " AND s.id < " + id + "))";
  }
  if (!q.agencies_in.empty()) {
    std::string list = add(join_lines(q.agencies_in));
    if (d == Dialect::sqlite) {
      out.sql += " AND s.agent_id IN (SELECT id FROM agents WHERE instr(char(10) || " + list +
                 " || char(10), char(10) || agency || char(10)) > 0)";
    } else {
      out.sql += " AND s.agent_id IN (SELECT id FROM agents WHERE agency = ANY(string_to_array(" + list + ", E'\\n')))";
    }
  }
  if (q.query) {
    out.sql += " AND ";
    to_sql(*q.query, d, out);
  }
}

void base_params(Dialect d, const EventQuery& q, int64_t first_id, int64_t last_id, SqlCondition& out) {
  out.params.push_back(q.since.ns);
  out.params.push_back(q.until.ns);
  if (d == Dialect::sqlite) {
    out.params.push_back(first_id);
    out.params.push_back(last_id);
  }
}

}  // namespace

SearchStatements search_statements(const EventQuery& q, Dialect d, int64_t first_id, int64_t last_id) {
  SearchStatements out;
  const char* record_join = " JOIN records r ON r.agent_id = s.agent_id AND r.epoch = s.epoch AND r.seq = s.seq";
  {
    SqlCondition& h = out.hits;
    base_params(d, q, first_id, last_id, h);
    SqlCondition cond;
    cond.params = h.params;
    common_conditions(q, d, cond, true);
    h.params = std::move(cond.params);
    h.uses_record = true;
    h.uses_text = cond.uses_text;
    std::string limit = (d == Dialect::sqlite ? "?" : "$") + std::to_string(h.params.size() + 1);
    h.params.push_back(static_cast<int64_t>(std::clamp(q.limit, 1, 1000) + 1));
    h.sql = "SELECT s.id, s.ts, s.agent_id, COALESCE(g.agency, ''), COALESCE(g.host, ''), r.body FROM event_search s" +
            std::string(record_join) + " LEFT JOIN agents g ON g.id = s.agent_id" + cond.sql +
            " ORDER BY s.ts DESC, s.id DESC LIMIT " + limit;
  }
  if (q.buckets > 0 && q.until.ns > q.since.ns) {
    SqlCondition& g = out.histogram;
    base_params(d, q, first_id, last_id, g);
    SqlCondition cond;
    cond.params = g.params;
    common_conditions(q, d, cond, false);
    g.params = std::move(cond.params);
    g.uses_record = cond.uses_record;
    out.bucket_ns = std::max<int64_t>(1, (q.until.ns - q.since.ns + q.buckets - 1) / q.buckets);
    std::string bucket = (d == Dialect::sqlite ? "?" : "$") + std::to_string(g.params.size() + 1);
    g.params.push_back(out.bucket_ns);
    g.sql = "SELECT (s.ts - " + std::string(d == Dialect::sqlite ? "?1" : "$1") + ") / " + bucket +
            " AS bucket, COUNT(*) FROM event_search s" + (cond.uses_record ? record_join : "") + cond.sql +
            " GROUP BY bucket";
  }
  return out;
}

IndexRow index_row(const SearchFields& f) {
  IndexRow r;
  if (auto k = ip_key(f.entity.source_ip)) r.source_ip = *k;
  if (auto k = ip_key(f.entity.destination_ip)) r.destination_ip = *k;
  r.source_port = f.entity.source_port;
  r.destination_port = f.entity.destination_port;
  r.user_name = f.entity.user_name;
  r.host_name = f.host_name;
  r.event_action = f.event_action;
  r.event_outcome = f.event_outcome;
  r.rule_id = f.rule_id;
  r.severity = f.severity;
  r.text = fold_diacritics(f.text);
  return r;
}

}  // namespace vigil::collector::search
