// A small HTTPS/1.1 client (Beast + Asio + OpenSSL) with keep-alive and timeouts, for the agent
// (enrollment, delivery) and vigilctl. Blocking calls; one connection at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/net/http_types.h"
#include "common/net/tls.h"
#include "common/result.h"

namespace vigil::net {

struct HttpsClientOptions {
  std::string host;
  uint16_t port = 0;
  TlsFiles tls;                   // ca_pem to verify the server; cert/key for mutual TLS
  bool verify_server = true;      // false only to fetch the CA for pinning
  std::chrono::milliseconds timeout{15'000};  // connect + handshake, and each request
};

class HttpsClient {
 public:
  explicit HttpsClient(HttpsClientOptions options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request, connecting first when needed; a broken kept-alive connection is retried
  // once on a fresh one. `headers` are added as given.
  Result<HttpResponse> request(const std::string& method, const std::string& target, const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers = {});
  void close();
  // The server's leaf certificate of the current connection, PEM (after a request).
  std::string server_certificate_pem() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::net
