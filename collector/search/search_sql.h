// The statements of an event search, written once for both stores (collector/store): the page of
// hits and the histogram, over the stored events (SQLite: events, their bodies and event_fts;
// PostgreSQL: events, partitioned by day, the body in the row) and the agents.
#pragma once

#include "collector/search/query.h"
#include "collector/store/store.h"

namespace vigil::collector::search {

// SQLite's event ids are ordered by event time: the millisecond in the high bits, a counter in
// the low ones. A time window is then a range of ids, which the table (its rowid) and the
// full-text table (rowid BETWEEN) read directly; SQLite's windows are whole milliseconds. Events
// are written in time order too, so ingest appends to the tables' ends rather than all over them.
inline constexpr int kIdCounterBits = 21;
inline constexpr int64_t kIdMaxMillis = (int64_t{1} << 42) - 1;  // year 2109
int64_t sqlite_first_id(Timestamp t);  // the lowest id of an event at or after t
int64_t sqlite_id(Timestamp t, uint64_t counter);
// SQLite's full-text terms read the index's rows between these two parameters (the window's
// first and last id, so a common word does not walk its whole history).
inline constexpr int kSqliteFirstIdParam = 3;
inline constexpr int kSqliteLastIdParam = 4;

struct SearchStatements {
  SqlCondition hits;       // id, ts, agent_id, agency, host, body; newest first; limit + 1 rows
  SqlCondition histogram;  // bucket, count (only when query.buckets > 0)
  int64_t bucket_ns = 0;
};

// Paging: SQLite orders by id (time to the millisecond, then arrival) and pages by `before_id`;
// PostgreSQL orders by (time, id) and pages by both. `block_keys`: SQLite, every event of the
// window carries its addresses' block tokens (search::sqlite_keys), so blocks may be read by them.
SearchStatements search_statements(const EventQuery& query, Dialect dialect, bool block_keys = false);

// The fields the search index keeps of an event, read from it as stored (the ingest path and the
// index's backfill use this one reader).
struct IndexRow {
  std::string source_ip, destination_ip;  // search::ip_key form; empty when absent or no address
  int64_t source_port = 0, destination_port = 0;
  std::string user_name, host_name, event_action, event_outcome, rule_id;
  int64_t severity = 0;
  std::string text;
};
IndexRow index_row(const SearchFields& fields);

}  // namespace vigil::collector::search
