// The printable report of one incident (collector/store/incident_store.h): its facts, the reporting
// clock with its legal basis, what was done, the timeline and the evidence of its alerts, as one
// self-contained HTML file in Vietnamese or English with the compliance report's policy and style
// (collector/report/report_html.h). No script, no external resource; every value is escaped
// (titles and comments are user text, evidence comes from the monitored hosts).
#pragma once

#include <string>

#include "collector/store/incident_store.h"

namespace vigil::collector {

// The incident as a printable HTML document in `lang` ("vi" or "en"; anything else is English),
// `now` for the clock's state.
std::string incident_report_html(const IncidentRecord& incident, const std::string& lang, Timestamp now);

}  // namespace vigil::collector
