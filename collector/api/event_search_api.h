// GET /api/v1/events (README "Searching events"): the query, its window and paging read from the
// request, the search run on the store, the answer written as JSON.
//   ?q=QUERY&since=&until=&limit=&before=&histogram=N
//   since, until: RFC 3339, YYYY-MM-DD, or 30m / 24h / 7d before now; default: the last 24 h
//   limit: 1-1000 (100); before: the `next` of the previous page; histogram: 0-200 buckets
//   -> {query, since, until, hits: [{id, time, agent_id, agency, host, event}], next, histogram?}
//   400 {error, position} for a query that does not read; 422 when over the cost cap.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "collector/store/store.h"
#include "common/net/http_types.h"

namespace vigil::collector {

// `agencies`: the caller's agency scoping (empty: every agency).
net::HttpResponse event_search_response(Store& store, const std::map<std::string, std::string>& query,
                                        const std::vector<std::string>& agencies, Timestamp now);

// A time of the search window: RFC 3339, a date (midnight UTC), or a span before `now`
// ("30m", "24h", "7d", "2w"); nullopt when it is none of these.
std::optional<Timestamp> parse_search_time(const std::string& text, Timestamp now);

}  // namespace vigil::collector
