#include "collector/notify/message.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/i18n/text.h"
#include "common/ingest/bounded_json.h"
#include "common/pki/pki.h"

namespace vigil::collector::notify {

namespace {

struct Words {
  const char* severity[6];
  const char* alert_subject;  // {sev} {rule} {host} {source}
  const char* intro;          // {sev}
  const char* agency;
  const char* host;
  const char* rule;
  const char* source;
  const char* time;
  const char* alert;
  const char* link;
  const char* unknown;
  const char* digest_subject;  // {n}
  const char* digest_intro;    // {n}
  const char* digest_more;     // {k}
  const char* digest_from;     // "source" inside a digest line
};

// The console's own words for severities (collector/console/web/app.js).
constexpr Words kVi = {
    {"", "thông tin", "thấp", "trung bình", "cao", "nghiêm trọng"},
    "[Vigil] Cảnh báo {0}: {1} — {2}{3}",
    "Vigil phát hiện một cảnh báo mức {0}.",
    "Cơ quan:   ",
    "Máy chủ:   ",
    "Quy tắc:   ",
    "Nguồn:     ",
    "Thời điểm: ",
    "Cảnh báo:  #",
    "Xem cảnh báo: ",
    "(không rõ)",
    "[Vigil] Tổng hợp: {0} cảnh báo vượt giới hạn gửi",
    "{0} cảnh báo đến sau khi đã đạt giới hạn thông báo của khoảng thời gian này:",
    "… và {0} cảnh báo khác.",
    "nguồn",
};

constexpr Words kEn = {
    {"", "info", "low", "medium", "high", "critical"},
    "[Vigil] {0} alert: {1} — {2}{3}",
    "Vigil raised an alert of severity {0}.",
    "Agency:  ",
    "Host:    ",
    "Rule:    ",
    "Source:  ",
    "Time:    ",
    "Alert:   #",
    "See the alert: ",
    "(unknown)",
    "[Vigil] Digest: {0} alerts beyond the notice rate",
    "{0} alerts arrived after this period's notice limit was reached:",
    "… and {0} more.",
    "source",
};

const Words& words(const std::string& lang) { return lang == "en" ? kEn : kVi; }

const char* severity_word(const Words& w, int severity) { return w.severity[std::clamp(severity, 1, 5)]; }

std::string or_unknown(const Words& w, std::string_view v) {
  std::string s = one_line(v);
  return s.empty() ? w.unknown : s;
}

// Length of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte).
size_t utf8_len(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}


// Body text with every line ending CRLF (bare CR and LF alike).
std::string crlf_lines(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  return out;
}

std::string rfc5322_date(int64_t unix_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} +0000", kDays[tm.tm_wday % 7], tm.tm_mday,
                     kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

std::string cut_text(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  const size_t room = max > 4 ? max - 4 : 0;  // " …" is 4 bytes
  size_t end = 0;
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
    if (i + n > room) break;
    i += n;
    end = i;
  }
  size_t nl = text.substr(0, end).rfind('\n');
  if (nl != std::string_view::npos && nl > end / 2) end = nl;
  return std::string(text.substr(0, end)) + " …";
}

std::string one_line(std::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = std::min(utf8_len(c), text.size() - i);
    if (out.size() + n > max) break;
    if (n == 1) {
      out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) < 0xA0) {
      out += ' ';  // C1 controls (U+0080..U+009F), NEL among them
    } else if (n == 3 && c == 0xE2 && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) == 0xA8 || static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      out += ' ';  // U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string alert_link(const std::string& console_url, int64_t alert_id) {
  return fmt::format("{}/#/alerts/{}", console_url, alert_id);
}

std::string alert_source(const AlertRecord& a) {
  if (!a.entity.source_ip.empty()) return one_line(a.entity.source_ip, 64);
  if (a.evidence.empty()) return "";
  auto parsed = ingest::parse_bounded_json(a.evidence);
  if (!parsed || !parsed->is_object()) return "";
  auto src = parsed->find("source");
  if (src == parsed->end() || !src->is_object()) return "";
  auto ip = src->find("ip");
  if (ip == src->end() || !ip->is_string()) return "";
  return one_line(ip->get<std::string>(), 64);
}

