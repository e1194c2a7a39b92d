#include "collector/api/password.h"

#include <gtest/gtest.h>

namespace vigil::collector {
namespace {

TEST(Password, HashesWithSaltAndVerifies) {
  // Few iterations keep the test fast; the encoding carries the count.
  std::string a = hash_password("correct horse battery", 1000);
  std::string b = hash_password("correct horse battery", 1000);
  EXPECT_NE(a, b);  // a fresh salt each time
  EXPECT_EQ(a.rfind("pbkdf2-sha256$1000$", 0), 0u);
  EXPECT_EQ(a.find("correct"), std::string::npos);
  EXPECT_TRUE(verify_password("correct horse battery", a));
  EXPECT_TRUE(verify_password("correct horse battery", b));
  EXPECT_FALSE(verify_password("correct horse batterY", a));
  EXPECT_FALSE(verify_password("", a));
}

TEST(Password, DefaultCostIsAtLeastOwaspFigure) {
  std::string h = hash_password("x");
  EXPECT_GE(kPasswordIterations, 210'000);
  EXPECT_EQ(h.rfind("pbkdf2-sha256$" + std::to_string(kPasswordIterations) + "$", 0), 0u);
  EXPECT_TRUE(verify_password("x", h));
}

TEST(Password, MalformedEncodingsNeverVerify) {
  for (const char* bad : {"", "x", "pbkdf2-sha256$", "pbkdf2-sha256$1000$zz$00", "pbkdf2-sha256$0$00$00",
                          "pbkdf2-sha256$99999999999$00$00", "sha1$1000$00$00",
                          "pbkdf2-sha256$1000$$0000000000000000000000000000000000000000000000000000000000000000"}) {
    EXPECT_FALSE(verify_password("", bad)) << bad;
  }
}

}  // namespace
}  // namespace vigil::collector
