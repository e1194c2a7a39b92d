// HTTP transactions: request and response in one event, CONNECT tunnels, gaps in bodies, responses missing or first,
// look-alikes rejected.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "agent/proto/dispatcher.h"
#include "agent/proto/http.h"
#include "tests/unit/agent/proto_harness.h"

namespace vigil::agent::proto {
namespace {

// A ClientHello handshake message in one TLS record, naming `sni`.
std::string tls_client_hello(const std::string& sni) {
  auto u16 = [](size_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; };
  std::string ext_sni = u16(0) + u16(sni.size() + 5) + u16(sni.size() + 3) + '\0' + u16(sni.size()) + sni;
  std::string body =
      "\x03\x03" + std::string(32, 'r') + '\0' + u16(2) + "\x13\x01" + "\x01" + '\0' + u16(ext_sni.size()) + ext_sni;
  std::string hs =
      std::string{'\x01', '\0', static_cast<char>(body.size() >> 8), static_cast<char>(body.size() & 0xff)} + body;
  return std::string{'\x16', '\x03', '\x01', static_cast<char>(hs.size() >> 8), static_cast<char>(hs.size() & 0xff)} +
         hs;
}

std::string dataset(const Harness& h, size_t i) { return h.str(i, "event.dataset"); }

// --- CONNECT tunnels -------------------------------------------------------------------------

TEST(HttpConnect, TunnelAfter200GoesToTheTlsParserWithItsSni) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server,
         "CONNECT dichvucong.gov.vn:443 HTTP/1.1\r\nHost: dichvucong.gov.vn:443\r\nUser-Agent: curl/8.5.0\r\n"
         "Proxy-Authorization: Basic dTpw\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 Connection established\r\n\r\n");
  ASSERT_EQ(h.events.size(), 1u);  // the CONNECT is reported when its answer is whole
  std::string hello = tls_client_hello("dichvucong.gov.vn");
  h.feed(*p, StreamDir::to_server, hello.substr(0, 20));
  h.feed(*p, StreamDir::to_server, hello.substr(20));
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(dataset(h, 0), "network.http");
  EXPECT_EQ(h.str(0, "http.request.method"), "CONNECT");
  EXPECT_EQ(h.str(0, "url.original"), "dichvucong.gov.vn:443");
  EXPECT_EQ(h.str(0, "url.domain"), "dichvucong.gov.vn");
  EXPECT_EQ(h.str(0, "url.path"), "");  // authority-form has no path
  EXPECT_EQ(h.str(0, "user_agent.original"), "curl/8.5.0");
  EXPECT_EQ(h.num(0, "http.response.status_code"), 200);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 0);
  EXPECT_EQ(dataset(h, 1), "network.tls");
  EXPECT_EQ(h.str(1, "tls.client.server_name"), "dichvucong.gov.vn");
  EXPECT_EQ(h.counters.http_transactions, 1u);
  EXPECT_EQ(h.counters.tls_handshakes, 1u);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
  EXPECT_EQ(h.counters.tls_gave_up, 0u);
  EXPECT_EQ(h.counters.tls_upgrades, 1u);
}

TEST(HttpConnect, HelloSentBeforeTheAnswerAndA407FirstThenRetry) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  // The first CONNECT is refused with a body; the client asks again, with its hello right behind
  // the request in the same segment (held until the answer says it is a tunnel).
  h.feed(*p, StreamDir::to_server, "CONNECT portal.gov.vn:8443 HTTP/1.1\r\nHost: portal.gov.vn:8443\r\n\r\n");
  h.feed(*p, StreamDir::to_client,
         "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 4\r\n\r\ndeny");
  h.feed(*p, StreamDir::to_server,
         "CONNECT portal.gov.vn:8443 HTTP/1.1\r\nHost: portal.gov.vn:8443\r\nProxy-Authorization: Basic dTpw\r\n\r\n" +
             tls_client_hello("portal.gov.vn"));
  EXPECT_EQ(h.events.size(), 1u);
  h.feed(*p, StreamDir::to_client, "HTTP/1.0 200 OK\r\n\r\n");
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 3u);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 407);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 4);
  EXPECT_EQ(h.str(1, "http.request.method"), "CONNECT");
  EXPECT_EQ(h.num(1, "http.response.status_code"), 200);
  EXPECT_EQ(dataset(h, 2), "network.tls");
  EXPECT_EQ(h.str(2, "tls.client.server_name"), "portal.gov.vn");
  EXPECT_EQ(h.counters.http_gave_up, 0u);
}

