#include "collector/report/report_html.h"

#include <fmt/format.h>

namespace vigil::collector::report_html {

namespace {

// A4 pages, tables whose rows do not split across pages, the result colours.
constexpr std::string_view kStyle =
    "@page{size:A4;margin:14mm}"
    "body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;font-size:9.5pt;color:#111;margin:0}"
    "h1{font-size:16pt;margin:0 0 2mm}h2{font-size:13pt;margin:0 0 2mm;border-bottom:1px solid #999}"
    "h3{font-size:10.5pt;margin:4mm 0 1mm}.meta{color:#555;margin-bottom:5mm}"
    "section{margin-bottom:8mm}section+section{break-before:page}"
    ".head{display:flex;gap:8mm;align-items:center;break-inside:avoid}.facts td{padding:0.4mm 3mm 0.4mm 0}"
    "table.t{border-collapse:collapse;width:100%;margin-top:1mm}"
    "table.t th,table.t td{border:1px solid #bbb;padding:0.8mm 1.3mm;text-align:left;vertical-align:top}"
    "table.t th{background:#f0f0f0}tr{break-inside:avoid}"
    ".pass,.v-fully{color:#2e7d32;font-weight:bold}.fail,.v-not{color:#c62828;font-weight:bold}"
    ".error,.v-partly{color:#ef6c00;font-weight:bold}.waived{color:#6a1b9a;font-weight:bold}"
    ".not_applicable,.not_checked,.v-not_required,.v-not_assessed{color:#757575}"
    ".ev{font-family:'DejaVu Sans Mono',monospace;font-size:8pt;word-break:break-all}"
    ".fix{font-family:'DejaVu Sans',sans-serif;margin-top:1mm}"
    ".note{color:#555;font-size:8.5pt}@media screen{body{margin:12px}}";

}  // namespace

namespace {

// Words every report shares: the severities (info .. critical, as rules and alerts name them).
constexpr Word kSharedWords[] = {
    {"info", "Thông tin", "Info"}, {"low", "Thấp", "Low"},           {"medium", "Trung bình", "Medium"},
    {"high", "Cao", "High"},       {"critical", "Nghiêm trọng", "Critical"},
};

}  // namespace

std::string Words::operator()(std::string_view key) const {
  for (const auto& w : words_) {
    if (key == w.key) return html_escape(vi_ ? w.vi : w.en);
  }
  for (const auto& w : kSharedWords) {
    if (key == w.key) return html_escape(vi_ ? w.vi : w.en);
  }
  return html_escape(key);
}

std::string Words::severity(int severity) const {
  static const char* const kNames[] = {"info", "low", "medium", "high", "critical"};
  if (severity < 1 || severity > 5) return std::to_string(severity);
  return (*this)(kNames[severity - 1]);
}

std::string head(const Words& tr, std::string_view title, std::string_view extra_css) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">"
      "<title>{}</title><style>{}{}</style></head><body>\n",
      tr.vi() ? "vi" : "en", kReportCsp, title, kStyle, extra_css);
}

std::string cells(std::initializer_list<std::string> values, const char* tag) {
  std::string out = "<tr>";
  for (const auto& v : values) out += fmt::format("<{}>{}</{}>", tag, v, tag);
  return out + "</tr>";
}

}  // namespace vigil::collector::report_html
