// The HTTPS server's bounds, on real sockets on 127.0.0.1: out of descriptors it backs off
// instead of spinning, connections per address are capped when asked, and a request without a
// client certificate gets a small body bound.
#include "collector/api/https_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <tuple>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/log/logging.h"
#include "common/net/https_client.h"
#include "common/pki/pki.h"

namespace vigil::collector {
namespace {

using namespace std::chrono_literals;

struct TestPki {
  net::TlsFiles server;
  std::string ca_pem;
  TestPki() {
    auto ca_key = pki::generate_key();
    auto ca = pki::make_ca(*ca_key, "test CA", std::chrono::hours(24));
    auto key = pki::generate_key();
    auto cert = pki::issue(*ca, *ca_key, key->get(), "127.0.0.1", {"127.0.0.1"}, true, std::chrono::hours(24));
    ca_pem = *pki::to_pem(*ca);
    server = {ca_pem, *pki::to_pem(*cert), *pki::to_pem(*key)};
  }
};

// Connects `fd` (a TCP socket already made) to 127.0.0.1:port.
bool connect_socket(int fd, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!connect_socket(fd, port)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

net::HttpResponse ok(const net::HttpRequest&) { return {200, "{}", "application/json", false}; }

// One worker thread, the test's certificates; each test adds the bound it checks.
HttpsServerOptions one_thread(const TestPki& p) {
  HttpsServerOptions o;
  o.tls = p.server;
  o.threads = 1;
  return o;
}

// Polls `done` every 10 ms for up to `limit`.
template <typename Pred>
void wait_until(Pred done, std::chrono::milliseconds limit = 5000ms) {
  for (auto waited = 0ms; waited < limit && !done(); waited += 10ms) std::this_thread::sleep_for(10ms);
}

TEST(HttpsServer, OutOfDescriptorsItBacksOffInsteadOfSpinning) {
  TestPki p;
  HttpsServerOptions o = one_thread(p);
  HttpsServer server(o, ok);
  ASSERT_TRUE(server.start());
  // Out of descriptors the sanitizers' own checks fail too (UBSan's vptr check opens a pipe to
  // probe memory): so one connection is served first, warming every check on the accept path,
  // and the listener's log lines, which format nothing else under test, are kept quiet.
  auto https_log = logging::get("https");
  const auto level = https_log->level();
  https_log->set_level(spdlog::level::err);
  int warm = connect_to(server.port());
  wait_until([&] { return server.stats().open.load() >= 1; });
  ::close(warm);
  wait_until([&] { return server.stats().open.load() == 0; });
  // Thirty client sockets made first, then the process left two spare descriptors, then the
  // thirty connected: the server accepts two and meets EMFILE for the rest (connecting them
  // earlier would let it accept them all before the limit fell).
  std::vector<int> clients;
  for (int i = 0; i < 30; ++i) clients.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(std::count(clients.begin(), clients.end(), -1), 0);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // The limit and the log level come back however the test ends: the tests after it may run in
  // this process (sharded runs).
  struct Restore {
    rlimit limit;
    std::shared_ptr<spdlog::logger> log;
    spdlog::level::level_enum level;
    ~Restore() {
      ::setrlimit(RLIMIT_NOFILE, &limit);
      log->set_level(level);
    }
  } restore{saved, https_log, level};
  rlimit low = saved;
  low.rlim_cur = open_descriptors() + 2;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  for (int fd : clients) ASSERT_TRUE(connect_socket(fd, server.port()));
  const double cpu_before = cpu_seconds();
  std::this_thread::sleep_for(1500ms);
  const double cpu_used = cpu_seconds() - cpu_before;
  const uint64_t errors = server.stats().accept_errors.load();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_GT(errors, 0u);
  EXPECT_LT(errors, 60u) << "accept was re-armed without waiting";
  EXPECT_LT(cpu_used, 0.5) << "the acceptor spun while out of descriptors";
  // Descriptors back: the waiting connections are taken.
  wait_until([&] { return server.stats().connections.load() >= 31; });
  EXPECT_EQ(server.stats().connections.load(), 31u);
  for (int fd : clients) ::close(fd);
  server.stop();
}

TEST(HttpsServer, ConnectionsPerAddressAreCappedWhenAsked) {
  TestPki p;
  HttpsServerOptions o = one_thread(p);
  o.max_connections_per_source = 2;
  HttpsServer server(o, ok);
  ASSERT_TRUE(server.start());
  int a = connect_to(server.port());
  int b = connect_to(server.port());
  wait_until([&] { return server.stats().open.load() >= 2; });
  int c = connect_to(server.port());
  // The third is closed by the server at once: recv sees the end of the stream.
  timeval tv{3, 0};
  ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte;
  EXPECT_EQ(::recv(c, &byte, 1, 0), 0);
  EXPECT_EQ(server.stats().refused_per_source.load(), 1u);
  ::close(c);
  ::close(a);
  // A place freed is taken again.
  wait_until([&] { return server.stats().open.load() <= 1; });
  int d = connect_to(server.port());
  timeval short_tv{0, 300'000};
  ::setsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &short_tv, sizeof short_tv);
  EXPECT_EQ(::recv(d, &byte, 1, 0), -1);  // kept (waiting for a TLS ClientHello), not closed
  EXPECT_EQ(server.stats().refused_per_source.load(), 1u);
  ::close(b);
  ::close(d);
  server.stop();
}

TEST(HttpsServer, RequestsWithoutClientCertificateGetASmallBodyBound) {
  TestPki p;
  HttpsServerOptions o = one_thread(p);
  o.request_client_cert = true;
  o.max_anonymous_body_bytes = 16 * 1024;
  std::atomic<bool> reached{false};
  HttpsServer server(o, [&](const net::HttpRequest& r) {
    reached = true;
    return ok(r);
  });
  ASSERT_TRUE(server.start());
  net::HttpsClient client({"127.0.0.1", server.port(), {p.ca_pem, "", ""}, true, 10'000ms});
  auto small = client.request("POST", "/v1/enroll", std::string(8 * 1024, 'x'));
  ASSERT_TRUE(small) << small.error();
  EXPECT_EQ(small->status, 200);
  reached = false;
  // Refused from its header: the answer is 413, or the connection closes while the client is
  // still sending; either way the handler never sees it.
  auto big = client.request("POST", "/v1/enroll", std::string(100 * 1024, 'x'));
  if (big) {
    EXPECT_EQ(big->status, 413);
  }
  EXPECT_FALSE(reached);
  EXPECT_GE(server.stats().too_large.load(), 1u);  // the client may try a second connection
  server.stop();
}

TEST(HttpsServer, ALargeBodyOnlyWhereTheRouteTakesOne) {
  TestPki p;
  HttpsServerOptions o = one_thread(p);
  o.max_body_bytes = 16 * 1024;
  o.large_bodies.push_back({"POST", "/bundles", 256 * 1024});
  std::atomic<size_t> reached{0};
  HttpsServer server(o, [&](const net::HttpRequest& r) {
    ++reached;
    return ok(r);
  });
  ASSERT_TRUE(server.start());
  net::HttpsClient client({"127.0.0.1", server.port(), {p.ca_pem, "", ""}, true, 10'000ms});
  auto large = client.request("POST", "/api/v1/groups/web/bundles", std::string(200 * 1024, 'x'));
  ASSERT_TRUE(large) << large.error();
  EXPECT_EQ(large->status, 200);
  EXPECT_EQ(reached.load(), 1u);
  // The same size elsewhere, the route's method differing, or over the route's own bound: refused
  // from the header, never handled.
  for (auto [method, target, size] : {std::tuple{"POST", "/api/v1/users", 200 * 1024},
                                      std::tuple{"PUT", "/api/v1/groups/web/bundles", 200 * 1024},
                                      std::tuple{"POST", "/api/v1/groups/web/bundles", 300 * 1024}}) {
    net::HttpsClient other({"127.0.0.1", server.port(), {p.ca_pem, "", ""}, true, 10'000ms});
    auto big = other.request(method, target, std::string(static_cast<size_t>(size), 'x'));
    if (big) {
      EXPECT_EQ(big->status, 413) << method << " " << target;
    }
  }
  EXPECT_EQ(reached.load(), 1u);
  auto small = client.request("POST", "/api/v1/users", std::string(8 * 1024, 'x'));
  ASSERT_TRUE(small) << small.error();
  EXPECT_EQ(small->status, 200);
  server.stop();
}

}  // namespace
}  // namespace vigil::collector
