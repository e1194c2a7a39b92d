// The compliance summary of agencies (shared/DESIGN.md "Compliance", shared/COMPLIANCE-VN.md "How a
// summary should read"), computed from what the store holds: the latest result of every check of
// every agent, the results as they stood at an earlier date (for the trend), waivers, open alerts
// and the control catalogues. One pure function, so the numbers are tested without a server.
//
// Counting, per agency:
//  - A check counts for an agent when its level is at most the security level of the system the
//    agent serves. Revoked agents are left out.
//  - score = pass / (pass + fail); error, not_applicable, not_checked and waived are counted
//    apart. A fail or error of a check covered by an active waiver counts as waived (and is listed
//    with the waiver); a waived check that passes counts as pass: it needs no exception.
//  - not_checked: a check required of an agent (reported by another agent of the agency at a level
//    the agent must meet) that the agent has not reported. Agents that never reported a result are
//    listed as never scanned and counted apart.
//  - Per control of the agency's framework (the mapping each check carries): its counts and status;
//    per control group (network, server, application, data...; a check counts once in a group
//    however many of its controls it meets) and per policy: counts and score.
//  - The self-assessment of Circular 12/2022 art. 13-14: per requirement of the framework, for the
//    systems whose level it applies to: fully implemented when checks mapped to it pass and none
//    fails, errs or is waived; not implemented when none passes and none is waived; partly
//    otherwise; not_assessed when no automated check maps to it (it needs a manual verdict);
//    not_required when no system of the agency is at a level that requires it.
//  - Trend (when `since` is given): the same counts over the results as they stood at `since`, with
//    the waivers active then, and the checks whose result changed.
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
  std::vector<ComplianceRow> latest;
  std::optional<Timestamp> since;
  std::vector<ComplianceRow> previous;  // compliance_as_of(since)
  std::vector<WaiverRecord> waivers;    // every waiver of these agencies, active or not
  std::vector<AlertTally> alerts;       // all alerts, by agency, severity and status
  std::vector<AlertTally> alerts_since;  // alerts raised since `since`
  const compliance::LoadedFrameworks* frameworks = nullptr;
  Timestamp now{};
  std::chrono::milliseconds silent_after{90'000};
};

// Lists in the summary are capped (failing checks, waived results, changes, evidence per control);
// each says how many it left out.
inline constexpr size_t kSummaryListCap = 500;
inline constexpr size_t kSummaryEvidencePerControl = 20;

// A waiver as the API and the summaries show it, with its state at `now`: active, expired (past
// its expiry) or ended (expired by hand).
nlohmann::json waiver_json(const WaiverRecord& w, Timestamp now);

// {"generated", "since"?, "agencies": [per agency], "all": totals over them}.
nlohmann::json compliance_summary(const SummaryInput& in);

}  // namespace vigil::collector
