#include "common/util/compress.h"

#include <gtest/gtest.h>

#include <string>

namespace vigil::compress {
namespace {

std::string sample() {
  std::string s;
  for (int i = 0; i < 2000; ++i) s += R"({"event":{"dataset":"sshd","outcome":"failure"},"n":)" + std::to_string(i) + "}\n";
  return s;
}

TEST(Compress, GzipRoundTripsAndShrinksJsonLines) {
  std::string in = sample();
  std::string gz = gzip(in);
  ASSERT_FALSE(gz.empty());
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic
  EXPECT_LT(gz.size() * 5, in.size());
  std::string out;
  ASSERT_TRUE(inflate_bounded(gz, in.size(), out));
  EXPECT_EQ(out, in);
}

TEST(Compress, InflateStopsAtTheBound) {
  std::string bomb = gzip(std::string(10 << 20, '0'), 9);
  ASSERT_LT(bomb.size(), 64u << 10);
  std::string out;
  EXPECT_FALSE(inflate_bounded(bomb, 1 << 20, out));
  EXPECT_LE(out.size(), (1u << 20) + 65536u);
}

TEST(Compress, TruncatedOrGarbageInputIsRefused) {
  std::string gz = gzip(sample());
  std::string out;
  EXPECT_FALSE(inflate_bounded(gz.substr(0, gz.size() / 2), 1 << 20, out));
  EXPECT_FALSE(inflate_bounded("not compressed at all", 1 << 20, out));
  EXPECT_FALSE(inflate_bounded("", 1 << 20, out));
}

TEST(Compress, ZstdRoundTripsAndShrinksJsonLines) {
  std::string in = sample();
  std::string z = zstd(in);
  ASSERT_FALSE(z.empty());
  EXPECT_EQ(z.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));  // zstd frame magic
  EXPECT_LT(z.size() * 5, in.size());
  std::string out;
  ASSERT_TRUE(zstd_decompress_bounded(z, in.size(), out));
  EXPECT_EQ(out, in);
}

TEST(Compress, ZstdReadsConcatenatedFrames) {
  std::string a = sample(), b = "second frame\n";
  std::string out;
  ASSERT_TRUE(zstd_decompress_bounded(zstd(a) + zstd(b), a.size() + b.size(), out));
  EXPECT_EQ(out, a + b);
}

TEST(Compress, ZstdStopsAtTheBound) {
  std::string bomb = zstd(std::string(64 << 20, '0'), 19);
  ASSERT_LT(bomb.size(), 64u << 10);
  std::string out;
  EXPECT_FALSE(zstd_decompress_bounded(bomb, 1 << 20, out));
  EXPECT_LE(out.size(), 1u << 20);
  // Exactly at the bound is accepted.
  std::string in(1 << 20, 'x');
  EXPECT_TRUE(zstd_decompress_bounded(zstd(in), in.size(), out));
  EXPECT_FALSE(zstd_decompress_bounded(zstd(in), in.size() - 1, out));
}

TEST(Compress, ZstdTruncatedOrGarbageInputIsRefused) {
  std::string z = zstd(sample());
  std::string out;
  EXPECT_FALSE(zstd_decompress_bounded(z.substr(0, z.size() / 2), 1 << 20, out));
  EXPECT_FALSE(zstd_decompress_bounded(z.substr(0, z.size() - 1), 1 << 20, out));
  EXPECT_FALSE(zstd_decompress_bounded("not compressed at all", 1 << 20, out));
  EXPECT_FALSE(zstd_decompress_bounded("", 1 << 20, out));
  EXPECT_FALSE(zstd_decompress_bounded(gzip(sample()), 1 << 20, out));
}

TEST(Compress, ZstdFrameAskingForAHugeWindowIsRefused) {
  // A frame header declaring a 1 GiB window (window descriptor exponent 20 -> 2^30) and no
  // content size: the decoder must refuse it rather than allocate the window.
  std::string frame("\x28\xb5\x2f\xfd", 4);
  frame += '\x00';                       // frame header descriptor: no content size, no checksum
  frame += static_cast<char>(20 << 3);  // window descriptor: 2^(10+20)
  frame += std::string("\x01\x00\x00", 3);  // last raw block of size 0
  std::string out;
  EXPECT_FALSE(zstd_decompress_bounded(frame, 1 << 20, out));
  // The same header with a 1 MiB window decodes (to nothing).
  frame[5] = static_cast<char>(10 << 3);
  EXPECT_TRUE(zstd_decompress_bounded(frame, 1 << 20, out));
  EXPECT_TRUE(out.empty());
}

TEST(Compress, ContentEncodingNamesMapToCodecs) {
  EXPECT_EQ(codec_of_encoding(""), Codec::none);
  EXPECT_EQ(codec_of_encoding("identity"), Codec::none);
  EXPECT_EQ(codec_of_encoding("gzip"), Codec::gzip);
  EXPECT_EQ(codec_of_encoding("deflate"), Codec::gzip);
  EXPECT_EQ(codec_of_encoding("zstd"), Codec::zstd);
  EXPECT_FALSE(codec_of_encoding("br").has_value());
  EXPECT_FALSE(codec_of_encoding("gzip, zstd").has_value());
  for (Codec c : {Codec::none, Codec::gzip, Codec::zstd}) {
    EXPECT_EQ(codec_of_encoding(content_encoding(c)), c);
    std::string in = sample(), out;
    ASSERT_TRUE(decode_bounded(c, encode(c, in), in.size(), out));
    EXPECT_EQ(out, in);
    EXPECT_FALSE(decode_bounded(c, encode(c, in), in.size() - 1, out));
  }
}

}  // namespace
}  // namespace vigil::compress
