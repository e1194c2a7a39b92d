#include "collector/api/https_server.h"

#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <openssl/x509.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/log/logging.h"
#include "common/pki/pki.h"
#include "common/util/compress.h"

namespace vigil::collector {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct HttpsServer::Impl {
  HttpsServerOptions options;
  AsyncHandler handler;
  HttpsServerStats stats;
  ssl::context ctx{ssl::context::tls_server};  // outlives io: sessions destroyed with io use it
  std::shared_ptr<spdlog::logger> log;
  // Open connections per remote address (max_connections_per_source); before io, so sessions
  // destroyed with io still find them.
  std::mutex sources_mutex;
  std::unordered_map<std::string, size_t> sources;
  asio::io_context io;
  // On a strand of its own: accepting and closing at stop never run at once.
  tcp::acceptor acceptor{asio::make_strand(io)};
  std::vector<std::thread> threads;
  // Re-arms accept after a failure (EMFILE, ENFILE...), on the acceptor's strand.
  asio::steady_timer accept_backoff{acceptor.get_executor()};
  std::chrono::milliseconds backoff{0};
  uint16_t bound_port = 0;
  bool running = false;

  Impl(HttpsServerOptions o, AsyncHandler h) : options(std::move(o)), handler(std::move(h)) {
    log = logging::get(options.name);
  }

  void do_accept();
  void on_accept_error(const beast::error_code& ec);
  // Counts a connection from `address`; false (and nothing counted) when it has its share.
  bool admit_source(const std::string& address) {
    if (options.max_connections_per_source == 0) return true;
    std::lock_guard lock(sources_mutex);
    auto& n = sources[address];
    if (n >= options.max_connections_per_source) {
      if (n == 0) sources.erase(address);
      return false;
    }
    ++n;
    return true;
  }
  void release_source(const std::string& address) {
    if (options.max_connections_per_source == 0) return;
    std::lock_guard lock(sources_mutex);
    auto it = sources.find(address);
    if (it != sources.end() && --it->second == 0) sources.erase(it);
  }
};

namespace {

// What max_connections_per_source counts by: an IPv4 address, or an IPv6 address's /64 (one
// host commonly holds a whole /64).
std::string source_key(const asio::ip::address& a) {
  if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
    auto bytes = a.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes).to_string() + "/64";
  }
  return a.is_v6() ? asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string() : a.to_string();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `source` is the remote address, already counted by admit_source (empty: not counted).
  Session(HttpsServer::Impl& server, tcp::socket socket, std::string source)
      : server_(server), stream_(std::move(socket), server.ctx), source_(std::move(source)) {
    server_.stats.open++;
  }

