#include "collector/notify/message.h"
#include "collector/notify/notifier.h"
#include "collector/notify/senders.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "collector/config/collector_config.h"
#include "tests/support/test_support.h"

namespace vigil::collector {
namespace {

using namespace std::chrono_literals;
using notify::CursorState;
using notify::RateWindow;

std::string unbase64(std::string_view in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\r' || c == '\n') continue;
    auto p = kAlphabet.find(c);
    if (p == std::string::npos) return "<bad base64>";
    acc = (acc << 6) | static_cast<uint32_t>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The text of a header value made of encoded words (RFC 2047 B encoding, UTF-8).
std::string decode_words(const std::string& value) {
  std::string out;
  size_t i = 0;
  while ((i = value.find("=?UTF-8?B?", i)) != std::string::npos) {
    size_t end = value.find("?=", i + 10);
    out += unbase64(value.substr(i + 10, end - i - 10));
    i = end + 2;
  }
  return out;
}

// The headers (up to the blank line) of a message, folded lines joined.
std::vector<std::string> header_lines(const std::string& msg) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    size_t e = msg.find("\r\n", i);
    std::string line = msg.substr(i, e - i);
    i = e + 2;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      out.back() += line;
    } else {
      out.push_back(line);
    }
  }
  return out;
}

AlertRecord sample_alert() {
  AlertRecord a;
  a.id = 42;
  a.agency = "Sở Thông tin và Truyền thông";
  a.host = "máy-chủ-web";
  a.rule_id = "VGL-LOG-0001";
  a.rule_name = "Đoán mật khẩu SSH vào máy này";
  a.severity = 4;
  a.time = Timestamp::from_seconds(1767225600);
  a.entity.source_ip = "203.0.113.7";
  return a;
}

TEST(NotifyMessage, SubjectIsEncodedWordsThatDecodeToTheVietnameseText) {
  auto n = notify::render_alert(sample_alert(), "vi", "https://soc.example.gov.vn:9443");
  EXPECT_NE(n.subject.find("Cảnh báo cao"), std::string::npos) << n.subject;
  notify::MailHeaders h{
      "vigil@example.gov.vn", {"soc@example.gov.vn"}, 1767225600, "vigil-alert-42-mail@example.gov.vn"};
  std::string msg = notify::mime_message(h, n);
  auto headers = header_lines(msg);
  std::string subject;
  for (const auto& line : headers) {
    if (line.starts_with("Subject: ")) subject = line.substr(9);
    for (char c : line) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << line;
  }
  ASSERT_FALSE(subject.empty()) << msg;
  EXPECT_EQ(decode_words(subject), n.subject);
  for (const char* want : {"Date: Thu, 01 Jan 2026 00:00:00 +0000", "From: Vigil <vigil@example.gov.vn>",
                           "To: soc@example.gov.vn", "Message-ID: <vigil-alert-42-mail@example.gov.vn>",
                           "Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: base64"}) {
    EXPECT_NE(std::find(headers.begin(), headers.end(), want), headers.end()) << want << "\n" << msg;
  }
}

TEST(NotifyMessage, BodyDecodesBackToTheTextWithEveryNameAndTheLink) {
  auto a = sample_alert();
  auto n = notify::render_alert(a, "vi", "https://soc.example.gov.vn:9443");
  notify::MailHeaders h{"vigil@example.gov.vn", {"soc@example.gov.vn", "b@example.gov.vn"}, 0, "x@y"};
  std::string msg = notify::mime_message(h, n);
  std::string body = unbase64(msg.substr(msg.find("\r\n\r\n") + 4));
  for (const std::string& want : {a.agency, a.host, a.rule_id, a.rule_name, std::string("203.0.113.7"),
                                  std::string("https://soc.example.gov.vn:9443/#/alerts/42")}) {
    EXPECT_NE(body.find(want), std::string::npos) << want << "\n" << body;
  }
  // Base64 lines are at most 76 characters.
  auto encoded = msg.substr(msg.find("\r\n\r\n") + 4);
  for (size_t i = 0, e; (e = encoded.find("\r\n", i)) != std::string::npos; i = e + 2) EXPECT_LE(e - i, 76u);
  auto en = notify::render_alert(a, "en", "https://x");
  EXPECT_NE(en.body.find("Source:  203.0.113.7"), std::string::npos) << en.body;
  EXPECT_NE(en.subject.find("high alert"), std::string::npos) << en.subject;
}

