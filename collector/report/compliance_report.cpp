#include "collector/report/compliance_report.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/report/report_html.h"
#include "common/i18n/json_text.h"

namespace vigil::collector {

namespace {

using nlohmann::json;
using report_html::cells;

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return {};
  const auto& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

uint64_t num(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned()) return 0;
  return j[key].get<uint64_t>();
}

const json& list(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return kEmpty;
  return j[key];
}

std::optional<double> score_of(const json& j) {
  if (!j.is_object() || !j.contains("score") || !j["score"].is_number()) return std::nullopt;
  return j["score"].get<double>();
}

std::string percent(const json& j, const char* none) {
  auto s = score_of(j);
  return s ? fmt::format("{:.0f}%", 100.0 * *s) : std::string(none);
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

// The report's words: {key, Vietnamese, English}.
using report_html::Word;
constexpr Word kWords[] = {
    {"title", "Báo cáo tuân thủ an toàn thông tin", "Information security compliance report"},
    {"generated", "Thời điểm lập báo cáo", "Generated"},
    {"since", "So sánh với thời điểm", "Compared with"},
    {"all", "Tổng hợp các cơ quan", "All agencies"},
    {"agency", "Cơ quan", "Agency"},
    {"framework", "Khung tiêu chuẩn", "Framework"},
    {"agents", "Số máy được giám sát", "Monitored hosts"},
    {"silent", "Mất liên lạc", "Silent"},
    {"never_scanned", "Chưa từng quét", "Never scanned"},
    {"score", "Điểm tuân thủ", "Compliance score"},
    {"no_score", "chưa có kết quả", "no results yet"},
    {"pass", "Đạt", "Pass"},
    {"fail", "Không đạt", "Fail"},
    {"error", "Lỗi", "Error"},
    {"not_applicable", "Không áp dụng", "Not applicable"},
    {"waived", "Được miễn trừ", "Waived"},
    {"not_checked", "Chưa kiểm tra", "Not checked"},
    {"controls", "Biện pháp kiểm soát", "Controls"},
    {"controls_met", "Biện pháp đạt yêu cầu", "Controls met"},
    {"control", "Biện pháp", "Control"},
    {"status", "Trạng thái", "Status"},
    {"failing", "Kiểm tra không đạt", "Failing checks"},
    {"none_failing", "Không có kiểm tra nào không đạt.", "No failing checks."},
    {"host", "Máy chủ", "Host"},
    {"check", "Mã kiểm tra", "Check"},
    {"level", "Cấp độ", "Level"},
    {"result", "Kết quả", "Result"},
    {"check_title", "Nội dung", "Title"},
    {"evidence", "Bằng chứng", "Evidence"},
    {"remediation", "Biện pháp khắc phục", "Remediation"},
    {"more", "mục khác không được liệt kê", "more not listed"},
    {"no_agencies", "Chưa có cơ quan nào.", "No agencies yet."},
    {"results", "Kết quả kiểm tra", "Check results"},
    {"alerts_open", "Cảnh báo chưa xử lý", "Open alerts"},
    {"alerts_since", "Cảnh báo phát sinh từ thời điểm so sánh", "Alerts raised since the comparison date"},
    {"by_group", "Điểm theo nhóm yêu cầu", "Score by requirement group"},
    {"by_policy", "Điểm theo chính sách kiểm tra", "Score by check policy"},
    {"group", "Nhóm", "Group"},
    {"policy", "Chính sách", "Policy"},
    {"network", "Mạng", "Network"},
    {"server", "Máy chủ", "Server"},
    {"application", "Ứng dụng", "Application"},
    {"data", "Dữ liệu", "Data"},
    {"self_assessment", "Tự đánh giá mức độ đáp ứng yêu cầu (Thông tư 12/2022/TT-BTTTT, Điều 13-14)",
     "Self-assessment of requirements (Circular 12/2022/TT-BTTTT, articles 13-14)"},
    {"requirement", "Yêu cầu", "Requirement"},
    {"verdict", "Mức độ đáp ứng", "Verdict"},
    {"basis", "Căn cứ", "Basis"},
    {"fully", "Đáp ứng đầy đủ", "Fully implemented"},
    {"partly", "Đáp ứng một phần", "Partly implemented"},
    {"not", "Chưa đáp ứng", "Not implemented"},
    {"not_assessed", "Chưa đánh giá tự động (cần đánh giá thủ công)", "Not assessed automatically (needs a manual verdict)"},
    {"not_required", "Không yêu cầu ở cấp độ của các hệ thống", "Not required at the systems' levels"},
    {"unverified", "* Cấp độ áp dụng và giá trị của yêu cầu chưa được xác minh từ văn bản gốc; xem ghi chú trong danh mục.",
     "* The levels and values of this requirement are not verified in the primary text; see the catalogue's note."},
    {"no_catalogue", "Không có danh mục yêu cầu cho khung tiêu chuẩn này; không lập được bảng tự đánh giá.",
     "No control catalogue for this framework: the self-assessment cannot be derived."},
    {"waivers", "Miễn trừ", "Waivers"},
    {"waived_results", "Kết quả được miễn trừ", "Waived results"},
    {"reason", "Lý do", "Reason"},
    {"accepted_by", "Người chấp thuận", "Accepted by"},
    {"expires", "Hết hạn", "Expires"},
    {"active", "đang hiệu lực", "active"},
    {"expired", "đã hết hạn", "expired"},
    {"ended", "đã chấm dứt", "ended"},
    {"scope", "Phạm vi", "Scope"},
    {"whole_agency", "toàn cơ quan", "whole agency"},
    {"trend", "Xu hướng", "Trend"},
    {"previous", "Điểm tại thời điểm so sánh", "Score at the comparison date"},
    {"change", "Thay đổi", "Change"},
    {"changes", "Kiểm tra thay đổi kết quả", "Checks whose result changed"},
    {"from", "Trước", "Before"},
    {"to", "Nay", "Now"},
    {"agent_list", "Máy được giám sát", "Monitored hosts"},
    {"last_seen", "Liên lạc lần cuối", "Last seen"},
    {"last_scan", "Lần quét cuối", "Last scan"},
    {"yes", "có", "yes"},
    {"systems", "Hệ thống thông tin", "Information systems"},
    {"system", "Hệ thống thông tin", "Information system"},
    {"system_level", "cấp độ", "level"},
    {"description", "Mô tả", "Description"},
    {"hosts", "Máy chủ phục vụ hệ thống", "Hosts serving it"},
    {"no_hosts", "Chưa có máy nào phục vụ hệ thống này.", "No host serves this system yet."},
    {"unassigned", "Máy chưa gắn với hệ thống thông tin nào", "Hosts serving no information system"},
    {"unassigned_note", "Mỗi máy được đánh giá theo cấp độ riêng của nó.", "Each host is held to its own level."},
    {"own_level", "cấp độ riêng", "own level"},
    {"collector", "Bộ thu (collector)", "Collector"},
    {"retention_kept", "Thời gian lưu sự kiện: {}; yêu cầu ≥ {}", "Events kept {}; required ≥ {}"},
    {"days", "ngày", "days"},
    {"systems_note", "Máy phục vụ nhiều hệ thống được tính cho từng hệ thống theo cấp độ của hệ thống đó; "
                     "số liệu của cơ quan là tổng của các hệ thống và các máy chưa gắn với hệ thống.",
     "A host serving several systems is counted for each, at that system's level; the agency's figures add up "
     "its systems and its unassigned hosts."},
    {"note", "Điểm = số kiểm tra đạt / (đạt + không đạt). Lỗi, không áp dụng, chưa kiểm tra và được miễn trừ được tính riêng. "
             "Một kiểm tra chỉ được tính cho hệ thống có cấp độ từ cấp độ của kiểm tra trở lên.",
     "Score = passed checks / (pass + fail). Error, not applicable, not checked and waived are counted apart. "
     "A check counts for a system whose security level is at least the check's level."},
};

class Tr : public report_html::Words {
 public:
  explicit Tr(ReportLang lang) : Words(kWords, lang) {}
};

// A person's text of `j` in the report's language (`key_vi` for Vietnamese where given).
std::string txt(const json& j, const char* key, const Tr& tr) {
  return i18n::text_in(j, key, tr.vi() ? i18n::Lang::vi : i18n::Lang::en);
}

const char* const kSeverities[] = {"critical", "high", "medium", "low", "info"};

// A ring of the score (pass share of pass + fail), its percentage in the middle.
std::string score_ring(const json& a, const Tr& tr) {
  auto s = score_of(a);
  std::string label = s ? fmt::format("{:.0f}%", 100.0 * *s) : tr("no_score");
  double frac = s ? std::clamp(*s, 0.0, 1.0) : 0.0;
  constexpr double kR = 40, kC = 2 * M_PI * kR;
  return fmt::format(
      "<svg class=\"ring\" viewBox=\"0 0 100 100\" width=\"110\" height=\"110\" role=\"img\" aria-label=\"{} {}\">"
      "<circle cx=\"50\" cy=\"50\" r=\"{}\" fill=\"none\" stroke=\"#e6e6e6\" stroke-width=\"12\"/>"
      "<circle cx=\"50\" cy=\"50\" r=\"{}\" fill=\"none\" stroke=\"#2e7d32\" stroke-width=\"12\" "
      "stroke-dasharray=\"{:.2f} {:.2f}\" transform=\"rotate(-90 50 50)\"/>"
      "<text x=\"50\" y=\"55\" text-anchor=\"middle\" font-size=\"{}\">{}</text></svg>",
      tr("score"), html_escape(label), kR, kR, frac * kC, kC, s ? 18 : 9, html_escape(label));
}

// One stacked bar of the check results, with its legend.
std::string results_bar(const json& a, const Tr& tr) {
  struct Part {
    const char* key;
    const char* color;
  };
  const Part parts[] = {{"pass", "#2e7d32"},          {"fail", "#c62828"},   {"error", "#ef6c00"},
                        {"waived", "#6a1b9a"},        {"not_checked", "#90a4ae"}, {"not_applicable", "#bdbdbd"}};
  uint64_t total = 0;
  for (const auto& p : parts) total += num(a, p.key);
  std::string svg = fmt::format(
      "<svg class=\"bar\" viewBox=\"0 0 620 62\" width=\"620\" height=\"62\" role=\"img\" aria-label=\"{}\">",
      tr("results"));
  double x = 0;
  int lx = 0;
  for (const auto& p : parts) {
    uint64_t n = num(a, p.key);
    double width = total ? 600.0 * static_cast<double>(n) / static_cast<double>(total) : 0;
    if (width > 0) {
      svg += fmt::format("<rect x=\"{:.2f}\" y=\"0\" width=\"{:.2f}\" height=\"22\" fill=\"{}\"/>", x, width, p.color);
    }
    x += width;
    svg += fmt::format("<rect x=\"{}\" y=\"34\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"43\" font-size=\"10\">{} {}</text>",
                       lx, p.color, lx + 13, tr(p.key), n);
    lx += 103;
  }
  if (total == 0) svg += "<rect x=\"0\" y=\"0\" width=\"600\" height=\"22\" fill=\"#e6e6e6\"/>";
  return svg + "</svg>";
}

// A small horizontal score bar for a table cell.
std::string score_bar(const json& j, const Tr& tr) {
  auto s = score_of(j);
  if (!s) return tr("no_score");
  double w = 100.0 * std::clamp(*s, 0.0, 1.0);
  return fmt::format("<svg viewBox=\"0 0 100 10\" width=\"80\" height=\"9\" role=\"img\" aria-label=\"{:.0f}%\">"
                     "<rect x=\"0\" y=\"0\" width=\"100\" height=\"10\" fill=\"#e6e6e6\"/>"
                     "<rect x=\"0\" y=\"0\" width=\"{:.1f}\" height=\"10\" fill=\"#2e7d32\"/></svg> {:.0f}%",
                     w, w, w);
}

std::string counts_cells(const json& j) {
  return fmt::format("<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", num(j, "pass"), num(j, "fail"),
                     num(j, "error"), num(j, "waived"), num(j, "not_checked"));
}

std::string counts_head(const Tr& tr) {
  return fmt::format("<th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>", tr("pass"), tr("fail"), tr("error"),
                     tr("waived"), tr("not_checked"));
}

std::string day(const std::string& rfc3339) { return html_escape(rfc3339.substr(0, std::min<size_t>(rfc3339.size(), 10))); }
std::string minute(const std::string& rfc3339) {
  if (rfc3339.size() < 16) return html_escape(rfc3339);
  return html_escape(rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 5)) + " UTC";
}

std::string alerts_line(const json& alerts, const Tr& tr) {
  std::string out;
  for (const char* s : kSeverities) {
    if (!out.empty()) out += " · ";
    out += fmt::format("{} {}", tr(s), num(alerts, s));
  }
  return out;
}

std::string more(uint64_t n, const Tr& tr) {
  return n ? fmt::format("<p class=\"note\">+{} {}</p>", n, tr("more")) : std::string();
}

std::string waiver_scope(const json& w, const Tr& tr) {
  std::string agent = str(w, "agent_id");
  return agent.empty() ? tr("whole_agency") : html_escape(agent);
}

// "30d" as the report's language says it: "30 ngày", "30 days"; other units as they are.
std::string duration_words(const std::string& d, const Tr& tr) {
  if (d.size() > 1 && d.back() == 'd') return html_escape(d.substr(0, d.size() - 1)) + " " + tr("days");
  return html_escape(d);
}

// One evidence line of a requirement: a host's check, or the collector's own log retention.
std::string evidence_line(const json& e, const Tr& tr) {
  if (str(e, "source") == "collector") {
    std::string text = tr("retention_kept");
    auto put = [&](const std::string& v) {
      if (auto at = text.find("{}"); at != std::string::npos) text.replace(at, 2, v);
    };
    put(duration_words(str(e, "event_retention"), tr));
    put(duration_words(str(e, "required_retention"), tr));
    return fmt::format("{}: {} <span class=\"{}\">{}</span>", tr("collector"), text, html_escape(str(e, "state")),
                       tr(str(e, "state")));
  }
  return fmt::format("{} {}: <span class=\"{}\">{}</span>", html_escape(str(e, "host")), html_escape(str(e, "check")),
                     html_escape(str(e, "state")), tr(str(e, "state")));
}

// The self-assessment table of Circular 12 of an agency or of one of its systems.
void self_assessment_table(std::string& h, const json& sa, bool framework_known, const Tr& tr) {
  if (!framework_known) {
    h += fmt::format("<p>{}</p>", tr("no_catalogue"));
    return;
  }
  bool unverified = false;
  h += fmt::format("<table class=\"t sa\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>", tr("requirement"),
                   tr("verdict"), tr("basis"), tr("waivers"));
  for (const auto& c : sa) {
    std::string verdict = str(c, "verdict");
    bool verified = c.value("verified", true);
    unverified |= !verified;
    std::string basis;
    if (verdict != "not_required" && verdict != "not_assessed") {
      basis = fmt::format("{} {} · {} {} · {} {} · {} {}", tr("pass"), num(c, "pass"), tr("fail"), num(c, "fail"),
                          tr("error"), num(c, "error"), tr("waived"), num(c, "waived"));
      size_t shown = 0;
      for (const auto& e : list(c, "evidence")) {
        if (shown++ == 5) break;
        basis += fmt::format("<br><span class=\"ev\">{}</span>", evidence_line(e, tr));
      }
      uint64_t rest = list(c, "evidence").size() > 5 ? list(c, "evidence").size() - 5 : 0;
      rest += num(c, "evidence_not_listed");
      if (rest) basis += fmt::format("<br><span class=\"note\">+{} {}</span>", rest, tr("more"));
    }
    std::string ws;
    for (const auto& w : list(c, "waivers")) {
      if (!ws.empty()) ws += "<br>";
      ws += fmt::format("#{} {} ({}: {}; {}: {})", num(w, "id"), html_escape(str(w, "reason")), tr("accepted_by"),
                        html_escape(str(w, "accepted_by")), tr("expires"), day(str(w, "expires")));
    }
    h += fmt::format("<tr><td><b>{}</b>{}<br>{} <span class=\"note\">({})</span></td><td class=\"v-{}\">{}</td>"
                     "<td>{}</td><td>{}</td></tr>",
                     html_escape(str(c, "id")), verified ? "" : "*", html_escape(txt(c, "title", tr)), tr(str(c, "group")),
                     html_escape(verdict), tr(verdict), basis, ws);
  }
  h += "</table>";
  if (unverified) h += fmt::format("<p class=\"note\">{}</p>", tr("unverified"));
}

// Agency → system (level) → host: a table of the agency's systems, then a part per system (its
// level, score, counts, hosts and self-assessment at its level) and one for the unassigned hosts.
void systems_part(std::string& h, const json& a, const Tr& tr) {
  const auto& systems = list(a, "systems");
  const json& un = a.contains("unassigned") ? a["unassigned"] : json::object();
  const auto& un_hosts = list(un, "hosts");
  if (systems.empty() && un_hosts.empty()) return;
  h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>{}</tr>",
                   tr("systems"), tr("system"), tr("level"), tr("agents"), tr("score"), counts_head(tr));
  for (const auto& s : systems) {
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>", html_escape(str(s, "name")),
                     html_escape(str(s, "level")), num(s, "agents"), score_bar(s, tr), counts_cells(s));
  }
  if (!un_hosts.empty()) {
    h += fmt::format("<tr><td><i>{}</i></td><td>{}</td><td>{}</td><td>{}</td>{}</tr>", tr("unassigned"),
                     tr("own_level"), un_hosts.size(), score_bar(un, tr), counts_cells(un));
  }
  h += fmt::format("</table><p class=\"note\">{}</p>", tr("systems_note"));
  const bool known = a.value("framework_known", false);
  auto part = [&](const json& s, const std::string& heading) {
    h += fmt::format("<div class=\"system\"><h4>{}</h4>", heading);
    if (!str(s, "description").empty()) {
      h += fmt::format("<p>{}: {}</p>", tr("description"), html_escape(str(s, "description")));
    }
    h += fmt::format("<p>{}: <b>{}</b> · {}</p>", tr("score"), html_escape(percent(s, "—")),
                     [&] {
                       std::string c;
                       for (const char* k : {"pass", "fail", "error", "waived", "not_checked", "not_applicable"}) {
                         if (!c.empty()) c += " · ";
                         c += fmt::format("{} {}", tr(k), num(s, k));
                       }
                       return c;
                     }());
    const auto& hosts = list(s, "hosts");
    if (hosts.empty()) {
      h += fmt::format("<p class=\"note\">{}</p>", tr("no_hosts"));
    } else {
      std::string names;
      for (const auto& host : hosts) {
        if (!names.empty()) names += ", ";
        names += html_escape(str(host, "host"));
        if (s["name"].is_null()) names += fmt::format(" ({} {})", tr("system_level"), html_escape(str(host, "level")));
      }
      h += fmt::format("<p>{}: {}</p>", tr("hosts"), names);
    }
    h += fmt::format("<h5>{}</h5>", tr("self_assessment"));
    self_assessment_table(h, list(s, "self_assessment"), known, tr);
    h += "</div>";
  };
  for (const auto& s : systems) {
    part(s, fmt::format("{}: {} ({} {})", tr("system"), html_escape(str(s, "name")), tr("system_level"),
                        html_escape(str(s, "level"))));
  }
  if (!un_hosts.empty()) part(un, fmt::format("{} <span class=\"note\">({})</span>", tr("unassigned"), tr("unassigned_note")));
}

