// An HTTPS/1.1 server (Beast + Asio + OpenSSL) with strict bounds: header and body size, handshake,
// request and idle timeouts, connection count. A client that breaks them is disconnected and
// counted; others are unaffected. Handlers see plain request values (common/net/http_types.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/net/http_types.h"
#include "common/net/tls.h"
#include "common/result.h"

namespace vigil::collector {

struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see HttpsServer::port())
  net::TlsFiles tls;
  bool request_client_cert = false;  // ask for one; a certificate that does not verify fails the handshake
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 8 << 20;      // after decompression too
  // Body bound of a request without a verified client certificate (enrollment), checked before
  // the body is read; 0: max_body_bytes. Only where client certificates are asked for.
  size_t max_anonymous_body_bytes = 0;
  // A larger body bound for requests whose method and path end match (e.g. a bundle pushed to
  // `POST /api/v1/groups/NAME/bundles`), chosen from the request's header before its body is read.
  struct LargeBody {
    std::string method;
    std::string path_suffix;
    size_t max_bytes = 0;
  };
  std::vector<LargeBody> large_bodies;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};  // to receive one whole request
  std::chrono::milliseconds idle_timeout{120'000};    // between requests on a kept-alive connection
  size_t max_connections = 10'000;
  size_t max_connections_per_source = 0;  // open connections from one address; 0: no bound
  unsigned threads = 2;
  std::string name = "https";  // for log lines
};

struct HttpsServerStats {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> handshake_failures{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> too_large{0};
  std::atomic<uint64_t> bad_requests{0};
  std::atomic<uint64_t> refused_busy{0};         // over max_connections
  std::atomic<uint64_t> refused_per_source{0};   // over max_connections_per_source
  std::atomic<uint64_t> accept_errors{0};        // accept failed (EMFILE, ENFILE, ...): backed off
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> open{0};
};

class HttpsServer {
 public:
  using Handler = std::function<net::HttpResponse(const net::HttpRequest&)>;
  // A handler that answers later, from any thread (e.g. once a write is durable): it calls the
  // reply exactly once. The connection waits for it without holding a listener thread.
  using Reply = std::function<void(net::HttpResponse)>;
  using AsyncHandler = std::function<void(net::HttpRequest, Reply)>;

  HttpsServer(HttpsServerOptions options, Handler handler);
  HttpsServer(HttpsServerOptions options, AsyncHandler handler);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds, listens and starts the worker threads.
  Result<void> start();
  void stop();
  uint16_t port() const;
  const HttpsServerStats& stats() const;

  struct Impl;  // public name so the connection type in the .cpp can refer to it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collector
