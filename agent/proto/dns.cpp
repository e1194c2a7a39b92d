#include "agent/proto/dns.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace vigil::agent::proto {

namespace {

constexpr int kMaxHops = 32;  // pointers followed in one name
constexpr size_t kMaxAnswers = 64;
constexpr size_t kMaxTcpMessage = 65535 + 2;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// Reads the name at `pos` (advanced past it, not past a pointer's target). Pointers may go either
// way; a loop is met as more than kMaxHops of them in one name. `budget` is what the message has
// left of pointer hops in all (a hostile message cannot make every name walk a long chain).
bool read_name(std::span<const uint8_t> msg, size_t& pos, std::string& out, DnsError& err, size_t& budget) {
  out.clear();
  size_t p = pos;
  bool jumped = false;
  int hops = 0;
  size_t length = 0;
  for (;;) {
    if (p >= msg.size()) {
      err = DnsError::truncated;
      return false;
    }
    const uint8_t l = msg[p];
    if ((l & 0xC0) == 0xC0) {
      if (p + 1 >= msg.size()) {
        err = DnsError::truncated;
        return false;
      }
      const size_t target = (static_cast<size_t>(l & 0x3F) << 8) | msg[p + 1];
      if (!jumped) pos = p + 2;
      jumped = true;
      if (target == p || ++hops > kMaxHops || budget == 0) {
        err = DnsError::pointer_loop;
        return false;
      }
      --budget;
      p = target;
      continue;
    }
    if ((l & 0xC0) != 0) {  // extended and binary label types (obsolete)
      err = DnsError::bad_name;
      return false;
    }
    if (l == 0) {
      if (!jumped) pos = p + 1;
      if (out.empty()) out = ".";
      return true;
    }
    if (p + 1 + l > msg.size()) {
      err = DnsError::truncated;
      return false;
    }
    length += l + 1u;
    if (length > 255) {
      err = DnsError::bad_name;
      return false;
    }
    if (!out.empty()) out += '.';
    for (size_t i = 0; i < l; ++i) {
      const uint8_t c = msg[p + 1 + i];
      if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
        out += static_cast<char>(c);
      } else {
        const char escaped[4] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                                 static_cast<char>('0' + c % 10)};
        out.append(escaped, 4);
      }
    }
    p += 1 + l;
  }
}

// Steps over the name at `pos` without following its pointer (a pointer ends a name in place):
// for the records that are not kept.
bool skip_name(std::span<const uint8_t> msg, size_t& pos, DnsError& err) {
  size_t p = pos;
  for (size_t length = 0;;) {
    if (p >= msg.size()) {
      err = DnsError::truncated;
      return false;
    }
    const uint8_t l = msg[p];
    if ((l & 0xC0) == 0xC0) {
      if (p + 1 >= msg.size()) {
        err = DnsError::truncated;
        return false;
      }
      pos = p + 2;
      return true;
    }
    if ((l & 0xC0) != 0) {
      err = DnsError::bad_name;
      return false;
    }
    if (l == 0) {
      pos = p + 1;
      return true;
    }
    length += l + 1u;
    if (length > 255) {
      err = DnsError::bad_name;
      return false;
    }
    p += 1 + l;
  }
}

constexpr size_t kMaxHexData = 64;  // bytes of rdata shown in hex (digests, unknown types)

void append_hex(std::string& out, const uint8_t* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < std::min(n, kMaxHexData); ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  if (n > kMaxHexData) out += "...";
}

// RFC 3597's generic form: "\# LENGTH HEX" (HEX cut after kMaxHexData bytes).
std::string generic_rdata(const uint8_t* p, size_t len, bool with_content) {
  std::string out = fmt::format("\\# {}", len);
  if (with_content && len > 0) {
    out += ' ';
    append_hex(out, p, len);
  }
  return out;
}

inline uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// RFC 4034 appendix B: the key tag of a DNSKEY's rdata.
uint16_t key_tag(const uint8_t* p, size_t len) {
  uint32_t ac = 0;
  for (size_t i = 0; i < len; ++i) ac += (i & 1) ? p[i] : static_cast<uint32_t>(p[i]) << 8;
  ac += (ac >> 16) & 0xFFFF;
  return static_cast<uint16_t>(ac & 0xFFFF);
}

