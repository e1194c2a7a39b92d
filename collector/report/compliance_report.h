// Compliance reports from the collector's compliance summary (GET /api/v1/compliance): CSV for
// spreadsheets and one self-contained, printable (A4) HTML file in Vietnamese or English, with
// its charts drawn in SVG. No script, no external resource; every value is escaped.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/event/value.h"

namespace vigil::collector {

enum class ReportLang { vi, en };

// RFC 4180 CSV, one row per agency summary, control and failing check. Cells that a
// spreadsheet would take for a formula (starting with = + - @) are prefixed with '.
std::string compliance_csv(const nlohmann::json& agencies);

std::string compliance_html(const nlohmann::json& agencies, ReportLang lang, Timestamp generated);

// Text for HTML element content and attribute values.
std::string html_escape(std::string_view s);

}  // namespace vigil::collector