  void run() {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    beast::get_lowest_layer(stream_).expires_after(server_.options.handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::on_handshake, shared_from_this()));
  }

  ~Session() {
    if (!source_.empty()) server_.release_source(source_);
    server_.stats.open--;
  }

 private:
  void on_handshake(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        server_.stats.timeouts++;
      }
      server_.stats.handshake_failures++;
      server_.log->warn("{}: TLS handshake refused: {}", remote_, ec.message());
      return;
    }
    // A verified client certificate (verification happened in the handshake).
    if (X509* cert = SSL_get1_peer_certificate(stream_.native_handle())) {
      pki::Cert holder(cert);
      if (SSL_get_verify_result(stream_.native_handle()) == X509_V_OK) {
        peer_ = net::PeerCertificate{pki::common_name(holder), pki::serial_hex(holder)};
      }
    }
    do_read();
  }

  // The body bound of this connection: smaller without a verified client certificate.
  size_t body_limit() const {
    const auto& o = server_.options;
    if (o.request_client_cert && !peer_ && o.max_anonymous_body_bytes > 0) {
      return std::min(o.max_anonymous_body_bytes, o.max_body_bytes);
    }
    return large_body_ > 0 ? large_body_ : o.max_body_bytes;
  }

  // The larger bound of the request whose header was read, if its method and path have one.
  size_t large_body_for(const http::request_parser<http::string_body>::value_type& req) const {
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const std::string_view method(req.method_string().data(), req.method_string().size());
    for (const auto& l : server_.options.large_bodies) {
      if (method == l.method && path.size() > l.path_suffix.size() && path.ends_with(l.path_suffix)) return l.max_bytes;
    }
    return 0;
  }

  void do_read() {
    parser_.emplace();
    large_body_ = 0;
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    // Beast checks a Content-Length against this when the header ends, and a chunked body as it
    // arrives. With large bodies on some routes, the largest is set until the header says which
    // route: read_request() then holds the request to its own bound.
    size_t limit = body_limit();
    for (const auto& l : server_.options.large_bodies) limit = std::max(limit, l.max_bytes);
    parser_->body_limit(limit);
    if (first_ || buffer_.size() > 0) {
      first_ = false;
      return read_request();
    }
    // Kept alive: the idle timeout until the next request starts, then the request timeout for
    // the whole of it. While idle, the connection holds no request buffer (the last request's,
    // up to the body bound, is given back) and waits for one byte.
    buffer_.shrink_to_fit();
    beast::get_lowest_layer(stream_).expires_after(server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(1), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->on_read(ec, 0);
      self->read_request();
    });
  }

  void read_request() {
    beast::get_lowest_layer(stream_).expires_after(server_.options.request_timeout);
    if (server_.options.large_bodies.empty()) {
      http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
      return;
    }
    // The header first, to choose the body's bound by the route.
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->on_read(ec, n);
                              self->large_body_ = self->large_body_for(self->parser_->get());
                              const size_t limit = self->body_limit();
                              // A Content-Length was checked against the largest bound only: this route's now.
                              if (auto length = self->parser_->content_length(); length && *length > limit) {
                                return self->on_read(http::error::body_limit, n);
                              }
                              self->parser_->body_limit(limit);  // a chunked body, as it arrives
                              http::async_read(self->stream_, self->buffer_, *self->parser_,
                                               beast::bind_front_handler(&Session::on_read, self));
                            });
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return shutdown();
    }
    if (ec == beast::error::timeout) {
      server_.stats.timeouts++;
      server_.log->warn("{}: closed: request not received in time", remote_);
      return;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      server_.stats.too_large++;
      server_.log->warn("{}: closed: {}", remote_, ec.message());
      return reply_and_close(413, R"({"error":"request too large"})");
    }
    if (ec) {
      server_.stats.bad_requests++;
      server_.log->warn("{}: closed: malformed request: {}", remote_, ec.message());
      return;
    }
    server_.stats.requests++;
    auto req = parser_->release();
    net::HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& f : req) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    r.peer = peer_;
    r.remote = remote_;
    std::string encoding(req[http::field::content_encoding]);
    auto codec = compress::codec_of_encoding(encoding);
    if (!codec) {
      server_.stats.bad_requests++;
      server_.log->warn("{}: closed: unsupported content encoding '{}'", remote_, encoding.substr(0, 40));
      return reply_and_close(415, R"({"error":"unsupported content encoding: gzip, zstd or identity"})");
    }
    if (*codec == compress::Codec::none) {
      r.body = std::move(req.body());
    } else if (!compress::decode_bounded(*codec, req.body(), body_limit(), r.body)) {
      // Malformed, truncated or too large once decompressed: all the same to a hostile client.
      server_.stats.too_large++;
      server_.log->warn("{}: closed: {} body does not inflate within {} bytes", remote_,
                        compress::content_encoding(*codec), body_limit());
      return reply_and_close(413, R"({"error":"body does not inflate within the limit"})");
    }
    const bool keep_alive = req.keep_alive();
    const std::string method = r.method, target = r.target;
    // The answer may come from another thread: it is sent on this connection's strand.
    HttpsServer::Reply reply = [self = shared_from_this(), keep_alive](net::HttpResponse resp) {
      asio::post(self->stream_.get_executor(), [self, keep_alive, resp = std::move(resp)]() mutable {
        const bool keep = keep_alive && !resp.close;
        self->send(resp.status, std::move(resp.body), resp.content_type, keep, resp.headers);
      });
    };
    try {
      server_.handler(std::move(r), std::move(reply));
    } catch (const std::exception& e) {
      // Thrown before the reply was handed on: the connection is answered and closed here.
      server_.log->error("{} {}: handler failed: {}", method, target, e.what());
      send(500, R"({"error":"internal error"})", "application/json", false);
    }
  }

  void reply_and_close(int status, std::string body) { send(status, std::move(body), "application/json", false); }

  void send(int status, std::string body, const std::string& content_type, bool keep_alive,
            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    res->set(http::field::server, "vigil");
    res->set(http::field::content_type, content_type);
    for (const auto& [name, value] : headers) res->insert(name, value);
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_.options.request_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (keep_alive) {
        self->do_read();
      } else {
        self->shutdown();
      }
    });
  }

  void shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  HttpsServer::Impl& server_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  size_t large_body_ = 0;  // the request's larger bound (HttpsServerOptions::large_bodies), 0: none
  std::optional<net::PeerCertificate> peer_;
  std::string source_;
  std::string remote_ = "?";
  bool first_ = true;
};

}  // namespace

