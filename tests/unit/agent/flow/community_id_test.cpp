#include "agent/flow/community_id.h"

#include <gtest/gtest.h>

namespace vigil::agent::flow {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

// Test vectors published with the Community ID spec (and used by Zeek's community_id_v1 tests).
TEST(CommunityId, MatchesSpecVectorsSeedZero) {
  EXPECT_EQ(community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 6, 1122, 3344), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
  EXPECT_EQ(community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 17, 1122, 3344), "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=");
  EXPECT_EQ(community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 1, 8, 0), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
  EXPECT_EQ(community_id_v1(ip("fe80:0001:0203:0405:0607:0809:0A0B:0C0D"),
                            ip("fe80:1011:1213:1415:1617:1819:1A1B:1C1D"), 58, 128, 0),
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=");
}

TEST(CommunityId, MatchesSpecVectorsSeedOne) {
  EXPECT_EQ(community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 6, 1122, 3344, 1), "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
  EXPECT_EQ(community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 17, 1122, 3344, 1), "1:OShq+iKDAMVouh/4bMxB9Sz4amw=");
  EXPECT_EQ(community_id_v1(ip("1.2.3.4"), ip("5.6.7.8"), 1, 8, 0, 1), "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=");
}

TEST(CommunityId, IsTheSameInBothDirections) {
  EXPECT_EQ(community_id_v1(ip("5.6.7.8"), ip("1.2.3.4"), 6, 3344, 1122), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
  // The echo reply maps back onto the request's tuple.
  EXPECT_EQ(community_id_v1(ip("5.6.7.8"), ip("1.2.3.4"), 1, 0, 0), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
}

TEST(CommunityId, MapsIcmpTypesToTheirCounterparts) {
  auto echo = icmp_ports(false, 8, 0);
  EXPECT_EQ(echo.dport, 0);
  EXPECT_FALSE(echo.one_way);
  auto unreachable = icmp_ports(false, 3, 1);
  EXPECT_EQ(unreachable.dport, 1);
  EXPECT_TRUE(unreachable.one_way);
  auto ns = icmp_ports(true, 135, 0);
  EXPECT_EQ(ns.dport, 136);
}

}  // namespace
}  // namespace vigil::agent::flow
