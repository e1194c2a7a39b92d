// TLS and SSH: versions in ECS form, SSLv2-compatible ClientHellos, STARTTLS upgrades, banners split over segments.
// Every handshake is written here byte by byte; the STARTTLS dialogues and SSH sessions go
// through the Dispatcher, as captured streams do, so detection is part of what is proved.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/proto/dispatcher.h"
#include "agent/proto/ssh.h"
#include "agent/proto/starttls.h"
#include "agent/proto/tls.h"
#include "tests/unit/agent/proto_harness.h"

namespace vigil::agent::proto {
namespace {

// ---- Byte builders.

std::string u8(size_t v) { return std::string(1, static_cast<char>(v & 0xff)); }
std::string u16(size_t v) { return u8(v >> 8) + u8(v); }
std::string u24(size_t v) { return u8(v >> 16) + u16(v & 0xffff); }
std::string u32(size_t v) { return u16(v >> 16) + u16(v & 0xffff); }

std::string ext(uint16_t type, const std::string& data) { return u16(type) + u16(data.size()) + data; }

std::span<const uint8_t> bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string handshake(uint8_t type, const std::string& body) { return u8(type) + u24(body.size()) + body; }

std::string record(uint8_t type, const std::string& body, uint16_t version = 0x0301) {
  return u8(type) + u16(version) + u16(body.size()) + body;
}

std::string sni_ext(const std::string& name) { return ext(0, u16(name.size() + 3) + u8(0) + u16(name.size()) + name); }

// A TLS 1.3 ClientHello: legacy 1.2, GREASE first in ciphers, extensions and versions.
std::string client_hello_13(const std::string& sni) {
  std::string exts = ext(0x1a1a, "") + sni_ext(sni) + ext(10, u16(4) + u16(0x2a2a) + u16(29)) + ext(11, u8(1) + u8(0)) +
                     ext(43, u8(6) + u16(0x3a3a) + u16(0x0304) + u16(0x0303));
  std::string body = u16(0x0303) + std::string(32, 'r') + u8(0) + u16(6) + u16(0x4a4a) + u16(0x1301) + u16(0xc02f) +
                     u8(1) + u8(0) + u16(exts.size()) + exts;
  return record(22, handshake(1, body));
}

const char* kJa3Of13 = "771,4865-49199,0-10-11-43,29,0";

std::string server_hello(uint16_t legacy, const std::string& exts) {
  std::string body = u16(legacy) + std::string(32, 's') + u8(0) + u16(0x1301) + u8(0);
  if (!exts.empty()) body += u16(exts.size()) + exts;
  return record(22, handshake(2, body), 0x0303);
}

std::string server_hello_13(uint16_t chosen = 0x0304) { return server_hello(0x0303, ext(43, u16(chosen))); }

// An SSLv2-format record (2-byte header) carrying a CLIENT-HELLO of `version` offering `specs`.
std::string sslv2_client_hello(uint16_t version, const std::vector<uint32_t>& specs) {
  std::string s;
  for (uint32_t spec : specs) s += u24(spec);
  std::string msg = u8(1) + u16(version) + u16(s.size()) + u16(0) + u16(16) + s + std::string(16, 'c');
  return u16(0x8000 | msg.size()) + msg;
}

// ---- A Dispatcher fed one TCP connection.

struct Conn {
  explicit Conn(uint16_t server_port) {
    key = {IpAddress::v4(0x0a000001), IpAddress::v4(0x0a000002), 40000, server_port, 0};
  }
  void send(StreamDir d, std::string_view text) {
    cb.data(key, d, 0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }
  // The same bytes a byte at a time: every boundary a segment could have.
  void trickle(StreamDir d, std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) send(d, text.substr(i, 1));
  }
  void close() { cb.end(key, flow::StreamEnd::fin); }
  std::string str(size_t i, const char* name) const {
    const std::string* s = events.at(i).get_string(field(name));
    return s ? *s : std::string();
  }

