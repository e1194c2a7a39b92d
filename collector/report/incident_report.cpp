#include "collector/report/incident_report.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/report/report_html.h"
#include "common/i18n/text.h"
#include "common/ingest/bounded_json.h"

namespace vigil::collector {

namespace {

using nlohmann::json;
using report_html::cells;
using report_html::Word;

// An alert's event data is printed up to this many bytes.
constexpr size_t kEvidenceMax = 4096;
// Event data nested deeper than this is printed as it came rather than parsed and re-indented.
constexpr size_t kEvidenceDepth = 64;

constexpr Word kWords[] = {
    {"title", "Báo cáo sự cố an toàn thông tin", "Information security incident report"},
    {"generated", "Thời điểm lập báo cáo", "Generated"},
    {"utc_note", "Mọi thời điểm tính theo giờ UTC (giờ Việt Nam = UTC+7).", "All times are UTC (Vietnam time is UTC+7)."},
    {"incident", "Sự cố", "Incident"},
    {"id", "Mã sự cố", "Incident ID"},
    {"incident_title", "Tiêu đề", "Title"},
    {"severity", "Mức độ nghiêm trọng", "Severity"},
    {"severity_short", "Mức độ", "Severity"},
    {"status", "Trạng thái", "Status"},
    {"open", "Đang mở", "Open"},
    {"contained", "Đã ngăn chặn", "Contained"},
    {"resolved", "Đã khắc phục", "Resolved"},
    {"reported", "Đã báo cáo", "Reported"},
    {"assignee", "Người phụ trách", "Assignee"},
    {"unassigned", "chưa phân công", "unassigned"},
    {"created_by", "Người tạo", "Created by"},
    {"created_at", "Thời điểm tạo", "Created at"},
    {"detected_at", "Thời điểm phát hiện", "Detected at"},
    {"updated_at", "Cập nhật lần cuối", "Last updated"},
    {"alert_count", "Số cảnh báo", "Number of alerts"},
    {"agencies", "Cơ quan bị ảnh hưởng", "Affected agencies"},
    {"hosts", "Máy bị ảnh hưởng", "Affected hosts"},
    {"none", "không có", "none"},
    {"clock", "Thời hạn thông báo và báo cáo", "Reporting clock"},
    {"step", "Bước", "Step"},
    {"deadline", "Thời hạn", "Deadline"},
    {"due", "Hạn chót", "Due"},
    {"done_at", "Thực hiện lúc", "Done at"},
    {"state", "Tình trạng", "State"},
    {"notification", "Thông báo ban đầu", "First notification"},
    {"full_report", "Báo cáo đầy đủ", "Full report"},
    {"within", "trong vòng {} giờ kể từ khi phát hiện", "within {} hours of detection"},
    {"no_deadline", "không có thời hạn", "no deadline"},
    {"on_time", "Đúng hạn", "On time"},
    {"late", "Trễ hạn", "Late"},
    {"done", "Đã thực hiện", "Done"},
    {"overdue", "Quá hạn", "Overdue"},
    {"pending", "Chưa thực hiện, còn trong hạn", "Not yet done, within the deadline"},
    {"not_done", "Chưa thực hiện", "Not yet done"},
    {"basis",
     "Căn cứ pháp lý: điểm d khoản 2 Điều 31 Nghị định 331/2026 (thông báo và báo cáo sự cố nghiêm trọng) — "
     "thông tin từ một nguồn, chưa được đối chiếu với văn bản gốc.",
     "Legal basis: Decree 331/2026, article 31.2(d) (notifying and reporting a serious incident) — from one source, "
     "not yet checked against the primary text."},
    {"actions", "Các biện pháp đã thực hiện", "Actions taken"},
    {"no_actions", "Chưa ghi nhận biện pháp nào.", "No actions recorded yet."},
    {"timeline", "Diễn biến xử lý", "Timeline"},
    {"time", "Thời điểm", "Time"},
    {"who", "Người thực hiện", "By"},
    {"what", "Nội dung", "Action"},
    {"tl_created", "Tạo sự cố", "Incident created"},
    {"tl_alert", "Thêm cảnh báo #{}", "Alert #{} added"},
    {"tl_status", "Chuyển trạng thái", "Status changed"},
    {"tl_assign", "Phân công cho", "Assigned to"},
    {"tl_unassign", "Bỏ phân công", "Assignment removed"},
    {"tl_comment", "Ghi chú", "Comment"},
    {"tl_notified", "Đã gửi thông báo ban đầu cho cơ quan chức năng", "First notification made to the authority"},
    {"evidence", "Bằng chứng", "Evidence"},
    {"alerts", "Các cảnh báo", "Alerts"},
    {"alert", "Cảnh báo", "Alert"},
    {"rule", "Quy tắc", "Rule"},
    {"agency", "Cơ quan", "Agency"},
    {"host", "Máy", "Host"},
    {"source", "Địa chỉ nguồn", "Source address"},
    {"user", "Người dùng", "User"},
    {"event_data", "Dữ liệu sự kiện", "Event data"},
    {"truncated", "Đã cắt bớt: chỉ in {} trên {} byte.", "Truncated: {} of {} bytes shown."},
    {"no_event", "Không có dữ liệu sự kiện.", "No event data."},
    {"no_alerts", "Sự cố chưa có cảnh báo nào.", "The incident has no alerts."},
};

class Tr : public report_html::Words {
 public:
  explicit Tr(ReportLang lang) : Words(kWords, lang) {}
};

// The incident report's own rules, after the reports' shared style.
constexpr std::string_view kStyle =
    "h4{font-size:9.5pt;margin:3mm 0 1mm}.facts td.k{color:#555;white-space:nowrap}"
    "table.t thead{display:table-header-group}.nw{white-space:nowrap}table.alerts{font-size:8.5pt}table.alerts td{overflow-wrap:break-word}"
    ".comment{white-space:pre-wrap}.basis{margin:1mm 0 0}"
    "pre.evidence{font-family:'DejaVu Sans Mono',monospace;font-size:7.5pt;line-height:1.3;white-space:pre-wrap;"
    "overflow-wrap:anywhere;border:1px solid #ccc;background:#f7f7f7;padding:1.5mm 2mm;margin:0 0 1mm}"
    "@media print{h2,h3,h4{break-after:avoid}pre.evidence{background:none}.head,.facts{break-inside:avoid}}";

// RFC 3339 to the second, then "UTC", kept on one line; or on two (date, time of day) in a narrow
// column when `wrap`.
std::string utc(Timestamp t, bool wrap = false) {
  int64_t s = t.ns / 1'000'000'000;
  if (t.ns % 1'000'000'000 < 0) --s;
  std::string text = Timestamp::from_seconds(s).to_string();
  size_t day_end = text.find('T');
  if (!wrap || day_end == std::string::npos) return "<span class=\"nw\">" + html_escape(text) + " UTC</span>";
  return fmt::format("<span class=\"nw\">{}</span><wbr><span class=\"nw\">{} UTC</span>",
                     html_escape(text.substr(0, day_end + 1)), html_escape(text.substr(day_end + 1)));
}

std::string or_dash(const std::string& v) { return v.empty() ? std::string("—") : html_escape(v); }

std::string joined(const std::vector<std::string>& values, const Tr& tr) {
  if (values.empty()) return tr("none");
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += html_escape(v);
  }
  return out;
}

std::string status_word(const std::string& status, const Tr& tr) {
  return incident_status_rank(status) >= 0 ? tr(status) : html_escape(status);
}

// One step of the reporting clock: its deadline, when it was done and where it stands at `now`.
std::string clock_row(const char* step, int64_t within_ns, Timestamp due, Timestamp done, Timestamp now,
                      const Tr& tr) {
  std::string deadline = within_ns ? fmt::format(fmt::runtime(tr("within")),
                                                 fmt::format("{:g}", static_cast<double>(within_ns) / 3.6e12))
                                   : tr("no_deadline");
  std::string state;
  if (done.ns != 0 && within_ns) {
    state = done <= due ? fmt::format("<span class=\"pass nw\">{}</span>", tr("on_time"))
                        : fmt::format("<span class=\"fail nw\">{}</span>", tr("late"));
  } else if (done.ns != 0) {
    state = fmt::format("<span class=\"pass nw\">{}</span>", tr("done"));
  } else if (within_ns && now > due) {
    state = fmt::format("<span class=\"fail nw overdue\">{}</span>", tr("overdue"));
  } else {
    state = within_ns ? tr("pending") : tr("not_done");
  }
  return cells({tr(step), deadline, within_ns ? utc(due) : std::string("—"), done.ns ? utc(done) : std::string("—"),
                state});
}

// What a line of the timeline did, in words.
std::string entry_text(const IncidentEntry& e, const Tr& tr) {
  if (e.action == "created") {
    return e.value.empty() ? tr("tl_created") : tr("tl_created") + ": " + html_escape(e.value);
  }
  if (e.action == "alert") return fmt::format(fmt::runtime(tr("tl_alert")), html_escape(e.value));
  if (e.action == "status") return tr("tl_status") + " → <b>" + status_word(e.value, tr) + "</b>";
  if (e.action == "assign") return e.value.empty() ? tr("tl_unassign") : tr("tl_assign") + " " + html_escape(e.value);
  if (e.action == "comment") {
    return tr("tl_comment") + ": <span class=\"comment\">" + html_escape(e.value) + "</span>";
  }
  if (e.action == "notified") {
    return e.value.empty() ? tr("tl_notified") : tr("tl_notified") + ": " + html_escape(e.value);
  }
  return html_escape(e.action) + (e.value.empty() ? "" : ": " + html_escape(e.value));
}

std::string entries_table(const std::vector<const IncidentEntry*>& entries, const Tr& tr) {
  std::string h = fmt::format("<table class=\"t\"><thead>{}</thead><tbody>",
                              cells({"#", tr("time"), tr("who"), tr("what")}, "th"));
  size_t n = 0;
  for (const auto* e : entries) {
    h += cells({std::to_string(++n), utc(e->time), or_dash(e->who), entry_text(*e, tr)});
  }
  return h + "</tbody></table>";
}

// The event data re-indented when it is JSON (nesting bounded), as it came otherwise.
std::string pretty(const std::string& evidence) {
  auto j = ingest::parse_bounded_json(evidence, kEvidenceDepth);
  if (!j) return evidence;
  return j->dump(2, ' ', false, json::error_handler_t::replace);
}

// The length of `s` cut to at most `max` bytes at the end of a line (or of a UTF-8 character when
// the last line is long).
size_t cut(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t nl = s.rfind('\n', max);
  if (nl != std::string_view::npos && nl >= max / 2) return nl;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string evidence_block(const IncidentAlert& a, const Tr& tr) {
  std::string h = fmt::format("<h4>{} #{} · {} · {}</h4>", tr("event_data"), a.alert_id, or_dash(a.rule_id),
                              or_dash(a.host));
  if (a.evidence.empty()) return h + fmt::format("<p class=\"note\">{}</p>", tr("no_event"));
  std::string text = pretty(a.evidence);
  size_t n = cut(text, kEvidenceMax);
  h += fmt::format("<pre class=\"evidence\">{}</pre>", html_escape(std::string_view(text).substr(0, n)));
  if (n < text.size()) {
    h += fmt::format("<p class=\"note\">{}</p>", fmt::format(fmt::runtime(tr("truncated")), n, text.size()));
  }
  return h;
}

}  // namespace

std::string incident_report_html(const IncidentRecord& incident, const std::string& lang, Timestamp now) {
  const Tr tr(lang == "vi" ? ReportLang::vi : ReportLang::en);
  const std::string heading = fmt::format("{} #{}: {}", tr("incident"), incident.id, html_escape(incident.title));
  std::string h = report_html::head(tr, tr("title") + " — " + heading, kStyle);
  h += fmt::format("<h1>{}</h1><div class=\"meta\">{}: {} · {}</div>\n", tr("title"), tr("generated"), utc(now),
                   tr("utc_note"));

  // The facts.
  h += fmt::format("<section><h2>{}</h2><table class=\"facts\">", heading);
  auto fact = [&](const char* key, const std::string& value) {
    h += fmt::format("<tr><td class=\"k\">{}</td><td>{}</td></tr>", tr(key), value);
  };
  fact("id", std::to_string(incident.id));
  fact("incident_title", "<b>" + html_escape(incident.title) + "</b>");
  fact("severity", tr.severity(incident.severity));
  fact("status", "<b>" + status_word(incident.status, tr) + "</b>");
  fact("assignee", incident.assignee.empty() ? tr("unassigned") : html_escape(incident.assignee));
  fact("created_by", or_dash(incident.created_by));
  fact("created_at", utc(incident.created_at));
  fact("detected_at", utc(incident.detected_at));
  if (incident.updated_at.ns) fact("updated_at", utc(incident.updated_at));
  fact("alert_count", std::to_string(std::max<int64_t>(incident.alert_count, static_cast<int64_t>(incident.alerts.size()))));
  fact("agencies", joined(incident.agencies, tr));
  fact("hosts", joined(incident.hosts, tr));
  h += "</table>\n";

  // The reporting clock, counted from detection.
  h += fmt::format("<h3>{}</h3><table class=\"t\"><thead>{}</thead><tbody>", tr("clock"),
                   cells({tr("step"), tr("deadline"), tr("due"), tr("done_at"), tr("state")}, "th"));
  h += clock_row("notification", incident.notify_within_ns, incident.notify_due(), incident.notified_at, now, tr);
  h += clock_row("full_report", incident.report_within_ns, incident.report_due(), incident.reported_at, now, tr);
  h += fmt::format("</tbody></table><p class=\"note basis\">{}</p>\n", tr("basis"));

  // What was done: the comments and status changes, then every line of the timeline.
  std::vector<const IncidentEntry*> actions, all;
  for (const auto& e : incident.timeline) {
    all.push_back(&e);
    if (e.action == "comment" || e.action == "status") actions.push_back(&e);
  }
  h += fmt::format("<h3>{}</h3>", tr("actions"));
  h += actions.empty() ? fmt::format("<p>{}</p>", tr("no_actions")) : entries_table(actions, tr);
  h += fmt::format("\n<h3>{}</h3>", tr("timeline"));
  h += all.empty() ? fmt::format("<p>{}</p>", tr("no_actions")) : entries_table(all, tr);
  h += "</section>\n";

  // The evidence: the alerts, then each one's event data.
  h += fmt::format("<section><h2>{}</h2>", tr("evidence"));
  if (incident.alerts.empty()) {
    h += fmt::format("<p>{}</p>", tr("no_alerts"));
  } else {
    h += fmt::format("<h3>{}</h3><table class=\"t alerts\"><thead>{}</thead><tbody>", tr("alerts"),
                     cells({tr("alert"), tr("time"), tr("severity_short"), tr("rule"), tr("agency"), tr("host"), tr("source"),
                            tr("user")},
                           "th"));
    for (const auto& a : incident.alerts) {
      std::string rule = "<b>" + or_dash(a.rule_id) + "</b>";
      const std::string& name = tr.vi() ? i18n::pick(i18n::Lang::vi, a.rule_name, a.rule_name_vi) : a.rule_name;
      if (!name.empty()) rule += "<br>" + html_escape(name);
      h += cells({fmt::format("#{}", a.alert_id), utc(a.time, true), tr.severity(a.severity), rule, or_dash(a.agency),
                  or_dash(a.host), or_dash(a.source_ip), or_dash(a.user_name)});
    }
    h += "</tbody></table>\n";
    for (const auto& a : incident.alerts) h += evidence_block(a, tr) + "\n";
  }
  h += "</section></body></html>\n";
  return h;
}

}  // namespace vigil::collector
