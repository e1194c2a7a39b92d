// The statements of an event search, written once for both stores (collector/store): the page of
// hits and the histogram, over the search index (event_search), the stored records and agents.
#pragma once

#include "collector/search/query.h"
#include "collector/store/store.h"

namespace vigil::collector::search {

// SQLite's full-text terms read the index's rows between these two parameters (the first and
// last id of the window, so a common word does not walk its whole history).
inline constexpr int kSqliteFirstIdParam = 3;
inline constexpr int kSqliteLastIdParam = 4;

struct SearchStatements {
  SqlCondition hits;       // id, ts, agent_id, agency, host, body; newest first; limit + 1 rows
  SqlCondition histogram;  // bucket, count (only when query.buckets > 0)
  int64_t bucket_ns = 0;
};

// `first_id`/`last_id` are bound for SQLite only (PostgreSQL has no such parameters).
SearchStatements search_statements(const EventQuery& query, Dialect dialect, int64_t first_id = 0,
                                   int64_t last_id = 0);

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
