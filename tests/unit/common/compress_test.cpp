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

}  // namespace
}  // namespace vigil::compress
