// The ways a notice leaves: SMTP (STARTTLS, implicit TLS, or clear to a relay on loopback; AUTH
// PLAIN/LOGIN) and the Telegram Bot API over HTTPS, both through libcurl. Certificates and host
// names are always verified (TLS 1.2 and up). Secrets are set as options, never put in a URL a
// message could show; every error text has them removed before it leaves this file.
#pragma once

#include <memory>
#include <string>

#include "collector/config/collector_config.h"
#include "collector/notify/message.h"
#include "common/result.h"

namespace vigil::collector::notify {

class Sender {
 public:
  virtual ~Sender() = default;
  // Sends one notice; `message_id` makes an e-mail's Message-ID. An error says why, without secrets.
  virtual Result<void> send(const Notice& notice, const std::string& message_id) = 0;
};

std::unique_ptr<Sender> make_sender(const NotifySection& target);

// `text` with every occurrence of `secret` replaced by "<hidden>" (nothing when secret is empty).
std::string scrub(std::string text, const std::string& secret);

}  // namespace vigil::collector::notify
