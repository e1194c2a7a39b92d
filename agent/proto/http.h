// HTTP/1.x (and HTTP/0.9's one-line GET): requests and responses paired by their order on the
// connection, as Zeek pairs them (the nth request with the nth final response), whichever side's
// bytes arrive first; message bodies skipped by Content-Length or chunked encoding, also across a
// gap of lost bytes that lies inside a body. One network.http event per transaction, with request
// and response together; a transaction missing either half is reported when the connection ends
// or when the missing side can no longer send it.
//
// CONNECT answered 2xx and Upgrade answered 101 turn the connection into a tunnel: when the
// tunnel starts with a TLS handshake record, the rest of both directions goes to a TLS parser
// hosted here (network.tls events, SNI of the tunnelled server); otherwise it is skipped.
#pragma once

#include <memory>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

std::unique_ptr<StreamParser> make_http_parser(const ParserContext& ctx);

// True when `bytes` start like an HTTP request: a known method, a space, and (when there is one)
// a printable first byte of the target.
bool looks_like_http_request(std::span<const uint8_t> bytes);

}  // namespace vigil::agent::proto
