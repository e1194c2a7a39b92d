// TLS settings shared by our server and client: TLS 1.2 minimum (1.3 preferred), modern ciphers.
#pragma once

#include <string>

#include "common/result.h"

namespace boost::asio::ssl {
class context;
}

namespace vigil::net {

struct TlsFiles {
  std::string ca_pem;    // trusted CA certificate(s), PEM text
  std::string cert_pem;  // our certificate (empty: none)
  std::string key_pem;   // our key
};

// Applies versions, ciphers and our identity to a context. `verify_peer` asks for (server) or
// requires (client) a certificate that chains to ca_pem.
Result<void> configure_tls(boost::asio::ssl::context& ctx, const TlsFiles& files, bool server, bool verify_peer);

}  // namespace vigil::net