void HttpsServer::Impl::do_accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (ec) return on_accept_error(ec);
    backoff = std::chrono::milliseconds(0);
    stats.connections++;
    if (stats.open.load() >= options.max_connections) {
      stats.refused_busy++;
      log->warn("refusing a connection: {} open connections", stats.open.load());
      socket.close(ec);
      return do_accept();
    }
    std::string source;
    if (options.max_connections_per_source > 0) {
      auto ep = socket.remote_endpoint(ec);
      if (!ec) source = source_key(ep.address());
      if (!source.empty() && !admit_source(source)) {
        stats.refused_per_source++;
        log->warn("refusing a connection from {}: {} open from that address", source,
                  options.max_connections_per_source);
        socket.close(ec);
        return do_accept();
      }
    }
    std::make_shared<Session>(*this, std::move(socket), std::move(source))->run();
    do_accept();
  });
}

// Out of descriptors (EMFILE, ENFILE) or memory, accept fails at once for as long as it lasts:
// re-arming at once would spin. Wait 50 ms, doubling to 1 s while it keeps failing; sessions
// that end meanwhile give descriptors back.
void HttpsServer::Impl::on_accept_error(const beast::error_code& ec) {
  stats.accept_errors++;
  backoff = std::min(std::chrono::milliseconds(1000), std::max(std::chrono::milliseconds(50), backoff * 2));
  if (stats.accept_errors.load() % 100 == 1) {
    log->warn("accept failed: {} ({} open connections); trying again in {} ms", ec.message(), stats.open.load(),
              backoff.count());
  }
  accept_backoff.expires_after(backoff);
  accept_backoff.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor.is_open()) return;
    do_accept();
  });
}

HttpsServer::HttpsServer(HttpsServerOptions options, Handler handler)
    : HttpsServer(std::move(options), AsyncHandler([handler = std::move(handler)](net::HttpRequest r, Reply reply) {
        net::HttpResponse resp;
        try {
          resp = handler(r);
        } catch (const std::exception& e) {
          logging::get("https")->error("{} {}: handler failed: {}", r.method, r.target, e.what());
          resp = {500, R"({"error":"internal error"})", "application/json", true};
        }
        reply(std::move(resp));
      })) {}

HttpsServer::HttpsServer(HttpsServerOptions options, AsyncHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpsServer::~HttpsServer() { stop(); }

Result<void> HttpsServer::start() {
  auto& i = *impl_;
  auto tls = net::configure_tls(i.ctx, i.options.tls, /*server=*/true, i.options.request_client_cert);
  if (!tls) return tls;
  beast::error_code ec;
  auto addr = asio::ip::make_address(i.options.host, ec);
  if (ec) {
    // A name: resolve it once.
    tcp::resolver resolver(i.io);
    auto results = resolver.resolve(i.options.host, std::to_string(i.options.port), ec);
    if (ec || results.empty()) return make_error("cannot resolve listen address " + i.options.host);
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, i.options.port);
  i.acceptor.open(ep.protocol(), ec);
  if (!ec) i.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(ep, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(fmt::format("cannot listen on {}:{}: {}", i.options.host, i.options.port, ec.message()));
  }
  i.bound_port = i.acceptor.local_endpoint().port();
  i.do_accept();
  unsigned n = i.options.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : i.options.threads;
  for (unsigned t = 0; t < n; ++t) i.threads.emplace_back([&i] { i.io.run(); });
  i.running = true;
  return {};
}

void HttpsServer::stop() {
  auto& i = *impl_;
  if (!i.running) return;
  i.running = false;
  // Close the acceptor on its strand and wait for it, so no accept is pending or re-armed when
  // the threads stop.
  std::promise<void> closed;
  asio::post(i.acceptor.get_executor(), [&i, &closed] {
    beast::error_code ec;
    i.acceptor.close(ec);
    i.accept_backoff.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  i.io.stop();
  for (auto& t : i.threads) t.join();
  i.threads.clear();
}

uint16_t HttpsServer::port() const { return impl_->bound_port; }

const HttpsServerStats& HttpsServer::stats() const { return impl_->stats; }

}  // namespace vigil::collector
