// Every endpoint of the console API after login, with who may call it; one file per resource
// beside this one (endpoints.h says which). Login, logout and authentication: ../console_api.h.
//
// Role: which roles may call (any; not_auditor; admin; admin_or_auditor). Scope: unlimited when
// a caller limited to some agencies may not call at all; per_agency when the handler answers for
// the agencies the caller sees (what lies outside reads as not found). Refusals are 403 with
// the entry's message; an unknown path is 404, a known path with another method 405 with Allow.
// Adding an endpoint: its handler in a file here, a line in endpoints.h, a line below, the file in
// collector/CMakeLists.txt.
#include "collector/api/routes/endpoints.h"

namespace vigil::collector::routes {

namespace {

constexpr std::string_view kUsersRefused = "managing users needs the admin role without agency limits";
constexpr std::string_view kApiTokensRefused = "API tokens need the admin role without agency limits";
constexpr std::string_view kAuditRefused = "the audit log needs the admin or auditor role without agency limits";
constexpr std::string_view kQuarantineRefused =
    "quarantined records need the admin or auditor role without agency limits";
constexpr std::string_view kMetricsRefused = "metrics cover every agency: not for a caller limited to some";
constexpr std::string_view kAdminRefused = "this needs the admin role";
constexpr std::string_view kAlertsRefused = "auditors cannot change alerts";
constexpr std::string_view kWaiversRefused = "waivers need the admin role";
constexpr std::string_view kGroupsRefused = "groups and their bundles need the admin role";
constexpr std::string_view kIncidentsRefused = "auditors cannot change incidents";

}  // namespace

std::vector<Route> endpoints() {
  using enum Role;
  using enum Scope;
  return {
      // Ends the calling session (an API token is no session: 400).
      {"POST", "/api/v1/logout", any, per_agency, logout},
      // -> {user, role, agencies, csrf_token}: the web console's start.
      {"GET", "/api/v1/session", any, per_agency, session},
      // -> {agents, agents_active, alerts_new, records_quarantined, role, user, agencies}
      {"GET", "/api/v1/status", any, per_agency, status},
      // -> Prometheus text exposition: agents, open alerts, store latency, ingest counters, exports.
      {"GET", "/metrics", any, unlimited, metrics, kMetricsRefused},

      // -> [users]
      {"GET", "/api/v1/users", admin, unlimited, list_users, kUsersRefused},
      // {name, password, role, agencies?} -> user
      {"POST", "/api/v1/users", admin, unlimited, add_user, kUsersRefused},
      {"POST", "/api/v1/users/{name}/disable", admin, unlimited, disable_user, kUsersRefused},
      {"POST", "/api/v1/users/{name}/enable", admin, unlimited, enable_user, kUsersRefused},
      // {password}
      {"POST", "/api/v1/users/{name}/password", admin, unlimited, set_user_password, kUsersRefused},

      // -> [tokens] (never a secret or its hash)
      {"GET", "/api/v1/api-tokens", admin, unlimited, list_api_tokens, kApiTokensRefused},
      // {name, role, agencies?, expires?} -> token with its secret, shown this once
      {"POST", "/api/v1/api-tokens", admin, unlimited, create_api_token, kApiTokensRefused},
      // ends the token now -> {id, state}
      {"POST", "/api/v1/api-tokens/{id}/revoke", admin, unlimited, revoke_api_token, kApiTokensRefused},

      // ?who=&action=&before=&limit= -> [entries], newest first
      {"GET", "/api/v1/audit", admin_or_auditor, unlimited, list_audit, kAuditRefused},
      // ?agent=&before=&limit= -> [records refused at ingest, with their reasons], newest first
      {"GET", "/api/v1/quarantine", admin_or_auditor, unlimited, list_quarantined, kQuarantineRefused},

      // {agency, level, ttl_hours?} -> {token, agency, level, expires}: an enrollment token
      {"POST", "/api/v1/tokens", admin, per_agency, create_enrollment_token, kAdminRefused},

      // -> [agents]
      {"GET", "/api/v1/agents", any, per_agency, list_agents},
      // -> agent
      {"GET", "/api/v1/agents/{id}", any, per_agency, get_agent},
      // -> {revoked: true}
      {"POST", "/api/v1/agents/{id}/revoke", admin, per_agency, revoke_agent, kAdminRefused},
      // {level: 1-5}
      {"POST", "/api/v1/agents/{id}/level", admin, per_agency, set_agent_level, kAdminRefused},
      // {group} -> the agent's group (it fetches the group's bundle at its next heartbeat)
      {"POST", "/api/v1/agents/{id}/group", admin, per_agency, set_agent_group, kAdminRefused},
      // {systems: [NAME...]}: the agent's systems become these (of its agency; [] for none)
      {"POST", "/api/v1/agents/{id}/systems", admin, per_agency, set_agent_systems, kAdminRefused},

      // ?agency= -> [{name, agency, level, description, created, agents}] by agency, name
      {"GET", "/api/v1/systems", any, per_agency, list_systems},
      // {name, agency, level, description?} -> 201 the system; the agency is created when new; 409 when taken
      {"POST", "/api/v1/systems", admin, per_agency, create_system, kAdminRefused},
      // -> the system with its hosts
      {"GET", "/api/v1/systems/{name}", any, per_agency, get_system},
      // {level?, description?}
      {"POST", "/api/v1/systems/{name}", admin, per_agency, update_system, kAdminRefused},

      // -> [{name, description, version, agents, created}]
      {"GET", "/api/v1/groups", any, per_agency, list_groups},
      // {name, description?}
      {"POST", "/api/v1/groups", admin, per_agency, create_group, kGroupsRefused},
      // -> {group, version, agents: [{id, host, bundle_version, applied_at, error, ...}], on_latest}
      {"GET", "/api/v1/groups/{name}/status", any, per_agency, group_status},
      // -> [{version, sha256, author, message, created, rollback_of}], newest first
      {"GET", "/api/v1/groups/{name}/history", any, per_agency, group_history},
      // {files: [{path, content}], message} -> {group, version, sha256}; 422 {error, problems} when refused.
      //   An admin limited to some agencies pushes and rolls back groups whose agents are all in them.
      {"POST", "/api/v1/groups/{name}/bundles", admin, per_agency, push_bundle, kGroupsRefused},
      // {to?} -> {group, version, sha256, rollback_of}
      {"POST", "/api/v1/groups/{name}/rollback", admin, per_agency, rollback_group, kGroupsRefused},

      // -> [{name, framework}]
      {"GET", "/api/v1/agencies", any, per_agency, list_agencies},
      // {framework}
      {"POST", "/api/v1/agencies/{name}/framework", admin, per_agency, set_agency_framework, kAdminRefused},

      // ?q=&since=&until=&limit=&before=&histogram= -> {query, since, until, hits: [{id, time, agent_id,
      //   agency, host, event}], next, histogram?: {bucket_seconds, buckets: [{start, count}]}}; 400
      //   {error, position} for a query that does not read, 422 over the cost cap (README "Searching events")
      {"GET", "/api/v1/events", any, per_agency, search_events},

      // ?severity=&status=&agency=&agent=&rule=&source=IP|CIDR&from=&to=&before=&limit= -> [alerts],
      //   newest first, each with its entity: source_ip, source_port, destination_ip, destination_port, user_name
      {"GET", "/api/v1/alerts", any, per_agency, list_alerts},
      // -> alert with evidence and history
      {"GET", "/api/v1/alerts/{id}", any, per_agency, get_alert},
      // {status}
      {"POST", "/api/v1/alerts/{id}/status", not_auditor, per_agency, set_alert_status, kAlertsRefused},
      // {assignee}
      {"POST", "/api/v1/alerts/{id}/assign", not_auditor, per_agency, assign_alert, kAlertsRefused},
      // {text}
      {"POST", "/api/v1/alerts/{id}/comment", not_auditor, per_agency, comment_alert, kAlertsRefused},

      // ?status=open|contained|resolved|reported|active&before=&limit= -> [incidents], newest first, each
      //   with agencies, hosts, alert_count and clock: {notify, report: {state: none|pending|overdue|met|met_late,
      //   due, seconds_left, done_at}}; a caller limited to some agencies sees those all of whose alerts are theirs
      {"GET", "/api/v1/incidents", any, per_agency, list_incidents},
      // {title, severity, alerts: [id...]} -> 201 {id}; the clock's lengths from collector.yaml `incidents:`
      {"POST", "/api/v1/incidents", not_auditor, per_agency, create_incident, kIncidentsRefused},
      // -> incident with its alerts (as added, with evidence) and timeline
      {"GET", "/api/v1/incidents/{id}", any, per_agency, get_incident},
      // {alert}; 409 when it is already there
      {"POST", "/api/v1/incidents/{id}/alerts", not_auditor, per_agency, add_incident_alert, kIncidentsRefused},
      // {status}: forward only (open, contained, resolved, reported), else 409
      {"POST", "/api/v1/incidents/{id}/status", not_auditor, per_agency, set_incident_status, kIncidentsRefused},
      // {assignee}
      {"POST", "/api/v1/incidents/{id}/assign", not_auditor, per_agency, assign_incident, kIncidentsRefused},
      // {text}
      {"POST", "/api/v1/incidents/{id}/comment", not_auditor, per_agency, comment_incident, kIncidentsRefused},
      // {at?, note?}: the first notification to the authority was made (stops the first clock); 409 the second time
      {"POST", "/api/v1/incidents/{id}/notified", not_auditor, per_agency, incident_notified, kIncidentsRefused},
      // ?lang=vi|en -> the printable HTML report (timeline, evidence, actions taken)
      {"GET", "/api/v1/incidents/{id}/report", any, per_agency, incident_report},

      // ?agency=&since= -> [per agency: counts, scores per policy and control group, controls,
      //                     failing checks, waivers, self-assessment, agents, open alerts, trend since DATE]
      {"GET", "/api/v1/compliance", any, per_agency, compliance},
      // ?agency=&format=json|csv|html&lang=vi|en&since= -> the report document or file (no agency: all)
      {"GET", "/api/v1/reports/compliance", any, per_agency, compliance_report},

      // ?agency=&active=1 -> [waivers], newest first
      {"GET", "/api/v1/waivers", any, per_agency, list_waivers},
      // {agency, agent?, policy?, check, reason, accepted_by, expires (RFC 3339 or YYYY-MM-DD)} -> {id}
      {"POST", "/api/v1/waivers", admin, per_agency, add_waiver, kWaiversRefused},
      // ends the waiver now
      {"POST", "/api/v1/waivers/{id}/expire", admin, per_agency, expire_waiver, kWaiversRefused},
  };
}

}  // namespace vigil::collector::routes
