// Compliance reports: CSV quoting and formula neutralising, HTML escaping of values that come
// from the monitored hosts (evidence is attacker-influenced), both languages, no script.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "collector/report/compliance_report.h"

namespace vigil::collector {
namespace {

nlohmann::json sample() {
  return nlohmann::json::parse(R"([{
    "agency": "Sở <TTTT>", "framework": "tcvn11930", "agents": 2, "pass": 3, "fail": 1, "error": 0,
    "not_applicable": 1, "score": 0.75, "controls_met": 1,
    "controls": [{"id": "server.authentication", "status": "fail", "pass": 1, "fail": 1},
                 {"id": "network.logging", "status": "pass", "pass": 2, "fail": 0}],
    "failing": [{"agent_id": "a1", "host": "web01", "check": "ssh-root", "title": "Root login \"off\", really",
                 "level": 1, "result": "fail", "evidence": "=cmd|' /C calc'!A0 <script>alert(1)</script>",
                 "time": "2026-11-27T10:00:00Z"}],
    "failing_not_listed": 0}])");
}

TEST(ComplianceReport, CsvQuotesAndNeutralisesFormulas) {
  std::string csv = compliance_csv(sample());
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "agency,framework,record,id,status,pass,fail,error,not_applicable,score,host,level,title,evidence");
  EXPECT_NE(csv.find("Sở <TTTT>,tcvn11930,summary,,,3,1,0,1,0.7500,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",control,server.authentication,fail,1,1,"), std::string::npos) << csv;
  // A quoted title, and evidence that a spreadsheet would run as a formula: prefixed with '.
  EXPECT_NE(csv.find(",failing_check,ssh-root,fail,,,,,,web01,1,\"Root login \"\"off\"\", really\",'=cmd|' /C calc'!A0 "
                     "<script>alert(1)</script>\r\n"),
            std::string::npos)
      << csv;
}

TEST(ComplianceReport, HtmlEscapesEverythingAndCarriesNoScript) {
  for (auto lang : {ReportLang::vi, ReportLang::en}) {
    std::string html = compliance_html(sample(), lang, Timestamp::from_seconds(1'800'000'000));
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("Sở &lt;TTTT&gt;"), std::string::npos);
    EXPECT_NE(html.find("Root login &quot;off&quot;, really"), std::string::npos);
    EXPECT_NE(html.find("default-src 'none'"), std::string::npos);  // nothing loads from anywhere
    EXPECT_NE(html.find("@page{size:A4"), std::string::npos);
    EXPECT_NE(html.find(">75%</text>"), std::string::npos);  // the score ring
  }
  std::string vi = compliance_html(sample(), ReportLang::vi, Timestamp::from_seconds(0));
  EXPECT_NE(vi.find("<html lang=\"vi\">"), std::string::npos);
  EXPECT_NE(vi.find("Kiểm tra không đạt"), std::string::npos);
  EXPECT_NE(vi.find("Không đạt"), std::string::npos);
  std::string en = compliance_html(sample(), ReportLang::en, Timestamp::from_seconds(0));
  EXPECT_NE(en.find("Failing checks"), std::string::npos);
  EXPECT_EQ(en.find("Kiểm tra"), std::string::npos);
}

}  // namespace
}  // namespace vigil::collector
