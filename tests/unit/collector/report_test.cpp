// Compliance reports: CSV quoting and formula neutralising, HTML escaping of values that come
// from the monitored hosts (evidence is attacker-influenced), both languages, no script, and the
// sections of the summary (self-assessment, waivers, trend) present in each.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "collector/report/compliance_report.h"

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

}  // namespace
}  // namespace vigil::collector
