// Password hashes of local users: PBKDF2-HMAC-SHA256 (OpenSSL) with a random 16-byte salt per
// user, encoded as "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX" so the cost can rise later without
// invalidating stored hashes. The password itself is never stored or logged.
#pragma once

#include <string>
#include <string_view>

namespace vigil::collector {

// OWASP's figure for PBKDF2-HMAC-SHA256 (2023).
inline constexpr int kPasswordIterations = 210'000;

std::string hash_password(std::string_view password, int iterations = kPasswordIterations);
// Constant-time comparison; false for a malformed encoding too.
bool verify_password(std::string_view password, const std::string& encoded);

}  // namespace vigil::collector
