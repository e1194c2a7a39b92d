#include "common/pki/pki.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

namespace vigil::pki {
namespace {

using namespace std::chrono_literals;

bool verifies(const Cert& ca, const Cert& leaf) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

TEST(Pki, CsrIsSignedForTheNameTheCollectorChooses) {
  auto ca_key = generate_key();
  ASSERT_TRUE(ca_key);
  auto ca = make_ca(*ca_key, "Test CA", 24h);
  ASSERT_TRUE(ca) << ca.error();
  auto agent_key = generate_key();
  auto csr = make_csr(*agent_key, "whatever-the-agent-says");
  ASSERT_TRUE(csr) << csr.error();
  // Through PEM, as it travels.
  auto pem = to_pem(*csr);
  ASSERT_TRUE(pem);
  auto parsed = csr_from_pem(*pem);
  ASSERT_TRUE(parsed) << parsed.error();
  auto cert = sign_csr(*ca, *ca_key, *parsed, "agent-0001", 24h);
  ASSERT_TRUE(cert) << cert.error();
  EXPECT_EQ(common_name(*cert), "agent-0001");
  EXPECT_TRUE(verifies(*ca, *cert));
  EXPECT_FALSE(serial_hex(*cert).empty());
  // Another CA does not vouch for it.
  auto other_key = generate_key();
  auto other = make_ca(*other_key, "Other CA", 24h);
  EXPECT_FALSE(verifies(*other, *cert));
}

Key keygen(const char* type, const char* param = nullptr) {
  if (std::string(type) == "RSA") return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(std::stoul(param))));
  if (std::string(type) == "EC") return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param));
  return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, type));
}

TEST(Pki, WeakOrUnusualCsrKeysAreRefusedBeforeSigning) {
  struct Case {
    const char* type;
    const char* param;
    bool accepted;
  } cases[] = {{"RSA", "1024", false}, {"RSA", "2048", true}, {"EC", "P-256", true},
               {"EC", "P-384", true},  {"EC", "P-521", false}, {"EC", "secp256k1", false}};
  for (const auto& c : cases) {
    auto key = keygen(c.type, c.param);
    ASSERT_TRUE(key) << c.type << " " << c.param;
    auto csr = make_csr(key, "x");
    ASSERT_TRUE(csr) << csr.error();
    auto checked = check_csr(*csr);
    EXPECT_EQ(static_cast<bool>(checked), c.accepted) << c.type << " " << c.param;
    if (!c.accepted) {
      auto ca_key = generate_key();
      auto ca = make_ca(*ca_key, "Test CA", 24h);
      EXPECT_FALSE(sign_csr(*ca, *ca_key, *csr, "agent", 24h)) << c.type << " " << c.param;
    }
  }
  auto rsa = check_csr(*make_csr(keygen("RSA", "1024"), "x"));
  EXPECT_NE(rsa.error().find("2048"), std::string::npos) << rsa.error();
}

TEST(Pki, TamperedCsrIsRefused) {
  auto ca_key = generate_key();
  auto ca = make_ca(*ca_key, "Test CA", 24h);
  auto key = generate_key();
  auto csr = make_csr(*key, "x");
  // Swap in another public key after signing: the self-signature no longer verifies.
  auto other = generate_key();
  X509_REQ_set_pubkey(csr->get(), other->get());
  auto cert = sign_csr(*ca, *ca_key, *csr, "agent", 24h);
  ASSERT_FALSE(cert);
  EXPECT_NE(cert.error().find("does not verify"), std::string::npos) << cert.error();
}

TEST(Pki, ReissuedServerCertificateChainsToTheNewCaWithItsKeyAndNames) {
  auto old_key = generate_key();
  auto old_ca = make_ca(*old_key, "Old CA", 24h);
  auto new_key = generate_key();
  auto new_ca = make_ca(*new_key, "New CA", 24h);
  auto server_key = generate_key();
  auto server = issue(*old_ca, *old_key, server_key->get(), "collector", {"collector", "127.0.0.1"}, true, 24h);
  ASSERT_TRUE(server) << server.error();
  auto moved = reissue(*server, *new_ca, *new_key, 48h);
  ASSERT_TRUE(moved) << moved.error();
  EXPECT_TRUE(verifies(*new_ca, *moved));
  EXPECT_FALSE(verifies(*old_ca, *moved));
  EXPECT_TRUE(verifies(*old_ca, *server));  // the original is untouched
  EXPECT_EQ(common_name(*moved), "collector");
  EXPECT_NE(serial_hex(*moved), serial_hex(*server));
  EXPECT_EQ(X509_check_host(moved->get(), "collector", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(moved->get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(moved->get()), server_key->get()), 1);
  auto v = validity(*moved);
  ASSERT_TRUE(v);
  EXPECT_GT(v->second - v->first, 47 * 3600);
}

TEST(Pki, BundleSplitsIntoItsCertificatesInOrder) {
  auto k1 = generate_key();
  auto k2 = generate_key();
  auto first = to_pem(*make_ca(*k1, "First", 24h));
  auto second = to_pem(*make_ca(*k2, "Second", 24h));
  ASSERT_TRUE(first && second);
  auto certs = split_certs(*first + *second);
  ASSERT_TRUE(certs) << certs.error();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(common_name(*cert_from_pem((*certs)[0])), "First");
  EXPECT_EQ(common_name(*cert_from_pem((*certs)[1])), "Second");
  EXPECT_FALSE(split_certs(""));
  EXPECT_FALSE(split_certs("not a certificate"));
}

TEST(Pki, PinIsStableAndDiffersBetweenCas) {
  auto k1 = generate_key();
  auto k2 = generate_key();
  auto a = make_ca(*k1, "A", 24h);
  auto b = make_ca(*k2, "B", 24h);
  auto pa = spki_pin(*a);
  ASSERT_TRUE(pa);
  EXPECT_EQ(pa->size(), 7u + 64u);
  EXPECT_EQ(*pa, *spki_pin(*cert_from_pem(*to_pem(*a))));
  EXPECT_NE(*pa, *spki_pin(*b));
}

TEST(Pki, TokensAreRandomAndUrlSafe) {
  auto a = random_token();
  auto b = random_token();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace vigil::pki
