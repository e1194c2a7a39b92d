// Compliance reports from the summary document (collector/report/compliance_summary.h, also
// GET /api/v1/reports/compliance?format=json): CSV for spreadsheets and one self-contained,
// printable (A4) HTML file in Vietnamese or English, with its charts drawn in SVG. No script, no
// external resource; every value is escaped.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace vigil::collector {

enum class ReportLang { vi, en };

// The report's own policy (HTTP header and meta tag): its inline styles, nothing else.
inline constexpr std::string_view kReportCsp = "default-src 'none'; style-src 'unsafe-inline'";

// RFC 4180 CSV, one row per agency summary, policy, control group, control, self-assessment
// verdict, information system (its hosts in `host`, its level in `level`) and its self-assessment
// verdicts, the unassigned hosts and theirs, failing check, waived result, agent and change since
// the trend date. Cells that a spreadsheet would take for a formula (starting with = + - @) are
// prefixed with '.
std::string compliance_csv(const nlohmann::json& summary);

std::string compliance_html(const nlohmann::json& summary, ReportLang lang);

// Text for HTML element content and attribute values.
std::string html_escape(std::string_view s);

}  // namespace vigil::collector