void agency_section(std::string& h, const json& a, const Tr& tr, bool has_trend) {
  const auto& controls = list(a, "controls");
  h += fmt::format("<section><h2>{}: {}</h2><div class=\"head\">{}<div><table class=\"facts\">", tr("agency"),
                   html_escape(str(a, "agency")), score_ring(a, tr));
  std::string fw = str(a, "framework_title").empty() ? str(a, "framework")
                                                     : txt(a, "framework_title", tr) + " (" + str(a, "framework") + ")";
  h += fmt::format("<tr><td>{}</td><td><b>{}</b></td></tr>", tr("framework"), html_escape(fw));
  h += fmt::format("<tr><td>{}</td><td>{} ({} {}, {} {})</td></tr>", tr("agents"), num(a, "agents"), tr("silent"),
                   num(a, "agents_silent"), tr("never_scanned"), num(a, "agents_never_scanned"));
  h += fmt::format("<tr><td>{}</td><td>{} / {}</td></tr>", tr("controls_met"), num(a, "controls_met"), controls.size());
  h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", tr("alerts_open"), alerts_line(a.value("alerts_open", json::object()), tr));
  if (a.contains("alerts_since")) {
    h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", tr("alerts_since"), alerts_line(a["alerts_since"], tr));
  }
  h += "</table>" + results_bar(a, tr) + "</div></div>";
  systems_part(h, a, tr);

  if (has_trend && a.contains("trend")) {
    const auto& t = a["trend"];
    const auto& prev = t.value("previous", json::object());
    std::string change = t.contains("score_change") && t["score_change"].is_number()
                             ? fmt::format("{:+.0f}", 100.0 * t["score_change"].get<double>())
                             : std::string("—");
    h += fmt::format("<h3>{}</h3><p>{} ({}): <b>{}</b> → {}: <b>{}</b> ({} {} %)</p>", tr("trend"), tr("previous"),
                     day(str(t, "since")), html_escape(percent(prev, "—")), tr("to"), html_escape(percent(a, "—")),
                     tr("change"), html_escape(change));
    const auto& ch = list(t, "changes");
    if (!ch.empty()) {
      h += fmt::format("<table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                       tr("host"), tr("check"), tr("check_title"), tr("from"), tr("to"));
      for (const auto& c : ch) {
        h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td></tr>",
                         html_escape(str(c, "host")), html_escape(str(c, "check")), html_escape(txt(c, "title", tr)),
                         html_escape(str(c, "from")), tr(str(c, "from")), html_escape(str(c, "to")), tr(str(c, "to")));
      }
      h += "</table>" + more(num(t, "changes_not_listed"), tr);
    }
  }

  // Scores per requirement group and per policy.
  const auto& groups = list(a, "groups");
  if (!groups.empty()) {
    h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>{}</th><th>{}</th>{}</tr>", tr("by_group"), tr("group"),
                     tr("score"), counts_head(tr));
    for (const auto& g : groups) {
      h += fmt::format("<tr><td>{}</td><td>{}</td>{}</tr>", tr(str(g, "group")), score_bar(g, tr), counts_cells(g));
    }
    h += "</table>";
  }
  const auto& policies = list(a, "policies");
  if (!policies.empty()) {
    h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>{}</th><th>{}</th>{}</tr>", tr("by_policy"), tr("policy"),
                     tr("score"), counts_head(tr));
    for (const auto& p : policies) {
      std::string name = str(p, "policy");
      if (!str(p, "version").empty()) name += " v" + str(p, "version");
      h += fmt::format("<tr><td>{}</td><td>{}</td>{}</tr>", html_escape(name), score_bar(p, tr), counts_cells(p));
    }
    h += "</table>";
  }

  // The self-assessment table of Circular 12, over the agency's systems.
  h += fmt::format("<h3>{}</h3>", tr("self_assessment"));
  self_assessment_table(h, list(a, "self_assessment"), a.value("framework_known", false), tr);

  if (!controls.empty()) {
    h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>{}</th><th>{}</th>{}</tr>", tr("controls"), tr("control"),
                     tr("status"), counts_head(tr));
    for (const auto& c : controls) {
      std::string status = str(c, "status");
      std::string name = str(c, "id");
      if (!str(c, "title").empty()) name += " — " + txt(c, "title", tr);
      h += fmt::format("<tr><td>{}</td><td class=\"{}\">{}</td>{}</tr>", html_escape(name), html_escape(status),
                       tr(status), counts_cells(c));
    }
    h += "</table>";
  }

  const auto& failing = list(a, "failing");
  h += fmt::format("<h3>{}</h3>", tr("failing"));
  if (failing.empty()) {
    h += fmt::format("<p>{}</p>", tr("none_failing"));
  } else {
    h += fmt::format("<table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                     tr("host"), tr("check"), tr("level"), tr("result"), tr("check_title"), tr("evidence"));
    for (const auto& f : failing) {
      std::string result = str(f, "result");
      std::string ev = html_escape(str(f, "evidence"));
      if (!str(f, "remediation").empty()) {
        ev += fmt::format("<div class=\"fix\"><b>{}:</b> {}</div>", tr("remediation"), html_escape(txt(f, "remediation", tr)));
      }
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"ev\">{}</td></tr>",
                       html_escape(str(f, "host")), html_escape(str(f, "check")), html_escape(str(f, "level")), html_escape(result),
                       tr(result), html_escape(txt(f, "title", tr)), ev);
    }
    h += "</table>" + more(num(a, "failing_not_listed"), tr);
  }

  const auto& waived = list(a, "waived_results");
  if (!waived.empty()) {
    h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                     tr("waived_results"), tr("host"), tr("check"), tr("result"), tr("reason"), tr("expires"));
    for (const auto& w : waived) {
      const auto& wv = w.value("waiver", json::object());
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({}: {})</td><td>{}</td></tr>",
                       html_escape(str(w, "host")), html_escape(str(w, "check")), tr(str(w, "result")),
                       html_escape(str(wv, "reason")), tr("accepted_by"), html_escape(str(wv, "accepted_by")),
                       day(str(wv, "expires")));
    }
    h += "</table>" + more(num(a, "waived_results_not_listed"), tr);
  }
  const auto& waivers = list(a, "waivers");
  if (!waivers.empty()) {
    h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
                     "<th>{}</th></tr>",
                     tr("waivers"), tr("check"), tr("scope"), tr("reason"), tr("accepted_by"), tr("expires"), tr("status"));
    for (const auto& w : waivers) {
      std::string check = str(w, "policy").empty() ? str(w, "check") : str(w, "policy") + "/" + str(w, "check");
      h += cells({std::to_string(num(w, "id")), html_escape(check), waiver_scope(w, tr), html_escape(str(w, "reason")),
                  html_escape(str(w, "accepted_by")), day(str(w, "expires")), tr(str(w, "state"))});
    }
    h += "</table>";
  }

  const auto& agents = list(a, "agent_list");
  if (!agents.empty()) {
    h += fmt::format("<h3>{}</h3><table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
                     "<th>{}</th></tr>",
                     tr("agent_list"), tr("host"), tr("level"), tr("last_seen"), tr("last_scan"), tr("score"),
                     tr("not_checked"));
    for (const auto& g : agents) {
      std::string seen = minute(str(g, "last_seen"));
      if (g.value("silent", false)) seen += fmt::format(" <span class=\"fail\">({})</span>", tr("silent"));
      std::string scan = g.value("never_scanned", false) ? fmt::format("<span class=\"fail\">{}</span>", tr("never_scanned"))
                                                         : minute(str(g, "last_scan"));
      h += cells({html_escape(str(g, "host")), html_escape(str(g, "level")), seen, scan, score_bar(g, tr),
                  std::to_string(num(g, "not_checked"))});
    }
    h += "</table>";
  }
  h += "</section>\n";
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

