// Plain-text starts that turn into TLS on the same connection: SMTP STARTTLS (RFC 3207), IMAP
// STARTTLS (RFC 3501 6.2.1), POP3 STLS (RFC 2595), FTP AUTH TLS (RFC 4217), LDAP StartTLS (RFC
// 4511 4.14) and the PostgreSQL SSLRequest. The watcher follows the dialogue, pairing each
// command with its reply, until the upgrade command is answered yes; what each side sends after
// that is a TLS handshake, parsed like any other (network.tls with vigil.tls.starttls = the
// protocol). A dialogue that never upgrades makes no event and counts as streams_unknown.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

enum class StartTlsKind {
  smtp_ftp,  // "220" greeting: the command tells SMTP (STARTTLS) from FTP (AUTH TLS)
  imap,      // "* OK" / "* PREAUTH" greeting
  pop3,      // "+OK" greeting
  ldap,      // a BER LDAPMessage from the client
  postgres,  // SSLRequest or GSSENCRequest from the client
};

// Which watcher the first bytes of each side call for (up to a few bytes of each; empty when
// that side has not spoken), or none.
std::optional<StartTlsKind> starttls_kind(std::string_view client, std::string_view server);

std::unique_ptr<StreamParser> make_starttls_parser(const ParserContext& ctx, StartTlsKind kind);

}  // namespace vigil::agent::proto
