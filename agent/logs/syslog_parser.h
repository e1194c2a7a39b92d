// Syslog lines: RFC 3164 ("Mmm dd hh:mm:ss host prog[pid]: msg", optionally "<PRI>"-prefixed or
// with an RFC 3339 timestamp as rsyslog writes by default) and RFC 5424 ("<PRI>1 TIMESTAMP HOST
// APP PROCID MSGID [SD] MSG"), told apart automatically; then the message is read by program.
#pragma once

#include <string_view>

#include "agent/logs/log_parser.h"

namespace vigil::logs {

struct SyslogHeader {
  int priority = -1;  // -1 when the line has no <PRI>
  bool rfc5424 = false;
  Timestamp time{};
  std::string_view host;
  std::string_view program;  // as written: "sshd", "sshd(pam_unix)", "httpd/backend1"
  std::string_view pid;
  std::string_view msgid;  // RFC 5424 only
  std::string_view message;
};

// Reads the header of a syslog line; false when it is not one.
bool parse_syslog_header(std::string_view line, const ParseContext& ctx, SyslogHeader& out);

class SyslogParser final : public LogParser {
 public:
  SyslogParser();
  std::string_view fallback_dataset() const override { return "syslog"; }

 protected:
  bool parse_line(std::string_view line, const ParseContext& ctx, Event& out) override;
};

}  // namespace vigil::logs