  std::vector<Event> events;
  Dispatcher disp{ProtoOptions{}, "h", [this](Event&& e) { events.push_back(std::move(e)); }};
  flow::StreamCallbacks cb = disp.stream_callbacks();
  flow::StreamKey key;
};

constexpr auto C = StreamDir::to_server;
constexpr auto S = StreamDir::to_client;

// ---- Versions.

TEST(TlsParser, SupportedVersionsInTheServerHelloGiveTls13InEcsForm) {
  Harness h;
  auto p = make_tls_parser(h.ctx);
  h.feed(*p, C, client_hello_13("thuedientu.gdt.gov.vn"));
  h.feed(*p, S, server_hello_13());
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "tls.version"), "1.3");
  EXPECT_EQ(h.str(0, "tls.version_protocol"), "tls");
  EXPECT_EQ(h.str(0, "tls.client.version"), "1.3");
  EXPECT_EQ(h.str(0, "tls.client.server_name"), "thuedientu.gdt.gov.vn");
  EXPECT_EQ(h.str(0, "tls.client.ja3_string"), kJa3Of13);
  EXPECT_EQ(h.num(0, "vigil.tls.draft"), -1);
  EXPECT_FALSE(h.events[0].has(field("vigil.tls.starttls")));
  EXPECT_EQ(h.counters.tls_gave_up, 0u);
}

TEST(TlsParser, Tls13DraftIsReportedAs13WithItsDraftNumberApart) {
  Harness h;
  auto p = make_tls_parser(h.ctx);
  h.feed(*p, C, client_hello_13("a.vn"));
  h.feed(*p, S, server_hello_13(0x7f1c));
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "tls.version"), "1.3");
  EXPECT_EQ(h.str(0, "tls.version_protocol"), "tls");
  EXPECT_EQ(h.num(0, "vigil.tls.draft"), 28);
}

TEST(TlsParser, EarlyDraftServerHelloWithoutSessionIdOrCompressionIsRead) {
  // Drafts before 22: version 0x7f12 in the hello itself, then random, cipher and extensions.
  std::string exts = ext(16, u16(3) + u8(2) + "h2");
  std::string body = u16(0x7f12) + std::string(32, 's') + u16(0x1301) + u16(exts.size()) + exts;
  ServerHello sh;
  ASSERT_TRUE(parse_server_hello(bytes(body), sh));
  EXPECT_EQ(sh.version, 0x7f12);
  EXPECT_EQ(sh.alpn, "h2");
  EXPECT_EQ(tls_version_name(sh.version), "1.3");
  EXPECT_EQ(tls_draft(sh.version), 18);
}

TEST(TlsParser, VersionNamesAreEcsNumbersAndSslIsSsl) {
  EXPECT_EQ(tls_version_name(0x0301), "1.0");
  EXPECT_EQ(tls_version_name(0x0302), "1.1");
  EXPECT_EQ(tls_version_name(0x0303), "1.2");
  EXPECT_EQ(tls_version_name(0x0304), "1.3");
  EXPECT_EQ(tls_version_name(0x0300), "3.0");
  EXPECT_EQ(tls_version_name(0x0002), "2.0");
  EXPECT_EQ(tls_version_name(0xfefd), "0xfefd");
  EXPECT_EQ(tls_version_protocol(0x0300), "ssl");
  EXPECT_EQ(tls_version_protocol(0x0002), "ssl");
  EXPECT_EQ(tls_version_protocol(0x0303), "tls");
  EXPECT_EQ(tls_draft(0x0304), 0);
  EXPECT_EQ(tls_draft(0x7f17), 23);

  Harness h;
  auto p = make_tls_parser(h.ctx);
  h.feed(*p, S, server_hello(0x0300, ""));
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "tls.version"), "3.0");
  EXPECT_EQ(h.str(0, "tls.version_protocol"), "ssl");
}

// ---- SSLv2-format ClientHellos.

