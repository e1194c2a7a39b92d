// The compliance summary of agencies (shared/DESIGN.md "Compliance", shared/COMPLIANCE-VN.md "How a
// summary should read"), computed from what the store holds: the latest result of every check of
// every agent, the results as they stood at an earlier date (for the trend), waivers, open alerts
// and the control catalogues. One pure function, so the numbers are tested without a server.
//
// Agency → information system (with its level) → host. An agency's agents are split into sections:
// each of its systems (shared/DESIGN.md "Information systems") with the agents serving it, held to
// the system's level, and "unassigned": the agents serving no system, each held to its own level.
// An agent serving several systems is counted in each, at that system's level.
//
// Counting, per section:
//  - A check counts for a host when the check's level is at most the section's level for it (the
//    system's level; an unassigned agent's own). Revoked agents are left out.
//  - score = pass / (pass + fail); error, not_applicable, not_checked and waived are counted
//    apart. A fail or error of a check covered by an active waiver counts as waived (and is listed
//    with the waiver); a waived check that passes counts as pass: it needs no exception.
//  - not_checked: a check required of a host at the section's level (reported by another agent of
//    the agency at a level the host must meet) that the host has not reported. Agents that never
//    reported a result are listed as never scanned and counted apart.
//  - Per control of the agency's framework (the mapping each check carries): its counts and status.
//  - The self-assessment of Circular 12/2022 art. 13-14, per requirement of the framework at the
//    section's level: fully implemented when checks mapped to it pass and none fails, errs or is
//    waived; not implemented when none passes and none is waived; partly otherwise; not_assessed
//    when no automated check maps to it (it needs a manual verdict); not_required when the system's
//    level does not require it (unassigned: no agent's own level does).
//  - Log retention controls (a catalogue control with `retention:`) are evidenced by the collector
//    itself when `event_retention` is known (non-zero): for each system required to meet one, it
//    passes when the events are kept at least that long and fails otherwise, its evidence the
//    observed ("30d": durations only, the report and the console word them) against the expected ("≥ 92d"). Such a control is never
//    not_assessed. It is a control verdict, not a host check: it is not in pass/fail/score.
//
// The agency's totals are the union of its sections: its counts, per policy, per group, per
// control and the self-assessment add up those of its systems and of the unassigned agents, so a
// host-check is counted once per section it counts in (an agent serving two systems at levels the
// check applies to counts twice: once for each system). A requirement's `systems` there is the
// number of systems (and unassigned agents) required to meet it. Lists are per host-check, once:
// failing checks, waived results, the evidence of a control, the changes of the trend; an agent's
// own counts (agent_list) count each of its checks once, at the highest level it is held to
// (`level_held`). Per control group (network, server, application, data...; a check counts once in
// a group however many of its controls it meets) and per policy: counts and score.
//  - Trend (when `since` is given): the agency's counts over the results as they stood at `since`,
//    with the waivers active then, and the checks whose result changed.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "collector/store/store.h"
#include "common/compliance/framework.h"

namespace vigil::collector {

struct SummaryInput {
  std::vector<AgencyRecord> agencies;  // the agencies to summarise (already limited to the caller's)
  std::vector<AgentRecord> agents;
  std::vector<SystemRecord> systems;   // the information systems of these agencies (others are ignored)
  std::vector<ComplianceRow> latest;
  std::optional<Timestamp> since;
  std::vector<ComplianceRow> previous;  // compliance_as_of(since)
  std::vector<WaiverRecord> waivers;    // every waiver of these agencies, active or not
  std::vector<AlertTally> alerts;       // all alerts, by agency, severity and status
  std::vector<AlertTally> alerts_since;  // alerts raised since `since`
  const compliance::LoadedFrameworks* frameworks = nullptr;
  Timestamp now{};
  std::chrono::milliseconds silent_after{90'000};
  // How long the collector keeps events (its effective retention.events); 0: not known, log
  // retention controls are then judged like any other.
  std::chrono::milliseconds event_retention{};
};

// Lists in the summary are capped (failing checks, waived results, changes, evidence per control);
// each says how many it left out.
inline constexpr size_t kSummaryListCap = 500;
inline constexpr size_t kSummaryEvidencePerControl = 20;

// A waiver as the API and the summaries show it, with its state at `now`: active, expired (past
// its expiry) or ended (expired by hand).
nlohmann::json waiver_json(const WaiverRecord& w, Timestamp now);

// {"generated", "since"?, "agencies": [per agency], "all": totals over them}. Per agency, beside its
// totals: "systems": [{name, level, description, agents, hosts: [{id, host, level}], counts {pass,
// fail, error, not_applicable, not_checked, waived} (also flat), score, controls, controls_met,
// self_assessment}] and "unassigned": the same with name and level null.
nlohmann::json compliance_summary(const SummaryInput& in);

}  // namespace vigil::collector