std::string compliance_csv(const json& summary) {
  std::string out =
      "agency,framework,record,id,status,pass,fail,error,not_applicable,waived,not_checked,score,host,level,title,"
      "evidence,remediation,detail\r\n";
  auto row = [&](std::initializer_list<std::string> cells) {
    bool first = true;
    for (const auto& c : cells) {
      if (!first) out += ',';
      out += csv_cell(c);
      first = false;
    }
    out += "\r\n";
  };
  auto score = [](const json& j) {
    auto s = score_of(j);
    return s ? fmt::format("{:.4f}", *s) : std::string();
  };
  for (const auto& a : list(summary, "agencies")) {
    std::string agency = str(a, "agency"), fw = str(a, "framework");
    auto counted = [&](const char* record, const std::string& id, const std::string& status, const json& j,
                       const std::string& host, const std::string& level, const std::string& title,
                       const std::string& detail) {
      row({agency, fw, record, id, status, str(j, "pass"), str(j, "fail"), str(j, "error"), str(j, "not_applicable"),
           str(j, "waived"), str(j, "not_checked"), score(j), host, level, title, "", "", detail});
    };
    counted("summary", "", "", a, "", "", str(a, "framework_title"), "");
    for (const auto& p : list(a, "policies")) counted("policy", str(p, "policy"), "", p, "", "", str(p, "version"), "");
    for (const auto& g : list(a, "groups")) counted("group", str(g, "group"), "", g, "", "", "", "");
    for (const auto& c : list(a, "controls")) {
      counted("control", str(c, "id"), str(c, "status"), c, "", "", str(c, "title"), "");
    }
    for (const auto& c : list(a, "self_assessment")) {
      std::string waivers;
      for (const auto& w : list(c, "waivers")) waivers += (waivers.empty() ? "waivers " : " ") + str(w, "id");
      counted("self_assessment", str(c, "id"), str(c, "verdict"), c, "", "", str(c, "title"),
              std::string(c.value("verified", true) ? "" : "unverified ") + waivers);
    }
    // Agency → system (level) → host: a row per system and per unassigned host set, its hosts, and
    // its self-assessment at its level.
    auto section = [&](const json& s, const std::string& record, const std::string& name, const std::string& level) {
      std::string hosts;
      for (const auto& h : list(s, "hosts")) hosts += (hosts.empty() ? "" : " ") + str(h, "host");
      counted(record.c_str(), name, "", s, hosts, level, str(s, "description"), "");
      for (const auto& c : list(s, "self_assessment")) {
        std::string evidence = str(c, "observed").empty() ? "" : str(c, "observed") + " (" + str(c, "expected") + ")";
        row({agency, fw, record + "_self_assessment", str(c, "id"), str(c, "verdict"), str(c, "pass"), str(c, "fail"),
             str(c, "error"), str(c, "not_applicable"), str(c, "waived"), str(c, "not_checked"), score(c), "", level,
             str(c, "title"), evidence, "", record == "system" ? "system " + name : "unassigned"});
      }
    };
    for (const auto& s : list(a, "systems")) section(s, "system", str(s, "name"), str(s, "level"));
    if (a.contains("unassigned") && !list(a["unassigned"], "hosts").empty()) {
      section(a["unassigned"], "unassigned", "", "");
    }
    for (const auto& f : list(a, "failing")) {
      row({agency, fw, "failing_check", str(f, "check"), str(f, "result"), "", "", "", "", "", "", "", str(f, "host"),
           str(f, "level"), str(f, "title"), str(f, "evidence"), str(f, "remediation"), str(f, "policy")});
    }
    for (const auto& w : list(a, "waived_results")) {
      const auto& wv = w.value("waiver", json::object());
      row({agency, fw, "waived_result", str(w, "check"), str(w, "result"), "", "", "", "", "", "", "", str(w, "host"),
           str(w, "level"), str(w, "title"), str(w, "evidence"), "",
           fmt::format("waiver {} until {}: {} (accepted by {})", str(wv, "id"), str(wv, "expires"), str(wv, "reason"),
                       str(wv, "accepted_by"))});
    }
    for (const auto& g : list(a, "agent_list")) {
      std::string detail = std::string(g.value("silent", false) ? "silent " : "") +
                           (g.value("never_scanned", false) ? "never_scanned" : "last_scan " + str(g, "last_scan"));
      counted("agent", str(g, "id"), "", g, str(g, "host"), str(g, "level"), "", detail);
    }
    if (a.contains("trend")) {
      const auto& t = a["trend"];
      counted("trend", "", "", t.value("previous", json::object()), "", "", "", "since " + str(t, "since"));
      for (const auto& c : list(t, "changes")) {
        row({agency, fw, "change", str(c, "check"), str(c, "to"), "", "", "", "", "", "", "", str(c, "host"), "",
             str(c, "title"), "", "", "from " + str(c, "from")});
      }
    }
  }
  return out;
}

