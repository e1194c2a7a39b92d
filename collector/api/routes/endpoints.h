// The console API's handlers, one line per file of collector/api/routes/; the table routing to
// them, with every endpoint, roles and scope, is endpoints.cpp.
#pragma once

#include <optional>
#include <vector>

#include "collector/api/routes/route_table.h"
#include <nlohmann/json_fwd.hpp>

#include "common/net/http_types.h"

namespace vigil::collector::routes {

Handler logout;                                                                   // ../console_api.cpp
Handler session, status, metrics;                                                 // status.cpp
Handler list_users, add_user, disable_user, enable_user, set_user_password;       // users.cpp
Handler list_api_tokens, create_api_token, revoke_api_token;                      // api_tokens.cpp
Handler list_audit, list_quarantined;                                             // audit.cpp
Handler create_enrollment_token;                                                  // tokens.cpp
Handler list_agents, get_agent, revoke_agent, set_agent_level, set_agent_group;   // agents.cpp
Handler list_groups, create_group, group_status, group_history, push_bundle, rollback_group;  // groups.cpp
Handler list_agencies, set_agency_framework;                                      // agencies.cpp
Handler list_alerts, get_alert, set_alert_status, assign_alert, comment_alert;    // alerts.cpp
Handler compliance, compliance_report;                                            // compliance.cpp
Handler list_waivers, add_waiver, expire_waiver;                                  // waivers.cpp
Handler search_events;                                                            // events.cpp
Handler list_systems, get_system, create_system, update_system, set_agent_systems;  // systems.cpp, agents.cpp
Handler list_incidents, create_incident, get_incident, add_incident_alert, set_incident_status,  // incidents.cpp
    assign_incident, comment_incident, incident_notified, incident_report;

// Refused (403) unless the caller, an admin limited to some agencies, has every agent of `group` in
// them (groups.cpp); nullopt when the caller may manage it.
std::optional<net::HttpResponse> group_not_managed(const Call& c, const std::string& group);

// The systems named in `names` (a JSON list), which must exist, lie in the caller's agencies and
// belong to `agency`: sorted and without repeats in `out`; else the complaint (systems.cpp).
std::optional<std::string> check_systems(const Call& c, const std::string& agency, const nlohmann::json& names,
                                         std::vector<std::string>& out);

// The console API's routes after login (login and the web console's files come before
// authentication, in ConsoleApi).
std::vector<Route> endpoints();

}  // namespace vigil::collector::routes
