#include "common/pki/signing.h"

#include <memory>
#include <vector>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace vigil::pki {

namespace {

std::string ssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return fmt::format("{}: {}", what, buf);
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Key> generate_signing_key() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!k) return make_error(ssl_error("generating an Ed25519 key"));
  return Key(k);
}

Result<std::string> public_pem(const Key& key) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || !PEM_write_bio_PUBKEY(b.get(), key.get())) return make_error(ssl_error("writing a public key"));
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> sign_hex(const Key& key, std::string_view data) {
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return make_error("the signing key is not an Ed25519 key");
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return make_error(ssl_error("starting a signature"));
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) return make_error(ssl_error("signing"));
  std::vector<unsigned char> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, in, data.size()) != 1) return make_error(ssl_error("signing"));
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) out += fmt::format("{:02x}", sig[i]);
  return out;
}

Result<void> verify_hex(const std::string& public_key_pem, std::string_view data, std::string_view signature_hex) {
  Bio b(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  Key key(b ? PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return make_error(ssl_error("reading the signing public key"));
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return make_error("the signing public key is not Ed25519");
  if (signature_hex.size() != 128) return make_error("the signature is not 64 bytes of hex");
  std::vector<unsigned char> sig(64);
  for (size_t i = 0; i < 64; ++i) {
    int hi = hex_digit(signature_hex[2 * i]);
    int lo = hex_digit(signature_hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error("the signature is not hex");
    sig[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return make_error(ssl_error("starting a verification"));
  }
  int ok = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(data.data()),
                            data.size());
  ERR_clear_error();
  if (ok != 1) return make_error("the signature does not verify with the collector's signing key");
  return {};
}

std::string key_fingerprint(const std::string& public_key_pem) { return "sha256:" + sha256_hex(public_key_pem); }

}  // namespace vigil::pki
