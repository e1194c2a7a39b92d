// Storage behind one interface (shared/DESIGN.md "Collector"): SQLite by default, PostgreSQL for
// several collectors sharing one database. Every statement is parameterised.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/search/query.h"
#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

struct TokenInfo {
  std::string agency;
  int level = 1;  // security level (1-5) of the system the enrolled agent serves
};

// An operator's API token (stored by its SHA-256): a name for the audit log, a role, and the
// agencies it is limited to (empty: every agency); an optional expiry; revoked by id.
struct ApiTokenRecord {
  std::string name;
  std::string role;
  std::vector<std::string> agencies;
  int64_t id = 0;
  Timestamp created{};
  Timestamp expires{};  // 0: never
  Timestamp revoked{};  // 0: not revoked
  std::string created_by{};
  bool bootstrap = false;  // the admin token `vigil-collector init` made
  bool active(Timestamp now) const { return revoked.ns == 0 && (expires.ns == 0 || now < expires); }
};

struct AgentRecord {
  std::string id;
  std::string agency;
  int level = 1;
  std::string host;
  std::string version;
  std::string cert_serial;
  Timestamp enrolled{};
  Timestamp last_seen{};
  std::string status = "active";  // active | revoked
};

// Who an event or alert is about (shared/DESIGN.md "Events"), as the event writes it: empty or 0
// when absent. Triage lists alerts by it; search indexes it.
struct Entity {
  std::string source_ip;
  int64_t source_port = 0;
  std::string destination_ip;
  int64_t destination_port = 0;
  std::string user_name;
};

// What the search index keeps of a record besides its time, kind and dataset (collector/search).
struct SearchFields {
  Entity entity;
  std::string host_name;
  std::string event_action;
  std::string event_outcome;
  std::string rule_id;   // of any event that names one (alerts, compliance results)
  int64_t severity = 0;  // event.severity
  std::string text;  // event.original, or message when the event has none: full text
};

// One record of a batch as the agent sent it: its spool position and the event as JSON.
struct IncomingRecord {
  uint64_t seq = 0;
  std::string kind;     // event.kind: event, alert, state, metric
  std::string dataset;  // event.dataset
  Timestamp time{};
  std::string json;     // the whole event
  SearchFields search;
  // Alerts only (kind == "alert"): what triage lists and filters on.
  std::string rule_id;
  std::string rule_name;
  int severity = 0;  // 1 info .. 5 critical
  // Compliance results only (dataset compliance.check): kept as the latest per agent and check.
  struct Check {
    std::string policy;
    std::string check_id;
    std::string title;
    int level = 1;
    std::string result;    // pass, fail, error, not_applicable
    std::string controls;  // JSON object: framework id -> [control ids]
    std::string evidence;
    std::string remediation;
    std::string policy_version;
  };
  std::optional<Check> check;
};

// A record the collector did not store, kept with why (shared/DESIGN.md "Hostile input"): the
// records behind it are stored and acknowledged all the same.
struct QuarantinedRecord {
  int64_t id = 0;
  std::string agent_id;
  // Where the line names no seq, `epoch` is "line:" and a hash of the line, so a redelivery is
  // still kept once.
  std::string epoch;
  std::optional<uint64_t> seq;  // absent when the line had none
  size_t line = 0;              // line within its batch
  std::string reason;
  std::string body;  // the line as received, cut at 4 KiB
  Timestamp received{};
};

struct ComplianceRow {
  std::string agent_id;
  std::string agency;
  std::string host;
  int agent_level = 1;  // security level of the system the agent serves
  std::string policy;
  std::string check_id;
  std::string title;
  int level = 1;
  std::string result;
  std::string controls;
  std::string evidence;
  std::string remediation;
  std::string policy_version;
  Timestamp time{};
};

struct AgencyRecord {
  std::string name;
  std::string framework;
};

inline constexpr const char* kAlertStatuses[] = {"new", "acknowledged", "resolved", "false_positive"};
inline bool is_alert_status(std::string_view s) {
  for (const char* v : kAlertStatuses) {
    if (s == v) return true;
  }
  return false;
}

