#include "collector/search/search_sql.h"

#include <algorithm>

namespace vigil::collector::search {

namespace {

int64_t millis_of(Timestamp t) { return std::clamp<int64_t>(t.ns / 1'000'000, 0, kIdMaxMillis); }

// The conditions every statement of a search shares: the window, the caller's agencies, the query.
void common_conditions(const EventQuery& q, Dialect d, bool block_keys, SqlCondition& out, bool paged) {
  auto add = [&](SqlParam p) {
    out.params.push_back(std::move(p));
    return (d == Dialect::sqlite ? "?" : "$") + std::to_string(out.params.size());
  };
  // SQLite: the window is a range of ids, which the table (its rowid) and the full-text table
  // (rowid BETWEEN, for words and for the key tokens of addresses and user names) read directly.
  // PostgreSQL: the window names the day partitions to read (pruned at the executor's start); in
  // each, the planner weighs the window's ts index against a field's index (field, ts), which
  // seeks the value or the block and the window together, by the partition's statistics.
  if (d == Dialect::sqlite) {
    out.sql += " WHERE s.id BETWEEN ?3 AND ?4";
    if (paged && q.before_id != 0) out.sql += " AND s.id < " + add(q.before_id);
  } else {
    out.sql += " WHERE s.ts >= $1 AND s.ts < $2";
    if (paged && (q.before_ts != 0 || q.before_id != 0)) {
      std::string ts = add(q.before_ts);
      std::string id = add(q.before_id);
      out.sql += " AND (s.ts < " + ts + " OR (s.ts = " + ts + " AND s.id < " + id + "))";
    }
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
    out.block_keys = block_keys;
    to_sql(*q.query, d, out);
  }
}

void base_params(Dialect d, const EventQuery& q, SqlCondition& out) {
  out.params.push_back(q.since.ns);
  out.params.push_back(q.until.ns);
  if (d == Dialect::sqlite) {
    out.params.push_back(sqlite_first_id(q.since));
    out.params.push_back(sqlite_first_id(Timestamp{q.until.ns + 999'999}) - 1);
  }
}

}  // namespace

int64_t sqlite_first_id(Timestamp t) { return millis_of(t) << kIdCounterBits; }

int64_t sqlite_id(Timestamp t, uint64_t counter) {
  return (millis_of(t) << kIdCounterBits) | static_cast<int64_t>(counter & ((uint64_t{1} << kIdCounterBits) - 1));
}

namespace {

// SQLite, a query the full-text table answers alone (search::fts_match) for a caller of every
// agency: the page is the newest `limit` ids the table gives in the window, the histogram its ids'
// times; neither reads an events row that is not shown (a hot address or a common word has
// hundreds of thousands in a day).
SearchStatements fts_statements(const EventQuery& q, const std::string& match) {
  SearchStatements out;
  {
    SqlCondition& h = out.hits;
    base_params(Dialect::sqlite, q, h);
    h.params.push_back(match);
    std::string ids = "SELECT rowid FROM event_fts WHERE event_fts MATCH ?5 AND rowid BETWEEN ?3 AND ?4";
    if (q.before_id != 0) {
      h.params.push_back(q.before_id);
      ids += " AND rowid < ?" + std::to_string(h.params.size());
    }
    h.params.push_back(static_cast<int64_t>(std::clamp(q.limit, 1, 1000) + 1));
    const std::string limit = "?" + std::to_string(h.params.size());
    ids += " ORDER BY rowid DESC LIMIT " + limit;
    h.uses_record = true;
    h.uses_text = true;
    h.sql = "SELECT s.id, s.ts, s.agent_id, COALESCE(g.agency, ''), COALESCE(g.host, ''), " + std::string(kSqliteBody) +
            " FROM events s" + kSqliteBodyJoins + " LEFT JOIN agents g ON g.id = s.agent_id WHERE s.id IN (" + ids +
            ") ORDER BY s.id DESC LIMIT " + limit;
  }
  if (q.buckets > 0 && q.until.ns > q.since.ns) {
    SqlCondition& g = out.histogram;
    base_params(Dialect::sqlite, q, g);
    g.params.push_back(match);
    out.bucket_ns = std::max<int64_t>(1, (q.until.ns - q.since.ns + q.buckets - 1) / q.buckets);
    g.params.push_back(out.bucket_ns);
    g.uses_text = true;
    g.sql = "SELECT ((rowid >> " + std::to_string(kIdCounterBits) +
            ") * 1000000 - ?1) / ?6 AS bucket, COUNT(*) FROM event_fts WHERE event_fts MATCH ?5"
            " AND rowid BETWEEN ?3 AND ?4 GROUP BY bucket";
  }
  return out;
}

}  // namespace

SearchStatements search_statements(const EventQuery& q, Dialect d, bool block_keys) {
  block_keys = block_keys && d == Dialect::sqlite;
  if (d == Dialect::sqlite && q.query && q.agencies_in.empty()) {
    if (auto match = fts_match(*q.query, block_keys)) return fts_statements(q, *match);
  }
  SearchStatements out;
  // SQLite: the events table and its bodies (kSqliteBody); PostgreSQL: the events table, the body
  // in the same row (named r as conditions on the body name it; the planner folds the subquery away).
  const char* from = " FROM events s";
  const char* record_join = d == Dialect::sqlite ? kSqliteBodyJoins : " CROSS JOIN LATERAL (SELECT s.body) r(body)";
  const std::string body = d == Dialect::sqlite ? kSqliteBody : "r.body";
  {
    SqlCondition& h = out.hits;
    base_params(d, q, h);
    common_conditions(q, d, block_keys, h, true);
    std::string where = std::move(h.sql);
    h.uses_record = true;
    std::string limit = (d == Dialect::sqlite ? "?" : "$") + std::to_string(h.params.size() + 1);
    h.params.push_back(static_cast<int64_t>(std::clamp(q.limit, 1, 1000) + 1));
    const char* order = d == Dialect::sqlite ? " ORDER BY s.id DESC" : " ORDER BY s.ts DESC, s.id DESC";
    h.sql = "SELECT s.id, s.ts, s.agent_id, COALESCE(g.agency, ''), COALESCE(g.host, ''), " + body + from +
            record_join + " LEFT JOIN agents g ON g.id = s.agent_id" + where + order + " LIMIT " + limit;
  }
  if (q.buckets > 0 && q.until.ns > q.since.ns) {
    SqlCondition& g = out.histogram;
    base_params(d, q, g);
    common_conditions(q, d, block_keys, g, false);
    std::string where = std::move(g.sql);
    out.bucket_ns = std::max<int64_t>(1, (q.until.ns - q.since.ns + q.buckets - 1) / q.buckets);
    std::string bucket = (d == Dialect::sqlite ? "?" : "$") + std::to_string(g.params.size() + 1);
    g.params.push_back(out.bucket_ns);
    // SQLite reads the time from the id (its millisecond), so a bucket needs no table row.
    const std::string time = d == Dialect::sqlite ? "((s.id >> " + std::to_string(kIdCounterBits) + ") * 1000000 - ?1)"
                                                  : "(s.ts - $1)";
    g.sql = "SELECT " + time + " / " + bucket + " AS bucket, COUNT(*)" + from +
            (g.uses_record ? record_join : "") + where + " GROUP BY bucket";
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