TEST(HttpConnect, TunnelThatIsNotTlsIsSkippedWithoutCountingFailures) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "CONNECT git.gov.vn:22 HTTP/1.1\r\nHost: git.gov.vn:22\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\n\r\nSSH-2.0-OpenSSH_9.2\r\n");
  h.feed(*p, StreamDir::to_server, "SSH-2.0-OpenSSH_9.6\r\n" + std::string(100, '\x01'));
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 200);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
  EXPECT_EQ(h.counters.tls_gave_up, 0u);
}

TEST(HttpUpgrade, WebSocketAfter101IsNotParsedAsHttp) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server,
         "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
         "Upgrade\r\n\r\n\x81\x85\x01\x02\x03\x04hello");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi");
  h.feed(*p, StreamDir::to_server, "\x88\x80\x01\x02\x03\x04");
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "url.original"), "/chat");
  EXPECT_EQ(h.num(0, "http.response.status_code"), 101);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
}

// --- IPv6 ------------------------------------------------------------------------------------

TEST(HttpIpv6, DispatcherRecognisesAndReportsAnIpv6Transaction) {
  std::vector<Event> events;
  Dispatcher d(ProtoOptions{}, "h", [&](Event&& e) { events.push_back(std::move(e)); });
  auto cb = d.stream_callbacks();
  flow::StreamKey key{*IpAddress::parse("2001:db8::10"), *IpAddress::parse("2001:db8::1"), 51000, 8080, 0};
  auto send = [&](StreamDir dir, std::string_view s) {
    cb.data(key, dir, 0, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  send(StreamDir::to_server, "GET /v6?x=1 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n");
  send(StreamDir::to_client, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!");
  cb.end(key, flow::StreamEnd::fin);
  ASSERT_EQ(events.size(), 1u);
  const Event& e = events[0];
  EXPECT_EQ(*e.get_string(fields::event_dataset), "network.http");
  EXPECT_EQ(*e.get_ip(fields::source_ip), *IpAddress::parse("2001:db8::10"));
  EXPECT_EQ(*e.get_ip(fields::destination_ip), *IpAddress::parse("2001:db8::1"));
  EXPECT_EQ(*e.get_int(fields::destination_port), 8080);
  EXPECT_EQ(*e.get_string(fields::url_domain), "[2001:db8::1]");
  EXPECT_EQ(*e.get_string(fields::url_path), "/v6");
  EXPECT_EQ(*e.get_string(fields::url_query), "x=1");
  EXPECT_EQ(*e.get_int(fields::http_response_status_code), 404);
  EXPECT_EQ(*e.get_int(fields::http_response_body_bytes), 3);
  ASSERT_NE(e.get_string(fields::network_community_id), nullptr);
  EXPECT_TRUE(e.get_string(fields::network_community_id)->starts_with("1:"));
  EXPECT_EQ(d.counters().http_transactions, 1u);
}

// --- gaps in bodies --------------------------------------------------------------------------

TEST(HttpGap, LostBytesInsideSizedBodiesSkipToTheNextMessage) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  p->gap(StreamDir::to_server, 80);
  h.feed(*p, StreamDir::to_server, "0123456789GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 201 Created\r\nContent-Length: 50\r\n\r\n01234");
  p->gap(StreamDir::to_client, 45);  // exactly to the end of the body
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.str(0, "url.original"), "/up");
  EXPECT_EQ(h.num(0, "http.request.body.bytes"), 100);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 201);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 50);
  EXPECT_EQ(h.str(1, "url.original"), "/next");
  EXPECT_EQ(h.num(1, "http.response.status_code"), 200);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
}

