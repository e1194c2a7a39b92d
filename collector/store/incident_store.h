// Incidents (shared/DESIGN.md "Incidents"): alerts gathered into one case run from detection to the
// report the law asks for, with a timeline of everything done and the two deadlines of the
// reporting clock (first notification, full report), counted from detection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/store/triage_store.h"
#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

// The deadlines of the reporting clock, as bits of the notices told of their passing.
inline constexpr int kOverdueNotify = 1;
inline constexpr int kOverdueReport = 2;

// In the order an incident goes through them; it only moves forward (it may skip a step).
inline constexpr const char* kIncidentStatuses[] = {"open", "contained", "resolved", "reported"};
// The status's place in kIncidentStatuses, -1 when it is none of them.
inline int incident_status_rank(std::string_view s) {
  for (int i = 0; i < 4; ++i) {
    if (s == kIncidentStatuses[i]) return i;
  }
  return -1;
}

// An alert of the incident as it was when it was added: the alert itself may be purged by
// retention before the incident's report is written, its evidence kept here stays.
struct IncidentAlert {
  int64_t alert_id = 0;
  Timestamp time{};
  int severity = 0;
  std::string rule_id;
  std::string rule_name;
  std::string rule_name_vi{};  // empty: the English name serves both languages
  std::string agent_id;
  std::string host;
  std::string agency;
  std::string source_ip;
  std::string user_name;
  std::string evidence;  // the alert event as JSON (in get_incident only)
  Timestamp added_at{};
  std::string added_by;
};

// One line of the timeline: created, alert (value: the alert id), status, assign, comment,
// notified (the first notification to the authority was made).
struct IncidentEntry {
  Timestamp time{};
  std::string who;
  std::string action;
  std::string value;
};

struct IncidentRecord {
  int64_t id = 0;
  std::string title;
  int severity = 0;
  std::string status = "open";
  std::string assignee;
  std::string created_by;
  Timestamp created_at{};
  Timestamp detected_at{};  // the earliest of its alerts
  // The reporting clock's lengths as they were when the incident was opened (0: no deadline).
  int64_t notify_within_ns = 0;
  int64_t report_within_ns = 0;
  Timestamp notified_at{};  // 0: not yet
  Timestamp reported_at{};  // 0: not yet (set when the status becomes reported)
  Timestamp updated_at{};
  std::vector<std::string> agencies;  // of its alerts, sorted
  std::vector<std::string> hosts;     // of its alerts, sorted
  int64_t alert_count = 0;
  std::vector<IncidentAlert> alerts;      // get_incident only, oldest first
  std::vector<IncidentEntry> timeline;    // get_incident only, in order

  Timestamp notify_due() const { return Timestamp{notify_within_ns ? detected_at.ns + notify_within_ns : 0}; }
  Timestamp report_due() const { return Timestamp{report_within_ns ? detected_at.ns + report_within_ns : 0}; }
};

// Newest first; `before_id` pages.
struct IncidentFilter {
  std::string status;  // empty: any
  bool open_only = false;  // not yet reported
  // The caller's agency scoping: when not empty, only incidents all of whose alerts belong to
  // these agencies.
  std::vector<std::string> agencies_in;
  int64_t before_id = 0;
  int limit = 100;
};

struct NewIncident {
  std::string title;
  int severity = 0;
  std::string created_by;
  std::vector<AlertRecord> alerts;  // with evidence; at least one
  Timestamp now{};
  int64_t notify_within_ns = 0;
  int64_t report_within_ns = 0;
};

class IncidentStore {
 public:
  virtual ~IncidentStore() = default;

  // The new incident's id; its alerts, detection time and first timeline lines in one transaction.
  virtual Result<int64_t> create_incident(const NewIncident& incident) = 0;
  virtual Result<std::vector<IncidentRecord>> list_incidents(const IncidentFilter& filter) = 0;
  // With its alerts and timeline.
  virtual Result<std::optional<IncidentRecord>> get_incident(int64_t id) = 0;
  // false when the incident does not exist or already holds the alert. An alert older than the
  // incident's detection moves detection (and the deadlines) earlier.
  virtual Result<bool> add_incident_alert(int64_t id, const AlertRecord& alert, const std::string& who, Timestamp now) = 0;
  // `entry.action`: status (forward only: a status not after the current one changes nothing;
  // reported sets reported_at), assign, comment, notified (the first time only). false when
  // nothing changed: no such incident, a status not forward, a notification already recorded.
  virtual Result<bool> change_incident(int64_t id, const IncidentEntry& entry) = 0;
  // Claims the one notice that deadline `which` (kOverdueNotify or kOverdueReport) passed unmet:
  // true for the first caller only, whichever collector sharing the database it is.
  virtual Result<bool> claim_overdue_notice(int64_t id, int which) = 0;
};

}  // namespace vigil::collector