TEST(NotifyMessage, TheRuleNameInTheNoticesLanguage) {
  auto a = sample_alert();
  a.rule_name = "SSH password guessing against this host";
  a.rule_name_vi = "Dò mật khẩu SSH nhắm vào máy chủ này";
  auto vi = notify::render_alert(a, "vi", "https://x");
  EXPECT_NE(vi.subject.find(a.rule_name_vi), std::string::npos) << vi.subject;
  EXPECT_NE(vi.body.find(a.rule_name_vi), std::string::npos) << vi.body;
  EXPECT_EQ(vi.body.find(a.rule_name), std::string::npos) << vi.body;
  auto en = notify::render_alert(a, "en", "https://x");
  EXPECT_NE(en.subject.find(a.rule_name), std::string::npos) << en.subject;
  EXPECT_EQ(en.body.find(a.rule_name_vi), std::string::npos) << en.body;
  auto digest = notify::render_digest({a, a}, "vi", "https://x");
  EXPECT_NE(digest.body.find(a.rule_name_vi), std::string::npos) << digest.body;
  // Without a Vietnamese name, the English serves both.
  a.rule_name_vi.clear();
  EXPECT_NE(notify::render_alert(a, "vi", "https://x").body.find(a.rule_name), std::string::npos);
}

TEST(NotifyMessage, LineBreaksInAlertFieldsCannotMakeHeaders) {
  auto a = sample_alert();
  a.rule_name = "x\r\nBcc: victim@example.com\r\n\r\nfake body";
  a.host = "web\nX-Injected: 1";
  auto n = notify::render_alert(a, "en", "https://x");
  EXPECT_EQ(n.subject.find_first_of("\r\n"), std::string::npos);
  std::string msg = notify::mime_message({"vigil@example.gov.vn", {"soc@example.gov.vn"}, 0, "x@y"}, n);
  auto headers = header_lines(msg);
  for (const auto& line : headers) {
    EXPECT_FALSE(line.starts_with("Bcc")) << msg;
    EXPECT_FALSE(line.starts_with("X-Injected")) << msg;
  }
  EXPECT_EQ(headers.size(), 9u) << msg;
  // An ASCII subject that looks like an encoded word is encoded too.
  EXPECT_TRUE(notify::encode_header_words("=?UTF-8?B?QmNjOg==?=").starts_with("=?UTF-8?B?"));
  EXPECT_EQ(notify::encode_header_words("plain words"), "plain words");
  EXPECT_EQ(notify::one_line("a\u2028b\u0085c"), "a b c");
}

TEST(NotifyMessage, DigestCountsAndListsTheFirstFifty) {
  std::vector<AlertRecord> alerts;
  for (int i = 0; i < 60; ++i) {
    auto a = sample_alert();
    a.id = 100 + i;
    alerts.push_back(a);
  }
  auto n = notify::render_digest(alerts, "en", "https://x");
  EXPECT_NE(n.subject.find("60 alerts"), std::string::npos) << n.subject;
  EXPECT_NE(n.body.find("https://x/#/alerts/149"), std::string::npos);
  EXPECT_EQ(n.body.find("https://x/#/alerts/150"), std::string::npos);
  EXPECT_NE(n.body.find("and 10 more"), std::string::npos) << n.body;
  auto vi = notify::render_digest(alerts, "vi", "https://x");
  EXPECT_NE(vi.body.find("và 10 cảnh báo khác"), std::string::npos) << vi.body;
}

