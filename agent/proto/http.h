// HTTP/1.x: requests and responses paired in order (pipelining included), message bodies skipped
// by Content-Length or chunked encoding; one network.http event per transaction.
#pragma once

#include <memory>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

std::unique_ptr<StreamParser> make_http_parser(const ParserContext& ctx);

// True when `bytes` start like an HTTP request ("GET ", "POST "...).
bool looks_like_http_request(std::span<const uint8_t> bytes);

}  // namespace vigil::agent::proto
