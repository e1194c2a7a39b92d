// nginx and Apache access logs, combined and common formats:
//   IP IDENT USER [10/Oct/2000:13:55:36 -0700] "GET /a?b HTTP/1.1" 200 2326 ["REFERRER" "UA"]
// "-" means absent (user, bytes, referrer, user agent).
#pragma once

#include "agent/logs/log_parser.h"

namespace vigil::logs {

class AccessLogParser final : public LogParser {
 public:
  enum class Flavor { nginx, apache };
  explicit AccessLogParser(Flavor flavor);
  std::string_view fallback_dataset() const override { return dataset_; }

 protected:
  bool parse_line(std::string_view line, const ParseContext& ctx, Event& out) override;

 private:
  std::string_view dataset_;
};

// "10/Oct/2000:13:55:36 -0700" (the text between the brackets).
std::optional<Timestamp> parse_clf_time(std::string_view s);

}  // namespace vigil::logs
