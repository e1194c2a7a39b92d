// TLS handshakes: the ClientHello (SNI, ALPN, supported_versions, JA3) and the ServerHello (the
// version and ALPN the server chose), from handshake records reassembled across TCP segments
// and TLS records, up to a byte cap. One network.tls event per handshake. A client may open
// with an SSLv2-format ClientHello (the v2 record header carrying a v3.x hello, RFC 5246 E.2);
// a server may answer with an SSLv2 SERVER-HELLO.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

struct ClientHello {
  uint16_t legacy_version = 0;
  bool sslv2 = false;                        // came in the SSLv2 record format
  std::string server_name;
  std::vector<std::string> alpn;
  std::vector<uint16_t> cipher_suites;       // GREASE removed; from an SSLv2 hello the v3 ones
  std::vector<uint16_t> supported_versions;  // GREASE removed
  std::string ja3;                           // the JA3 string; ja3_hash its MD5
  std::string ja3_hash;
};

struct ServerHello {
  uint16_t version = 0;  // supported_versions when present, else the legacy version
  std::string alpn;
};

// Parse one handshake message body (after the 4-byte handshake header).
bool parse_client_hello(std::span<const uint8_t> body, ClientHello& out);
bool parse_server_hello(std::span<const uint8_t> body, ServerHello& out);
// An SSLv2 CLIENT-HELLO message (after the 2-byte record header: message type 1 first). JA3 is
// taken as Zeek's JA3 script takes it from such a hello: the version, every 3-byte cipher spec
// as a decimal number, and empty extension, group and point-format lists.
bool parse_sslv2_client_hello(std::span<const uint8_t> msg, ClientHello& out);

// tls.version as ECS has it: "1.0" ... "1.3" (TLS 1.3 drafts too: see tls_draft), "3.0" and
// "2.0" for SSL, else the hex value; tls_version_protocol "tls" or "ssl".
std::string tls_version_name(uint16_t v);
std::string tls_version_protocol(uint16_t v);
// The draft number of a TLS 1.3 draft version (0x7f1c: 28), else 0.
int tls_draft(uint16_t v);

std::unique_ptr<StreamParser> make_tls_parser(const ParserContext& ctx);
// A TLS handshake that follows a plain-text upgrade (STARTTLS and its kin): the event carries
// vigil.tls.starttls = `upgraded_from` ("smtp", "imap", ...).
std::unique_ptr<StreamParser> make_tls_parser(const ParserContext& ctx, std::string upgraded_from);

// Lowercase hex MD5 (JA3 and HASSH are defined with it).
std::string md5_hex(std::string_view text);

}  // namespace vigil::agent::proto
