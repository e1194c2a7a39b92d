// Compliance per agency and its report as JSON, CSV or HTML (routes in endpoints.cpp).
#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "collector/retention/retention.h"
#include "collector/report/compliance_report.h"
#include "collector/report/compliance_summary.h"

namespace vigil::collector::routes {

namespace {

// The summary document of compliance_summary() for the `agency` (or every one the caller sees)
// and `since` of the query; the refusal when it cannot be built.
struct Summary {
  std::optional<nlohmann::json> json;
  net::HttpResponse refusal;
};

Summary summary(const Call& c) {
  const Query& query = c.query;
  const Principal& p = c.caller;
  Store& store = c.env.store;
  Summary out;
  auto refuse = [&](int status, const std::string& message) {
    out.refusal = error(status, message);
    return std::move(out);
  };
  std::string only_agency;
  std::optional<Timestamp> since;
  if (auto it = query.find("agency"); it != query.end()) only_agency = it->second;
  if (auto it = query.find("since"); it != query.end()) {
    since = parse_when(it->second);
    if (!since) return refuse(400, "since: a date (YYYY-MM-DD) or an RFC 3339 time");
  }
  if (!only_agency.empty() && !p.sees(only_agency)) return refuse(404, "no agency " + only_agency);
  SummaryInput in;
  in.now = Timestamp::now();
  in.since = since;
  in.silent_after = c.env.silent_after;
  in.frameworks = c.env.frameworks.get();
  auto agencies = store.list_agencies();
  auto agents = store.list_agents();
  auto systems = store.list_systems();
  auto latest = store.compliance_latest(only_agency);
  auto alerts = store.alert_tally(only_agency, Timestamp{});
  WaiverFilter wf;
  wf.agency = only_agency;
  wf.agencies_in = p.agencies;
  auto waivers = store.list_waivers(wf);
  if (!agencies || !agents || !systems || !latest || !alerts || !waivers) return refuse(503, "store unavailable");
  // Retention is the collector's, over every agency's systems (as the purge works it out).
  if (in.frameworks) {
    in.event_retention = effective_events_retention(
        c.env.retention, events_retention_needed(*systems, *agencies, *in.frameworks, c.env.default_framework));
  }
  bool found = only_agency.empty();
  for (auto& ag : *agencies) {
    if ((!only_agency.empty() && ag.name != only_agency) || !p.sees(ag.name)) continue;
    found = true;
    in.agencies.push_back(std::move(ag));
  }
  if (!found) return refuse(404, "no agency " + only_agency);
  if (since) {
    auto previous = store.compliance_as_of(only_agency, *since);
    auto raised = store.alert_tally(only_agency, *since);
    if (!previous || !raised) return refuse(503, "store unavailable");
    in.previous = std::move(*previous);
    in.alerts_since = std::move(*raised);
  }
  in.agents = std::move(*agents);
  in.systems = std::move(*systems);
  in.latest = std::move(*latest);
  in.alerts = std::move(*alerts);
  in.waivers = std::move(*waivers);
  out.json = compliance_summary(in);
  return out;
}

}  // namespace

// Per agency: scores, controls, failing checks, waivers, the self-assessment, agents and alerts
// (collector/report/compliance_summary.h says how each is counted).
net::HttpResponse compliance(const Call& c) {
  for (const auto& [k, v] : c.query) {
    if (k != "agency" && k != "since") return error(400, "unknown filter '" + k + "'");
  }
  auto doc = summary(c);
  if (!doc.json) return doc.refusal;
  return {200, (*doc.json)["agencies"].dump(), "application/json", false};
}

net::HttpResponse compliance_report(const Call& c) {
  std::string format = "json", lang = "vi";
  for (const auto& [k, v] : c.query) {
    if (k == "agency" || k == "since") {
      continue;
    } else if (k == "format") {
      if (v != "json" && v != "csv" && v != "html") return error(400, "format: json, csv or html");
      format = v;
    } else if (k == "lang") {
      if (v != "vi" && v != "en") return error(400, "lang: vi or en");
      lang = v;
    } else {
      return error(400, "unknown parameter '" + k + "'");
    }
  }
  auto doc = summary(c);
  if (!doc.json) return doc.refusal;
  const std::string stem = std::string("vigil-compliance-") + (c.query.count("agency") ? "agency" : "all");
  if (format == "csv") {
    net::HttpResponse out{200, compliance_csv(*doc.json), "text/csv; charset=utf-8", false};
    out.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + stem + ".csv\"");
    return out;
  }
  if (format == "html") {
    net::HttpResponse out{200, compliance_html(*doc.json, lang == "en" ? ReportLang::en : ReportLang::vi),
                          "text/html; charset=utf-8", false};
    // The report is one self-contained file: its own styles, nothing loaded, no script.
    out.headers.emplace_back("Content-Security-Policy", std::string(kReportCsp));
    return out;
  }
  return {200, doc.json->dump(), "application/json", false};
}

}  // namespace vigil::collector::routes