TEST(NotifyRate, FirstNGoAloneTheRestWaitForTheWindowsDigest) {
  RateWindow rate(2, 10min);
  CursorState s;
  const int64_t t0 = 1'000'000;
  EXPECT_TRUE(rate.allows(s, t0));
  rate.noticed(s, t0);
  EXPECT_EQ(s.window_start_ms, t0);
  EXPECT_TRUE(rate.allows(s, t0 + 1000));
  rate.noticed(s, t0 + 1000);
  EXPECT_FALSE(rate.allows(s, t0 + 2000));
  rate.hold(s, 7);
  rate.hold(s, 9);
  EXPECT_EQ(s.held_upto, 9);
  EXPECT_FALSE(rate.digest_due(s, t0 + 599'999));
  EXPECT_FALSE(rate.allows(s, t0 + 700'000)) << "nothing alone while a digest waits";
  EXPECT_TRUE(rate.digest_due(s, t0 + 600'000));
  s.cursor = 5;
  rate.digested(s);
  EXPECT_EQ(s.cursor, 9);
  EXPECT_EQ(s.held_upto, 0);
  EXPECT_TRUE(rate.allows(s, t0 + 600'001));
  rate.noticed(s, t0 + 600'001);
  EXPECT_EQ(s.window_start_ms, t0 + 600'001);
  EXPECT_EQ(s.sent, 1u);
  // A window that ended with no alert held: the next notice opens a new one.
  rate.noticed(s, t0 + 600'002);
  EXPECT_FALSE(rate.allows(s, t0 + 600'003));
  EXPECT_TRUE(rate.allows(s, t0 + 1'200'001));
  RateWindow unlimited(0, 0ms);
  for (int i = 0; i < 100; ++i) unlimited.noticed(s, t0);
  EXPECT_TRUE(unlimited.allows(s, t0));
}

TEST(NotifyRate, CursorFileKeepsTheWindowAcrossRestarts) {
  CursorState s{123, 1767225600000, 3, 130};
  auto back = notify::parse_cursor(notify::format_cursor(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cursor, 123);
  EXPECT_EQ(back->window_start_ms, 1767225600000);
  EXPECT_EQ(back->sent, 3u);
  EXPECT_EQ(back->held_upto, 130);
  auto plain = notify::parse_cursor("77\n");  // the exports' format: a cursor alone
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->cursor, 77);
  EXPECT_FALSE(notify::parse_cursor("x\n"));
  EXPECT_FALSE(notify::parse_cursor("5\nwindow 1 2\n"));
}

TEST(NotifySenders, ErrorsNeverHoldTheBotTokenOrPassword) {
  NotifySection t;
  t.type = "telegram";
  t.bot_token = "123456:SECRET-token_value";
  t.chat_id = "-100";
  t.api_url = "https://127.0.0.1:1/" + t.bot_token;  // even a token the URL repeats
  auto sender = notify::make_sender(t);
  auto r = sender->send({"s", "b"}, "id");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().find("SECRET"), std::string::npos) << r.error();
  EXPECT_EQ(notify::scrub("a pw b pw", "pw"), "a <hidden> b <hidden>");
}

// A data directory with the files `vigil-collector init` leaves in pki/.
struct Dir {
  vigil::test::TempDir dir;
  Dir() {
    for (const char* f : kPkiFiles) dir.write(std::string("pki/") + f, "x");
    dir.write("smtp.pw", "s3cret\n");
    dir.write("bot.token", "123:abc\n");
  }
  Result<LoadedCollectorConfig> load(const std::string& body) {
    return load_collector_config(dir.write("collector.yaml", "collector:\n  data_dir: .\n" + body).string());
  }
};

TEST(NotifyConfig, TargetsAreReadWithDefaults) {
  Dir d;
  auto loaded = d.load(
      "  console_url: https://soc.example.gov.vn:9443/\n"
      "notify:\n"
      "  - {type: email, min_severity: high, smtp: \"mail.example.gov.vn:587\", from: vigil@example.gov.vn,\n"
      "     to: [soc@example.gov.vn], username: vigil, password_file: smtp.pw, rate: 20/1h, agencies: [A]}\n"
      "  - {type: telegram, bot_token_file: bot.token, chat_id: -1001, lang: en, api_url: \"https://127.0.0.1:9/\"}\n");
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& c = loaded->config;
  EXPECT_EQ(c.collector.console_url, "https://soc.example.gov.vn:9443");
  ASSERT_EQ(c.notify.size(), 2u);
  const auto& m = c.notify[0];
  EXPECT_EQ(m.name, "email-1");
  EXPECT_EQ(m.tls, "starttls");
  EXPECT_EQ(m.lang, "vi");
  EXPECT_EQ(m.min_severity, 4);
  EXPECT_EQ(m.password, "s3cret");
  EXPECT_EQ(m.rate_count, 20u);
  EXPECT_EQ(m.rate_period, 1h);
  EXPECT_EQ(m.agencies, std::vector<std::string>{"A"});
  const auto& t = c.notify[1];
  EXPECT_EQ(t.name, "telegram-2");
  EXPECT_EQ(t.bot_token, "123:abc");
  EXPECT_EQ(t.chat_id, "-1001");
  EXPECT_EQ(t.api_url, "https://127.0.0.1:9");
  // Default console URL: this host's name and the console port.
  auto plain = d.load("");
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_TRUE(plain->config.collector.console_url.starts_with("https://")) << plain->config.collector.console_url;
  EXPECT_TRUE(plain->config.collector.console_url.ends_with(":9443")) << plain->config.collector.console_url;
}

TEST(NotifyConfig, ErrorsNameTheirPosition) {
  Dir d;
  auto bad = d.load(
      "notify:\n"
      "  - type: email\n"
      "    smtp: \"mail.example.gov.vn:25\"\n"
      "    tls: none\n"
      "    from: vigil@example.gov.vn\n"
      "    to: [soc@example.gov.vn]\n"
      "    username: vigil\n"
      "    password_file: missing.pw\n"
      "    rate: 20 per hour\n"
      "  - {type: email, name: a, smtp: \"127.0.0.1:25\", tls: none, from: v@x, to: [s@x], rate: 0/1h}\n"
      "  - {type: telegram, name: a, bot_token_file: bot.token, chat_id: 1, api_url: \"http://x\"}\n");
  ASSERT_FALSE(bad);
  const auto& e = bad.error();
  EXPECT_NE(e.find(":6:10: error: notify[0].tls: none sends mail and password in clear"), std::string::npos) << e;
  EXPECT_NE(e.find(":10:20: error: notify[0].password_file: cannot read '"), std::string::npos) << e;
  EXPECT_NE(e.find("missing.pw'"), std::string::npos) << e;
  EXPECT_NE(e.find(":11:11: error: notify[0].rate: expected N/PERIOD"), std::string::npos) << e;
  EXPECT_NE(e.find(":12:89: error: notify[1].rate: '0/1h' is out of range"), std::string::npos) << e;
  EXPECT_NE(e.find(":13:28: error: notify[2]: name 'a' is used twice"), std::string::npos) << e;
  EXPECT_NE(e.find("notify[2].api_url: an https:// URL"), std::string::npos) << e;
  EXPECT_EQ(e.find("s3cret"), std::string::npos);
}

TEST(IncidentsConfig, DeadlinesDefaultToSeriousIncidentsAndAreRead) {
  Dir d;
  auto def = d.load("");
  ASSERT_TRUE(def) << def.error();
  EXPECT_EQ(def->config.incidents.deadlines[5].notify, 24h);
  EXPECT_EQ(def->config.incidents.deadlines[4].report, 72h);
  EXPECT_EQ(def->config.incidents.deadlines[3].notify, 0ms);
  auto set = d.load("incidents:\n  deadlines:\n    critical: {notify: 12h, report: 0}\n    low: {notify: 3d}\n");
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(set->config.incidents.deadlines[5].notify, 12h);
  EXPECT_EQ(set->config.incidents.deadlines[5].report, 0ms);
  EXPECT_EQ(set->config.incidents.deadlines[2].notify, 72h);
  EXPECT_EQ(set->config.incidents.deadlines[4].notify, 24h);
  auto bad = d.load("incidents:\n  deadlines:\n    severe: {notify: 1h}\n    high: {notify: soon}\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find(":5:5: error: unknown key 'incidents.deadlines.severe'"), std::string::npos)
      << bad.error();
  EXPECT_NE(bad.error().find(":6:20: error: incidents.deadlines.high.notify"), std::string::npos) << bad.error();
}

TEST(NotifyMessage, LongTextsAreCutAtALineBreakKeepingTheirLines) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "#" + std::to_string(i) + " Cảnh báo mức cao — 203.0.113.7\n";
  auto cut = notify::cut_text(text, 4000);
  EXPECT_LE(cut.size(), 4000u);
  EXPECT_GT(std::count(cut.begin(), cut.end(), '\n'), 50);  // lines kept as lines
  EXPECT_EQ(cut.substr(cut.size() - 4), " …");
  EXPECT_EQ(cut.substr(cut.size() - 15, 11), "203.0.113.7");  // cut at a line's end, the line whole
  EXPECT_EQ(notify::cut_text("ngắn", 4000), "ngắn");
  auto one = notify::cut_text(std::string(3000, 'a') + std::string(2000, '\xC3'), 4000);  // no line break
  EXPECT_LE(one.size(), 4000u);
}

TEST(IncidentsConfig, OverdueNoticesCanBeTurnedOff) {
  Dir d;
  EXPECT_TRUE(d.load("")->config.incidents.notify_overdue);
  auto off = d.load("incidents: {notify_overdue: false}\n");
  ASSERT_TRUE(off) << off.error();
  EXPECT_FALSE(off->config.incidents.notify_overdue);
}

TEST(NotifyMessage, AnIncidentsPassedDeadlineNamesItInEachLanguage) {
  IncidentRecord i;
  i.id = 7;
  i.title = "Dò mật khẩu\r\nBcc: x@evil.example";
  i.severity = 4;
  i.status = "contained";
  i.detected_at = Timestamp::from_seconds(1'780'000'000);
  i.notify_within_ns = 24LL * 3600 * 1'000'000'000;
  i.report_within_ns = 72LL * 3600 * 1'000'000'000;
  i.agencies = {"Sở TTTT", "B"};
  i.hosts = {"portal"};
  const Timestamp now = Timestamp::from_seconds(1'780'000'000 + 26 * 3600 + 5 * 60);
  auto vi = notify::render_incident_overdue(i, kOverdueNotify, "vi", "https://vigil.example:9443/", now);
  EXPECT_EQ(vi.subject, "[Vigil] Sự cố #7 quá hạn thông báo ban đầu: Dò mật khẩu  Bcc: x@evil.example");
  EXPECT_NE(vi.body.find("đã quá hạn thông báo ban đầu 2 giờ 5 phút"), std::string::npos) << vi.body;
  EXPECT_NE(vi.body.find("đã ngăn chặn"), std::string::npos);
  EXPECT_NE(vi.body.find("Sở TTTT, B"), std::string::npos);
  EXPECT_NE(vi.body.find("https://vigil.example:9443/#/incidents/7"), std::string::npos) << vi.body;
  EXPECT_NE(vi.body.find("Nghị định 331/2026"), std::string::npos);
  auto en = notify::render_incident_overdue(i, kOverdueReport, "en", "https://vigil.example:9443", now);
  EXPECT_EQ(en.subject.rfind("[Vigil] Incident #7: full report overdue: ", 0), 0u) << en.subject;
  EXPECT_NE(en.body.find("Due:       " + Timestamp{i.detected_at.ns + i.report_within_ns}.to_string()),
            std::string::npos)
      << en.body;
  EXPECT_NE(en.body.find("Status:    contained"), std::string::npos);
  EXPECT_EQ(en.body.find("Sự cố"), std::string::npos);
}

}  // namespace
}  // namespace vigil::collector