// The rdata of one record in presentation form (names without their trailing dot); nothing when
// the rdata does not fit its type (the record is then shown in the generic form).
std::optional<std::string> rdata_text(std::span<const uint8_t> msg, uint16_t type, size_t at, size_t len,
                                      size_t& budget) {
  DnsError ignored = DnsError::none;
  const uint8_t* d = msg.data() + at;
  const size_t end = at + len;
  auto name_at = [&](size_t p, std::string& name) {
    return read_name(msg, p, name, ignored, budget) && p <= end ? p : size_t{0};
  };
  std::string name, name2;
  switch (type) {
    case 1:
      return len == 4 ? IpAddress::v4_bytes(d).to_string() : std::optional<std::string>();
    case 28:
      return len == 16 ? IpAddress::v6_bytes(d).to_string() : std::optional<std::string>();
    case 2:    // NS
    case 5:    // CNAME
    case 12:   // PTR
    case 39:   // DNAME
      return name_at(at, name) ? name : std::optional<std::string>();
    case 15:   // MX: preference exchange
      if (len < 3 || !name_at(at + 2, name)) return std::nullopt;
      return fmt::format("{} {}", be16(d), name);
    case 6: {  // SOA: mname rname serial refresh retry expire minimum
      size_t p = name_at(at, name);
      if (!p || !(p = name_at(p, name2)) || p + 20 > end) return std::nullopt;
      const uint8_t* n = msg.data() + p;
      return fmt::format("{} {} {} {} {} {} {}", name, name2, be32(n), be32(n + 4), be32(n + 8), be32(n + 12),
                         be32(n + 16));
    }
    case 33:   // SRV: priority weight port target
      if (len < 7 || !name_at(at + 6, name)) return std::nullopt;
      return fmt::format("{} {} {} {}", be16(d), be16(d + 2), be16(d + 4), name);
    case 16: {  // TXT: the character-strings, joined
      std::string text;
      size_t p = at;
      while (p < end) {
        size_t n = msg[p];
        if (p + 1 + n > end) return std::nullopt;
        text.append(reinterpret_cast<const char*>(msg.data() + p + 1), n);
        p += 1 + n;
      }
      return text;
    }
    case 44: {  // SSHFP: algorithm fingerprint-type fingerprint
      if (len < 3) return std::nullopt;
      std::string out = fmt::format("{} {} ", d[0], d[1]);
      append_hex(out, d + 2, len - 2);
      return out;
    }
    case 257: {  // CAA: flags tag "value"
      if (len < 2 || 2u + d[1] > len) return std::nullopt;
      std::string out = fmt::format("{} ", d[0]);
      out.append(reinterpret_cast<const char*>(d + 2), d[1]);
      out += " \"";
      for (size_t i = 2u + d[1]; i < len; ++i) {
        if (d[i] == '"' || d[i] == '\\') out += '\\';
        out += static_cast<char>(d[i]);
      }
      out += '"';
      return out;
    }
    case 43: {  // DS: key-tag algorithm digest-type digest
      if (len < 4) return std::nullopt;
      std::string out = fmt::format("{} {} {} ", be16(d), d[2], d[3]);
      append_hex(out, d + 4, len - 4);
      return out;
    }
    case 48:  // DNSKEY (summary): flags protocol algorithm, and the key's tag and length
      if (len < 4) return std::nullopt;
      return fmt::format("{} {} {} key_tag={} key_bytes={}", be16(d), d[2], d[3], key_tag(d, len), len - 4);
    case 10:  // NULL: its length only
      return generic_rdata(d, len, false);
    default:
      return generic_rdata(d, len, true);
  }
}

class DnsTcpParser final : public StreamParser {
 public:
  explicit DnsTcpParser(const ParserContext& ctx) : ctx_(ctx) {}

