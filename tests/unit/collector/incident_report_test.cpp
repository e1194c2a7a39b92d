// The incident report: each language in its own words, hostile titles, comments and evidence
// escaped, the reporting clock's states (overdue, met, late, no deadline), the compliance report's
// policy, every alert listed with its event data bounded.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "collector/report/compliance_report.h"
#include "collector/report/incident_report.h"

namespace vigil::collector {
namespace {

constexpr int64_t kHour = 3'600'000'000'000;

Timestamp at(const char* rfc3339) { return *Timestamp::parse(rfc3339); }

IncidentAlert alert(int64_t id, const char* time, const char* rule, const char* host, std::string evidence) {
  IncidentAlert a;
  a.alert_id = id;
  a.time = at(time);
  a.severity = 4;
  a.rule_id = rule;
  a.rule_name = std::string("Rule ") + rule;
  a.agent_id = "agent-" + std::to_string(id);
  a.host = host;
  a.agency = "So TTTT";
  a.source_ip = "203.0.113.7";
  a.user_name = "admin";
  a.evidence = std::move(evidence);
  a.added_at = a.time;
  a.added_by = "analyst";
  return a;
}

// Detected 1 December 08:00 UTC, 24 h / 72 h clock, neither step done yet.
IncidentRecord sample() {
  IncidentRecord r;
  r.id = 42;
  r.title = "SSH brute force on web01";
  r.severity = 5;
  r.status = "contained";
  r.assignee = "lan.nguyen";
  r.created_by = "analyst";
  r.created_at = at("2026-12-01T08:30:00Z");
  r.detected_at = at("2026-12-01T08:00:00Z");
  r.notify_within_ns = 24 * kHour;
  r.report_within_ns = 72 * kHour;
  r.updated_at = at("2026-12-01T10:00:00Z");
  r.agencies = {"So TTTT"};
  r.hosts = {"db01", "web01"};
  r.alerts = {alert(101, "2026-12-01T08:00:00Z", "ssh-bruteforce", "web01",
                    R"({"event":{"kind":"auth","outcome":"failure"},"source":{"ip":"203.0.113.7"}})"),
              alert(102, "2026-12-01T08:05:00.123456Z", "ssh-login-after-failures", "web01", R"({"user":"admin"})"),
              alert(103, "2026-12-01T08:20:00Z", "sudo-root-shell", "db01", "")};
  r.alert_count = 3;
  r.timeline = {{at("2026-12-01T08:30:00Z"), "analyst", "created", r.title},
                {at("2026-12-01T08:30:00Z"), "analyst", "alert", "101"},
                {at("2026-12-01T08:31:00Z"), "analyst", "assign", "lan.nguyen"},
                {at("2026-12-01T09:00:00Z"), "lan.nguyen", "comment", "Blocked 203.0.113.7 at the firewall"},
                {at("2026-12-01T09:05:00Z"), "lan.nguyen", "status", "contained"}};
  return r;
}

const Timestamp kNow = at("2026-12-01T12:00:00Z");  // both steps still within their deadlines

bool has(const std::string& html, const std::string& s) { return html.find(s) != std::string::npos; }

// The text a reader sees: the markup without its tags.
std::string text_of(const std::string& html) {
  std::string out;
  bool in_tag = false;
  for (char c : html) {
    if (c == '<') in_tag = true;
    if (!in_tag) out += c;
    if (c == '>') in_tag = false;
  }
  return out;
}

std::string csp_meta(const std::string& html) {
  const std::string start = "<meta http-equiv=\"Content-Security-Policy\"";
  size_t b = html.find(start);
  if (b == std::string::npos) return {};
  return html.substr(b, html.find('>', b) - b + 1);
}

TEST(IncidentReport, EachLanguageInItsOwnWords) {
  const std::string vi = incident_report_html(sample(), "vi", kNow);
  const std::string en = incident_report_html(sample(), "en", kNow);
  EXPECT_TRUE(has(vi, "<html lang=\"vi\">"));
  EXPECT_TRUE(has(en, "<html lang=\"en\">"));
  for (const char* w : {"Báo cáo sự cố an toàn thông tin", "Thời hạn thông báo và báo cáo", "Diễn biến xử lý",
                        "Bằng chứng", "Các biện pháp đã thực hiện", "Nghiêm trọng", "Đã ngăn chặn", "Phân công cho",
                        "Chuyển trạng thái", "Ghi chú", "Thêm cảnh báo #101", "Địa chỉ nguồn",
                        "trong vòng 24 giờ kể từ khi phát hiện", "Nghị định 331/2026", "một nguồn"}) {
    EXPECT_TRUE(has(vi, w)) << w;
  }
  for (const char* w : {"Information security incident report", "Reporting clock", "Timeline", "Evidence",
                        "Actions taken", "Critical", "Contained", "Assigned to", "Status changed", "Comment",
                        "Alert #101 added", "Source address", "within 24 hours of detection", "Decree 331/2026",
                        "one source"}) {
    EXPECT_TRUE(has(en, w)) << w;
  }
  for (const char* w : {"Timeline", "Evidence", "Actions taken", "Reporting clock", "Severity", "Status", "Decree",
                        "Deadline", "Assignee", "within"}) {
    EXPECT_FALSE(has(vi, w)) << w;
  }
  for (const char* w : {"Diễn biến", "Bằng chứng", "Thời hạn", "Trạng thái", "Nghị định", "Người phụ trách",
                        "Mức độ", "giờ"}) {
    EXPECT_FALSE(has(en, w)) << w;
  }
  // The rules' names too, where the rule gives Vietnamese.
  auto named = sample();
  named.alerts[0].rule_name_vi = "Luật bằng tiếng Việt";
  EXPECT_TRUE(has(incident_report_html(named, "vi", kNow), "Luật bằng tiếng Việt"));
  EXPECT_FALSE(has(incident_report_html(named, "en", kNow), "Luật bằng tiếng Việt"));
  EXPECT_TRUE(has(incident_report_html(named, "en", kNow), named.alerts[0].rule_name));
  // Times in UTC as RFC 3339, to the second.
  EXPECT_TRUE(has(en, "2026-12-01T08:00:00Z UTC"));
  EXPECT_TRUE(has(text_of(en), "2026-12-01T08:05:00Z UTC"));
  EXPECT_FALSE(has(en, "08:05:00.123456Z"));
}

TEST(IncidentReport, EscapesHostileTitleCommentAndEvidence) {
  IncidentRecord r = sample();
  const std::string hostile = "</pre><script>alert(1)</script><img src=x onerror=alert(2)>";
  r.title = hostile;
  r.assignee = hostile;
  r.agencies = {hostile};
  r.hosts = {hostile};
  r.timeline.push_back({kNow, hostile, "comment", hostile});
  r.timeline.push_back({kNow, "x", "status", hostile});
  r.timeline.push_back({kNow, "x", hostile, hostile});
  r.alerts[0].evidence = nlohmann::json{{"cmd", hostile}}.dump();
  r.alerts[1].evidence = hostile;  // not JSON: printed as it came
  r.alerts[2].rule_id = hostile;
  r.alerts[2].rule_name = hostile;
  r.alerts[2].host = hostile;
  r.alerts[2].source_ip = hostile;
  r.alerts[2].user_name = hostile;
  for (const char* lang : {"vi", "en"}) {
    const std::string h = incident_report_html(r, lang, kNow);
    EXPECT_FALSE(has(h, "<script")) << lang;
    EXPECT_FALSE(has(h, "<img")) << lang;
    EXPECT_FALSE(has(h, "</pre><")) << lang;
    EXPECT_TRUE(has(h, "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;")) << lang;
    // Only the report's own <pre> blocks: one per alert with event data (two of three), each closed once.
    size_t open = 0, close = 0;
    for (size_t p = 0; (p = h.find("<pre", p)) != std::string::npos; ++p) ++open;
    for (size_t p = 0; (p = h.find("</pre>", p)) != std::string::npos; ++p) ++close;
    EXPECT_EQ(open, 2u) << lang;
    EXPECT_EQ(close, 2u) << lang;
  }
}

TEST(IncidentReport, ClockOverdueMetLateAndNone) {
  // Both steps past due and not done: overdue twice.
  IncidentRecord r = sample();
  std::string h = incident_report_html(r, "en", at("2026-12-05T08:00:00Z"));
  EXPECT_TRUE(has(h, "<span class=\"fail nw overdue\">Overdue</span>"));
  size_t overdue = 0;
  for (size_t p = 0; (p = h.find("class=\"fail nw overdue\"", p)) != std::string::npos; ++p) ++overdue;
  EXPECT_EQ(overdue, 2u);
  EXPECT_TRUE(has(h, "2026-12-02T08:00:00Z UTC"));  // notification due
  EXPECT_TRUE(has(h, "2026-12-04T08:00:00Z UTC"));  // report due
  EXPECT_TRUE(has(incident_report_html(r, "vi", at("2026-12-05T08:00:00Z")), ">Quá hạn</span>"));

  // Notification past due only: one overdue, the report pending.
  h = incident_report_html(r, "en", at("2026-12-03T08:00:00Z"));
  overdue = 0;
  for (size_t p = 0; (p = h.find("class=\"fail nw overdue\"", p)) != std::string::npos; ++p) ++overdue;
  EXPECT_EQ(overdue, 1u);
  EXPECT_TRUE(has(h, "Not yet done, within the deadline"));

  // Within the deadlines: nothing overdue.
  h = incident_report_html(r, "en", kNow);
  EXPECT_FALSE(has(h, "overdue"));
  EXPECT_FALSE(has(h, "Overdue"));

  // Notified in time, reported late: met and late, not overdue.
  r.notified_at = at("2026-12-01T20:00:00Z");
  r.reported_at = at("2026-12-04T09:00:00Z");
  r.status = "reported";
  h = incident_report_html(r, "en", at("2026-12-10T00:00:00Z"));
  EXPECT_FALSE(has(h, "Overdue"));
  EXPECT_TRUE(has(h, "<span class=\"pass nw\">On time</span>"));
  EXPECT_TRUE(has(h, "<span class=\"fail nw\">Late</span>"));
  EXPECT_TRUE(has(h, "2026-12-01T20:00:00Z UTC"));

  // No deadline: never overdue.
  r = sample();
  r.notify_within_ns = 0;
  r.report_within_ns = 0;
  h = incident_report_html(r, "en", at("2027-06-01T00:00:00Z"));
  EXPECT_FALSE(has(h, "Overdue"));
  EXPECT_TRUE(has(h, "no deadline"));
  EXPECT_TRUE(has(incident_report_html(r, "vi", kNow), "không có thời hạn"));
}

TEST(IncidentReport, SamePolicyAsTheComplianceReport) {
  const std::string compliance = compliance_html(nlohmann::json::object(), ReportLang::en);
  for (const char* lang : {"vi", "en"}) {
    const std::string h = incident_report_html(sample(), lang, kNow);
    EXPECT_FALSE(csp_meta(h).empty());
    EXPECT_EQ(csp_meta(h), csp_meta(compliance));
    EXPECT_TRUE(has(csp_meta(h), std::string(kReportCsp)));
    EXPECT_TRUE(has(h, "@media print"));
    EXPECT_TRUE(has(h, "tr{break-inside:avoid}"));
    EXPECT_FALSE(has(h, "http://"));
    EXPECT_FALSE(has(h, "https://"));
  }
}

TEST(IncidentReport, ListsEveryAlertAndBoundsItsEvidence) {
  IncidentRecord r = sample();
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 500; ++i) big.push_back({{"line", i}, {"text", "Đăng nhập thất bại"}});
  r.alerts[1].evidence = big.dump();
  const std::string h = incident_report_html(r, "en", kNow);
  for (const auto& a : r.alerts) {
    EXPECT_TRUE(has(h, "<td>#" + std::to_string(a.alert_id) + "</td>")) << a.alert_id;
    EXPECT_TRUE(has(h, a.rule_id)) << a.rule_id;
    EXPECT_TRUE(has(h, "Event data #" + std::to_string(a.alert_id))) << a.alert_id;
  }
  EXPECT_TRUE(has(h, "<td>203.0.113.7</td>"));
  EXPECT_TRUE(has(h, "<td>admin</td>"));
  // Pretty-printed JSON.
  EXPECT_TRUE(has(h, "{\n  &quot;event&quot;: {\n    &quot;kind&quot;: &quot;auth&quot;"));
  // The big one cut to about 4 KB, with a note; the one with no event data says so.
  EXPECT_TRUE(has(h, "Truncated: "));
  EXPECT_TRUE(has(h, "No event data."));
  size_t b = h.find("<pre class=\"evidence\">", h.find("Event data #102"));
  size_t e = h.find("</pre>", b);
  ASSERT_NE(b, std::string::npos);
  EXPECT_LT(e - b, 2 * 4096u);  // 4 KB of text, a little more once its quotes are escaped
  // A nesting bomb is printed as it came, not parsed.
  r.alerts[0].evidence = std::string(100000, '[');
  EXPECT_TRUE(has(incident_report_html(r, "en", kNow), "Truncated: 4096 of 100000 bytes shown."));
}

TEST(IncidentReport, TimelineAndActionsInOrder) {
  IncidentRecord r = sample();
  r.timeline.push_back({at("2026-12-01T11:00:00Z"), "lan.nguyen", "notified", ""});
  r.timeline.push_back({at("2026-12-01T11:30:00Z"), "lan.nguyen", "assign", ""});
  const std::string h = incident_report_html(r, "en", kNow);
  size_t actions = h.find("Actions taken"), timeline = h.find("<h3>Timeline</h3>");
  ASSERT_NE(actions, std::string::npos);
  ASSERT_NE(timeline, std::string::npos);
  const std::string taken = h.substr(actions, timeline - actions);
  EXPECT_TRUE(has(taken, "Comment: <span class=\"comment\">Blocked 203.0.113.7 at the firewall</span>"));
  EXPECT_TRUE(has(taken, "Status changed → <b>Contained</b>"));
  EXPECT_LT(taken.find("Comment:"), taken.find("Status changed"));
  EXPECT_FALSE(has(taken, "Assigned to"));
  const std::string tl = h.substr(timeline);
  EXPECT_TRUE(has(tl, "Incident created: SSH brute force on web01"));
  EXPECT_TRUE(has(tl, "Alert #101 added"));
  EXPECT_TRUE(has(tl, "Assigned to lan.nguyen"));
  EXPECT_TRUE(has(tl, "First notification made to the authority"));
  EXPECT_TRUE(has(tl, "Assignment removed"));
  EXPECT_LT(tl.find("Incident created"), tl.find("Alert #101 added"));
  EXPECT_LT(tl.find("Alert #101 added"), tl.find("Assigned to"));
}

}  // namespace
}  // namespace vigil::collector
