// What the printable HTML reports share (compliance_report.cpp, incident_report.cpp): one document
// head carrying the report's policy (kReportCsp) and style, the words of a report in Vietnamese and
// English, table rows. Every text they return is escaped; values passed in as cells must be already.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "collector/report/compliance_report.h"

namespace vigil::collector::report_html {

// A report's word: {key, Vietnamese, English}.
struct Word {
  const char* key;
  const char* vi;
  const char* en;
};

// The words of one report in one language, escaped; a key with no word (a value the report does
// not translate) comes back as itself, escaped.
class Words {
 public:
  Words(std::span<const Word> words, ReportLang lang) : words_(words), vi_(lang == ReportLang::vi) {}
  std::string operator()(std::string_view key) const;
  // Severity 1-5 in words ("Cao", "High"), shared by every report; other numbers as they are.
  std::string severity(int severity) const;
  bool vi() const { return vi_; }

 private:
  std::span<const Word> words_;
  bool vi_;
};

// "<!DOCTYPE html>…<body>\n": the language, the report's policy, `title` (escaped already) and the
// reports' style followed by `extra_css`.
std::string head(const Words& tr, std::string_view title, std::string_view extra_css = {});

// One table row of `values` (escaped already) in `tag` cells.
std::string cells(std::initializer_list<std::string> values, const char* tag = "td");

}  // namespace vigil::collector::report_html
