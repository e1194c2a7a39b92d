#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/ingest/agent_identity.h"
#include "collector/search/query.h"
#include "common/ingest/bounded_json.h"

namespace vigil::collector::routes {

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDefaultWindow = 24 * 3600 * kSecond;
constexpr int kMaxBuckets = 200;

net::HttpResponse refusal(int status, const std::string& message, std::optional<size_t> position = std::nullopt) {
  nlohmann::json body{{"error", message}};
  if (position) body["position"] = *position;
  return {status, body.dump(), "application/json", false};
}

// A whole number from 0 to `max` (cursors hold nanosecond times: 19 digits, past to_int's 18).
std::optional<int64_t> whole(std::string_view s, int64_t max) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > max) return std::nullopt;
  return v;
}

}  // namespace

// A time of the search window: RFC 3339, a date (midnight UTC), or a span before `now`
// ("30m", "24h", "7d", "2w"); nullopt when it is none of these.
static std::optional<Timestamp> parse_search_time(const std::string& text, Timestamp now) {
  if (text.size() >= 2 && text.size() <= 8) {
    static const std::pair<char, int64_t> units[] = {{'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    for (auto [unit, seconds] : units) {
      if (text.back() != unit) continue;
      auto n = whole(text.substr(0, text.size() - 1), 100'000);
      if (!n) return std::nullopt;
      return Timestamp{now.ns - *n * seconds * kSecond};
    }
  }
  return parse_when(text);
}

// GET /api/v1/events (README "Searching events"): the query, its window and paging read from the
// request, the search run on the store (a connection of its own, bounded), the answer as JSON.
net::HttpResponse search_events(const Call& c) {
  const auto& q = c.query;
  Store& store = c.env.store;
  const Timestamp now = Timestamp::now();
  EventQuery query;
  query.agencies_in = c.caller.agencies;
  query.until = now;
  std::string text;
  std::optional<Timestamp> since;
  for (const auto& [k, v] : q) {
    if (k == "q") {
      text = v;
    } else if (k == "since" || k == "until") {
      auto t = parse_search_time(v, now);
      if (!t) return refusal(400, k + ": an RFC 3339 time, a date (YYYY-MM-DD) or a span before now (30m, 24h, 7d)");
      if (k == "since") {
        since = *t;
      } else {
        query.until = *t;
      }
    } else if (k == "limit") {
      auto n = whole(v, 1000);
      if (!n || *n < 1) return refusal(400, "limit: 1 to 1000");
      query.limit = static_cast<int>(*n);
    } else if (k == "histogram") {
      auto n = whole(v, kMaxBuckets);
      if (!n) return refusal(400, fmt::format("histogram: 0 to {} buckets", kMaxBuckets));
      query.buckets = static_cast<int>(*n);
    } else if (k == "before") {
      size_t colon = v.find(':');
      auto ts = colon == std::string::npos ? std::nullopt : whole(std::string_view(v).substr(0, colon), INT64_MAX);
      auto id = colon == std::string::npos ? std::nullopt : whole(std::string_view(v).substr(colon + 1), INT64_MAX);
      if (!ts || !id) return refusal(400, "before: the `next` of the previous page");
      query.before_ts = *ts;
      query.before_id = *id;
    } else {
      return refusal(400, "unknown parameter '" + k + "'");
    }
  }
  query.since = since ? *since : Timestamp{query.until.ns - kDefaultWindow};
  if (query.since >= query.until) return refusal(400, "since must be before until");
  auto parsed = search::parse(text);
  if (const auto* err = std::get_if<search::ParseError>(&parsed)) {
    return refusal(400, fmt::format("position {}: {}", err->position, err->message), err->position);
  }
  const auto& tree = std::get<search::Node>(parsed);
  query.query = &tree;
  auto page = store.search_events(query);
  if (!page) return refusal(503, "store unavailable");
  if (!page->refused.empty()) return refusal(422, page->refused);
  nlohmann::json out{{"query", text}, {"since", query.since.to_string()}, {"until", query.until.to_string()}};
  nlohmann::json hits = nlohmann::json::array();
  for (const auto& hit : page->hits) {
    // Ids are 63-bit (search_sql.h): a string, which JavaScript keeps whole.
    nlohmann::json h{{"id", std::to_string(hit.id)},         {"time", hit.time.to_string()}, {"agent_id", hit.agent_id},
                     {"agency", hit.agency}, {"host", hit.host}};
    if (auto ev = ingest::parse_bounded_json(hit.json)) {
      impose_agent_identity(*ev, hit.agent_id, hit.host);
      h["event"] = std::move(*ev);
    } else {
      h["event"] = nlohmann::json::object();
    }
    hits.push_back(std::move(h));
  }
  out["hits"] = std::move(hits);
  if (page->more && !page->hits.empty()) {
    out["next"] = fmt::format("{}:{}", page->hits.back().time.ns, page->hits.back().id);
  } else {
    out["next"] = nullptr;
  }
  if (query.buckets > 0) {
    const int64_t width = page->bucket_ns;
    nlohmann::json buckets = nlohmann::json::array();
    for (size_t i = 0; i < page->histogram.size(); ++i) {
      buckets.push_back({{"start", Timestamp{query.since.ns + static_cast<int64_t>(i) * width}.to_string()},
                         {"count", page->histogram[i]}});
    }
    out["histogram"] = {{"bucket_seconds", static_cast<double>(width) / kSecond}, {"buckets", std::move(buckets)}};
  }
  return {200, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json", false};
}

}  // namespace vigil::collector::routes
