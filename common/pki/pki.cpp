#include "common/pki/pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <optional>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/event/value.h"

namespace vigil::pki {

void KeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void CertDeleter::operator()(X509* c) const { X509_free(c); }
void CsrDeleter::operator()(X509_REQ* r) const { X509_REQ_free(r); }

namespace {

std::string openssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return fmt::format("{}: {}", what, buf);
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<size_t>(n));
}

bool set_random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return false;
  bytes[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(bytes, sizeof(bytes), nullptr);
  if (!bn) return false;
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  return serial != nullptr;
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1;
}

Result<Cert> new_cert(EVP_PKEY* subject_key, const std::string& cn, std::chrono::seconds validity) {
  Cert cert(X509_new());
  if (!cert) return make_error(openssl_error("X509_new"));
  X509_set_version(cert.get(), 2);
  if (!set_random_serial(cert.get())) return make_error(openssl_error("serial"));
  // Back-date a little for clocks that disagree (an hour, less for very short certificates).
  const long back = std::min<long>(3600, static_cast<long>(validity.count()) / 10);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -back);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count()));
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Vigil"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

}  // namespace

Result<Key> generate_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (!k) return make_error(openssl_error("generating a P-256 key"));
  return Key(k);
}

Result<Cert> make_ca(const Key& key, const std::string& cn, std::chrono::seconds validity) {
  auto cert = new_cert(key.get(), cn, validity);
  if (!cert) return cert;
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  if (!add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_ext(c, c, NID_subject_key_identifier, "hash")) {
    return make_error(openssl_error("CA extensions"));
  }
  if (X509_sign(c, key.get(), EVP_sha256()) == 0) return make_error(openssl_error("signing the CA"));
  return cert;
}

Result<Cert> issue(const Cert& ca, const Key& ca_key, EVP_PKEY* subject_key, const std::string& cn,
                   const std::vector<std::string>& hosts, bool server, std::chrono::seconds validity) {
  auto cert = new_cert(subject_key, cn, validity);
  if (!cert) return cert;
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(ca.get()));
  std::string san;
  for (const auto& h : hosts) {
    if (!san.empty()) san += ',';
    san += IpAddress::parse(h) ? "IP:" + h : "DNS:" + h;
  }
  bool ok = add_ext(c, ca.get(), NID_basic_constraints, "critical,CA:FALSE") &&
            add_ext(c, ca.get(), NID_key_usage, "critical,digitalSignature,keyAgreement") &&
            add_ext(c, ca.get(), NID_ext_key_usage, server ? "serverAuth" : "clientAuth") &&
            add_ext(c, ca.get(), NID_subject_key_identifier, "hash") &&
            add_ext(c, ca.get(), NID_authority_key_identifier, "keyid:always");
  if (ok && !san.empty()) ok = add_ext(c, ca.get(), NID_subject_alt_name, san);
  if (!ok) return make_error(openssl_error("certificate extensions"));
  if (X509_sign(c, ca_key.get(), EVP_sha256()) == 0) return make_error(openssl_error("signing a certificate"));
  return cert;
}

Result<Cert> reissue(const Cert& cert, const Cert& issuer, const Key& issuer_key, std::chrono::seconds validity) {
  Cert copy(X509_dup(cert.get()));
  if (!copy) return make_error(openssl_error("X509_dup"));
  X509* c = copy.get();
  if (!set_random_serial(c)) return make_error(openssl_error("serial"));
  const long back = std::min<long>(3600, static_cast<long>(validity.count()) / 10);
  X509_gmtime_adj(X509_getm_notBefore(c), -back);
  X509_gmtime_adj(X509_getm_notAfter(c), static_cast<long>(validity.count()));
  X509_set_issuer_name(c, X509_get_subject_name(issuer.get()));
  for (int i = X509_get_ext_by_NID(c, NID_authority_key_identifier, -1); i >= 0;
       i = X509_get_ext_by_NID(c, NID_authority_key_identifier, -1)) {
    X509_EXTENSION_free(X509_delete_ext(c, i));
  }
  if (!add_ext(c, issuer.get(), NID_authority_key_identifier, "keyid:always")) {
    return make_error(openssl_error("authority key identifier"));
  }
  if (X509_sign(c, issuer_key.get(), EVP_sha256()) == 0) return make_error(openssl_error("signing a certificate"));
  return copy;
}

