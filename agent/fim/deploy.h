// File integrity: declared deploy windows and deploy users (agent.yaml fim.deploy_windows,
// fim.deploy_users), so that a change of a web page outside a deployment can be told apart from
// one made by a deployment (rules/detection/fim.yaml, the defacement rule).
//
// A window is "DAYS HH:MM-HH:MM" in the agent's local time:
//   DAYS: a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun; full names and any case too), a range of days
//         ("Mon-Fri", "Sat-Mon" wraps), a comma-separated list of these ("Tue,Thu"), or "*" / "daily".
//   HH:MM-HH:MM: the start and end minute, both included ("22:00-23:59"). An end before the start
//         runs past midnight into the next day ("Sat 23:00-02:00" covers Sunday 00:00-02:00).
//
// Each change is marked (the time of a change is its ctime when known: a change found by a later
// scan is placed when it happened, not when it was found):
//   vigil.fim.deploy_window: true|false  when fim.deploy_windows is not empty
//   vigil.fim.deploy_user:   true|false  when fim.deploy_users is not empty and the event names its
//                                         user.name (attribution from auditd, agent/fim/audit.h)
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/fim/diff.h"
#include "common/event/event.h"

namespace vigil::agent::fim {

struct DeployWindow {
  std::array<bool, 7> days{};  // by tm_wday: 0 Sunday .. 6 Saturday
  int start{0};                // minute of the day, 0..1439
  int end{0};                  // included; < start: ends the next day
  std::string text{};          // as written

  // Whether a local time (day of week, minute of the day) falls in the window.
  bool covers(int wday, int minute) const;
  bool operator==(const DeployWindow&) const = default;
};

// Parses one window; on failure `error` says what is wrong with it.
std::optional<DeployWindow> parse_deploy_window(std::string_view text, std::string& error);

// Whether any window covers `at` (local time of the agent).
bool in_deploy_window(const std::vector<DeployWindow>& windows, std::chrono::system_clock::time_point at);

// When a change happened: the ctime of what it found (no user can set a ctime back), else `now`
// (a deletion).
std::chrono::system_clock::time_point when_changed(const Change& c, std::chrono::system_clock::time_point now);

// The marks above, added to a file.integrity event.
void mark_deploy(Event& e, const std::vector<DeployWindow>& windows, const std::vector<std::string>& users,
                 std::chrono::system_clock::time_point at);

}  // namespace vigil::agent::fim
