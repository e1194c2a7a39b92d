// Web server error logs.
//   Apache 2.2: [Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] msg
//   Apache 2.4: [Sat Jul 20 21:34:49.453232 2013] [auth_basic:error] [pid 1:tid 2] [client 1.2.3.4:5] AH01618: msg
//   Apache with "ErrorLog syslog": a syslog header, then the bracketed body.
//   nginx: 2024/01/01 12:00:00 [error] 123#0: *1 msg, client: 1.2.3.4, server: x, request: "GET / HTTP/1.1"
// Authentication and access failures (fail2ban's apache-auth cases, nginx auth_basic) get
// event.action and event.outcome "failure".
#pragma once

#include "agent/logs/log_parser.h"

namespace vigil::logs {

// Reads "[level] [pid ..] [client ..] message" into `out` (log.level, process.pid, source.ip,
// source.port, error.code, message, http.request.referrer, event.action/outcome).
void parse_apache_error_body(std::string_view body, Event& out);

class ApacheErrorParser final : public LogParser {
 public:
  ApacheErrorParser();
  std::string_view fallback_dataset() const override { return "apache.error"; }

 protected:
  bool parse_line(std::string_view line, const ParseContext& ctx, Event& out) override;
};

class NginxErrorParser final : public LogParser {
 public:
  NginxErrorParser();
  std::string_view fallback_dataset() const override { return "nginx.error"; }

 protected:
  bool parse_line(std::string_view line, const ParseContext& ctx, Event& out) override;
};

}  // namespace vigil::logs