TEST(TlsParser, SslV2CompatibleClientHelloGivesVersionCiphersAndJa3) {
  Harness h;
  auto p = make_tls_parser(h.ctx);
  // Six TLS suites, one SSLv2-only spec (SSL2_DES_192_EDE3_CBC_WITH_MD5) and a GREASE suite.
  h.feed(*p, C, sslv2_client_hello(0x0301, {0x000039, 0x000038, 0x000035, 0x00fafa, 0x000016, 0x00000a, 0x0700c0}));
  h.feed(*p, S, server_hello(0x0301, ""));
  ASSERT_EQ(h.events.size(), 1u);
  const std::string ja3 = "769,57-56-53-22-10-458944,,,";
  EXPECT_EQ(h.str(0, "tls.client.ja3_string"), ja3);
  EXPECT_EQ(h.str(0, "tls.client.ja3"), md5_hex(ja3));
  EXPECT_EQ(h.str(0, "tls.client.version"), "1.0");
  EXPECT_EQ(h.str(0, "tls.version"), "1.0");
  const Value* v2 = h.events[0].get(field("vigil.tls.client.sslv2"));
  ASSERT_NE(v2, nullptr);
  ASSERT_NE(v2->as_bool(), nullptr);
  EXPECT_TRUE(*v2->as_bool());
  EXPECT_EQ(h.counters.tls_gave_up, 0u);

  ClientHello ch;
  std::string rec = sslv2_client_hello(0x0300, {0x000004, 0x010080, 0x00000a});
  ASSERT_TRUE(parse_sslv2_client_hello(bytes(rec).subspan(2), ch));
  EXPECT_EQ(ch.legacy_version, 0x0300);
  EXPECT_EQ(ch.cipher_suites, (std::vector<uint16_t>{4, 10}));
  EXPECT_EQ(ch.ja3, "768,4-65664-10,,,");
}

TEST(TlsParser, SslV2ClientHelloWithLengthsPastTheRecordIsGivenUp) {
  Harness h;
  auto p = make_tls_parser(h.ctx);
  std::string rec = sslv2_client_hello(0x0301, {0x00002f});
  rec[6] = 0x7f;  // cipher spec length far past the record
  h.feed(*p, C, rec);
  p->end(Timestamp{2});
  EXPECT_TRUE(h.events.empty());
  EXPECT_EQ(h.counters.tls_gave_up, 1u);
}

TEST(TlsParser, SslV2ServerHelloGivesSsl2) {
  Harness h;
  auto p = make_tls_parser(h.ctx);
  h.feed(*p, C, sslv2_client_hello(0x0002, {0x010080, 0x020080}));
  // SERVER-HELLO: type 4, session-id-hit 0, certificate type 1, version 0x0002, then lengths.
  std::string msg =
      u8(4) + u8(0) + u8(1) + u16(0x0002) + u16(0) + u16(3) + u16(16) + u24(0x010080) + std::string(16, 'i');
  h.feed(*p, S, u16(0x8000 | msg.size()) + msg);
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "tls.version"), "2.0");
  EXPECT_EQ(h.str(0, "tls.version_protocol"), "ssl");
  EXPECT_EQ(h.str(0, "tls.client.ja3_string"), "2,65664-131200,,,");
}

TEST(TlsDispatcher, SslV2ClientHelloIsDetectedAsTlsEvenByteByByte) {
  Conn conn(443);
  conn.trickle(C, sslv2_client_hello(0x0301, {0x00002f, 0x000035}));
  conn.trickle(S, server_hello(0x0301, ""));
  ASSERT_EQ(conn.events.size(), 1u);
  EXPECT_EQ(conn.str(0, "event.dataset"), "network.tls");
  EXPECT_EQ(conn.str(0, "tls.client.ja3_string"), "769,47-53,,,");
  EXPECT_EQ(conn.str(0, "tls.version"), "1.0");
}

// ---- STARTTLS: each dialogue, then a real handshake.

struct Turn {
  StreamDir dir;
  std::string bytes;
};

// Plays the dialogue then the TLS 1.3 handshake, in whole turns or a byte at a time.
void play(Conn& conn, const std::vector<Turn>& dialogue, bool trickle) {
  std::vector<Turn> all = dialogue;
  all.push_back({C, client_hello_13("mail.tct.vn")});
  all.push_back({S, server_hello_13()});
  for (const auto& t : all) {
    if (trickle) {
      conn.trickle(t.dir, t.bytes);
    } else {
      conn.send(t.dir, t.bytes);
    }
  }
  conn.close();
}