  void data(flow::StreamDir dir, std::span<const uint8_t> bytes, Timestamp ts) override {
    auto& buf = buf_[static_cast<int>(dir)];
    if (dead_[static_cast<int>(dir)]) return;
    buf.insert(buf.end(), bytes.begin(), bytes.end());
    size_t used = 0;
    while (buf.size() - used >= 2) {
      size_t len = be16(buf.data() + used);
      if (buf.size() - used < 2 + len) break;
      DnsMessage m;
      DnsError err = DnsError::none;
      const bool ok = parse_dns(std::span<const uint8_t>(buf.data() + used + 2, len), m, err);
      ++(ok ? ctx_.counters->dns_messages : ctx_.counters->dns_malformed);
      if (len >= 12) {
        Event e = dns_event(m, ctx_.ends, ts, *ctx_.host_name);
        (*ctx_.sink)(std::move(e));
      }
      used += 2 + len;
    }
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(used));
    if (buf.size() > kMaxTcpMessage) give_up(dir);
  }
  void gap(flow::StreamDir dir, uint64_t) override { give_up(dir); }
  void end(Timestamp) override {}

 private:
  void give_up(flow::StreamDir dir) {
    ++ctx_.counters->dns_malformed;
    dead_[static_cast<int>(dir)] = true;
    buf_[static_cast<int>(dir)].clear();
    buf_[static_cast<int>(dir)].shrink_to_fit();
  }
  ParserContext ctx_;
  std::vector<uint8_t> buf_[2];
  bool dead_[2] = {false, false};
};

}  // namespace

const char* dns_error_name(DnsError e) {
  switch (e) {
    case DnsError::none: return "none";
    case DnsError::short_header: return "short_header";
    case DnsError::bad_name: return "bad_name";
    case DnsError::pointer_loop: return "pointer_loop";
    case DnsError::truncated: return "truncated";
  }
  return "none";
}

const char* dns_section_name(DnsSection s) {
  switch (s) {
    case DnsSection::header: return "header";
    case DnsSection::question: return "question";
    case DnsSection::answer: return "answer";
    case DnsSection::authority: return "authority";
    case DnsSection::additional: return "additional";
  }
  return "header";
}

namespace {

bool parse_sections(std::span<const uint8_t> msg, DnsMessage& out, DnsError& error, DnsSection& section) {
  section = DnsSection::header;
  if (msg.size() < 12) {
    error = DnsError::short_header;
    return false;
  }
  const uint8_t* h = msg.data();
  out.id = be16(h);
  out.response = (h[2] & 0x80) != 0;
  out.opcode = static_cast<uint8_t>((h[2] >> 3) & 0x0F);
  out.aa = (h[2] & 0x04) != 0;
  out.tc = (h[2] & 0x02) != 0;
  out.rd = (h[2] & 0x01) != 0;
  out.ra = (h[3] & 0x80) != 0;
  out.z = (h[3] & 0x40) != 0;
  out.ad = (h[3] & 0x20) != 0;
  out.cd = (h[3] & 0x10) != 0;
  out.rcode = h[3] & 0x0F;
  out.questions = be16(h + 4);
  out.answer_count = be16(h + 6);
  const uint16_t counts[] = {be16(h + 6), be16(h + 8), be16(h + 10)};
  size_t pos = 12;
  std::string name;
  size_t budget = msg.size() / 2 + 64;  // pointer hops for the whole message
  section = DnsSection::question;
  for (uint16_t q = 0; q < out.questions; ++q) {
    if (!(q == 0 ? read_name(msg, pos, name, error, budget) : skip_name(msg, pos, error))) return false;
    if (pos + 4 > msg.size()) {
      error = DnsError::truncated;
      return false;
    }
    if (q == 0) {
      out.qname = name;
      out.qtype = be16(msg.data() + pos);
      out.qclass = be16(msg.data() + pos + 2);
    }
    pos += 4;
  }
  constexpr DnsSection kSections[] = {DnsSection::answer, DnsSection::authority, DnsSection::additional};
  for (size_t s = 0; s < 3; ++s) {
    section = kSections[s];
    for (uint16_t i = 0; i < counts[s]; ++i) {
      // Only the answers that are kept need their owner's name; the others are stepped over.
      const bool keep = section == DnsSection::answer && out.answers.size() < kMaxAnswers;
      if (!(keep ? read_name(msg, pos, name, error, budget) : skip_name(msg, pos, error))) return false;
      if (pos + 10 > msg.size()) {
        error = DnsError::truncated;
        return false;
      }
      const uint8_t* rr = msg.data() + pos;
      const uint16_t type = be16(rr);
      const size_t rdlen = be16(rr + 8);
      pos += 10;
      if (pos + rdlen > msg.size()) {
        error = DnsError::truncated;
        return false;
      }
      if (keep) {
        DnsAnswer& a = out.answers.emplace_back();
        a.name = name;
        a.type = type;
        a.rclass = be16(rr + 2);
        a.ttl = be32(rr + 4);
        auto text = rdata_text(msg, type, pos, rdlen, budget);
        a.data = text ? std::move(*text) : generic_rdata(msg.data() + pos, rdlen, true);
        if (type == 1 && rdlen == 4) a.address = IpAddress::v4_bytes(msg.data() + pos);
        if (type == 28 && rdlen == 16) a.address = IpAddress::v6_bytes(msg.data() + pos);
      } else if (section == DnsSection::additional && type == 41) {
        // EDNS OPT: the TTL carries the extended response code, the version and the flags.
        out.rcode = static_cast<uint16_t>((uint16_t{rr[4]} << 4) | (out.rcode & 0x0F));
        out.do_bit = (rr[6] & 0x80) != 0;
      }
      pos += rdlen;
    }
  }
  return true;
}

}  // namespace

