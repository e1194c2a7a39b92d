#include "collector/api/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace vigil::collector {

namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr int kMaxIterations = 10'000'000;  // a stored value above this is refused, not run

std::string to_hex(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", p[i]);
  return out;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + i + 2) return false;
    out.push_back(static_cast<unsigned char>(v));
  }
  return true;
}

bool derive(std::string_view password, const unsigned char* salt, size_t salt_len, int iterations, unsigned char* out,
            size_t out_len) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, static_cast<int>(salt_len),
                           iterations, EVP_sha256(), static_cast<int>(out_len), out) == 1;
}

}  // namespace

std::string hash_password(std::string_view password, int iterations) {
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) throw std::runtime_error("no randomness for a password salt");
  unsigned char hash[kHashBytes];
  if (!derive(password, salt, sizeof salt, iterations, hash, sizeof hash)) {
    throw std::runtime_error("PBKDF2 failed");
  }
  return fmt::format("pbkdf2-sha256${}${}${}", iterations, to_hex(salt, sizeof salt), to_hex(hash, sizeof hash));
}

bool verify_password(std::string_view password, const std::string& encoded) {
  std::string_view s = encoded;
  constexpr std::string_view kPrefix = "pbkdf2-sha256$";
  if (s.substr(0, kPrefix.size()) != kPrefix) return false;
  s.remove_prefix(kPrefix.size());
  size_t d1 = s.find('$');
  if (d1 == std::string_view::npos) return false;
  size_t d2 = s.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  int iterations = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + d1, iterations);
  if (ec != std::errc() || p != s.data() + d1 || iterations < 1 || iterations > kMaxIterations) return false;
  std::vector<unsigned char> salt, expected;
  if (!from_hex(s.substr(d1 + 1, d2 - d1 - 1), salt) || !from_hex(s.substr(d2 + 1), expected)) return false;
  if (salt.empty() || expected.size() != kHashBytes) return false;
  unsigned char got[kHashBytes];
  if (!derive(password, salt.data(), salt.size(), iterations, got, sizeof got)) return false;
  return CRYPTO_memcmp(got, expected.data(), kHashBytes) == 0;
}

}  // namespace vigil::collector
