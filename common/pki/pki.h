// The PKI of a Vigil deployment (OpenSSL 3): the collector's CA, its server certificate, agent
// certificates signed from CSRs made on the agent (keys never travel), and the CA pin agents check
// at enrollment: "sha256:" + hex SHA-256 of the CA certificate's SubjectPublicKeyInfo (DER).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef struct X509_req_st X509_REQ;

namespace vigil::pki {

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
struct CertDeleter {
  void operator()(X509* c) const;
};
struct CsrDeleter {
  void operator()(X509_REQ* r) const;
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;
using Csr = std::unique_ptr<X509_REQ, CsrDeleter>;

// A new EC P-256 key.
Result<Key> generate_key();

// A self-signed CA certificate.
Result<Cert> make_ca(const Key& key, const std::string& common_name, std::chrono::seconds validity);

// A certificate for `key` signed by the CA. `hosts` become subjectAltNames (IP addresses as IP
// entries, names as DNS entries); `server` selects serverAuth, else clientAuth.
Result<Cert> issue(const Cert& ca, const Key& ca_key, EVP_PKEY* subject_key, const std::string& common_name,
                   const std::vector<std::string>& hosts, bool server, std::chrono::seconds validity);

// A copy of `cert` (subject, public key, extensions) issued by `issuer` for `validity` from now,
// with a new serial and the issuer's key id: the server certificate moved to a rotated CA.
Result<Cert> reissue(const Cert& cert, const Cert& issuer, const Key& issuer_key, std::chrono::seconds validity);

// The certificates of a PEM bundle, in order, each as PEM text; an error when there is none.
Result<std::vector<std::string>> split_certs(const std::string& pem);

// A CSR for `key` with the given common name.
Result<Csr> make_csr(const Key& key, const std::string& common_name);
// A CSR this collector signs: its signature verifies and its key is RSA of 2048 to 8192 bits,
// EC on P-256 or P-384, or Ed25519. Checked before anything is spent on it (an enrollment token).
Result<void> check_csr(const Csr& csr);
// Checks the CSR (check_csr) and signs it as a client certificate for `common_name` (the
// CN in the CSR is ignored: the collector names the agent).
Result<Cert> sign_csr(const Cert& ca, const Key& ca_key, const Csr& csr, const std::string& common_name,
                      std::chrono::seconds validity);

// "sha256:<64 lowercase hex>" of the certificate's SubjectPublicKeyInfo.
Result<std::string> spki_pin(const Cert& cert);

// notBefore and notAfter, seconds since the epoch.
Result<std::pair<int64_t, int64_t>> validity(const Cert& cert);

// Serial number as lowercase hex.
std::string serial_hex(const Cert& cert);
std::string common_name(const Cert& cert);

// PEM text conversions.
Result<std::string> to_pem(const Key& key);
Result<std::string> to_pem(const Cert& cert);
Result<std::string> to_pem(const Csr& csr);
Result<Key> key_from_pem(const std::string& pem);
Result<Cert> cert_from_pem(const std::string& pem);
Result<Csr> csr_from_pem(const std::string& pem);

// Files: keys are written 0600, other files 0644, each atomically (temp file + rename).
Result<void> write_file(const std::filesystem::path& path, const std::string& content, bool secret);
Result<std::string> read_file(const std::filesystem::path& path, size_t max_bytes = 1 << 20);

// Standard base64 (RFC 4648, '+' '/' and '=' padding) of `data`, in one line.
std::string base64(std::string_view data);

// A random token of `bytes` random bytes, URL-safe base64 without padding.
std::string random_token(size_t bytes = 32);
// Lowercase hex SHA-256 of the text (tokens are stored hashed).
std::string sha256_hex(const std::string& text);

// Content signing (shared/DESIGN.md "Groups and bundles"): the collector signs what it pushes to
// agents with an Ed25519 key of its own (never the CA's), and agents verify with the public key
// they got at enrollment. Signatures travel as lowercase hex.
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