bool parse_dns(std::span<const uint8_t> msg, DnsMessage& out, DnsError& error) {
  error = DnsError::none;
  const bool ok = parse_sections(msg, out, error, out.error_section);
  out.error = error;
  return ok;
}

std::string dns_type_name(uint16_t type) {
  switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 10: return "NULL";
    case 33: return "SRV";
    case 39: return "DNAME";
    case 44: return "SSHFP";
    case 35: return "NAPTR";
    case 41: return "OPT";
    case 43: return "DS";
    case 46: return "RRSIG";
    case 47: return "NSEC";
    case 48: return "DNSKEY";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 252: return "AXFR";
    case 255: return "ANY";
    case 257: return "CAA";
    default: return std::to_string(type);
  }
}

std::string dns_rcode_name(uint16_t rcode) {
  static const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                 "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "DSOTYPENI"};
  if (rcode < std::size(kNames)) return kNames[rcode];
  if (rcode == 16) return "BADVERS";
  if (rcode == 23) return "BADCOOKIE";
  return std::to_string(rcode);
}

std::string dns_opcode_name(uint8_t opcode) {
  switch (opcode) {
    case 0: return "QUERY";
    case 1: return "IQUERY";
    case 2: return "STATUS";
    case 4: return "NOTIFY";
    case 5: return "UPDATE";
    case 6: return "DSO";
    default: return std::to_string(opcode);
  }
}

std::string dns_class_name(uint16_t rclass) {
  switch (rclass) {
    case 1: return "IN";
    case 3: return "CH";
    case 4: return "HS";
    case 254: return "NONE";
    case 255: return "ANY";
    default: return fmt::format("CLASS{}", rclass);
  }
}

namespace {

// Second-level suffixes under which names are registered one level deeper (a heuristic for the
// common cases, Vietnam's first: no public-suffix list is shipped).
bool second_level_suffix(std::string_view two) {
  static constexpr std::string_view kSuffixes[] = {
      "com.vn", "net.vn", "org.vn", "edu.vn", "gov.vn", "ac.vn",  "info.vn", "biz.vn", "name.vn", "pro.vn",
      "health.vn", "int.vn", "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.jp",
      "ne.jp",  "or.jp",  "com.cn", "net.cn", "gov.cn", "com.br", "co.in", "co.kr", "com.sg", "com.my",
      "co.th",  "com.tw", "com.hk"};
  for (auto x : kSuffixes) {
    if (two.size() == x.size() && std::equal(two.begin(), two.end(), x.begin(), [](char a, char b) {
          return (a >= 'A' && a <= 'Z' ? static_cast<char>(a + ('a' - 'A')) : a) == b;  // the C locale's tolower
        })) {
      return true;
    }
  }
  return false;
}

// Shannon entropy, bits per character.
double entropy(std::string_view s) {
  if (s.empty()) return 0;
  // Counts of the bytes present only (set to zero before counting), summed in byte order.
  uint32_t counts[256];
  uint64_t present[4] = {0, 0, 0, 0};
  for (char c : s) counts[static_cast<unsigned char>(c)] = 0;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    ++counts[b];
    present[b >> 6] |= uint64_t{1} << (b & 63);
  }
  double h = 0;
  for (unsigned w = 0; w < 4; ++w) {
    for (uint64_t bits = present[w]; bits != 0; bits &= bits - 1) {
      const unsigned b = w * 64 + static_cast<unsigned>(__builtin_ctzll(bits));
      const double p = static_cast<double>(counts[b]) / static_cast<double>(s.size());
      h -= p * std::log2(p);
    }
  }
  return std::round(h * 100) / 100;
}

