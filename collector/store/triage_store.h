// Triage: alerts with their status and history, event search, alert tallies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/search/query.h"
#include "collector/store/records.h"
#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

inline constexpr const char* kAlertStatuses[] = {"new", "acknowledged", "resolved", "false_positive"};
inline bool is_alert_status(std::string_view s) {
  for (const char* v : kAlertStatuses) {
    if (s == v) return true;
  }
  return false;
}

struct AlertRecord {
  int64_t id = 0;
  std::string agent_id;
  std::string agency;
  std::string host;
  std::string rule_id;
  std::string rule_name;
  std::string rule_name_vi{};  // empty: the English name serves both languages
  int severity = 0;
  Timestamp time{};
  std::string status = "new";
  std::string assignee;
  std::string evidence;  // the alert event as JSON
  Entity entity;
};

// Every member narrows the list; empty or zero means "any". Newest first; `before_id` pages.
struct AlertFilter {
  int min_severity = 0;
  std::string status;
  std::string agency;
  std::string agent_id;
  std::string rule_id;
  Timestamp from{};
  Timestamp to{};
  int64_t before_id = 0;
  int limit = 100;
  // Agency scoping of the caller: when not empty, only alerts of agents of these agencies.
  std::vector<std::string> agencies_in;
  // Alerts whose source.ip lies in this range (search::ip_range of an address or CIDR).
  std::optional<search::IpRange> source;
};

// An event search (collector/search/query.h): the hits of `query` with event time in
// [since, until), newest first, at most `limit`; `before` pages past the last hit shown.
struct EventQuery {
  const search::Node* query = nullptr;
  Timestamp since{};
  Timestamp until{};
  int limit = 100;
  // The last hit of the previous page (time and id): hits older than it. 0: from the newest.
  int64_t before_ts = 0;
  int64_t before_id = 0;
  std::vector<std::string> agencies_in;  // the caller's agency scoping (empty: every agency)
  int buckets = 0;  // histogram of the hits over [since, until) in this many buckets (0: none)
  // The cost cap (kSearchMaxSqliteSteps, kSearchTimeoutMs below unless lowered).
  int64_t max_sqlite_steps = 0;
  int timeout_ms = 0;
};

struct EventHit {
  int64_t id = 0;
  Timestamp time{};
  std::string agent_id;
  std::string agency;
  std::string host;
  std::string json;  // the stored event
};

struct EventPage {
  std::vector<EventHit> hits;
  bool more = false;               // further hits past the last one
  std::vector<uint64_t> histogram; // hits per bucket, oldest first
  int64_t bucket_ns = 0;           // each bucket's width
  // Set when the search was stopped at its cost cap: what to narrow.
  std::string refused;
};
// The work one search may do before it is stopped and refused (SQLite: virtual machine steps;
// PostgreSQL: statement time).
inline constexpr int64_t kSearchMaxSqliteSteps = 400'000'000;
inline constexpr int kSearchTimeoutMs = 5000;

struct AlertChange {
  Timestamp time{};
  std::string who;
  std::string action;  // status, assign, comment
  std::string value;
};

// Alerts counted by agency, severity and status.
struct AlertTally {
  std::string agency;
  int severity = 0;
  std::string status;
  uint64_t count = 0;
};

// What analysts read and change: alerts, their history, the events behind them.
class TriageStore {
 public:
  virtual ~TriageStore() = default;

  // Alert triage. Changes are kept in the alert's history (who, when, what).
  virtual Result<std::vector<AlertRecord>> list_alerts(const AlertFilter& filter) = 0;
  // How many alerts match (before_id and limit are ignored).
  virtual Result<uint64_t> count_alerts(const AlertFilter& filter) = 0;
  // Open alerts (new or acknowledged) of each severity, [1] info .. [5] critical ([0] unused), in
  // one pass over the (status, severity) index: what /metrics reports at every scrape.
  virtual Result<std::array<uint64_t, 6>> open_alert_counts() = 0;
  virtual Result<std::optional<AlertRecord>> get_alert(int64_t id) = 0;
  // Event search, on a connection of its own (it never holds up ingest); bounded by the window,
  // the row limit and the cost cap (a search over it comes back with `refused` set).
  virtual Result<EventPage> search_events(const EventQuery& query) = 0;
  virtual Result<std::vector<AlertChange>> alert_history(int64_t id) = 0;
  // `action` is status (value one of kAlertStatuses), assign (value a user) or comment; false
  // when the alert does not exist.
  virtual Result<bool> change_alert(int64_t id, const AlertChange& change) = 0;

  // Alerts of one agency or all (empty) raised at or after `since` (0: ever), counted by agency,
  // severity and status.
  virtual Result<std::vector<AlertTally>> alert_tally(const std::string& agency, Timestamp since) = 0;
};

}  // namespace vigil::collector