TEST(HttpGap, LostBytesInsideChunksAndTheirLineEndsSkipToTheNextChunk) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123");
  p->gap(StreamDir::to_client, 12 + 1);  // the rest of the chunk and the CR after it
  h.feed(*p, StreamDir::to_client, "\n5\r\nab");
  p->gap(StreamDir::to_client, 3 + 2);  // the rest of the chunk and its CRLF
  h.feed(*p, StreamDir::to_client, "0\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n");
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 200);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 21);
  EXPECT_EQ(h.str(1, "url.original"), "/b");
  EXPECT_EQ(h.num(1, "http.response.status_code"), 304);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
}

TEST(HttpGap, GapPastTheBodyGivesUpThatSideButKeepsWhatWasSeen) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
  p->gap(StreamDir::to_client, 500);  // into the next response: where it starts is unknown
  EXPECT_EQ(h.counters.http_gave_up, 1u);
  // The server's side is gone: both requests are reported now, the first with its status.
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 200);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 5);
  EXPECT_EQ(h.str(1, "url.original"), "/b");
  EXPECT_EQ(h.num(1, "http.response.status_code"), -1);
  p->end(Timestamp{2});
  EXPECT_EQ(h.events.size(), 2u);
}

// --- responses missing or first --------------------------------------------------------------

TEST(HttpPairing, RequestWithoutResponseIsReportedAtTheEnd) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "POST /form HTTP/1.1\r\nHost: a.gov.vn\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_TRUE(h.events.empty());  // still waiting for the answer
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "http.request.method"), "POST");
  EXPECT_EQ(h.str(0, "url.domain"), "a.gov.vn");
  EXPECT_EQ(h.num(0, "http.request.body.bytes"), 3);
  EXPECT_EQ(h.num(0, "http.response.status_code"), -1);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), -1);
}

TEST(HttpPairing, ResponseSeenBeforeItsRequestIsOneEventAndLaterRequestsStayPaired) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  auto at = [&](StreamDir d, std::string_view s, int64_t ns) {
    p->data(d, {reinterpret_cast<const uint8_t*>(s.data()), s.size()}, Timestamp{ns});
  };
  // The request's segment was held back (reordered, retransmitted): its answer is delivered first.
  at(StreamDir::to_client, "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n", 5);
  EXPECT_TRUE(h.events.empty());  // waits for its request
  at(StreamDir::to_server, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 6);
  ASSERT_EQ(h.events.size(), 1u);
  at(StreamDir::to_server, "GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n", 7);
  at(StreamDir::to_client,
     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nbHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 8);
  ASSERT_EQ(h.events.size(), 3u);
  EXPECT_EQ(h.str(0, "url.original"), "/a");
  EXPECT_EQ(h.num(0, "http.response.status_code"), 302);
  EXPECT_EQ(h.events[0].time().ns, 6);  // the request's time, as Zeek's ts
  EXPECT_EQ(h.str(1, "url.original"), "/b");
  EXPECT_EQ(h.num(1, "http.response.status_code"), 200);
  EXPECT_EQ(h.str(2, "url.original"), "/c");
  EXPECT_EQ(h.num(2, "http.response.status_code"), 404);
  p->end(Timestamp{9});
  EXPECT_EQ(h.events.size(), 3u);
  EXPECT_EQ(h.counters.http_transactions, 3u);
}

TEST(HttpPairing, ResponseWhoseRequestNeverCameIsReportedAloneAtTheEnd) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n:(");
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 500);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 2);
  EXPECT_EQ(h.str(0, "http.version"), "1.1");
  EXPECT_EQ(h.str(0, "http.request.method"), "");
}

