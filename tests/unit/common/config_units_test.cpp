#include <gtest/gtest.h>

#include "common/config/yaml_reader.h"

namespace vigil::config {
namespace {

using namespace std::chrono_literals;

TEST(ConfigUnits, Durations) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("10m"), 10min);
  EXPECT_EQ(parse_duration("6h"), 6h);
  EXPECT_EQ(parse_duration("7d"), 7 * 24h);
  EXPECT_FALSE(parse_duration("30"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("1.5h"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_EQ(format_duration(90min), "90m");
}

TEST(ConfigUnits, Sizes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("128MiB"), 128u << 20);
  EXPECT_EQ(parse_size("2GiB"), 2ULL << 30);
  EXPECT_EQ(parse_size("10MB"), 10'000'000u);
  EXPECT_FALSE(parse_size("12 MiB"));
  EXPECT_FALSE(parse_size("MiB"));
  EXPECT_FALSE(parse_size("1PiB"));
  EXPECT_EQ(format_size(128ULL << 20), "128MiB");
}

TEST(ConfigUnits, Endpoints) {
  auto a = parse_endpoint("collector.example.gov.vn:8443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "collector.example.gov.vn");
  EXPECT_EQ(a->port, 8443);
  auto b = parse_endpoint("[::1]:9443");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->to_string(), "[::1]:9443");
  EXPECT_FALSE(parse_endpoint("::1:9443"));
  EXPECT_FALSE(parse_endpoint("host"));
  EXPECT_FALSE(parse_endpoint("host:0"));
  EXPECT_FALSE(parse_endpoint("host:70000"));
  EXPECT_FALSE(parse_endpoint(":80"));
}

}  // namespace
}  // namespace vigil::config
