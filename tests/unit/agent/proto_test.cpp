// Protocol parsers on conversations the test writes itself: HTTP pipelining, chunked and sized
// bodies, HEAD and 304 without bodies, a response the request of which was not seen; a TLS
// ClientHello split across TCP segments and records; SSH banners with a line before the server's;
// DNS over TCP with two messages in one segment; the buffer caps.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/proto/dns.h"
#include "agent/proto/http.h"
#include "agent/proto/ssh.h"
#include "agent/proto/tls.h"
#include "tests/unit/agent/proto_harness.h"

namespace vigil::agent::proto {
namespace {

TEST(HttpParser, PipelinedRequestsPairWithTheirResponsesInOrder) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server,
         "GET /a HTTP/1.1\r\nHost: portal.gov.vn:8080\r\nUser-Agent: t/1\r\n\r\n"
         "POST /login HTTP/1.1\r\nHost: portal.gov.vn\r\nContent-Length: 7\r\n\r\nu=a&p=b"
         "HEAD /c HTTP/1.1\r\nHost: portal.gov.vn\r\n\r\n");
  // Responses: sized, chunked (split mid-chunk), and a HEAD answer whose Content-Length has no body.
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 302 Found\r\nTransfer-");
  h.feed(*p, StreamDir::to_client, "Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\nde");
  h.feed(*p, StreamDir::to_client, "fg\r\n0\r\nTrailer: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n");
  ASSERT_EQ(h.events.size(), 3u);
  EXPECT_EQ(h.str(0, "url.original"), "/a");
  EXPECT_EQ(h.str(0, "url.domain"), "portal.gov.vn");
  EXPECT_EQ(h.str(0, "user_agent.original"), "t/1");
  EXPECT_EQ(h.num(0, "http.response.status_code"), 200);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 5);
  EXPECT_EQ(h.str(1, "http.request.method"), "POST");
  EXPECT_EQ(h.num(1, "http.response.status_code"), 302);
  EXPECT_EQ(h.num(1, "http.response.body.bytes"), 7);
  EXPECT_EQ(h.str(2, "http.request.method"), "HEAD");
  EXPECT_EQ(h.num(2, "http.response.status_code"), 200);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
}

TEST(HttpParser, ContinueResponsesBodyToCloseAndUnansweredRequests) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody until close");
  h.feed(*p, StreamDir::to_server, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 200);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 16);
  EXPECT_EQ(h.str(1, "url.original"), "/never");
  EXPECT_EQ(h.num(1, "http.response.status_code"), -1);
}

TEST(HttpParser, AuthorizationSchemeIsKeptNeverTheCredential) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "vigil.http.authorization"), "basic");
  std::string all;
  for (const auto& [id, v] : h.events[0]) all += v.to_string();
  EXPECT_EQ(all.find("YWRtaW46c2VjcmV0"), std::string::npos);
}

TEST(HttpParser, HeadersOverTheCapAreGivenUpAndCounted) {
  Harness h;
  h.options.max_buffer = 256;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET / HTTP/1.1\r\nX-Long: " + std::string(1000, 'a'));
  EXPECT_EQ(h.counters.http_gave_up, 1u);
  p->end(Timestamp{2});
  EXPECT_TRUE(h.events.empty());
}

std::string tls_record(uint8_t type, const std::string& body) {
  std::string r{static_cast<char>(type), '\x03', '\x01', static_cast<char>(body.size() >> 8),
                static_cast<char>(body.size() & 0xff)};
  return r + body;
}

std::string client_hello(const std::string& sni) {
  auto u16 = [](size_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; };
  std::string ext_sni = u16(0) + u16(sni.size() + 5) + u16(sni.size() + 3) + '\0' + u16(sni.size()) + sni;
  std::string ext_grease = u16(0x0a0a) + u16(0);
  std::string exts = ext_grease + ext_sni;
  std::string body = "\x03\x03" + std::string(32, 'r') + '\0' + u16(4) + "\x13\x01\x1a\x1a" + "\x01" + '\0' +
                     u16(exts.size()) + exts;
  return std::string{'\x01', '\0', static_cast<char>(body.size() >> 8), static_cast<char>(body.size() & 0xff)} + body;
}

TEST(TlsParser, ClientHelloAcrossSegmentsAndRecordsWithGreaseLeftOutOfJa3) {
  Harness h;
  auto p = make_tls_parser(h.ctx);
  std::string hello = client_hello("dichvucong.gov.vn");
  // The handshake message split over two records, each record split over TCP segments.
  std::string wire = tls_record(22, hello.substr(0, 30)) + tls_record(22, hello.substr(30));
  for (size_t i = 0; i < wire.size(); i += 7) h.feed(*p, StreamDir::to_server, wire.substr(i, 7));
  EXPECT_TRUE(h.events.empty());  // waits for the server's choice
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "tls.client.server_name"), "dichvucong.gov.vn");
  EXPECT_EQ(h.str(0, "tls.client.ja3_string"), "771,4865,0,,");  // GREASE cipher and extension dropped
  EXPECT_EQ(h.str(0, "tls.client.ja3"), md5_hex("771,4865,0,,"));
}

TEST(TlsParser, NotTlsIsGivenUp) {
  Harness h;
  auto p = make_tls_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, std::string("\x16\x07\x01\x00\x05hello", 10));
  p->end(Timestamp{2});
  EXPECT_TRUE(h.events.empty());
  EXPECT_EQ(h.counters.tls_gave_up, 1u);
}

TEST(SshParser, BannersWithALineBeforeTheServersAndNoKexInit) {
  Harness h;
  auto p = make_ssh_parser(h.ctx);
  h.feed(*p, StreamDir::to_client, "Welcome\r\nSSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
  h.feed(*p, StreamDir::to_server, "SSH-2.0-PuTTY_Release_0.78\r\n");
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "ssh.server.software"), "SSH-2.0-OpenSSH_9.2p1 Debian-2");
  EXPECT_EQ(h.str(0, "ssh.client.software"), "SSH-2.0-PuTTY_Release_0.78");
  EXPECT_EQ(h.str(0, "ssh.client.hassh"), "");
}

TEST(DnsOverTcp, TwoMessagesInOneSegmentAndOneSplit) {
  Harness h;
  h.ctx.ends.server_port = 53;
  auto p = make_dns_tcp_parser(h.ctx);
  std::string q = std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12) + "\x03gov\x02vn" +
                  std::string("\x00\x00\x06\x00\x01", 5);
  std::string framed = std::string{'\0', static_cast<char>(q.size())} + q;
  h.feed(*p, StreamDir::to_server, framed + framed.substr(0, 5));
  h.feed(*p, StreamDir::to_server, framed.substr(5));
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.str(0, "dns.question.name"), "gov.vn");
  EXPECT_EQ(h.str(1, "dns.question.type"), "SOA");
}

}  // namespace
}  // namespace vigil::agent::proto