// --- one event per transaction ---------------------------------------------------------------

TEST(HttpTransaction, ContinueThenFinalAnswerIsOneEvent) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_TRUE(h.events.empty());
  h.feed(*p, StreamDir::to_server, "data");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "http.request.method"), "PUT");
  EXPECT_EQ(h.num(0, "http.request.body.bytes"), 4);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 204);
}

TEST(HttpTransaction, ExpectationRefusedAndTheClientMovesOnWithoutItsBody) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server,
         "PUT /big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 9000\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
  h.feed(*p, StreamDir::to_server, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.num(0, "http.response.status_code"), 417);
  EXPECT_EQ(h.num(0, "http.request.body.bytes"), 0);
  EXPECT_EQ(h.str(1, "url.original"), "/small");
  EXPECT_EQ(h.num(1, "http.response.status_code"), 200);
}

TEST(HttpTransaction, ResponseCutByTheEndKeepsItsStatusInTheSameEvent) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET /file.iso HTTP/1.1\r\nHost: x\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'z'));
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "url.original"), "/file.iso");
  EXPECT_EQ(h.str(0, "url.extension"), "iso");
  EXPECT_EQ(h.num(0, "http.response.status_code"), 200);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 1000);
}

TEST(HttpTransaction, PipelinedAndSplitEverywhereStillOneEventEach) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  const std::string req =
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string resp =
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  // One byte at a time, the answer bytes interleaved ahead of the requests they answer.
  for (size_t i = 0; i < std::max(req.size(), resp.size()); ++i) {
    if (i < resp.size()) h.feed(*p, StreamDir::to_client, resp.substr(i, 1));
    if (i < req.size()) h.feed(*p, StreamDir::to_server, req.substr(i, 1));
  }
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(h.str(i, "url.original"), "/" + std::to_string(i + 1));
    EXPECT_EQ(h.num(i, "http.response.status_code"), 200);
  }
  EXPECT_EQ(h.num(1, "http.response.body.bytes"), 3);
  EXPECT_EQ(h.num(2, "http.response.body.bytes"), 0);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
}

// --- HTTP/0.9 and look-alikes ----------------------------------------------------------------

TEST(Http09, OneLineGetAnsweredWithARawBodyIsATransaction) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET /index.html\r\n");
  h.feed(*p, StreamDir::to_client, "<html>old</html>");
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "http.request.method"), "GET");
  EXPECT_EQ(h.str(0, "url.original"), "/index.html");
  EXPECT_EQ(h.str(0, "http.version"), "0.9");
  EXPECT_EQ(h.num(0, "http.response.status_code"), -1);
  EXPECT_EQ(h.num(0, "http.response.body.bytes"), 16);
  EXPECT_EQ(h.counters.http_gave_up, 0u);
}

TEST(Http09, LookAlikesAreNotReported) {
  const std::vector<std::string> not_http = {
      "GET x\r\n",                                       // no '/' target: a key-value store's GET
      "GET mykey\r\n$-1\r\n",                            // the same, with more after it
      std::string("GET \x01\x02\x03\xff\xfe junk", 14),  // binary junk after the word
      "GET /" + std::string(3000, 'a') + "\r\n",         // an over-long line
      "GET /x\r\nGET /y\r\n",                            // an HTTP/0.9 client sends one line only
      "GET /caf\xc3\xa9\r\n",                            // not printable ASCII
      "GET /a b\r\n",                                    // a space inside the target, no version
  };
  for (const auto& text : not_http) {
    Harness h;
    auto p = make_http_parser(h.ctx);
    h.feed(*p, StreamDir::to_server, text);
    h.feed(*p, StreamDir::to_client, "$-1\r\n");
    p->end(Timestamp{2});
    EXPECT_TRUE(h.events.empty()) << text.substr(0, 40);
    EXPECT_EQ(h.counters.http_gave_up, 1u) << text.substr(0, 40);
  }
}

