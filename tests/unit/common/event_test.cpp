#include "common/event/event.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstdio>
#include <ctime>
#include <limits>
#include <random>
#include <set>

namespace vigil {
namespace {

TEST(FieldRegistry, KnownFieldsResolveToTheirConstants) {
  auto& reg = FieldRegistry::instance();
  EXPECT_EQ(reg.find("source.ip"), fields::source_ip);
  EXPECT_EQ(reg.find("@timestamp"), fields::timestamp);
  EXPECT_EQ(reg.name(fields::destination_port), "destination.port");
  EXPECT_EQ(reg.declared_type(fields::source_ip), Value::Type::ip);
  EXPECT_EQ(reg.declared_type(fields::source_port), Value::Type::integer);
  EXPECT_TRUE(reg.is_known(fields::rule_id));
}

TEST(FieldRegistry, UnknownNamesAreInternedOnce) {
  FieldId a = field("auditd.data.syscall_custom");
  FieldId b = field("auditd.data.syscall_custom");
  EXPECT_EQ(a, b);
  EXPECT_FALSE(FieldRegistry::instance().is_known(a));
  EXPECT_EQ(field_name(a), "auditd.data.syscall_custom");
  EXPECT_EQ(FieldRegistry::instance().declared_type(a), Value::Type::null);
}

TEST(Event, SetReplacesAndGetReturnsTypedValues) {
  Event e;
  e.set(fields::source_port, 22);
  e.set(fields::source_port, 2222);
  e.set(fields::user_name, "root");
  EXPECT_EQ(e.size(), 2u);
  ASSERT_NE(e.get_int(fields::source_port), nullptr);
  EXPECT_EQ(*e.get_int(fields::source_port), 2222);
  EXPECT_EQ(e.get_string(fields::source_port), nullptr);
  EXPECT_EQ(*e.get_string(fields::user_name), "root");
  EXPECT_TRUE(e.erase(fields::user_name));
  EXPECT_FALSE(e.has(fields::user_name));
  EXPECT_FALSE(e.erase(fields::user_name));
}

TEST(Event, EqualityIgnoresFieldOrder) {
  Event a, b;
  a.set(fields::source_port, 1);
  a.set(fields::destination_port, 2);
  b.set(fields::destination_port, 2);
  b.set(fields::source_port, 1);
  EXPECT_EQ(a, b);
  b.set(fields::source_port, 3);
  EXPECT_FALSE(a == b);
}

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("192.0.2.7");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->to_string(), "192.0.2.7");
  EXPECT_EQ(*v4, IpAddress::v4(0xC0000207));
  auto v6 = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::parse("300.1.1.1"));
  EXPECT_FALSE(IpAddress::parse("host.example"));
  EXPECT_FALSE(IpAddress::parse(""));
}

TEST(IpAddress, FromPacketBytesIsTheMappedFormParseGives) {
  const uint8_t v4[4] = {192, 0, 2, 7};
  const auto a = IpAddress::v4_bytes(v4);
  EXPECT_EQ(a, *IpAddress::parse("192.0.2.7"));
  EXPECT_TRUE(a.is_v4());
  const std::array<uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
  EXPECT_EQ(a.bytes(), mapped);
  EXPECT_EQ(a.to_string(), "192.0.2.7");
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const auto b = IpAddress::v6_bytes(v6);
  EXPECT_EQ(b, *IpAddress::parse("2001:db8::1"));
  EXPECT_FALSE(b.is_v4());
  // The IPv4-mapped bytes given as IPv6 stay an IPv6 address.
  const auto c = IpAddress::v6_bytes(mapped.data());
  EXPECT_FALSE(c.is_v4());
  EXPECT_FALSE(c == a);
}