void expect_upgraded(const Conn& conn, const char* protocol) {
  ASSERT_EQ(conn.events.size(), 1u) << protocol;
  EXPECT_EQ(conn.str(0, "event.dataset"), "network.tls");
  EXPECT_EQ(conn.str(0, "network.protocol"), "tls");
  EXPECT_EQ(conn.str(0, "vigil.tls.starttls"), protocol);
  EXPECT_EQ(conn.str(0, "tls.client.server_name"), "mail.tct.vn");
  EXPECT_EQ(conn.str(0, "tls.client.ja3_string"), kJa3Of13);
  EXPECT_EQ(conn.str(0, "tls.version"), "1.3");
  EXPECT_EQ(conn.disp.counters().tls_handshakes, 1u);
  EXPECT_EQ(conn.disp.counters().tls_gave_up, 0u);
  EXPECT_EQ(conn.disp.counters().streams_unknown, 0u);
  EXPECT_EQ(conn.disp.counters().tls_upgrades, 1u);
}

const std::vector<Turn> kSmtp = {
    {S, "220 mail.tct.vn ESMTP Postfix\r\n"},
    {C, "EHLO client.tct.vn\r\n"},
    {S, "250-mail.tct.vn\r\n250-PIPELINING\r\n250 STARTTLS\r\n"},
    {C, "STARTTLS\r\n"},
    {S, "220 2.0.0 Ready to start TLS\r\n"},
};

TEST(StartTls, SmtpStarttlsThen220IsFollowedByTheHandshake) {
  for (bool trickle : {false, true}) {
    Conn conn(25);
    play(conn, kSmtp, trickle);
    expect_upgraded(conn, "smtp");
  }
}

TEST(StartTls, SmtpPipelinedStarttlsPairsItsReplyAndHoldsTheEarlyClientHello) {
  // EHLO and STARTTLS in one segment (RFC 3207 lets STARTTLS end a pipelined group); the
  // client's hello arrives before the server's answers, which come with the ServerHello.
  Conn conn(587);
  conn.send(S, "220-mail.tct.vn\r\n220 ESMTP\r\n");
  conn.send(C, "EHLO c\r\nSTARTTLS\r\n" + client_hello_13("mail.tct.vn"));
  conn.send(S, "250-mail.tct.vn\r\n250 STARTTLS\r\n220 go ahead\r\n" + server_hello_13());
  expect_upgraded(conn, "smtp");
}

TEST(StartTls, SmtpRefusedStarttlsStaysPlainAndCountsAsUnknown) {
  Conn conn(25);
  conn.send(S, "220 mail ESMTP\r\n");
  conn.send(C, "EHLO c\r\n");
  conn.send(S, "250 mail\r\n");
  conn.send(C, "STARTTLS\r\n");
  conn.send(S, "454 4.7.0 TLS not available due to local problem\r\n");
  conn.send(C, "MAIL FROM:<a@tct.vn>\r\n");
  conn.send(S, "250 2.1.0 Ok\r\n");
  // A TLS record now would be a client bug; it must not be taken as a handshake.
  conn.send(C, client_hello_13("x"));
  conn.send(S, "502 5.5.2 Error: command not recognized\r\n");
  conn.close();
  EXPECT_TRUE(conn.events.empty());
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
  EXPECT_EQ(conn.disp.counters().tls_upgrades, 0u);
}

