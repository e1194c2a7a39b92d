// gzip for batch bodies (zlib): the agent compresses, the collector inflates within a bound so a
// small hostile body cannot become a huge one.
#pragma once

#include <cstddef>
#include <string>

namespace vigil::compress {

// gzip member of `in` at `level` (1 fast .. 9 small).
std::string gzip(const std::string& in, int level = 1);

// Inflates gzip or zlib-wrapped deflate into `out`; false when the input is malformed or
// truncated, or when the output would exceed `limit` bytes.
bool inflate_bounded(const std::string& in, size_t limit, std::string& out);

}  // namespace vigil::compress
