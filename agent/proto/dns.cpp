#include "agent/proto/dns.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

namespace vigil::agent::proto {

namespace {

constexpr int kMaxHops = 128;
constexpr size_t kMaxAnswers = 64;
constexpr size_t kMaxTcpMessage = 65535 + 2;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// Reads the name at `pos` (advanced past it, not past a pointer's target).
bool read_name(std::span<const uint8_t> msg, size_t& pos, std::string& out, DnsError& err) {
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
      // Pointers refer to names earlier in the message; one pointing at itself or ahead is how
      // loops are built.
      if (target >= p || ++hops > kMaxHops) {
        err = DnsError::pointer_loop;
        return false;
      }
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
        out += fmt::format("\\{:03d}", c);
      }
    }
    p += 1 + l;
  }
}

// The rdata of one record as text, or empty for types not shown.
std::string rdata_text(std::span<const uint8_t> msg, uint16_t type, size_t at, size_t len) {
  DnsError ignored = DnsError::none;
  std::string name;
  switch (type) {
    case 1:
      if (len == 4) return IpAddress::v4_bytes(msg.data() + at).to_string();
      return {};
    case 28:
      if (len == 16) return IpAddress::v6_bytes(msg.data() + at).to_string();
      return {};
    case 2:
    case 5:
    case 12: {
      size_t p = at;
      return read_name(msg, p, name, ignored) ? name : std::string();
    }
    case 15: {
      if (len < 3) return {};
      size_t p = at + 2;
      return read_name(msg, p, name, ignored) ? name : std::string();
    }
    case 16: {
      std::string text;
      size_t p = at;
      while (p < at + len) {
        size_t n = msg[p];
        if (p + 1 + n > at + len) break;
        text.append(reinterpret_cast<const char*>(msg.data() + p + 1), n);
        p += 1 + n;
      }
      return text;
    }
    default: return {};
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
        if (!ok) e.set(field("vigil.dns.error"), std::string(dns_error_name(err)));
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

bool parse_dns(std::span<const uint8_t> msg, DnsMessage& out, DnsError& error) {
  error = DnsError::none;
  if (msg.size() < 12) {
    error = DnsError::short_header;
    return false;
  }
  const uint8_t* h = msg.data();
  out.id = be16(h);
  out.response = (h[2] & 0x80) != 0;
  out.opcode = static_cast<uint8_t>((h[2] >> 3) & 0x0F);
  out.rcode = h[3] & 0x0F;
  out.questions = be16(h + 4);
  const uint16_t ancount = be16(h + 6);
  size_t pos = 12;
  for (uint16_t q = 0; q < out.questions; ++q) {
    std::string name;
    if (!read_name(msg, pos, name, error)) return false;
    if (pos + 4 > msg.size()) {
      error = DnsError::truncated;
      return false;
    }
    if (q == 0) {
      out.qname = std::move(name);
      out.qtype = be16(msg.data() + pos);
    }
    pos += 4;
  }
  for (uint16_t a = 0; a < ancount; ++a) {
    std::string name;
    if (!read_name(msg, pos, name, error)) return false;
    if (pos + 10 > msg.size()) {
      error = DnsError::truncated;
      return false;
    }
    const uint16_t type = be16(msg.data() + pos);
    const size_t rdlen = be16(msg.data() + pos + 8);
    pos += 10;
    if (pos + rdlen > msg.size()) {
      error = DnsError::truncated;
      return false;
    }
    if (out.answers.size() < kMaxAnswers) {
      auto text = rdata_text(msg, type, pos, rdlen);
      if (!text.empty()) out.answers.push_back(std::move(text));
    }
    pos += rdlen;
  }
  return true;
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
    case 33: return "SRV";
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

std::string dns_rcode_name(uint8_t rcode) {
  static const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                 "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
  return rcode < std::size(kNames) ? kNames[rcode] : std::to_string(rcode);
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
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

// Shannon entropy, bits per character.
double entropy(std::string_view s) {
  if (s.empty()) return 0;
  size_t counts[256] = {};
  for (char c : s) ++counts[static_cast<unsigned char>(c)];
  double h = 0;
  for (size_t n : counts) {
    if (n == 0) continue;
    const double p = static_cast<double>(n) / static_cast<double>(s.size());
    h -= p * std::log2(p);
  }
  return std::round(h * 100) / 100;
}

// dns.question.registered_domain and .subdomain, and the shape of the name (vigil.dns.question.*:
// length, longest label, entropy of the subdomain) that tunnelling rules look at.
void name_shape(const std::string& name, Event& e) {
  if (name.empty() || name == ".") return;
  std::vector<std::string_view> labels;
  size_t longest = 0;
  for (size_t start = 0;;) {
    size_t dot = name.find('.', start);
    auto label = std::string_view(name).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    labels.push_back(label);
    longest = std::max(longest, label.size());
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  size_t keep = 2;
  if (labels.size() >= 3) {
    auto last_two = std::string_view(name).substr(static_cast<size_t>(labels[labels.size() - 2].data() - name.data()));
    if (second_level_suffix(last_two)) keep = 3;
  }
  static const FieldId kRegistered = field("dns.question.registered_domain");
  static const FieldId kSubdomain = field("dns.question.subdomain");
  static const FieldId kLength = field("vigil.dns.question.length");
  static const FieldId kLongest = field("vigil.dns.question.longest_label");
  static const FieldId kEntropy = field("vigil.dns.question.entropy");
  if (labels.size() >= keep) {
    const size_t first = labels.size() - keep;
    const auto offset = static_cast<size_t>(labels[first].data() - name.data());
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
  Event e = protocol_event("network.dns", "dns", ends, ts, host_name);
  e.set(fields::dns_type, std::string(m.response ? "answer" : "query"));
  e.set(fields::dns_id, int64_t{m.id});
  if (m.questions > 0 && !m.qname.empty()) {
    e.set(fields::dns_question_name, m.qname);
    e.set(fields::dns_question_type, dns_type_name(m.qtype));
    name_shape(m.qname, e);
  }
  if (m.response) {
    e.set(fields::dns_response_code, dns_rcode_name(m.rcode));
    ValueList answers;
    for (const auto& a : m.answers) answers.emplace_back(a);
    e.set(fields::dns_answers, std::move(answers));
  }
  return e;
}

std::unique_ptr<StreamParser> make_dns_tcp_parser(const ParserContext& ctx) {
  return std::make_unique<DnsTcpParser>(ctx);
}

}  // namespace vigil::agent::proto
