#include "common/net/https_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/pem.h>

namespace vigil::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct HttpsClient::Impl {
  HttpsClientOptions options;
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  bool tls_ready = false;
  std::string tls_error;

  explicit Impl(HttpsClientOptions o) : options(std::move(o)) {
    auto r = configure_tls(ctx, options.tls, /*server=*/false, options.verify_server);
    if (!r) {
      tls_error = r.error();
    } else {
      tls_ready = true;
    }
  }

  // Runs the io_context until `done` or the deadline; cancels the stream on timeout.
  template <typename Pred>
  bool run_until(Pred done, std::chrono::milliseconds timeout) {
    io.restart();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (io.run_one_until(deadline) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
          if (stream) beast::get_lowest_layer(*stream).cancel();
          io.restart();
          io.poll();
          return false;
        }
        if (io.stopped()) io.restart();
      }
    }
    return true;
  }

  Result<void> connect() {
    if (!tls_ready) return make_error(tls_error);
    stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, ctx);
    buffer.clear();
    if (options.verify_server) {
      // Check the name or address we dialled against the certificate.
      stream->set_verify_callback(ssl::host_name_verification(options.host));
    }
    if (!SSL_set_tlsext_host_name(stream->native_handle(), options.host.c_str())) {
      return make_error("TLS: cannot set the server name");
    }
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec) return make_error(fmt::format("cannot resolve {}: {}", options.host, ec.message()));
    bool finished = false;
    beast::get_lowest_layer(*stream).expires_after(options.timeout);
    beast::get_lowest_layer(*stream).async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      finished = true;
    });
    if (!run_until([&] { return finished; }, options.timeout + std::chrono::seconds(1)) || ec) {
      stream.reset();
      return make_error(fmt::format("cannot connect to {}:{}: {}", options.host, options.port,
                                    ec ? ec.message() : "timed out"));
    }
    finished = false;
    stream->async_handshake(ssl::stream_base::client, [&](beast::error_code e) {
      ec = e;
      finished = true;
    });
    if (!run_until([&] { return finished; }, options.timeout + std::chrono::seconds(1)) || ec) {
      stream.reset();
      return make_error(fmt::format("TLS handshake with {}:{} failed: {}", options.host, options.port,
                                    ec ? ec.message() : "timed out"));
    }
    return {};
  }

  Result<HttpResponse> once(const std::string& method, const std::string& target, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, options.host);
    req.set(http::field::user_agent, "vigil");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    beast::error_code ec;
    bool finished = false;
    beast::get_lowest_layer(*stream).expires_after(options.timeout);
    http::async_write(*stream, req, [&](beast::error_code e, std::size_t) {
      ec = e;
      finished = true;
    });
    if (!run_until([&] { return finished; }, options.timeout + std::chrono::seconds(1)) || ec) {
      return make_error("sending the request failed: " + (ec ? ec.message() : std::string("timed out")));
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    finished = false;
    http::async_read(*stream, buffer, parser, [&](beast::error_code e, std::size_t) {
      ec = e;
      finished = true;
    });
    if (!run_until([&] { return finished; }, options.timeout + std::chrono::seconds(1)) || ec) {
      return make_error("reading the response failed: " + (ec ? ec.message() : std::string("timed out")));
    }
    auto res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    out.content_type = std::string(res[http::field::content_type]);
    out.close = !res.keep_alive();
    return out;
  }
};

HttpsClient::HttpsClient(HttpsClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpsClient::~HttpsClient() = default;

void HttpsClient::close() {
  if (impl_->stream) {
    beast::error_code ec;
    beast::get_lowest_layer(*impl_->stream).socket().close(ec);
  }
  impl_->stream.reset();
}

Result<HttpResponse> HttpsClient::request(const std::string& method, const std::string& target,
                                          const std::string& body,
                                          const std::vector<std::pair<std::string, std::string>>& headers) {
  bool fresh = false;
  if (!impl_->stream) {
    auto c = impl_->connect();
    if (!c) return make_error(c.error());
    fresh = true;
  }
  auto r = impl_->once(method, target, body, headers);
  if (!r && !fresh) {
    // The server may have closed a kept-alive connection: one retry on a new one.
    close();
    auto c = impl_->connect();
    if (!c) return make_error(c.error());
    r = impl_->once(method, target, body, headers);
  }
  if (!r || r->close) close();
  return r;
}

std::string HttpsClient::server_certificate_pem() const {
  if (!impl_->stream) return {};
  X509* cert = SSL_get1_peer_certificate(impl_->stream->native_handle());
  if (!cert) return {};
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  X509_free(cert);
  return out;
}

}  // namespace vigil::net