std::string compliance_html(const json& summary, ReportLang lang) {
  const Tr tr(lang);
  const auto& agencies = list(summary, "agencies");
  std::string h = report_html::head(tr, tr("title"),
                                    "h4{margin:14px 0 4px}h5{margin:8px 0 4px;font-size:12px}"
                                    ".system{border-left:3px solid #ccc;padding-left:10px;margin:10px 0}") +
                  fmt::format("<h1>{}</h1><div class=\"meta\">{}: {}", tr("title"), tr("generated"),
                              minute(str(summary, "generated")));
  const bool has_trend = summary.contains("since");
  if (has_trend) h += fmt::format(" · {}: {}", tr("since"), minute(str(summary, "since")));
  h += "</div>\n";
  if (agencies.empty()) h += fmt::format("<p>{}</p>", tr("no_agencies"));
  if (agencies.size() > 1) {
    const auto& all = summary.value("all", json::object());
    h += fmt::format("<section><h2>{}</h2><div class=\"head\">{}<div>{}</div></div>", tr("all"), score_ring(all, tr),
                     results_bar(all, tr));
    h += fmt::format("<table class=\"t\"><tr><th>{}</th><th>{}</th><th>{}</th>{}<th>{}</th></tr>", tr("agency"),
                     tr("agents"), tr("score"), counts_head(tr), tr("alerts_open"));
    for (const auto& a : agencies) {
      const auto& al = a.value("alerts_open", json::object());
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>", html_escape(str(a, "agency")),
                       num(a, "agents"), score_bar(a, tr), counts_cells(a), num(al, "total"));
    }
    h += "</table></section>\n";
  }
  for (const auto& a : agencies) agency_section(h, a, tr, has_trend);
  h += fmt::format("<p class=\"note\">{}</p></body></html>\n", tr("note"));
  return h;
}

}  // namespace vigil::collector