Result<std::vector<std::string>> split_certs(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return make_error(openssl_error("BIO_new_mem_buf"));
  std::vector<std::string> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    Cert cert(x);
    auto text = to_pem(cert);
    if (!text) return make_error(text.error());
    out.push_back(std::move(*text));
  }
  ERR_clear_error();  // the end of the text reads as an error
  if (out.empty()) return make_error("no certificate in the PEM text");
  return out;
}

Result<Csr> make_csr(const Key& key, const std::string& cn) {
  Csr req(X509_REQ_new());
  if (!req) return make_error(openssl_error("X509_REQ_new"));
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key.get());
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) == 0) return make_error(openssl_error("signing the CSR"));
  return req;
}

Result<void> check_csr(const Csr& csr) {
  EVP_PKEY* pub = X509_REQ_get0_pubkey(csr.get());
  if (!pub) return make_error("the CSR carries no public key");
  switch (EVP_PKEY_get_base_id(pub)) {
    case EVP_PKEY_RSA:
      // A bound above too: verifying a 16k-bit signature is the collector's time, asked for free.
      if (EVP_PKEY_get_bits(pub) < 2048 || EVP_PKEY_get_bits(pub) > 8192) {
        return make_error(fmt::format("the CSR's RSA key has {} bits: 2048 to 8192 are accepted", EVP_PKEY_get_bits(pub)));
      }
      break;
    case EVP_PKEY_EC: {
      char group[64] = {};
      size_t len = 0;
      if (EVP_PKEY_get_group_name(pub, group, sizeof group, &len) != 1) {
        return make_error("the CSR's EC key names no curve");
      }
      std::string_view g(group, len);
      if (g != "prime256v1" && g != "P-256" && g != "secp384r1" && g != "P-384") {
        return make_error(fmt::format("the CSR's EC key is on curve {}: P-256 or P-384 are accepted", g.substr(0, 40)));
      }
      break;
    }
    case EVP_PKEY_ED25519:
      break;
    default:
      return make_error("the CSR's key type is not accepted: RSA (2048 bits or more), EC P-256/P-384 or Ed25519");
  }
  if (X509_REQ_verify(csr.get(), pub) != 1) return make_error(openssl_error("the CSR's signature does not verify"));
  return {};
}

Result<Cert> sign_csr(const Cert& ca, const Key& ca_key, const Csr& csr, const std::string& cn,
                      std::chrono::seconds validity) {
  if (auto checked = check_csr(csr); !checked) return make_error(checked.error());
  return issue(ca, ca_key, X509_REQ_get0_pubkey(csr.get()), cn, {}, false, validity);
}

Result<std::string> spki_pin(const Cert& cert) {
  X509_PUBKEY* pk = X509_get_X509_PUBKEY(cert.get());
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(pk, &der);
  if (len <= 0) return make_error(openssl_error("encoding the public key"));
  unsigned char md[32];
  unsigned int md_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::string out = "sha256:";
  for (unsigned i = 0; i < md_len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

Result<std::pair<int64_t, int64_t>> validity(const Cert& cert) {
  auto seconds = [](const ASN1_TIME* t) -> std::optional<int64_t> {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
    return static_cast<int64_t>(timegm(&tm));
  };
  auto from = seconds(X509_get0_notBefore(cert.get()));
  auto to = seconds(X509_get0_notAfter(cert.get()));
  if (!from || !to) return make_error("the certificate's validity cannot be read");
  return std::make_pair(*from, *to);
}

std::string serial_hex(const Cert& cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
  if (!bn) return {};
  char* hex = BN_bn2hex(bn);
  std::string out(hex ? hex : "");
  OPENSSL_free(hex);
  BN_free(bn);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::string common_name(const Cert& cert) {
  char buf[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf, sizeof(buf));
  return buf;
}

Result<std::string> to_pem(const Key& key) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(b.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    return make_error(openssl_error("writing a key"));
  }
  return bio_text(b.get());
}

Result<std::string> to_pem(const Cert& cert) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(b.get(), cert.get())) return make_error(openssl_error("writing a certificate"));
  return bio_text(b.get());
}