// Lists of agency names travel in one text column or parameter, one name per line (names are
// checked to hold no control characters where they enter).
inline std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += '\n';
    out += i;
  }
  return out;
}
inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

struct AlertRecord {
  int64_t id = 0;
  std::string agent_id;
  std::string agency;
  std::string host;
  std::string rule_id;
  std::string rule_name;
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

// A local user of the console. `password` is the encoded PBKDF2 hash (collector/api/password.h),
// never the password itself. `agencies` empty: every agency.
struct UserRecord {
  std::string name;
  std::string password;
  std::string role;  // admin | analyst | auditor
  std::vector<std::string> agencies;
  bool disabled = false;
  Timestamp created{};
};

// A login session, stored by the SHA-256 of its token.
struct SessionRecord {
  std::string user;
  Timestamp created{};
  Timestamp last_used{};
};

// One line of the audit log: who did what to which target, and how.
struct AuditEntry {
  int64_t id = 0;
  Timestamp time{};
  std::string who;
  std::string action;  // e.g. alert.status, agent.revoke, user.add, login.failure
  std::string target;
  std::string detail;
};

// Newest first; `before_id` pages; empty means "any".
struct AuditFilter {
  std::string who;
  std::string action;
  int64_t before_id = 0;
  int limit = 100;
};

// An accepted exception to a compliance check: the check (of one policy, or of any policy when
// `policy` is empty) waived for one agent or for every agent of an agency (`agent_id` empty), with
// the reason, who accepted the risk and an expiry. Past its expiry, or once expired by hand, the
// check's results count as what they are again; the record stays for the audit.
struct WaiverRecord {
  int64_t id = 0;
  std::string agency;
  std::string agent_id;
  std::string policy;
  std::string check_id;
  std::string reason;
  std::string accepted_by;  // who accepted the risk, as the operator names them
  std::string created_by;   // the console user or API token that recorded it
  Timestamp created{};
  Timestamp expires{};
  Timestamp ended{};  // when expired by hand (0: not)
  std::string ended_by;
  bool active(Timestamp now) const { return ended.ns == 0 && now < expires; }
  // Whether the waiver covers this result of this agent.
  bool covers(const std::string& agency_name, const std::string& agent, const std::string& policy_id,
              const std::string& check) const {
    return agency == agency_name && (agent_id.empty() || agent_id == agent) &&
           (policy.empty() || policy == policy_id) && check_id == check;
  }
};

// Empty or false means "any"; `agencies_in` scopes the caller as for alerts.
struct WaiverFilter {
  std::string agency;
  bool active_only = false;
  Timestamp now{};  // what "active" is judged against
  std::vector<std::string> agencies_in;
};

// Alerts counted by agency, severity and status.
struct AlertTally {
  std::string agency;
  int severity = 0;
  std::string status;
  uint64_t count = 0;
};

struct StoredCounts {
  uint64_t records = 0;
  uint64_t alerts = 0;
};

// What retention removes: everything stored before each cutoff (a zero cutoff keeps all of its
// kind). Rows go in transactions of `chunk_rows` at most, so ingest waits for one chunk at a
// time, never for a whole purge; `cancelled`, when set, is asked between chunks.
struct PurgeRequest {
  Timestamp events_before{};              // records other than alerts and agent health
  Timestamp alerts_before{};              // alerts with their history and their own record
  Timestamp health_before{};              // agent health records (event.kind metric)
  Timestamp compliance_history_before{};  // changes of result; the latest result always stays
  Timestamp audit_before{};               // audit log entries
  int chunk_rows = 5000;
  std::function<bool()> cancelled;
};

// Rows a purge removed, per kind.
struct PurgeCounts {
  uint64_t events = 0;
  uint64_t alerts = 0;         // alerts, each with its own record
  uint64_t alert_history = 0;  // triage changes of those alerts
  uint64_t health = 0;
  uint64_t compliance_history = 0;
  uint64_t audit = 0;
  uint64_t quarantined = 0;  // records quarantined at ingest (they go with the events' cutoff)
  uint64_t total() const {
    return events + alerts + alert_history + health + compliance_history + audit + quarantined;
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // Brings the schema to the current version (idempotent; versioned migrations).
  virtual Result<void> migrate() = 0;
  virtual Result<int> schema_version() = 0;

  virtual Result<void> ensure_agency(const std::string& name, const std::string& framework) = 0;

  // Tokens are stored by their SHA-256; one-time and expiring.
  virtual Result<void> add_token(const std::string& token_hash, const TokenInfo& info, Timestamp expires) = 0;
  // Marks the token used and returns what it grants; fails when unknown, used or expired.
  virtual Result<TokenInfo> consume_token(const std::string& token_hash, Timestamp now) = 0;

  virtual Result<void> add_agent(const AgentRecord& agent) = 0;
  virtual Result<std::optional<AgentRecord>> get_agent(const std::string& id) = 0;
  virtual Result<std::vector<AgentRecord>> list_agents() = 0;
  virtual Result<void> touch_agent(const std::string& id, Timestamp now) = 0;
  // Revokes the agent and its certificate serial; false when the agent is unknown.
  virtual Result<bool> revoke_agent(const std::string& id) = 0;
  virtual Result<bool> is_revoked(const std::string& cert_serial) = 0;
  // Certificate renewal: the agent's serial becomes `new_serial` if it still is `old_serial`
  // (false otherwise, or when the agent is not active).
  virtual Result<bool> replace_agent_cert(const std::string& id, const std::string& old_serial,
                                          const std::string& new_serial) = 0;

  // API tokens of operators, by hash. add_api_token returns the new token's id (`created` 0: now).
  // api_token finds revoked and expired tokens too: the caller judges with active().
  virtual Result<int64_t> add_api_token(const std::string& token_hash, const ApiTokenRecord& token) = 0;
  virtual Result<std::optional<ApiTokenRecord>> api_token(const std::string& token_hash) = 0;
  // Every token, newest first (no hashes).
  virtual Result<std::vector<ApiTokenRecord>> list_api_tokens() = 0;
  // false when the token is unknown or already revoked.
  virtual Result<bool> revoke_api_token(int64_t id, Timestamp when) = 0;
  // The admin token `init` made (its hash): added once (a token revoked stays revoked), and every
  // other bootstrap token still active is revoked, so `init --force` retires the old one.
  // Returns how many were retired.
  virtual Result<uint64_t> import_bootstrap_token(const std::string& token_hash, Timestamp now) = 0;

  // Local users. add_user is false when the name is taken; the others when it is unknown.
  virtual Result<bool> add_user(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> get_user(const std::string& name) = 0;
  virtual Result<std::vector<UserRecord>> list_users() = 0;
  // Disabling a user or changing the password also ends every session of the user.
  virtual Result<bool> set_user_disabled(const std::string& name, bool disabled) = 0;
  virtual Result<bool> set_user_password(const std::string& name, const std::string& encoded) = 0;

  // Sessions by token hash. get_session does not check expiry; the caller decides with the times.
  virtual Result<void> add_session(const std::string& token_hash, const SessionRecord& session) = 0;
  virtual Result<std::optional<SessionRecord>> get_session(const std::string& token_hash) = 0;
  virtual Result<void> touch_session(const std::string& token_hash, Timestamp now) = 0;
  virtual Result<bool> delete_session(const std::string& token_hash) = 0;
  // Drops sessions created before `created_before` or unused since `used_before`; returns how many.
  virtual Result<uint64_t> expire_sessions(Timestamp created_before, Timestamp used_before) = 0;

  virtual Result<void> add_audit(const AuditEntry& entry) = 0;
  virtual Result<std::vector<AuditEntry>> list_audit(const AuditFilter& filter) = 0;

  // Stores a batch in one transaction; records already stored under (agent, epoch, seq) are
  // skipped, so redelivery is harmless. Returns how many were new.
  virtual Result<uint64_t> store_batch(const std::string& agent_id, const std::string& epoch,
                                       const std::vector<IncomingRecord>& records) = 0;
  virtual Result<StoredCounts> counts(const std::string& agent_id) = 0;
  // Records refused at ingest, with their reason. One row per (agent, epoch, seq), so redelivery
  // adds none; returns how many were new. Retention drops them with the events.
  virtual Result<uint64_t> quarantine(const std::string& agent_id, const std::vector<QuarantinedRecord>& records,
                                      Timestamp received) = 0;
  virtual Result<uint64_t> count_quarantined() = 0;
  // Newest first; of one agent or all (empty); `before_id` pages (0: from the newest).
  virtual Result<std::vector<QuarantinedRecord>> list_quarantined(const std::string& agent_id, int64_t before_id,
                                                                  int limit) = 0;
  // Retention: deletes what is older than the request's cutoffs, chunk by chunk. An alert keeps
  // its own record (its evidence) for as long as it stays, whatever the events cutoff; the
  // latest compliance result of every check stays however old. Stops early, with what it
  // removed so far, when `cancelled` says so.
  virtual Result<PurgeCounts> purge(const PurgeRequest& request) = 0;

  // Alert triage. Changes are kept in the alert's history (who, when, what).
  virtual Result<std::vector<AlertRecord>> list_alerts(const AlertFilter& filter) = 0;
  // How many alerts match (before_id and limit are ignored).
  virtual Result<uint64_t> count_alerts(const AlertFilter& filter) = 0;
  virtual Result<std::optional<AlertRecord>> get_alert(int64_t id) = 0;
  // Event search, on a connection of its own (it never holds up ingest); bounded by the window,
  // the row limit and the cost cap (a search over it comes back with `refused` set).
  virtual Result<EventPage> search_events(const EventQuery& query) = 0;
  virtual Result<std::vector<AlertChange>> alert_history(int64_t id) = 0;
  // `action` is status (value one of kAlertStatuses), assign (value a user) or comment; false
  // when the alert does not exist.
  virtual Result<bool> change_alert(int64_t id, const AlertChange& change) = 0;

  virtual Result<std::vector<AgencyRecord>> list_agencies() = 0;
  // false when the agency or agent does not exist.
  virtual Result<bool> set_agency_framework(const std::string& name, const std::string& framework) = 0;
  virtual Result<bool> set_agent_level(const std::string& id, int level) = 0;
  // Latest compliance result of every (agent, policy, check), of one agency or all (empty).
  virtual Result<std::vector<ComplianceRow>> compliance_latest(const std::string& agency) = 0;
  // The result each (agent, policy, check) had at `at` (the last change at or before it), with the
  // check's current title, level and controls; no evidence. Checks first seen later are absent.
  virtual Result<std::vector<ComplianceRow>> compliance_as_of(const std::string& agency, Timestamp at) = 0;
  // Alerts of one agency or all (empty) raised at or after `since` (0: ever), counted by agency,
  // severity and status.
  virtual Result<std::vector<AlertTally>> alert_tally(const std::string& agency, Timestamp since) = 0;

  // Waivers. add_waiver returns the new id; expire_waiver is false when the waiver is unknown or
  // no longer active. Newest first, at most 10,000.
  virtual Result<int64_t> add_waiver(const WaiverRecord& waiver) = 0;
  virtual Result<std::vector<WaiverRecord>> list_waivers(const WaiverFilter& filter) = 0;
  virtual Result<std::optional<WaiverRecord>> get_waiver(int64_t id) = 0;
  virtual Result<bool> expire_waiver(int64_t id, Timestamp when, const std::string& who) = 0;
};

// How SQLite syncs: `full` (the collector's) puts every commit on disk before it returns, so a
// batch acknowledged to an agent survives power loss; `normal` may lose the last commits then and
// exists for the store benchmark to show what `full` costs.
enum class SqliteSync { full, normal };

// Opens (creating, 0600) an SQLite database in WAL mode and migrates it.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, SqliteSync sync = SqliteSync::full);

struct PostgresOptions {
  std::string dsn;  // libpq connection string; may hold a password, so it is never logged
  // Schema the tables live in (created when missing); empty: the server's search_path.
  std::string schema;
  int connections = 4;  // the pool the collector's threads share
};

// Connects to PostgreSQL (libpq) and migrates the schema under an advisory lock, so several
// collectors starting together against one database do not race.
Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options);
// Drops a schema and everything in it (tests make one per test).
Result<void> drop_postgres_schema(const std::string& dsn, const std::string& schema);

}  // namespace vigil::collector