TEST(StartTls, ImapStarttlsTaggedOkIsFollowedByTheHandshake) {
  const std::vector<Turn> imap = {
      {S, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n"},
      {C, "a001 CAPABILITY\r\n"},
      {S, "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na001 OK Pre-login capabilities listed.\r\n"},
      {C, "a002 STARTTLS\r\n"},
      {S, "* OK still here\r\na002 OK Begin TLS negotiation now.\r\n"},
  };
  for (bool trickle : {false, true}) {
    Conn conn(143);
    play(conn, imap, trickle);
    expect_upgraded(conn, "imap");
  }
}

TEST(StartTls, ImapStarttlsAnsweredNoIsNotAnUpgrade) {
  Conn conn(143);
  conn.send(S, "* OK ready\r\n");
  conn.send(C, "a1 STARTTLS\r\n");
  conn.send(S, "a1 NO [UNAVAILABLE] TLS not configured\r\n");
  conn.send(C, client_hello_13("x"));
  conn.close();
  EXPECT_TRUE(conn.events.empty());
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
}

TEST(StartTls, Pop3StlsOkAfterAMultiLineCapaIsFollowedByTheHandshake) {
  const std::vector<Turn> pop3 = {
      {S, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"},
      {C, "CAPA\r\n"},
      // The capability list ends with "."; none of its lines is an answer.
      {S, "+OK Capability list follows\r\nTOP\r\nSTLS\r\n+OK is not an answer here\r\nUSER\r\n.\r\n"},
      {C, "STLS\r\n"},
      {S, "+OK Begin TLS negotiation\r\n"},
  };
  for (bool trickle : {false, true}) {
    Conn conn(110);
    play(conn, pop3, trickle);
    expect_upgraded(conn, "pop3");
  }
}

TEST(StartTls, FtpAuthTls234IsFollowedByTheHandshake) {
  const std::vector<Turn> ftp = {
      {S, "220-Welcome to the Tong cuc Thue FTP\r\n    second line\r\n220 ready\r\n"},
      {C, "FEAT\r\n"},
      {S, "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n"},
      {C, "AUTH TLS\r\n"},
      {S, "234 AUTH TLS OK.\r\n"},
  };
  for (bool trickle : {false, true}) {
    Conn conn(21);
    play(conn, ftp, trickle);
    expect_upgraded(conn, "ftp");
  }
}

std::string ldap_message(int id, const std::string& op) {
  std::string body = u8(0x02) + u8(1) + u8(id) + op;
  return u8(0x30) + u8(body.size()) + body;
}

const std::string kStartTlsOid = "1.3.6.1.4.1.1466.20037";

std::string ldap_start_tls_request(int id) {
  std::string name = u8(0x80) + u8(kStartTlsOid.size()) + kStartTlsOid;
  return ldap_message(id, u8(0x77) + u8(name.size()) + name);
}

std::string ldap_extended_response(int id, int result) {
  std::string body = u8(0x0a) + u8(1) + u8(result) + u8(0x04) + u8(0) + u8(0x04) + u8(0);
  return ldap_message(id, u8(0x78) + u8(body.size()) + body);
}

TEST(StartTls, LdapStartTlsExtendedOperationSucceededIsFollowedByTheHandshake) {
  // An anonymous search of the root DSE first (its answer is long: skipped, not looked into).
  std::string search_body = u8(0x04) + u8(0) + u8(0x0a) + u8(1) + u8(0) + u8(0x0a) + u8(1) + u8(0) + u8(0x02) + u8(1) +
                            u8(0) + u8(0x02) + u8(1) + u8(0) + u8(0x01) + u8(1) + u8(0) + u8(0x87) + u8(11) +
                            "objectClass" + u8(0x30) + u8(0);
  std::string search = ldap_message(1, u8(0x63) + u8(search_body.size()) + search_body);
  std::string big_entry_body = u8(0x02) + u8(1) + u8(1) + u8(0x64) + u8(0x82) + u16(3000) + std::string(3000, 'e');
  std::string big_entry = u8(0x30) + u8(0x82) + u16(big_entry_body.size()) + big_entry_body;
  std::string done = ldap_message(1, u8(0x65) + u8(7) + u8(0x0a) + u8(1) + u8(0) + u8(0x04) + u8(0) + u8(0x04) + u8(0));
  const std::vector<Turn> ldap = {
      {C, search},
      {S, big_entry + done},
      {C, ldap_start_tls_request(2)},
      {S, ldap_extended_response(2, 0)},
  };
  EXPECT_EQ(ldap_start_tls_request(2).size(), 31u);
  for (bool trickle : {false, true}) {
    Conn conn(389);
    play(conn, ldap, trickle);
    expect_upgraded(conn, "ldap");
  }
}

TEST(StartTls, LdapStartTlsRefusedIsNotAnUpgrade) {
  Conn conn(389);
  conn.send(C, ldap_start_tls_request(1));
  conn.send(S, ldap_extended_response(1, 2));  // protocolError
  conn.send(C, client_hello_13("x"));
  conn.close();
  EXPECT_TRUE(conn.events.empty());
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
}

const std::string kPgSslRequest = u32(8) + u32(80877103);

TEST(StartTls, PostgresSslRequestAnsweredSIsFollowedByTheHandshake) {
  EXPECT_EQ(kPgSslRequest, std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8));
  for (bool trickle : {false, true}) {
    Conn conn(5432);
    play(conn, {{C, kPgSslRequest}, {S, "S"}}, trickle);
    expect_upgraded(conn, "postgresql");
  }
  // libpq's order with gssencmode=prefer: GSSENCRequest refused, then SSLRequest.
  Conn conn(5432);
  play(conn, {{C, u32(8) + u32(80877104)}, {S, "N"}, {C, kPgSslRequest}, {S, "S"}}, false);
  expect_upgraded(conn, "postgresql");
}

TEST(StartTls, PostgresSslRequestAnsweredNStaysPlain) {
  Conn conn(5432);
  conn.send(C, kPgSslRequest);
  conn.send(S, "N");
  conn.send(C, u32(35) + u32(196608) + std::string("user\0vigil\0database\0vigil\0\0", 27));
  conn.close();
  EXPECT_TRUE(conn.events.empty());
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
}

TEST(StartTls, FirstBytesTellTheWatcher) {
  EXPECT_EQ(starttls_kind("", "220 mail"), StartTlsKind::smtp_ftp);
  EXPECT_EQ(starttls_kind("", "220-mail"), StartTlsKind::smtp_ftp);
  EXPECT_EQ(starttls_kind("", "* OK [CA"), StartTlsKind::imap);
  EXPECT_EQ(starttls_kind("", "* PREAUT"), StartTlsKind::imap);
  EXPECT_EQ(starttls_kind("", "+OK POP3"), StartTlsKind::pop3);
  EXPECT_EQ(starttls_kind(kPgSslRequest, ""), StartTlsKind::postgres);
  EXPECT_EQ(starttls_kind(ldap_start_tls_request(1).substr(0, 8), ""), StartTlsKind::ldap);
  EXPECT_FALSE(starttls_kind(kPgSslRequest.substr(0, 7), ""));
  EXPECT_FALSE(starttls_kind("", "200 OK x"));
  EXPECT_FALSE(starttls_kind(std::string("\x30\x80\x02\x01\x01\x60\x00\x00", 8), ""));  // indefinite length
  EXPECT_FALSE(starttls_kind(std::string("\x30\x05\x02\x01\x01\x04\x00\x00", 8), ""));  // not an application op
}

TEST(StartTls, OverLongLinesAndEndlessPlainSessionsAreBounded) {
  Conn conn(25);
  conn.send(S, "220 mail\r\n");
  conn.send(C, "EHLO ");
  for (int i = 0; i < 100; ++i) conn.send(C, std::string(1000, 'a'));  // skipped to its end, not held
  conn.send(C, "\r\n");
  conn.send(S, "250 ok\r\n");
  for (int i = 0; i < 70; ++i) conn.send(C, "NOOP\r\n");  // past the command limit: watching stops
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
  conn.send(C, "STARTTLS\r\n");
  conn.send(S, "220 go\r\n");
  conn.send(C, client_hello_13("x"));
  conn.close();
  EXPECT_TRUE(conn.events.empty());
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
}

TEST(StartTls, HeldClientBytesAreCapped) {
  Conn conn(143);
  conn.send(S, "* OK ready\r\n");
  conn.send(C, "a STARTTLS\r\n" + std::string(ProtoOptions{}.max_buffer + 1, 'x'));
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
  conn.send(S, "a OK go\r\n" + server_hello_13());
  conn.close();
  EXPECT_TRUE(conn.events.empty());
}

// ---- SSH banners in pieces.

std::string name_list(const std::string& s) { return u32(s.size()) + s; }

std::string kexinit_packet(const std::string& kex, const std::string& cipher) {
  std::string payload = u8(20) + std::string(16, 'k') + name_list(kex) + name_list("ssh-ed25519") + name_list(cipher) +
                        name_list(cipher) + name_list("hmac-sha2-256") + name_list("hmac-sha2-256") +
                        name_list("none") + name_list("none") + name_list("") + name_list("") + u8(0) + u32(0);
  const size_t padding = 8 - (payload.size() + 5) % 8 + 4;
  return u32(payload.size() + padding + 1) + u8(padding) + payload + std::string(padding, '\0');
}

const std::string kClientSsh =
    "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n" + kexinit_packet("curve25519-sha256", "chacha20-poly1305@openssh.com");
const std::string kServerSsh = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n" +
                               kexinit_packet("curve25519-sha256,sntrup761x25519-sha512@openssh.com", "aes128-ctr");

Event without_id(Event e) {
  e.erase(fields::event_id);
  return e;
}

TEST(SshDispatcher, BannersInOneBytePiecesGiveTheSameEventAsWholeSegments) {
  Conn whole(22);
  whole.send(S, kServerSsh);
  whole.send(C, kClientSsh);
  ASSERT_EQ(whole.events.size(), 1u);
  EXPECT_EQ(whole.str(0, "ssh.client.software"), "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13");
  EXPECT_EQ(whole.str(0, "ssh.server.software"), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
  EXPECT_EQ(whole.str(0, "ssh.client.hassh_string"),
            "curve25519-sha256;chacha20-poly1305@openssh.com;hmac-sha2-256;none");
  EXPECT_EQ(whole.str(0, "ssh.server.hassh_string"),
            "curve25519-sha256,sntrup761x25519-sha512@openssh.com;aes128-ctr;hmac-sha2-256;none");

  // Interleaved a byte at a time: "S", "S", "H", "-" on each side before anything is known.
  Conn pieces(22);
  for (size_t i = 0; i < std::max(kClientSsh.size(), kServerSsh.size()); ++i) {
    if (i < kServerSsh.size()) pieces.send(S, kServerSsh.substr(i, 1));
    if (i < kClientSsh.size()) pieces.send(C, kClientSsh.substr(i, 1));
  }
  ASSERT_EQ(pieces.events.size(), 1u);
  EXPECT_EQ(without_id(pieces.events[0]), without_id(whole.events[0]));

  // The client's banner in three segments, the first three bytes alone.
  Conn split(22);
  split.send(C, kClientSsh.substr(0, 3));
  split.send(C, kClientSsh.substr(3, 9));
  split.send(S, kServerSsh);
  split.send(C, kClientSsh.substr(12));
  ASSERT_EQ(split.events.size(), 1u);
  EXPECT_EQ(without_id(split.events[0]), without_id(whole.events[0]));
  EXPECT_EQ(split.disp.counters().ssh_gave_up, 0u);
}

TEST(SshDispatcher, ServerLinesBeforeTheBannerDoNotHideIt) {
  // RFC 4253 4.2: the server may send other lines first; here before the client says anything.
  Conn conn(22);
  conn.trickle(S, "Welcome to bastion.tct.vn\r\nAuthorised use only\r\n" + kServerSsh);
  conn.send(C, kClientSsh);
  ASSERT_EQ(conn.events.size(), 1u);
  EXPECT_EQ(conn.str(0, "ssh.server.software"), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
  EXPECT_EQ(conn.str(0, "ssh.client.software"), "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13");
  EXPECT_EQ(conn.disp.counters().streams_unknown, 0u);
}

TEST(SshParser, BannerInOneBytePiecesEndedEarlyStillGivesTheBanners) {
  Harness h;
  auto p = make_ssh_parser(h.ctx);
  const std::string server = "SSH-2.0-dropbear_2022.83\r\n";
  const std::string client = "SSH-2.0-libssh_0.10.6\r\n";
  for (char ch : server) h.feed(*p, S, std::string(1, ch));
  for (char ch : client) h.feed(*p, C, std::string(1, ch));
  p->end(Timestamp{2});
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.str(0, "ssh.server.software"), "SSH-2.0-dropbear_2022.83");
  EXPECT_EQ(h.str(0, "ssh.client.software"), "SSH-2.0-libssh_0.10.6");
}

TEST(ProtoDispatcher, OneSidedUnknownStreamIsCountedOnceWhenItEnds) {
  Conn conn(9999);
  conn.send(C, std::string(600, 'z'));
  EXPECT_EQ(conn.disp.counters().streams_unknown, 0u);  // the server may still say who it is
  conn.close();
  EXPECT_EQ(conn.disp.counters().streams_unknown, 1u);
  EXPECT_EQ(conn.disp.open_parsers(), 0u);

  Conn both(9999);
  both.send(C, "zzzzzzzzzz");
  both.send(S, "yyyyyyyyyy");
  EXPECT_EQ(both.disp.counters().streams_unknown, 1u);
  both.close();
  EXPECT_EQ(both.disp.counters().streams_unknown, 1u);
}

}  // namespace
}  // namespace vigil::agent::proto
