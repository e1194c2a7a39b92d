// TLS handshakes: the ClientHello (SNI, ALPN, supported_versions, JA3) and the ServerHello (the
// version and ALPN the server chose), from handshake records reassembled across TCP segments
// and TLS records, up to a byte cap. One network.tls event per handshake.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

struct ClientHello {
  uint16_t legacy_version = 0;
  std::string server_name;
  std::vector<std::string> alpn;
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

// "1.3", "1.2", "1.1", "1.0", "ssl3" or the hex value.
std::string tls_version_name(uint16_t v);

std::unique_ptr<StreamParser> make_tls_parser(const ParserContext& ctx);

// Lowercase hex MD5 (JA3 and HASSH are defined with it).
std::string md5_hex(std::string_view text);

}  // namespace vigil::agent::proto
