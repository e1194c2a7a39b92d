// Compliance reports: CSV quoting and formula neutralising, HTML escaping of values that come
// from the monitored hosts (evidence is attacker-influenced), both languages, no script, and the
// sections of the summary (self-assessment, waivers, trend) present in each.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "collector/report/compliance_report.h"
#include "collector/report/compliance_summary.h"

namespace vigil::collector {
namespace {

nlohmann::json sample() {
  return nlohmann::json::parse(R"({
    "generated": "2026-11-27T10:00:00Z", "since": "2026-11-01T00:00:00Z",
    "all": {"pass": 3, "fail": 1, "score": 0.75, "agents": 2},
    "agencies": [{
    "agency": "Sở <TTTT>", "framework": "tcvn11930", "framework_title": "Circular 12", "framework_known": true,
    "agents": 2, "agents_silent": 1, "agents_never_scanned": 0,
    "pass": 3, "fail": 1, "error": 0, "not_applicable": 1, "waived": 1, "not_checked": 2, "score": 0.75,
    "controls_met": 1,
    "controls": [{"id": "server.authentication", "title": "Authentication", "status": "fail", "pass": 1, "fail": 1},
                 {"id": "network.logging", "status": "pass", "pass": 2, "fail": 0}],
    "groups": [{"group": "server", "pass": 1, "fail": 1, "score": 0.5}],
    "policies": [{"policy": "debian-baseline", "version": "1.0", "pass": 3, "fail": 1, "score": 0.75}],
    "self_assessment": [
      {"id": "server.authentication", "title": "Authentication", "group": "server", "verified": false,
       "verdict": "partly", "pass": 1, "fail": 1, "error": 0, "waived": 1,
       "evidence": [{"host": "web01", "check": "ssh-root", "state": "fail"}],
       "waivers": [{"id": 7, "reason": "<b>legacy</b>", "accepted_by": "CISO", "expires": "2027-01-01T00:00:00Z"}]},
      {"id": "data.backup", "title": "Backup", "group": "data", "verified": true, "verdict": "not_assessed"}],
    "failing": [{"agent_id": "a1", "host": "web01", "check": "ssh-root", "title": "Root login \"off\", really",
                 "level": 1, "result": "fail", "evidence": "=cmd|' /C calc'!A0 <script>alert(1)</script>",
                 "remediation": "Set PermitRootLogin no", "time": "2026-11-27T10:00:00Z"}],
    "failing_not_listed": 0,
    "waived_results": [{"host": "web02", "check": "av", "result": "fail",
                        "waiver": {"id": 7, "reason": "<b>legacy</b>", "accepted_by": "CISO", "expires": "2027-01-01T00:00:00Z"}}],
    "waivers": [{"id": 7, "check": "av", "agent_id": "", "reason": "<b>legacy</b>", "accepted_by": "CISO",
                 "expires": "2027-01-01T00:00:00Z", "state": "active"}],
    "agent_list": [{"id": "a1", "host": "web01", "level": 3, "last_seen": "2026-11-27T09:59:00Z", "silent": true,
                    "never_scanned": false, "last_scan": "2026-11-27T09:00:00Z", "score": 0.5, "not_checked": 2}],
    "alerts_open": {"critical": 2, "high": 0, "medium": 0, "low": 0, "info": 0, "total": 2},
    "alerts_since": {"critical": 1, "high": 0, "medium": 0, "low": 0, "info": 0, "total": 1},
    "trend": {"since": "2026-11-01T00:00:00Z", "previous": {"pass": 2, "fail": 2, "score": 0.5}, "score_change": 0.25,
              "changes": [{"host": "web01", "check": "ssh-root", "title": "t", "from": "pass", "to": "fail"}],
              "changes_not_listed": 0}}]})");
}

TEST(ComplianceReport, CsvQuotesAndNeutralisesFormulas) {
  std::string csv = compliance_csv(sample());
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "agency,framework,record,id,status,pass,fail,error,not_applicable,waived,not_checked,score,host,level,"
            "title,evidence,remediation,detail");
  EXPECT_NE(csv.find("Sở <TTTT>,tcvn11930,summary,,,3,1,0,1,1,2,0.7500,,,Circular 12,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",control,server.authentication,fail,1,1,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",self_assessment,server.authentication,partly,1,1,0,,1,,,,,Authentication,,,unverified waivers 7"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",group,server,,1,1,,,,,0.5000,"), std::string::npos) << csv;
  // A quoted title, and evidence that a spreadsheet would run as a formula: prefixed with '.
  EXPECT_NE(csv.find(",failing_check,ssh-root,fail,,,,,,,,web01,1,\"Root login \"\"off\"\", really\",'=cmd|' /C calc'!A0 "
                     "<script>alert(1)</script>,Set PermitRootLogin no,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",change,ssh-root,fail,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",waived_result,av,fail,"), std::string::npos) << csv;
}

