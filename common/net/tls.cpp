#include "common/net/tls.h"

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

namespace vigil::net {

Result<void> configure_tls(boost::asio::ssl::context& ctx, const TlsFiles& files, bool server, bool verify_peer) {
  namespace ssl = boost::asio::ssl;
  try {
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                    ssl::context::single_dh_use);
    // TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are OpenSSL's defaults.
    SSL_CTX_set_cipher_list(native,
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256");
    if (server) SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
    // OpenSSL's record buffers (~34 KiB a connection) are freed while nothing is in them: a
    // collector holding thousands of idle agent connections keeps only what each one needs.
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    if (!files.ca_pem.empty()) ctx.add_certificate_authority(boost::asio::buffer(files.ca_pem));
    if (!files.cert_pem.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(files.cert_pem));
      ctx.use_private_key(boost::asio::buffer(files.key_pem), ssl::context::pem);
    }
    if (verify_peer) {
      ctx.set_verify_mode(server ? ssl::verify_peer : (ssl::verify_peer | ssl::verify_fail_if_no_peer_cert));
    } else {
      ctx.set_verify_mode(ssl::verify_none);
    }
  } catch (const std::exception& e) {
    return make_error(std::string("TLS setup: ") + e.what());
  }
  return {};
}

}  // namespace vigil::net
