#include "common/util/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <new>

namespace vigil::compress {

std::string_view content_encoding(Codec codec) {
  switch (codec) {
    case Codec::gzip: return "gzip";
    case Codec::zstd: return "zstd";
    case Codec::none: break;
  }
  return "identity";
}

std::optional<Codec> codec_of_encoding(std::string_view encoding) {
  if (encoding.empty() || encoding == "identity") return Codec::none;
  if (encoding == "gzip" || encoding == "deflate") return Codec::gzip;
  if (encoding == "zstd") return Codec::zstd;
  return std::nullopt;
}

std::string gzip(const std::string& in, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  // As zstd() below: into an uninitialised bound-sized buffer, copied out at the compressed size.
  const uLong bound = deflateBound(&zs, static_cast<uLong>(in.size()));
  std::unique_ptr<char[]> buf(new (std::nothrow) char[bound]);
  if (!buf) {
    deflateEnd(&zs);
    return {};
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(buf.get());
  zs.avail_out = static_cast<uInt>(bound);
  int rc = deflate(&zs, Z_FINISH);
  const size_t n = zs.total_out;
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? std::string(buf.get(), n) : std::string();
}

std::string zstd(const std::string& in, int level) {
  // A context per call, sized by zstd for this input and freed with it: a batch is up to 1 MiB,
  // so creating one costs little next to compressing it, while a context kept for the thread's
  // life held about 0.5 MiB in an idle agent (issue 22).
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!cctx) return {};
  // Into a bound-sized buffer that is not filled first (its pages stay untouched beyond what zstd
  // writes), then copied to a string of the compressed size: a std::string resized to the bound
  // would zero a whole megabyte per batch and keep it as capacity while the batch is sent.
  const size_t bound = ZSTD_compressBound(in.size());
  std::unique_ptr<char[]> buf(new char[bound]);
  size_t n = ZSTD_compressCCtx(cctx.get(), buf.get(), bound, in.data(), in.size(), level);
  if (ZSTD_isError(n)) return {};
  return std::string(buf.get(), n);
}

std::string encode(Codec codec, const std::string& in) {
  switch (codec) {
    case Codec::gzip: return gzip(in, 1);
    case Codec::zstd: return zstd(in, 1);
    case Codec::none: break;
  }
  return in;
}

bool inflate_bounded(const std::string& in, size_t limit, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return false;  // +32: detect gzip or zlib header
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out.clear();
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (out.size() > limit) {
      rc = Z_BUF_ERROR;
      break;
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // truncated input
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END;
}

bool zstd_decompress_bounded(const std::string& in, size_t limit, std::string& out) {
  out.clear();
  if (in.empty()) return false;
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return false;
  // 2^23 = 8 MiB: the largest window of the levels up to 19; a frame asking for more is refused
  // before the decoder allocates it.
  if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 23))) return false;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  char buf[65536];
  while (true) {
    ZSTD_outBuffer output{buf, sizeof(buf), 0};
    size_t rc = ZSTD_decompressStream(dctx.get(), &output, &input);  // 0: a frame ended, all flushed
    if (ZSTD_isError(rc)) return false;
    if (out.size() + output.pos > limit) return false;
    out.append(buf, output.pos);
    if (input.pos == input.size) {
      if (rc == 0) return true;
      if (output.pos < output.size) return false;  // the last frame wants input that is not there
    }
  }
}

bool decode_bounded(Codec codec, const std::string& in, size_t limit, std::string& out) {
  switch (codec) {
    case Codec::gzip: return inflate_bounded(in, limit, out);
    case Codec::zstd: return zstd_decompress_bounded(in, limit, out);
    case Codec::none: break;
  }
  if (in.size() > limit) return false;
  out = in;
  return true;
}

}  // namespace vigil::compress