TEST(ComplianceReport, HtmlEscapesEverythingAndCarriesNoScript) {
  for (auto lang : {ReportLang::vi, ReportLang::en}) {
    std::string html = compliance_html(sample(), lang);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("<b>legacy"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("&lt;b&gt;legacy&lt;/b&gt;"), std::string::npos);
    EXPECT_NE(html.find("Sở &lt;TTTT&gt;"), std::string::npos);
    EXPECT_NE(html.find("Root login &quot;off&quot;, really"), std::string::npos);
    EXPECT_NE(html.find("default-src 'none'"), std::string::npos);  // nothing loads from anywhere
    EXPECT_NE(html.find("@page{size:A4"), std::string::npos);
    EXPECT_NE(html.find(">75%</text>"), std::string::npos);  // the score ring
    EXPECT_NE(html.find("Set PermitRootLogin no"), std::string::npos);
    EXPECT_NE(html.find("+25"), std::string::npos);  // the trend, in points
  }
  std::string vi = compliance_html(sample(), ReportLang::vi);
  EXPECT_NE(vi.find("<html lang=\"vi\">"), std::string::npos);
  EXPECT_NE(vi.find("Kiểm tra không đạt"), std::string::npos);
  EXPECT_NE(vi.find("Thông tư 12/2022/TT-BTTTT"), std::string::npos);
  EXPECT_NE(vi.find("Đáp ứng một phần"), std::string::npos);
  EXPECT_NE(vi.find("Chưa đánh giá tự động"), std::string::npos);
  EXPECT_NE(vi.find("Được miễn trừ"), std::string::npos);
  std::string en = compliance_html(sample(), ReportLang::en);
  EXPECT_NE(en.find("Failing checks"), std::string::npos);
  EXPECT_NE(en.find("Partly implemented"), std::string::npos);
  EXPECT_NE(en.find("Waived results"), std::string::npos);
  EXPECT_EQ(en.find("Kiểm tra"), std::string::npos);
}

