// Content signing (shared/DESIGN.md "Groups and bundles"): the collector signs what it pushes to
// agents with an Ed25519 key of its own (never the CA's), and agents verify with the public key
// they got at enrollment. Signatures travel as lowercase hex.
#pragma once

#include <string>
#include <string_view>

#include "common/pki/pki.h"
#include "common/result.h"

namespace vigil::pki {

// A new Ed25519 key.
Result<Key> generate_signing_key();
// The public half as PEM (SubjectPublicKeyInfo).
Result<std::string> public_pem(const Key& key);
// Ed25519 signature of `data`, hex.
Result<std::string> sign_hex(const Key& key, std::string_view data);
// Whether `signature_hex` is an Ed25519 signature of `data` by the key of `public_key_pem`; the
// error says why not.
Result<void> verify_hex(const std::string& public_key_pem, std::string_view data, std::string_view signature_hex);
// "sha256:" + hex SHA-256 of the public key's PEM text: how logs and the console name a key.
std::string key_fingerprint(const std::string& public_key_pem);

}  // namespace vigil::pki