TEST(Timestamp, ParsesRfc3339WithZonesAndFractions) {
  auto t = Timestamp::parse("2024-02-29T23:59:59.123456Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ns, 1709251199123456000LL);
  EXPECT_EQ(t->to_string(), "2024-02-29T23:59:59.123456Z");
  auto hcm = Timestamp::parse("2024-03-01T06:59:59.123456+07:00");
  ASSERT_TRUE(hcm);
  EXPECT_EQ(*hcm, *t);
  EXPECT_EQ(Timestamp::parse("1970-01-01T00:00:00Z")->ns, 0);
  EXPECT_EQ(Timestamp{1'500'000'000}.to_string(), "1970-01-01T00:00:01.500Z");
  EXPECT_FALSE(Timestamp::parse("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(Timestamp::parse("2024-01-01 00:00:00"));
  // Beyond what 64-bit nanoseconds hold (1677-2262): refused, not overflowed.
  EXPECT_FALSE(Timestamp::parse("2999-01-01T00:00:00Z"));
  EXPECT_FALSE(Timestamp::parse("1000-01-01T00:00:00Z"));
  EXPECT_TRUE(Timestamp::parse("2262-01-01T00:00:00Z"));
  EXPECT_FALSE(Timestamp::parse("2024-01-01T00:00:00.Z"));
}

// The hand-written formatting (no fmt, the date once per second) says what gmtime and inet_ntop
// say, over the whole range 64-bit nanoseconds hold and every kind of address.
TEST(Timestamp, FormatsAsTheCLibraryDoesOverTheWholeRange) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> any(std::numeric_limits<int64_t>::min() + 1,
                                             std::numeric_limits<int64_t>::max());
  auto reference = [](int64_t ns) {
    int64_t secs = ns / 1'000'000'000, frac = ns % 1'000'000'000;
    if (frac < 0) {
      frac += 1'000'000'000;
      --secs;
    }
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = buf;
    char f[16];
    if (frac % 1'000'000'000 == 0) {
    } else if (frac % 1'000'000 == 0) {
      std::snprintf(f, sizeof f, ".%03lld", static_cast<long long>(frac / 1'000'000));
      out += f;
    } else if (frac % 1'000 == 0) {
      std::snprintf(f, sizeof f, ".%06lld", static_cast<long long>(frac / 1'000));
      out += f;
    } else {
      std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
      out += f;
    }
    return out + "Z";
  };
  std::vector<int64_t> values = {0, -1, 1, 999'999'999, -1'000'000'000, 1709251199123456000LL,
                                 std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min() + 1};
  for (int i = 0; i < 20000; ++i) values.push_back(any(rng));
  // Runs within one second and across a day's end, as events come.
  for (int64_t ns = 1709251199'000000000LL - 3'000'000'000LL; ns < 1709251199'000000000LL + 3'000'000'000LL;
       ns += 250'000'000) {
    values.push_back(ns);
  }
  for (int64_t v : values) {
    ASSERT_EQ(Timestamp{v}.to_string(), reference(v)) << v;
  }
}

TEST(IpAddress, FormatsAsInetNtopDoes) {
  std::mt19937 rng(11);
  for (int i = 0; i < 5000; ++i) {
    uint32_t a = rng();
    if (i < 256) a = static_cast<uint32_t>(i) * 0x01010101u;
    char want[INET_ADDRSTRLEN];
    uint8_t b[4] = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16), static_cast<uint8_t>(a >> 8),
                    static_cast<uint8_t>(a)};
    inet_ntop(AF_INET, b, want, sizeof want);
    ASSERT_EQ(IpAddress::v4(a).to_string(), want);
  }
  EXPECT_EQ(IpAddress::parse("fe80::1:2")->to_string(), "fe80::1:2");
}

TEST(EventId, IdsAreUniqueAndSortByTime) {
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_event_id();
    ASSERT_EQ(id.size(), 26u);
    EXPECT_TRUE(seen.insert(id).second) << id;
    // The first 10 characters are the millisecond time: never decreasing.
    if (!prev.empty()) {
      EXPECT_LE(prev.substr(0, 10), id.substr(0, 10));
    }
    prev = id;
  }
}

TEST(EventId, PackedInSixteenBytesAndGivenBackExactly) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_event_id();
    unsigned char packed[16];
    ASSERT_TRUE(pack_event_id(id, packed)) << id;
    EXPECT_EQ(unpack_event_id(packed), id);
  }
  // The extremes of the form.
  unsigned char packed[16];
  ASSERT_TRUE(pack_event_id("00000000000000000000000000", packed));
  EXPECT_EQ(unpack_event_id(packed), "00000000000000000000000000");
  ASSERT_TRUE(pack_event_id("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", packed));
  EXPECT_EQ(unpack_event_id(packed), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  // Anything else is not packed: it would not come back the same.
  for (const char* other : {"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01hzzzzzzzzzzzzzzzzzzzzzzz", "0000000000000000000000000I",
                            "0000000000000000000000000", "000000000000000000000000000", "", "evt-1"}) {
    EXPECT_FALSE(pack_event_id(other, packed)) << other;
  }
}

}  // namespace
}  // namespace vigil