// A summary computed from systems: agency → system (level) → host in the CSV and in both languages
// of the printable report, with the collector's log retention shown as observed against expected.
nlohmann::json systems_summary() {
  auto fws = compliance::load_frameworks_text({{"fw.yaml", R"(
framework: {id: fw, title: "Framework"}
controls:
  - {id: s.auth, title: Authentication, group: server, levels: [1, 2, 3, 4, 5], verified: true}
  - {id: log-retention-3m, title: Logs kept three months, group: server, levels: [3], verified: true, retention: 92d}
)"}});
  EXPECT_TRUE(fws) << fws.error();
  static compliance::LoadedFrameworks frameworks;
  frameworks = std::move(*fws);
  SummaryInput in;
  in.now = Timestamp::from_seconds(1'780'000'000);
  in.frameworks = &frameworks;
  in.event_retention = std::chrono::hours(24 * 30);
  in.agencies = {{"Sở TTTT", "fw"}};
  SystemRecord portal;
  portal.name = "cong-dich-vu-cong";
  portal.agency = "Sở TTTT";
  portal.level = 3;
  portal.description = "Cổng dịch vụ công <tỉnh>";
  in.systems = {portal};
  AgentRecord web, desk;
  web.id = "a-web";
  web.agency = desk.agency = "Sở TTTT";
  web.host = "web01";
  web.level = desk.level = 1;
  web.status = desk.status = "active";
  web.last_seen = desk.last_seen = in.now;
  web.systems = {"cong-dich-vu-cong"};
  desk.id = "a-desk";
  desk.host = "desk07";
  in.agents = {web, desk};
  for (const AgentRecord* a : {&web, &desk}) {
    ComplianceRow r;
    r.agent_id = a->id;
    r.agency = a->agency;
    r.host = a->host;
    r.policy = "pol";
    r.check_id = "ssh-root";
    r.title = "Root login";
    r.level = 1;
    r.result = a == &web ? "pass" : "fail";
    r.controls = R"({"fw":["s.auth"]})";
    r.time = in.now;
    in.latest.push_back(r);
  }
  return compliance_summary(in);
}

TEST(ComplianceReport, ShowsAgencySystemAndHostInBothLanguages) {
  nlohmann::json doc = systems_summary();
  std::string csv = compliance_csv(doc);
  EXPECT_NE(csv.find("Sở TTTT,fw,system,cong-dich-vu-cong,,1,0,0,0,0,0,1.0000,web01,3,Cổng dịch vụ công <tỉnh>,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",system_self_assessment,log-retention-3m,not,0,1,0,0,0,0,0.0000,,3,Logs kept three months,"
                     "30d (≥ 92d),,system cong-dich-vu-cong"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("Sở TTTT,fw,unassigned,,,0,1,0,0,0,0,0.0000,desk07,,,"), std::string::npos) << csv;

  std::string vi = compliance_html(doc, ReportLang::vi);
  EXPECT_EQ(vi.find("<script"), std::string::npos);
  EXPECT_NE(vi.find("Hệ thống thông tin: cong-dich-vu-cong (cấp độ 3)"), std::string::npos) << vi;
  EXPECT_NE(vi.find("Cổng dịch vụ công &lt;tỉnh&gt;"), std::string::npos);
  EXPECT_NE(vi.find("Máy chủ phục vụ hệ thống: web01"), std::string::npos);
  EXPECT_NE(vi.find("Máy chưa gắn với hệ thống thông tin nào"), std::string::npos);
  EXPECT_NE(vi.find("desk07 (cấp độ 1)"), std::string::npos);
  EXPECT_NE(vi.find("Thời gian lưu sự kiện: 30 ngày; yêu cầu ≥ 92 ngày"), std::string::npos);
  EXPECT_NE(vi.find("Chưa đáp ứng"), std::string::npos);
  // The agency, then its system, then the host, then the unassigned hosts.
  EXPECT_LT(vi.find("Cơ quan: Sở TTTT"), vi.find("Hệ thống thông tin: cong-dich-vu-cong"));
  EXPECT_LT(vi.find("Hệ thống thông tin: cong-dich-vu-cong"), vi.find("Máy chủ phục vụ hệ thống: web01"));
  EXPECT_LT(vi.find("Máy chủ phục vụ hệ thống: web01"), vi.find("desk07 (cấp độ 1)"));

  std::string en = compliance_html(doc, ReportLang::en);
  EXPECT_NE(en.find("Information system: cong-dich-vu-cong (level 3)"), std::string::npos) << en;
  EXPECT_NE(en.find("Hosts serving it: web01"), std::string::npos);
  EXPECT_NE(en.find("Hosts serving no information system"), std::string::npos);
  EXPECT_NE(en.find("desk07 (level 1)"), std::string::npos);
  EXPECT_NE(en.find("Events kept 30 days; required ≥ 92 days"), std::string::npos);
  EXPECT_NE(en.find("Not implemented"), std::string::npos);
  EXPECT_EQ(en.find("Hệ thống"), std::string::npos);
  EXPECT_NE(en.find("default-src 'none'"), std::string::npos);
  // Levels are signed numbers in the summary: the failing check shows its level, not 0.
  EXPECT_NE(en.find("<td>desk07</td><td>ssh-root</td><td>1</td>"), std::string::npos);
}

// Titles, remediation and control names in the reader's language where the policy and catalogue
// give Vietnamese (`key_vi` in the summary); English where they do not.
TEST(ComplianceReport, ContentInTheReadersLanguage) {
  nlohmann::json doc = sample();
  auto& a = doc["agencies"][0];
  a["framework_title_vi"] = "Thông tư 12";
  a["controls"][0]["title_vi"] = "Xác thực";
  a["self_assessment"][0]["title_vi"] = "Xác thực";
  a["failing"][0]["title_vi"] = "Đăng nhập root bị tắt";
  a["failing"][0]["remediation_vi"] = "Đặt PermitRootLogin no";
  const std::string vi = compliance_html(doc, ReportLang::vi);
  EXPECT_NE(vi.find("Đăng nhập root bị tắt"), std::string::npos) << vi;
  EXPECT_NE(vi.find("Đặt PermitRootLogin no"), std::string::npos);
  EXPECT_NE(vi.find("Xác thực"), std::string::npos);
  EXPECT_NE(vi.find("Thông tư 12 (tcvn11930)"), std::string::npos);
  EXPECT_EQ(vi.find("Set PermitRootLogin no"), std::string::npos);
  EXPECT_EQ(vi.find("Root login &quot;off&quot;"), std::string::npos);
  const std::string en = compliance_html(doc, ReportLang::en);
  EXPECT_NE(en.find("Set PermitRootLogin no"), std::string::npos);
  EXPECT_NE(en.find("Circular 12 (tcvn11930)"), std::string::npos);
  EXPECT_EQ(en.find("Đặt PermitRootLogin no"), std::string::npos);
  EXPECT_EQ(en.find("Xác thực"), std::string::npos);
  // A title without Vietnamese shows the English in both.
  EXPECT_NE(vi.find("Backup"), std::string::npos);
}

}  // namespace
}  // namespace vigil::collector
