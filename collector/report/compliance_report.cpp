#include "collector/report/compliance_report.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vigil::collector {

namespace {

std::string str(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return {};
  const auto& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

uint64_t num(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned()) return 0;
  return j[key].get<uint64_t>();
}

std::string csv_cell(std::string v) {
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r')) {
    v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

struct Words {
  const char* title;
  const char* generated;
  const char* agency;
  const char* framework;
  const char* agents;
  const char* score;
  const char* no_score;
  const char* pass;
  const char* fail;
  const char* error;
  const char* not_applicable;
  const char* controls;
  const char* controls_met;
  const char* control;
  const char* status;
  const char* failing;
  const char* none_failing;
  const char* host;
  const char* check;
  const char* level;
  const char* result;
  const char* check_title;
  const char* evidence;
  const char* more_failing;
  const char* no_agencies;
  const char* results;
  const char* note;
};

const Words kVi = {
    "Báo cáo tuân thủ an toàn thông tin",
    "Thời điểm lập báo cáo",
    "Cơ quan",
    "Khung tiêu chuẩn",
    "Số máy được giám sát",
    "Điểm tuân thủ",
    "chưa có kết quả",
    "Đạt",
    "Không đạt",
    "Lỗi",
    "Không áp dụng",
    "Biện pháp kiểm soát",
    "Biện pháp đạt yêu cầu",
    "Biện pháp",
    "Trạng thái",
    "Kiểm tra không đạt",
    "Không có kiểm tra nào không đạt.",
    "Máy chủ",
    "Mã kiểm tra",
    "Cấp độ",
    "Kết quả",
    "Nội dung",
    "Bằng chứng",
    "kiểm tra không đạt khác không được liệt kê",
    "Chưa có cơ quan nào.",
    "Kết quả kiểm tra",
    "Điểm = số kiểm tra đạt / (đạt + không đạt + lỗi); kiểm tra không áp dụng được tính riêng.",
};

const Words kEn = {
    "Information security compliance report",
    "Generated",
    "Agency",
    "Framework",
    "Monitored systems",
    "Compliance score",
    "no results yet",
    "Pass",
    "Fail",
    "Error",
    "Not applicable",
    "Controls",
    "Controls met",
    "Control",
    "Status",
    "Failing checks",
    "No failing checks.",
    "Host",
    "Check",
    "Level",
    "Result",
    "Title",
    "Evidence",
    "more failing checks not listed",
    "No agencies yet.",
    "Check results",
    "Score = passed checks / (pass + fail + error); not-applicable checks are counted apart.",
};

const char* result_word(const Words& w, const std::string& r) {
  if (r == "pass") return w.pass;
  if (r == "fail") return w.fail;
  if (r == "error") return w.error;
  if (r == "not_applicable") return w.not_applicable;
  return "";
}

// A ring of the score (pass share of judged checks), its percentage in the middle.
std::string score_ring(const nlohmann::json& a, const Words& w) {
  const auto& s = a.contains("score") ? a["score"] : nlohmann::json();
  std::string label = s.is_number() ? fmt::format("{:.0f}%", 100.0 * s.get<double>()) : std::string(w.no_score);
  double frac = s.is_number() ? std::clamp(s.get<double>(), 0.0, 1.0) : 0.0;
  constexpr double kR = 40, kC = 2 * M_PI * kR;
  return fmt::format(
      "<svg class=\"ring\" viewBox=\"0 0 100 100\" width=\"110\" height=\"110\" role=\"img\" aria-label=\"{} {}\">"
      "<circle cx=\"50\" cy=\"50\" r=\"{}\" fill=\"none\" stroke=\"#e6e6e6\" stroke-width=\"12\"/>"
      "<circle cx=\"50\" cy=\"50\" r=\"{}\" fill=\"none\" stroke=\"#2e7d32\" stroke-width=\"12\" "
      "stroke-dasharray=\"{:.2f} {:.2f}\" transform=\"rotate(-90 50 50)\"/>"
      "<text x=\"50\" y=\"55\" text-anchor=\"middle\" font-size=\"{}\">{}</text></svg>",
      html_escape(w.score), html_escape(label), kR, kR, frac * kC, kC, s.is_number() ? 18 : 9, html_escape(label));
}

// One stacked bar of the check results, with its legend.
std::string results_bar(const nlohmann::json& a, const Words& w) {
  struct Part {
    const char* key;
    const char* word;
    const char* color;
  };
  const Part parts[] = {{"pass", w.pass, "#2e7d32"},
                        {"fail", w.fail, "#c62828"},
                        {"error", w.error, "#ef6c00"},
                        {"not_applicable", w.not_applicable, "#9e9e9e"}};
  uint64_t total = 0;
  for (const auto& p : parts) total += num(a, p.key);
  std::string svg = fmt::format("<svg class=\"bar\" viewBox=\"0 0 520 56\" width=\"520\" height=\"56\" role=\"img\" "
                                "aria-label=\"{}\">",
                                html_escape(w.results));
  double x = 0;
  int lx = 0;
  for (const auto& p : parts) {
    uint64_t n = num(a, p.key);
    double width = total ? 400.0 * static_cast<double>(n) / static_cast<double>(total) : 0;
    if (width > 0) svg += fmt::format("<rect x=\"{:.2f}\" y=\"0\" width=\"{:.2f}\" height=\"22\" fill=\"{}\"/>", x, width, p.color);
    x += width;
    svg += fmt::format("<rect x=\"{}\" y=\"34\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"43\" font-size=\"11\">{} {}</text>",
                       lx, p.color, lx + 14, html_escape(p.word), n);
    lx += 130;
  }
  if (total == 0) svg += "<rect x=\"0\" y=\"0\" width=\"400\" height=\"22\" fill=\"#e6e6e6\"/>";
  return svg + "</svg>";
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string compliance_csv(const nlohmann::json& agencies) {
  std::string out = "agency,framework,record,id,status,pass,fail,error,not_applicable,score,host,level,title,evidence\r\n";
  auto row = [&](std::initializer_list<std::string> cells) {
    bool first = true;
    for (const auto& c : cells) {
      if (!first) out += ',';
      out += csv_cell(c);
      first = false;
    }
    out += "\r\n";
  };
  for (const auto& a : agencies) {
    std::string agency = str(a, "agency"), fw = str(a, "framework");
    std::string score = a.contains("score") && a["score"].is_number() ? fmt::format("{:.4f}", a["score"].get<double>()) : "";
    row({agency, fw, "summary", "", "", str(a, "pass"), str(a, "fail"), str(a, "error"), str(a, "not_applicable"), score,
         "", "", "", ""});
    for (const auto& c : a.value("controls", nlohmann::json::array())) {
      row({agency, fw, "control", str(c, "id"), str(c, "status"), str(c, "pass"), str(c, "fail"), "", "", "", "", "", "", ""});
    }
    for (const auto& f : a.value("failing", nlohmann::json::array())) {
      row({agency, fw, "failing_check", str(f, "check"), str(f, "result"), "", "", "", "", "", str(f, "host"),
           str(f, "level"), str(f, "title"), str(f, "evidence")});
    }
  }
  return out;
}

std::string compliance_html(const nlohmann::json& agencies, ReportLang lang, Timestamp generated) {
  const Words& w = lang == ReportLang::vi ? kVi : kEn;
  std::string h = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
      "<title>{}</title><style>"
      "@page{{size:A4;margin:15mm}}"
      "body{{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;font-size:10.5pt;color:#111;margin:0}}"
      "h1{{font-size:17pt;margin:0 0 2mm}}h2{{font-size:13pt;margin:0 0 2mm;border-bottom:1px solid #999}}"
      "h3{{font-size:11pt;margin:4mm 0 1mm}}.meta{{color:#555;margin-bottom:6mm}}"
      "section{{break-inside:avoid-page;margin-bottom:8mm}}"
      ".head{{display:flex;gap:8mm;align-items:center}}.facts td{{padding:0.5mm 3mm 0.5mm 0}}"
      "table.t{{border-collapse:collapse;width:100%;margin-top:1mm}}"
      "table.t th,table.t td{{border:1px solid #bbb;padding:1mm 1.5mm;text-align:left;vertical-align:top}}"
      "table.t th{{background:#f0f0f0}}tr{{break-inside:avoid}}"
      ".pass{{color:#2e7d32;font-weight:bold}}.fail{{color:#c62828;font-weight:bold}}"
      ".error{{color:#ef6c00;font-weight:bold}}.not_applicable{{color:#757575}}"
      ".ev{{font-family:'DejaVu Sans Mono',monospace;font-size:8.5pt;word-break:break-all}}"
      ".note{{color:#555;font-size:9pt}}@media screen{{body{{margin:12px}}}}"
      "</style></head><body>\n<h1>{}</h1><div class=\"meta\">{}: {}</div>\n",
      lang == ReportLang::vi ? "vi" : "en", html_escape(w.title), html_escape(w.title), html_escape(w.generated),
      html_escape(generated.to_string().substr(0, 19) + "Z"));
  if (agencies.empty()) h += fmt::format("<p>{}</p>", html_escape(w.no_agencies));
  for (const auto& a : agencies) {
    const auto controls = a.value("controls", nlohmann::json::array());
    const auto failing = a.value("failing", nlohmann::json::array());
    h += fmt::format("<section><h2>{}: {}</h2><div class=\"head\">{}<div><table class=\"facts\">", html_escape(w.agency),
                     html_escape(str(a, "agency")), score_ring(a, w));
    h += fmt::format("<tr><td>{}</td><td><b>{}</b></td></tr>", html_escape(w.framework), html_escape(str(a, "framework")));
    h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", html_escape(w.agents), html_escape(str(a, "agents")));
    h += fmt::format("<tr><td>{}</td><td>{} / {}</td></tr>", html_escape(w.controls_met), html_escape(str(a, "controls_met")),
                     controls.size());
    h += "</table>" + results_bar(a, w) + "</div></div>";
    if (!controls.empty()) {
      h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                       html_escape(w.controls), html_escape(w.control), html_escape(w.status), html_escape(w.pass),
                       html_escape(w.fail));
      for (const auto& c : controls) {
        std::string status = str(c, "status");
        h += fmt::format("<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>", html_escape(str(c, "id")),
                         html_escape(status), html_escape(result_word(w, status)), html_escape(str(c, "pass")),
                         html_escape(str(c, "fail")));
      }
      h += "</table>";
    }
    h += fmt::format("<h3>{}</h3>", html_escape(w.failing));
    if (failing.empty()) {
      h += fmt::format("<p>{}</p>", html_escape(w.none_failing));
    } else {
      h += fmt::format("<table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                       html_escape(w.host), html_escape(w.check), html_escape(w.level), html_escape(w.result),
                       html_escape(w.check_title), html_escape(w.evidence));
      for (const auto& f : failing) {
        std::string result = str(f, "result");
        h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"ev\">{}</td></tr>",
                         html_escape(str(f, "host")), html_escape(str(f, "check")), html_escape(str(f, "level")),
                         html_escape(result), html_escape(result_word(w, result)), html_escape(str(f, "title")),
                         html_escape(str(f, "evidence")));
      }
      h += "</table>";
      if (num(a, "failing_not_listed") > 0) {
        h += fmt::format("<p class=\"note\">+{} {}</p>", num(a, "failing_not_listed"), html_escape(w.more_failing));
      }
    }
    h += "</section>\n";
  }
  h += fmt::format("<p class=\"note\">{}</p></body></html>\n", html_escape(w.note));
  return h;
}

}  // namespace vigil::collector