namespace {

// The words of an incident's overdue notice: {vi, en}.
struct OverdueWords {
  const char* subject;   // {id} {deadline} {title}
  const char* intro;     // {id} {deadline} {late}
  const char* deadline[3];  // [kOverdueNotify], [kOverdueReport]
  const char* status[4];    // open, contained, resolved, reported
  const char* severity;
  const char* status_label;
  const char* detected;
  const char* due;
  const char* agencies;
  const char* hosts;
  const char* basis;
  const char* link;
};

constexpr OverdueWords kOverdueVi = {
    "[Vigil] Sự cố #{0} quá hạn {1}: {2}",
    "Sự cố #{0} đã quá hạn {1} {2} mà chưa thực hiện.",
    {"", "thông báo ban đầu", "báo cáo đầy đủ"},
    {"mới mở", "đã ngăn chặn", "đã khắc phục", "đã báo cáo"},
    "Mức độ:        ",
    "Trạng thái:    ",
    "Phát hiện lúc: ",
    "Hạn chót:      ",
    "Cơ quan:       ",
    "Máy chủ:       ",
    "Căn cứ: điểm d khoản 2 Điều 31 Nghị định 331/2026 (thông tin từ một nguồn; thời hạn theo collector.yaml).",
    "Xem sự cố: ",
};

constexpr OverdueWords kOverdueEn = {
    "[Vigil] Incident #{0}: {1} overdue: {2}",
    "Incident #{0}: the {1} is {2} overdue.",
    {"", "first notification", "full report"},
    {"open", "contained", "resolved", "reported"},
    "Severity:  ",
    "Status:    ",
    "Detected:  ",
    "Due:       ",
    "Agencies:  ",
    "Hosts:     ",
    "Basis: Decree 331/2026 art. 31.2(d) (one source; the deadlines as collector.yaml sets them).",
    "See the incident: ",
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + one_line(i, 200);
  return out;
}

// 2 d 3 h, 5 h 12 min, 40 min.
std::string late_text(int64_t ns, bool vi) {
  int64_t m = std::max<int64_t>(ns / 60'000'000'000LL, 0);
  int64_t d = m / 1440, h = m % 1440 / 60;
  m %= 60;
  if (d > 0) return vi ? fmt::format("{} ngày {} giờ", d, h) : fmt::format("{} d {} h", d, h);
  if (h > 0) return vi ? fmt::format("{} giờ {} phút", h, m) : fmt::format("{} h {} min", h, m);
  return vi ? fmt::format("{} phút", m) : fmt::format("{} min", m);
}

}  // namespace

Notice render_incident_overdue(const IncidentRecord& i, int which, const std::string& lang,
                               const std::string& console_url, Timestamp now) {
  const bool vi = lang != "en";
  const OverdueWords& w = vi ? kOverdueVi : kOverdueEn;
  const Words& sw = words(lang);
  which = which == kOverdueReport ? kOverdueReport : kOverdueNotify;
  const Timestamp due = which == kOverdueReport ? i.report_due() : i.notify_due();
  const int rank = std::max(incident_status_rank(i.status), 0);
  Notice n;
  n.subject = one_line(fmt::format(fmt::runtime(w.subject), i.id, w.deadline[which], one_line(i.title)), 400);
  n.body = fmt::format(fmt::runtime(w.intro), i.id, w.deadline[which], late_text(now.ns - due.ns, vi)) + "\n\n";
  n.body += one_line(i.title) + "\n";
  n.body += w.severity + std::string(severity_word(sw, i.severity)) + "\n";
  n.body += w.status_label + std::string(w.status[rank]) + "\n";
  n.body += w.detected + i.detected_at.to_string() + "\n";
  n.body += w.due + due.to_string() + "\n";
  n.body += w.agencies + joined(i.agencies) + "\n";
  n.body += w.hosts + joined(i.hosts) + "\n\n";
  n.body += std::string(w.basis) + "\n";
  std::string base = console_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  n.body += w.link + base + "/#/incidents/" + std::to_string(i.id) + "\n";
  return n;
}

namespace {

// The alert's rule name in the notice's language (the rule's Vietnamese where it gives one).
const std::string& rule_name_in(const AlertRecord& a, const std::string& lang) {
  return i18n::pick(lang == "en" ? i18n::Lang::en : i18n::Lang::vi, a.rule_name, a.rule_name_vi);
}

}  // namespace

Notice render_alert(const AlertRecord& a, const std::string& lang, const std::string& console_url) {
  const Words& w = words(lang);
  const std::string sev = severity_word(w, a.severity);
  const std::string source = alert_source(a);
  const std::string host = or_unknown(w, a.host);
  Notice n;
  n.subject = one_line(fmt::format(fmt::runtime(w.alert_subject), sev, or_unknown(w, rule_name_in(a, lang)), host,
                                   source.empty() ? "" : " (" + source + ")"),
                       400);
  n.body = fmt::format(fmt::runtime(w.intro), sev) + "\n\n";
  n.body += w.agency + or_unknown(w, a.agency) + "\n";
  n.body += w.host + host + "\n";
  n.body += w.rule + one_line(a.rule_id, 100) + " — " + or_unknown(w, rule_name_in(a, lang)) + "\n";
  n.body += w.source + (source.empty() ? std::string(w.unknown) : source) + "\n";
  n.body += w.time + a.time.to_string() + "\n";
  n.body += w.alert + std::to_string(a.id) + "\n\n";
  n.body += w.link + alert_link(console_url, a.id) + "\n";
  return n;
}

Notice render_digest(const std::vector<AlertRecord>& alerts, const std::string& lang, const std::string& console_url) {
  const Words& w = words(lang);
  Notice n;
  n.subject = fmt::format(fmt::runtime(w.digest_subject), alerts.size());
  n.body = fmt::format(fmt::runtime(w.digest_intro), alerts.size()) + "\n\n";
  for (size_t i = 0; i < alerts.size() && i < kDigestLines; ++i) {
    const auto& a = alerts[i];
    std::string source = alert_source(a);
    n.body += fmt::format("#{} [{}] {} {} / {} — {} {} — {} {} — {}\n", a.id, severity_word(w, a.severity),
                          a.time.to_string(), or_unknown(w, a.agency), or_unknown(w, a.host), one_line(a.rule_id, 100),
                          one_line(rule_name_in(a, lang), 200), w.digest_from, source.empty() ? w.unknown : source,
                          alert_link(console_url, a.id));
  }
  if (alerts.size() > kDigestLines) {
    n.body += fmt::format(fmt::runtime(w.digest_more), alerts.size() - kDigestLines) + "\n";
  }
  return n;
}

std::string encode_header_words(std::string_view utf8) {
  std::string text = one_line(utf8, 900);
  bool plain = text.find("=?") == std::string::npos;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x7f) plain = false;
  }
  if (plain && text.size() <= 900) return text;
  // "=?UTF-8?B?" + 60 base64 characters + "?=" = 72: each word holds at most 45 bytes, cut on a
  // character boundary (RFC 2047 §5: a word holds whole characters).
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size()) {
      size_t n = utf8_len(static_cast<unsigned char>(text[end]));
      if (end + n - i > 45) break;
      end += n;
    }
    if (end == i) end = std::min(text.size(), i + 1);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + pki::base64(std::string_view(text).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string base64_lines(std::string_view data) {
  std::string b = pki::base64(data);
  std::string out;
  for (size_t i = 0; i < b.size(); i += 76) out += b.substr(i, 76) + "\r\n";
  return out;
}

std::string mime_message(const MailHeaders& h, const Notice& notice) {
  std::string to;
  for (const auto& a : h.to) to += (to.empty() ? "" : ", ") + one_line(a, 254);
  std::string m;
  m += "Date: " + rfc5322_date(h.date_unix) + "\r\n";
  m += "From: Vigil <" + one_line(h.from, 254) + ">\r\n";
  m += "To: " + to + "\r\n";
  m += "Message-ID: <" + one_line(h.message_id, 200) + ">\r\n";
  m += "Subject: " + encode_header_words(notice.subject) + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=UTF-8\r\n";
  m += "Content-Transfer-Encoding: base64\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  m += "\r\n";
  m += base64_lines(crlf_lines(notice.body));
  return m;
}

}  // namespace vigil::collector::notify
