// DNS messages: the ECS answer objects, header flags and op codes, names with forward pointers,
// damaged sections that keep what was valid, DNS over TCP.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/proto/dns.h"
#include "tests/unit/agent/proto_harness.h"

namespace vigil::agent::proto {
namespace {

// A DNS message written byte by byte.
struct Msg {
  std::vector<uint8_t> b;
  Msg(uint16_t id, uint8_t flags1, uint8_t flags2, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
    u16(id);
    b.push_back(flags1);
    b.push_back(flags2);
    u16(qd);
    u16(an);
    u16(ns);
    u16(ar);
  }
  Msg& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Msg& u16(uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Msg& u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    return u16(static_cast<uint16_t>(v));
  }
  Msg& raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  // Labels of a dotted name; `terminate` false leaves room for a pointer after them.
  Msg& name(std::string_view dotted, bool terminate = true) {
    while (!dotted.empty()) {
      size_t dot = dotted.find('.');
      auto label = dotted.substr(0, dot);
      u8(static_cast<uint8_t>(label.size())).raw(label);
      dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    }
    if (terminate) u8(0);
    return *this;
  }
  Msg& ptr(uint16_t offset) { return u16(static_cast<uint16_t>(0xC000 | offset)); }
  Msg& question(std::string_view qname, uint16_t type) { return name(qname).u16(type).u16(1); }
  // A record's fixed part after its name, then `rdata`.
  Msg& rr(uint16_t type, uint16_t rclass, uint32_t ttl, const std::vector<uint8_t>& rdata) {
    u16(type).u16(rclass).u32(ttl).u16(static_cast<uint16_t>(rdata.size()));
    b.insert(b.end(), rdata.begin(), rdata.end());
    return *this;
  }
  std::span<const uint8_t> span() const { return b; }
};

std::vector<uint8_t> bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}
std::vector<uint8_t> text(std::string_view s) { return {s.begin(), s.end()}; }
std::vector<uint8_t> wire_name(std::string_view dotted) {
  Msg m(0, 0, 0, 0, 0, 0, 0);
  m.b.clear();
  m.name(dotted);
  return m.b;
}
std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Event event_of(const Msg& m) {
  DnsMessage msg;
  DnsError err = DnsError::none;
  (void)parse_dns(m.span(), msg, err);
  Endpoints ends{IpAddress::v4(0x0a000001), IpAddress::v4(0x0a000035), 40000, 53, 0, 17};
  return dns_event(msg, ends, Timestamp{1}, "h");
}

std::string str_of(const Event& e, const char* name) {
  const std::string* s = e.get_string(field(name));
  return s ? *s : std::string("<absent>");
}

std::vector<std::string> strings_of(const Event& e, FieldId id) {
  std::vector<std::string> out;
  if (const Value* v = e.get(id); v && v->as_list()) {
    for (const auto& x : *v->as_list()) out.push_back(x.to_string());
  }
  return out;
}

// The answers as "name type class ttl data" lines.
std::vector<std::string> answers_of(const Event& e) {
  std::vector<std::string> out;
  const Value* v = e.get(fields::dns_answers);
  if (!v || !v->as_list()) return out;
  for (const auto& a : *v->as_list()) {
    const auto* obj = a.as_event();
    if (!obj || !*obj) {
      out.push_back("<not an object>");
      continue;
    }
    const Event& o = **obj;
    out.push_back(str_of(o, "name") + " " + str_of(o, "type") + " " + str_of(o, "class") + " " +
                  std::to_string(o.get_int(field("ttl")) ? *o.get_int(field("ttl")) : -1) + " " + str_of(o, "data"));
  }
  return out;
}

TEST(DnsMessage, AnswersAreEcsObjectsInPresentationFormWithResolvedIpsFlagsAndOpCode) {
  // Response, RD; RA, AD; one question, 13 answers, one OPT record with DO.
  Msg m(0x1234, 0x81, 0xA0, 1, 13, 0, 1);
  m.question("portal.gov.vn", 255);
  const uint16_t q = 12;  // the question's name
  m.ptr(q).rr(1, 1, 300, bytes({203, 0, 113, 7}));
  m.ptr(q).rr(28, 1, 300, bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  m.ptr(q).rr(5, 1, 60, wire_name("www.portal.gov.vn"));
  m.ptr(q).rr(15, 1, 3600, cat(bytes({0, 10}), wire_name("mail.portal.gov.vn")));
  m.ptr(q).rr(6, 1, 3600,
              cat(cat(wire_name("ns1.portal.gov.vn"), wire_name("hostmaster.portal.gov.vn")),
                  bytes({0x78, 0xA2, 0x56, 0x0D, 0, 0, 0x1C, 0x20, 0, 0, 0x0E, 0x10, 0, 0x12, 0x75, 0, 0, 0, 0x0E, 0x10})));
  m.ptr(q).rr(33, 1, 300, cat(bytes({0, 0, 0, 5, 0x13, 0xC4}), wire_name("sip.portal.gov.vn")));
  m.ptr(q).rr(16, 1, 300, cat(cat(bytes({5}), text("v=spf")), cat(bytes({9}), text("1 -all x\""))));
  m.ptr(q).rr(44, 1, 300, bytes({1, 2, 0xAB, 0xCD, 0xEF}));
  m.ptr(q).rr(257, 1, 300, cat(cat(bytes({0, 5}), text("issue")), text("letsencrypt.org")));
  m.ptr(q).rr(43, 1, 300, bytes({0x4F, 0x66, 8, 2, 0xDE, 0xAD}));
  m.ptr(q).rr(48, 1, 300, bytes({1, 1, 3, 8, 0x03, 0x01, 0x00, 0x01}));
  m.ptr(q).rr(10, 1, 0, bytes({1, 2, 3, 4, 5}));
  m.ptr(q).rr(99, 1, 0, bytes({0xFF, 0x00}));
  // OPT: root name, UDP size 1232, extended rcode 0, version 0, DO.
  m.u8(0).rr(41, 1232, 0x00008000, {});

  DnsMessage parsed;
  DnsError err = DnsError::none;
  ASSERT_TRUE(parse_dns(m.span(), parsed, err)) << dns_error_name(err);
  Event e = event_of(m);
  EXPECT_EQ(str_of(e, "dns.op_code"), "QUERY");
  EXPECT_EQ(strings_of(e, fields::dns_header_flags), (std::vector<std::string>{"RD", "RA", "AD", "DO"}));
  EXPECT_EQ(str_of(e, "dns.question.type"), "ANY");
  EXPECT_EQ(str_of(e, "dns.question.class"), "IN");
  EXPECT_EQ(str_of(e, "dns.response_code"), "NOERROR");
  EXPECT_EQ(str_of(e, "vigil.dns.error"), "<absent>");
  const std::vector<std::string> expected = {
      "portal.gov.vn A IN 300 203.0.113.7",
      "portal.gov.vn AAAA IN 300 2001:db8::1",
      "portal.gov.vn CNAME IN 60 www.portal.gov.vn",
      "portal.gov.vn MX IN 3600 10 mail.portal.gov.vn",
      "portal.gov.vn SOA IN 3600 ns1.portal.gov.vn hostmaster.portal.gov.vn 2023904781 7200 3600 1209600 3600",
      "portal.gov.vn SRV IN 300 0 5 5060 sip.portal.gov.vn",
      "portal.gov.vn TXT IN 300 v=spf1 -all x\"",
      "portal.gov.vn SSHFP IN 300 1 2 abcdef",
      "portal.gov.vn CAA IN 300 0 issue \"letsencrypt.org\"",
      "portal.gov.vn DS IN 300 20326 8 2 dead",
      "portal.gov.vn DNSKEY IN 300 257 3 8 key_tag=1803 key_bytes=4",
      "portal.gov.vn NULL IN 0 \\# 5",
      "portal.gov.vn 99 IN 0 \\# 2 ff00",
  };
  EXPECT_EQ(answers_of(e), expected);
  EXPECT_EQ(strings_of(e, fields::dns_resolved_ip), (std::vector<std::string>{"203.0.113.7", "2001:db8::1"}));
  // The resolved addresses are IP values (CIDR rules compare them as addresses).
  const Value* ips = e.get(fields::dns_resolved_ip);
  ASSERT_NE(ips, nullptr);
  EXPECT_NE(ips->as_list()->at(0).as_ip(), nullptr);
}

TEST(DnsMessage, ExtendedResponseCodeFromTheOptRecord) {
  Msg m(7, 0x80, 0x00, 1, 0, 0, 1);
  m.question("example.vn", 1);
  m.u8(0).rr(41, 512, 0x01000000, {});  // extended rcode 1 -> 16 (BADVERS)
  Event e = event_of(m);
  EXPECT_EQ(str_of(e, "dns.response_code"), "BADVERS");
  EXPECT_TRUE(strings_of(e, fields::dns_header_flags).empty());
}

TEST(DnsMessage, ForwardPointersAreFollowedLoopsAreNot) {
  // The question's name points ahead, at the answer's owner name spelled out (as a masscan probe
  // does): legal, since it does not loop.
  Msg fwd(1, 0x81, 0x80, 1, 1, 0, 0);
  fwd.ptr(18).u16(1).u16(1);  // at 12: pointer to 18
  fwd.name("scan.example.vn").rr(1, 1, 5, bytes({192, 0, 2, 1}));
  DnsMessage parsed;
  DnsError err = DnsError::none;
  ASSERT_TRUE(parse_dns(fwd.span(), parsed, err)) << dns_error_name(err);
  EXPECT_EQ(parsed.qname, "scan.example.vn");
  EXPECT_EQ(answers_of(event_of(fwd)), (std::vector<std::string>{"scan.example.vn A IN 5 192.0.2.1"}));

  // A label, then a pointer back at that label: the second time round the pointer is a loop.
  Msg loop(2, 0x01, 0x00, 1, 0, 0, 0);
  loop.name("a", false).ptr(12).u16(1).u16(1);
  DnsMessage looped;
  ASSERT_FALSE(parse_dns(loop.span(), looped, err));
  EXPECT_EQ(err, DnsError::pointer_loop);

  // Two pointers that point at each other: named as a loop.
  Msg pair(3, 0x01, 0x00, 1, 0, 0, 0);
  pair.ptr(14).ptr(12).u16(1).u16(1);
  DnsMessage p2;
  ASSERT_FALSE(parse_dns(pair.span(), p2, err));
  EXPECT_EQ(err, DnsError::pointer_loop);
  Event e = event_of(pair);
  EXPECT_EQ(str_of(e, "vigil.dns.error"), "pointer_loop");
  EXPECT_EQ(str_of(e, "vigil.dns.error_section"), "question");
}

TEST(DnsMessage, LongPointerChainsAreRefusedAndUnkeptRecordsAreNotFollowed) {
  // A chain of pointers, each to the next, ending at a name: 40 hops is past the cap of a name.
  auto chained = [](int hops) {
    Msg m(6, 0x81, 0x80, 1, 0, 0, 0);
    const auto first = static_cast<uint16_t>(m.b.size());
    for (int i = 0; i < hops; ++i) m.ptr(static_cast<uint16_t>(first + 2 * (i + 1)));
    m.name("deep.example.vn");
    return m;
  };
  DnsMessage parsed;
  DnsError err = DnsError::none;
  // 20 hops: read (the question's type and class are the chain's next bytes: only the name matters).
  EXPECT_TRUE(parse_dns(chained(20).span(), parsed, err)) << dns_error_name(err);
  EXPECT_EQ(parsed.qname, "deep.example.vn");
  DnsMessage p2;
  EXPECT_FALSE(parse_dns(chained(40).span(), p2, err));
  EXPECT_EQ(err, DnsError::pointer_loop);

  // 2,000 authority records whose owners point at the question: stepped over, not followed, and
  // the message is whole.
  Msg many(7, 0x81, 0x80, 1, 1, 2000, 0);
  many.question("a.vn", 1);
  many.ptr(12).rr(1, 1, 60, bytes({192, 0, 2, 1}));
  for (int i = 0; i < 2000; ++i) many.ptr(12).rr(2, 1, 60, bytes({0xC0, 12}));
  DnsMessage p3;
  EXPECT_TRUE(parse_dns(many.span(), p3, err)) << dns_error_name(err);
  EXPECT_EQ(p3.answers.size(), 1u);
}

TEST(DnsMessage, ADamagedAdditionalSectionKeepsTheQuestionAndTheAnswers) {
  Msg m(9, 0x81, 0x80, 1, 2, 0, 2);
  m.question("dichvucong.gov.vn", 1);
  m.ptr(12).rr(1, 1, 60, bytes({198, 51, 100, 1}));
  m.ptr(12).rr(1, 1, 60, bytes({198, 51, 100, 2}));
  m.ptr(12).rr(1, 1, 60, bytes({198, 51, 100, 3}));  // first additional record: fine
  m.ptr(12).u16(1).u16(1).u32(60).u16(40).u8(1);     // second: rdata runs past the end
  DnsMessage parsed;
  DnsError err = DnsError::none;
  EXPECT_FALSE(parse_dns(m.span(), parsed, err));
  EXPECT_EQ(err, DnsError::truncated);
  Event e = event_of(m);
  EXPECT_EQ(str_of(e, "dns.question.name"), "dichvucong.gov.vn");
  EXPECT_EQ(strings_of(e, fields::dns_resolved_ip), (std::vector<std::string>{"198.51.100.1", "198.51.100.2"}));
  EXPECT_EQ(str_of(e, "vigil.dns.error"), "truncated");
  EXPECT_EQ(str_of(e, "vigil.dns.error_section"), "additional");
}

TEST(DnsMessage, UnusualOpCodesAndTheZBitStillMakeEvents) {
  Msg update(4, 0x28, 0x00, 1, 0, 0, 0);  // opcode 5 (UPDATE)
  update.question("gov.vn", 6);
  EXPECT_EQ(str_of(event_of(update), "dns.op_code"), "UPDATE");
  Msg odd(5, 0x79, 0x40, 1, 0, 0, 0);  // opcode 15, RD, Z set
  odd.question("odd.vn", 1);
  DnsMessage parsed;
  DnsError err = DnsError::none;
  EXPECT_TRUE(parse_dns(odd.span(), parsed, err));
  EXPECT_TRUE(parsed.z);
  Event e = event_of(odd);
  EXPECT_EQ(str_of(e, "dns.op_code"), "15");
  EXPECT_EQ(str_of(e, "dns.question.name"), "odd.vn");
  EXPECT_EQ(strings_of(e, fields::dns_header_flags), (std::vector<std::string>{"RD"}));
}

TEST(DnsOverTcp, EveryMessageOfTheStreamWhateverTheSegments) {
  // A zone transfer's shape: one query, then three answer messages; the server's bytes arrive one
  // at a time, then all at once.
  auto framed = [](const Msg& m) {
    std::string out;
    out += static_cast<char>(m.b.size() >> 8);
    out += static_cast<char>(m.b.size() & 0xFF);
    out.append(m.b.begin(), m.b.end());
    return out;
  };
  Msg query(0x77, 0x00, 0x00, 1, 0, 0, 0);
  query.question("gov.vn", 252);
  std::string answers;
  for (int i = 0; i < 3; ++i) {
    Msg a(0x77, 0x84, 0x00, 1, 1, 0, 0);
    a.question("gov.vn", 252);
    a.ptr(12).rr(1, 1, 60, bytes({10, 0, 0, i + 1}));
    answers += framed(a);
  }
  for (int pass = 0; pass < 2; ++pass) {
    Harness h;
    h.ctx.ends.server_port = 53;
    auto p = make_dns_tcp_parser(h.ctx);
    h.feed(*p, StreamDir::to_server, framed(query));
    if (pass == 0) {
      for (char c : answers) h.feed(*p, StreamDir::to_client, std::string_view(&c, 1));
    } else {
      h.feed(*p, StreamDir::to_client, answers);
    }
    ASSERT_EQ(h.events.size(), 4u) << "pass " << pass;
    EXPECT_EQ(h.str(0, "dns.type"), "query");
    EXPECT_EQ(h.str(0, "dns.question.type"), "AXFR");
    for (size_t i = 1; i < 4; ++i) {
      EXPECT_EQ(h.str(i, "dns.type"), "answer");
      EXPECT_EQ(h.str(i, "network.transport"), "tcp");
      EXPECT_EQ(strings_of(h.events[i], fields::dns_resolved_ip), (std::vector<std::string>{"10.0.0." + std::to_string(i)}));
      EXPECT_EQ(strings_of(h.events[i], fields::dns_header_flags), (std::vector<std::string>{"AA"}));
    }
    EXPECT_EQ(h.counters.dns_messages, 4u);
    EXPECT_EQ(h.counters.dns_malformed, 0u);
  }
}

}  // namespace
}  // namespace vigil::agent::proto
