// What a notice says, in the target's language, and the e-mail that carries it: RFC 5322 headers
// with an RFC 2047 encoded-word Subject and a base64 text/plain; charset=UTF-8 body, so any text
// of an alert (rule names, host names, evidence) stays in the body and cannot make a header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collector/store/incident_store.h"
#include "collector/store/triage_store.h"

namespace vigil::collector::notify {

// A notice as plain UTF-8 text: one subject line and a body of lines.
struct Notice {
  std::string subject{};
  std::string body{};
};

// `console_url` without a trailing slash; the link is <console_url>/#/alerts/<id>.
std::string alert_link(const std::string& console_url, int64_t alert_id);
// The source address of an alert: its entity's, else source.ip of its evidence, else "".
std::string alert_source(const AlertRecord& alert);

Notice render_alert(const AlertRecord& alert, const std::string& lang, const std::string& console_url);
// Alerts beyond the rate limit, oldest first: their count and the first kDigestLines, one line each.
inline constexpr size_t kDigestLines = 50;
Notice render_digest(const std::vector<AlertRecord>& alerts, const std::string& lang, const std::string& console_url);

// An incident's deadline passing unmet: `which` is kOverdueNotify or kOverdueReport
// (collector/store/incident_store.h); the link is <console_url>/#/incidents/<id>.
Notice render_incident_overdue(const IncidentRecord& incident, int which, const std::string& lang,
                               const std::string& console_url, Timestamp now);

// Text with control characters (CR, LF, tabs, ...) replaced by spaces and cut to `max` bytes on a
// UTF-8 boundary: for values that must stay on one line.
std::string one_line(std::string_view text, size_t max = 300);

// Text kept whole up to `max` bytes, else cut after its last line break that fits (or, with none, at
// a UTF-8 character boundary) and " …" added: for channels that bound a message's length.
std::string cut_text(std::string_view text, size_t max);

// RFC 2047 "=?UTF-8?B?...?=" words (each at most 75 characters) joined by CRLF SP folds; plain
// ASCII text without controls or "=?" is returned as it is.
std::string encode_header_words(std::string_view utf8);
// RFC 2045 base64 in lines of 76 characters ending CRLF.
std::string base64_lines(std::string_view data);

struct MailHeaders {
  std::string from{};
  std::vector<std::string> to{};
  int64_t date_unix{0};      // seconds since the epoch, written as UTC
  std::string message_id{};  // without angle brackets, e.g. 12.3f2a...@example.gov.vn
};

// The whole message, lines ending CRLF, ready for SMTP DATA (dot-stuffing is the sender's).
std::string mime_message(const MailHeaders& headers, const Notice& notice);

}  // namespace vigil::collector::notify