// dns.question.registered_domain and .subdomain, and the shape of the name (vigil.dns.question.*:
// length, longest label, entropy of the subdomain) that tunnelling rules look at.
void name_shape(const std::string& name, Event& e) {
  if (name.empty() || name == ".") return;
  // The labels counted, the longest, and where the last three start (no list of them built).
  size_t count = 0;
  size_t longest = 0;
  size_t starts[3] = {0, 0, 0};  // the last label's start in starts[2]
  for (size_t start = 0;;) {
    size_t dot = name.find('.', start);
    const size_t len = (dot == std::string::npos ? name.size() : dot) - start;
    starts[0] = starts[1];
    starts[1] = starts[2];
    starts[2] = start;
    ++count;
    longest = std::max(longest, len);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  size_t keep = 2;
  if (count >= 3) {
    auto last_two = std::string_view(name).substr(starts[1]);
    if (second_level_suffix(last_two)) keep = 3;
  }
  static const FieldId kRegistered = field("dns.question.registered_domain");
  static const FieldId kSubdomain = field("dns.question.subdomain");
  static const FieldId kLength = field("vigil.dns.question.length");
  static const FieldId kLongest = field("vigil.dns.question.longest_label");
  static const FieldId kEntropy = field("vigil.dns.question.entropy");
  if (count >= keep) {
    const size_t offset = starts[3 - keep];
    e.set(kRegistered, name.substr(offset));
    if (offset > 0) {
      std::string sub = name.substr(0, offset - 1);
      e.set(kEntropy, entropy(sub));
      e.set(kSubdomain, std::move(sub));
    }
  }
  e.set(kLength, static_cast<int64_t>(name.size()));
  e.set(kLongest, static_cast<int64_t>(longest));
}

}  // namespace

Event dns_event(const DnsMessage& m, const Endpoints& ends, Timestamp ts, const std::string& host_name) {
  static const FieldId kName = field("name");
  static const FieldId kType = field("type");
  static const FieldId kClass = field("class");
  static const FieldId kTtl = field("ttl");
  static const FieldId kData = field("data");
  Event e = protocol_event("network.dns", "dns", ends, ts, host_name);
  if (m.error != DnsError::none) {
    e.set(fields::dns_error, std::string(dns_error_name(m.error)));
    e.set(fields::dns_error_section, std::string(dns_section_name(m.error_section)));
  }
  e.set(fields::dns_type, std::string(m.response ? "answer" : "query"));
  e.set(fields::dns_id, int64_t{m.id});
  e.set(fields::dns_op_code, dns_opcode_name(m.opcode));
  ValueList flags;
  const std::pair<bool, const char*> kFlagNames[] = {{m.aa, "AA"}, {m.tc, "TC"}, {m.rd, "RD"}, {m.ra, "RA"},
                                                      {m.ad, "AD"}, {m.cd, "CD"}, {m.do_bit, "DO"}};
  for (const auto& [set, flag] : kFlagNames) {
    if (set) flags.emplace_back(flag);
  }
  if (!flags.empty()) e.set(fields::dns_header_flags, std::move(flags));
  if (m.questions > 0 && !m.qname.empty()) {
    e.set(fields::dns_question_name, m.qname);
    e.set(fields::dns_question_type, dns_type_name(m.qtype));
    e.set(fields::dns_question_class, dns_class_name(m.qclass));
    name_shape(m.qname, e);
  }
  if (m.response) {
    e.set(fields::dns_response_code, dns_rcode_name(m.rcode));
    ValueList answers;
    ValueList resolved;
    for (const auto& a : m.answers) {
      auto answer = std::make_shared<Event>();
      answer->reserve(5);
      answer->add(kName, a.name);
      answer->add(kType, dns_type_name(a.type));
      answer->add(kClass, dns_class_name(a.rclass));
      answer->add(kTtl, int64_t{a.ttl});
      answer->add(kData, a.data);
      answers.emplace_back(EventPtr(std::move(answer)));
      if (a.address) resolved.emplace_back(*a.address);
    }
    if (!answers.empty()) e.set(fields::dns_answers, std::move(answers));
    if (!resolved.empty()) e.set(fields::dns_resolved_ip, std::move(resolved));
  }
  return e;
}

std::unique_ptr<StreamParser> make_dns_tcp_parser(const ParserContext& ctx) {
  return std::make_unique<DnsTcpParser>(ctx);
}

}  // namespace vigil::agent::proto
