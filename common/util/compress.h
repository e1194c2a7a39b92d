// Batch body compression: the agent compresses (zstd by default, gzip for older collectors, or
// none), the collector decompresses within a bound so a small hostile body cannot become a huge
// one, whatever the encoding.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::compress {

enum class Codec { none, gzip, zstd };

// The HTTP Content-Encoding token of a codec ("identity" for none) and back. Accepts "identity"
// or the empty string for none, "gzip" and "deflate" (zlib-wrapped) for gzip, "zstd" for zstd;
// anything else is unknown.
std::string_view content_encoding(Codec codec);
std::optional<Codec> codec_of_encoding(std::string_view encoding);

// gzip member of `in` at `level` (1 fast .. 9 small).
std::string gzip(const std::string& in, int level = 1);

// One zstd frame of `in` at `level` (1 fast .. 19 small), with the content size in its header.
std::string zstd(const std::string& in, int level = 1);

// `in` compressed with `codec` at its fast level; none returns `in`. Empty on failure.
std::string encode(Codec codec, const std::string& in);

// Inflates gzip or zlib-wrapped deflate into `out`; false when the input is malformed or
// truncated, or when the output would exceed `limit` bytes.
bool inflate_bounded(const std::string& in, size_t limit, std::string& out);

// Decompresses one or more zstd frames into `out`; false when the input is malformed or
// truncated, when the output would exceed `limit` bytes, or when a frame asks for a window over
// 8 MiB (what the agent never sends; it bounds the decoder's memory).
bool zstd_decompress_bounded(const std::string& in, size_t limit, std::string& out);

// Either of the above by codec; none copies `in` if it fits in `limit`.
bool decode_bounded(Codec codec, const std::string& in, size_t limit, std::string& out);

}  // namespace vigil::compress