Result<std::string> to_pem(const Csr& csr) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509_REQ(b.get(), csr.get())) return make_error(openssl_error("writing a CSR"));
  return bio_text(b.get());
}

Result<Key> key_from_pem(const std::string& pem) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr);
  if (!k) return make_error(openssl_error("reading a key"));
  return Key(k);
}

Result<Cert> cert_from_pem(const std::string& pem) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* c = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr);
  if (!c) return make_error(openssl_error("reading a certificate"));
  return Cert(c);
}

Result<Csr> csr_from_pem(const std::string& pem) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509_REQ* r = PEM_read_bio_X509_REQ(b.get(), nullptr, nullptr, nullptr);
  if (!r) return make_error(openssl_error("reading a CSR"));
  return Csr(r);
}

Result<void> write_file(const std::filesystem::path& path, const std::string& content, bool secret) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0) return make_error(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  ::fchmod(fd, secret ? 0600 : 0644);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      return make_error(fmt::format("cannot write {}: {}", path.string(), err));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return make_error(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error(fmt::format("cannot write {}: {}", path.string(), ec.message()));
  return {};
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> read_file(const std::filesystem::path& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::string out;
  out.resize(max_bytes + 1);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  if (out.size() > max_bytes) return make_error(fmt::format("{} is larger than {} bytes", path.string(), max_bytes));
  return out;
}

std::string random_token(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(acc >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string sha256_hex(const std::string& text) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

// Content signing (signing of group bundles, common/fleet/bundle.h).

Result<Key> generate_signing_key() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!k) return make_error(openssl_error("generating an Ed25519 key"));
  return Key(k);
}

Result<std::string> public_pem(const Key& key) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || !PEM_write_bio_PUBKEY(b.get(), key.get())) return make_error(openssl_error("writing a public key"));
  return bio_text(b.get());
}

Result<std::string> sign_hex(const Key& key, std::string_view data) {
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return make_error("the signing key is not an Ed25519 key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return make_error(openssl_error("starting a signature"));
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) return make_error(openssl_error("signing"));
  std::vector<unsigned char> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, in, data.size()) != 1) return make_error(openssl_error("signing"));
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) out += fmt::format("{:02x}", sig[i]);
  return out;
}

Result<void> verify_hex(const std::string& public_key_pem, std::string_view data, std::string_view signature_hex) {
  Bio b(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  Key key(b ? PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return make_error(openssl_error("reading the signing public key"));
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return make_error("the signing public key is not Ed25519");
  if (signature_hex.size() != 128) return make_error("the signature is not 64 bytes of hex");
  std::vector<unsigned char> sig(64);
  for (size_t i = 0; i < 64; ++i) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(signature_hex.data() + 2 * i, signature_hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || end != signature_hex.data() + 2 * i + 2) return make_error("the signature is not hex");
    sig[i] = static_cast<unsigned char>(v);
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return make_error(openssl_error("starting a verification"));
  }
  int ok = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(data.data()),
                            data.size());
  ERR_clear_error();
  if (ok != 1) return make_error("the signature does not verify with the collector's signing key");
  return {};
}

std::string key_fingerprint(const std::string& public_key_pem) { return "sha256:" + sha256_hex(public_key_pem); }

}  // namespace vigil::pki