TEST(Http09, DetectionRefusesAMethodWordFollowedByAControlByte) {
  auto looks = [](std::string_view s) {
    return looks_like_http_request({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  EXPECT_TRUE(looks("GET /x H"));
  EXPECT_TRUE(looks("CONNECT "));
  EXPECT_TRUE(looks("GET x"));  // decided by the parser, which sees the whole line
  EXPECT_FALSE(looks(std::string_view("GET \x00\x01\x02\x03", 8)));
  EXPECT_FALSE(looks("GET  /x"));
  EXPECT_FALSE(looks("GETX /x"));
}

TEST(Http09, VersionlessRequestAnsweredWithAStatusLine) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET /\r\n\r\n");  // `printf 'GET /\r\n\r\n' | nc`
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "http.version"), "0.9");
  EXPECT_EQ(h.num(0, "http.response.status_code"), 400);
}

TEST(HttpRequestLine, BinaryAfterAValidTransactionGivesUpOnlyThatSide) {
  Harness h;
  auto p = make_http_parser(h.ctx);
  h.feed(*p, StreamDir::to_server, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  h.feed(*p, StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  h.feed(*p, StreamDir::to_server, std::string("\x16\x03\x01\x00\x10", 5));
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.counters.http_gave_up, 1u);
}

}  // namespace
}  // namespace vigil::agent::proto

namespace vigil::agent::proto {
namespace {

// A method and nothing after it ("GET \r\n") is not a request line: refused, never a fault, as
// the first request or as the second on a kept-alive connection (a fuzzing find).
TEST(HttpRequestLine, AMethodWithoutATargetIsRefusedNotAFault) {
  for (bool second : {false, true}) {
    std::vector<Event> events;
    Dispatcher d(ProtoOptions{}, "h", [&](Event&& e) { events.push_back(std::move(e)); });
    auto cb = d.stream_callbacks();
    flow::StreamKey key{*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"), 51000, 80, 0};
    auto send = [&](StreamDir dir, std::string_view s) {
      cb.data(key, dir, 0, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    };
    if (second) {
      send(StreamDir::to_server, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
      send(StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
    send(StreamDir::to_server, "GET ");
    send(StreamDir::to_server, "\r\n");
    cb.end(key, flow::StreamEnd::fin);
    EXPECT_EQ(d.counters().parser_faults, 0u) << second;
    EXPECT_EQ(events.size(), second ? 1u : 0u);
  }
}

// A parser that fails unexpectedly (here: the sink throws on its first event) costs its own
// stream only: counted, that stream ignored from then on, the next stream parsed as ever.
TEST(ProtoDispatcherFaults, AFaultingParserLosesItsOwnStreamOnly) {
  std::vector<Event> events;
  bool fail = true;
  Dispatcher d(ProtoOptions{}, "h", [&](Event&& e) {
    if (std::exchange(fail, false)) throw std::runtime_error("sink failed");
    events.push_back(std::move(e));
  });
  auto cb = d.stream_callbacks();
  auto run = [&](uint16_t port) {
    flow::StreamKey key{*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"), port, 80, 0};
    auto send = [&](StreamDir dir, std::string_view s) {
      cb.data(key, dir, 0, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    };
    send(StreamDir::to_server, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    send(StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    send(StreamDir::to_server, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
    send(StreamDir::to_client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    cb.end(key, flow::StreamEnd::fin);
  };
  run(51000);
  EXPECT_EQ(d.counters().parser_faults, 1u);
  EXPECT_TRUE(events.empty());  // the rest of the faulting stream is not parsed
  EXPECT_EQ(d.open_parsers(), 0u);
  run(51001);
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(d.counters().parser_faults, 1u);
}

}  // namespace
}  // namespace vigil::agent::proto
