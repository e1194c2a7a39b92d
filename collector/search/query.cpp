#include "collector/search/query.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <span>

#include <fmt/format.h>

namespace vigil::collector::search {

namespace {

const std::vector<Field> kFields = {
    // Columns of the search index (both stores index them).
    {"@timestamp", FieldType::number, "ts"},
    {"event.kind", FieldType::keyword, "kind"},
    {"event.dataset", FieldType::keyword, "dataset"},
    {"agent.id", FieldType::keyword, "agent_id"},
    {"host.name", FieldType::keyword, "host_name"},
    {"source.ip", FieldType::ip, "source_ip"},
    {"source.port", FieldType::number, "source_port"},
    {"destination.ip", FieldType::ip, "destination_ip"},
    {"destination.port", FieldType::number, "destination_port"},
    {"user.name", FieldType::keyword, "user_name"},
    {"event.action", FieldType::keyword, "event_action"},
    {"event.outcome", FieldType::keyword, "event_outcome"},
    {"rule.id", FieldType::keyword, "rule_id"},
    {"event.severity", FieldType::number, "severity"},
    {"agency", FieldType::keyword, "agency"},  // the agent's agency (from the agents table)
    // Read from the stored event, within the rows the other conditions and the window leave.
    {"event.id", FieldType::keyword, ""},
    {"rule.name", FieldType::keyword, ""},
    {"message", FieldType::keyword, ""},
    {"user.target.name", FieldType::keyword, ""},
    {"process.name", FieldType::keyword, ""},
    {"process.command_line", FieldType::keyword, ""},
    {"network.transport", FieldType::keyword, ""},
    {"network.community_id", FieldType::keyword, ""},
    {"url.domain", FieldType::keyword, ""},
    {"url.original", FieldType::keyword, ""},
    {"url.path", FieldType::keyword, ""},
    {"http.request.method", FieldType::keyword, ""},
    {"http.response.status_code", FieldType::number, ""},
    {"user_agent.original", FieldType::keyword, ""},
    {"dns.question.name", FieldType::keyword, ""},
    {"dns.question.type", FieldType::keyword, ""},
    {"tls.client.server_name", FieldType::keyword, ""},
    {"tls.version", FieldType::keyword, ""},
    {"ssh.client.software", FieldType::keyword, ""},
    {"file.path", FieldType::keyword, ""},
    {"threat.technique.id", FieldType::keyword, ""},
    {"observer.ingress.interface.name", FieldType::keyword, ""},
    {"vigil.check.result", FieldType::keyword, ""},
    {"vigil.policy.id", FieldType::keyword, ""},
    {"source.bytes", FieldType::number, ""},
    {"destination.bytes", FieldType::number, ""},
    {"event.original", FieldType::text, ""},
};

std::string hex16(const unsigned char* b) {
  static const char* digits = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  return out;
}

bool parse_address(std::string_view text, unsigned char out[16], bool& v4) {
  if (text.empty() || text.size() > 45) return false;
  std::string s(text);
  unsigned char a4[4];
  if (inet_pton(AF_INET, s.c_str(), a4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, a4, 4);
    v4 = true;
    return true;
  }
  v4 = false;
  return inet_pton(AF_INET6, s.c_str(), out) == 1;
}

// ---- reading a query ----

struct Token {
  enum class Kind { word, quoted, open, close, end } kind;
  std::string text;
  size_t position;
};

class Parser {
 public:
  explicit Parser(std::string_view q) : q_(q) {}

  std::variant<Node, ParseError> run() {
    if (q_.size() > kMaxQueryBytes) return ParseError{kMaxQueryBytes, fmt::format("a query has at most {} bytes", kMaxQueryBytes)};
    if (!lex()) return error_;
    if (peek().kind == Token::Kind::end) return Node{Node::Kind::all_of, {}, Node::Op::eq, nullptr, {}, {}, 0, 0};
    auto n = any_of(0);
    if (!n) return error_;
    if (peek().kind != Token::Kind::end) {
      const Token& t = peek();
      return ParseError{t.position, t.kind == Token::Kind::close ? "')' without its '('" : "unexpected '" + t.text + "'"};
    }
    return std::move(*n);
  }

 private:
  bool fail(size_t position, std::string message) {
    error_ = {position, std::move(message)};
    return false;
  }

  bool lex() {
    size_t i = 0;
    while (i < q_.size()) {
      char c = q_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
      } else if (c == '(' || c == ')') {
        tokens_.push_back({c == '(' ? Token::Kind::open : Token::Kind::close, std::string(1, c), i});
        ++i;
      } else if (c == '"') {
        size_t start = i++;
        std::string text;
        bool closed = false;
        while (i < q_.size()) {
          if (q_[i] == '\\' && i + 1 < q_.size() && (q_[i + 1] == '"' || q_[i + 1] == '\\')) {
            text += q_[i + 1];
            i += 2;
          } else if (q_[i] == '"') {
            closed = true;
            ++i;
            break;
          } else {
            text += q_[i++];
          }
        }
        if (!closed) return fail(start, "a quote that is not closed");
        tokens_.push_back({Token::Kind::quoted, std::move(text), start});
      } else {
        size_t start = i;
        while (i < q_.size() && q_[i] != ' ' && q_[i] != '\t' && q_[i] != '\n' && q_[i] != '\r' && q_[i] != '(' &&
               q_[i] != ')' && q_[i] != '"') {
          ++i;
        }
        // A field followed straight by a quoted value (user.name:"a b") is one term.
        std::string text(q_.substr(start, i - start));
        if (i < q_.size() && q_[i] == '"' && !text.empty() && (text.back() == ':' || text.back() == '>' || text.back() == '<' || text.back() == '=')) {
          tokens_.push_back({Token::Kind::word, std::move(text), start});
          continue;  // the quoted token follows; term() joins them
        }
        tokens_.push_back({Token::Kind::word, std::move(text), start});
      }
    }
    tokens_.push_back({Token::Kind::end, "", q_.size()});
    return true;
  }

  const Token& peek() const { return tokens_[pos_]; }
  bool keyword(const char* k) const { return peek().kind == Token::Kind::word && peek().text == k; }

  std::optional<Node> any_of(size_t depth) {
    auto first = all_of(depth);
    if (!first) return std::nullopt;
    if (!keyword("OR")) return first;
    Node n{Node::Kind::any_of, {}, Node::Op::eq, nullptr, {}, {}, 0, first->position};
    n.children.push_back(std::move(*first));
    while (keyword("OR")) {
      ++pos_;
      auto next = all_of(depth);
      if (!next) return std::nullopt;
      n.children.push_back(std::move(*next));
    }
    return n;
  }

  bool starts_unary() const {
    auto k = peek().kind;
    if (k == Token::Kind::open || k == Token::Kind::quoted) return true;
    return k == Token::Kind::word && peek().text != "OR" && peek().text != "AND";
  }

  std::optional<Node> all_of(size_t depth) {
    auto first = unary(depth);
    if (!first) return std::nullopt;
    std::vector<Node> items;
    items.push_back(std::move(*first));
    for (;;) {
      if (keyword("AND")) {
        size_t at = peek().position;
        ++pos_;
        if (!starts_unary()) {
          fail(at, "AND needs a term after it");
          return std::nullopt;
        }
      } else if (!starts_unary()) {
        break;
      }
      auto next = unary(depth);
      if (!next) return std::nullopt;
      items.push_back(std::move(*next));
    }
    if (items.size() == 1) return std::move(items.front());
    Node n{Node::Kind::all_of, std::move(items), Node::Op::eq, nullptr, {}, {}, 0, 0};
    n.position = n.children.front().position;
    return n;
  }

  std::optional<Node> unary(size_t depth) {
    if (depth >= kMaxDepth) {
      fail(peek().position, fmt::format("nesting deeper than {}", kMaxDepth));
      return std::nullopt;
    }
    const Token& t = peek();
    if (t.kind == Token::Kind::word && t.text == "NOT") {
      size_t at = t.position;
      ++pos_;
      if (!starts_unary()) {
        fail(at, "NOT needs a term after it");
        return std::nullopt;
      }
      auto inner = unary(depth + 1);
      if (!inner) return std::nullopt;
      Node n{Node::Kind::negate, {}, Node::Op::eq, nullptr, {}, {}, 0, at};
      n.children.push_back(std::move(*inner));
      return n;
    }
    if (t.kind == Token::Kind::open) {
      size_t at = t.position;
      ++pos_;
      if (peek().kind == Token::Kind::close) {
        fail(at, "empty parentheses");
        return std::nullopt;
      }
      auto inner = any_of(depth + 1);
      if (!inner) return std::nullopt;
      if (peek().kind != Token::Kind::close) {
        fail(at, "'(' without its ')'");
        return std::nullopt;
      }
      ++pos_;
      return inner;
    }
    if (t.kind == Token::Kind::close) {
      fail(t.position, "')' without its '('");
      return std::nullopt;
    }
    if (t.kind == Token::Kind::end) {
      fail(t.position, "the query ends where a term was expected");
      return std::nullopt;
    }
    if (t.kind == Token::Kind::word && (t.text == "AND" || t.text == "OR")) {
      fail(t.position, t.text + " needs a term before it");
      return std::nullopt;
    }
    return term();
  }

  std::optional<Node> term() {
    if (++terms_ > kMaxTerms) {
      fail(peek().position, fmt::format("a query has at most {} terms", kMaxTerms));
      return std::nullopt;
    }
    Token t = peek();
    ++pos_;
    Node n;
    n.position = t.position;
    if (t.kind == Token::Kind::quoted) {
      if (!words_in(t.text)) {
        fail(t.position, "a phrase needs a letter or digit");
        return std::nullopt;
      }
      n.op = Node::Op::phrase;
      n.value = t.text;
      return n;
    }
    // field:value, field>N, field>=N, field<N, field<=N
    size_t cut = t.text.find_first_of(":<>");
    if (cut == std::string::npos || cut == 0) return full_text(t);
    std::string name = t.text.substr(0, cut);
    bool looks_like_field = std::all_of(name.begin(), name.end(), [](char c) {
      return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@';
    });
    if (!looks_like_field) return full_text(t);
    const Field* f = find_field(name);
    if (!f) {
      fail(t.position, "unknown field '" + name + "' (README lists the fields)");
      return std::nullopt;
    }
    std::string op_text;
    size_t v = cut;
    if (t.text[v] == ':') {
      op_text = ":";
      ++v;
    } else {
      op_text = t.text[v];
      ++v;
      if (v < t.text.size() && t.text[v] == '=') {
        op_text += '=';
        ++v;
      }
    }
    std::string value = t.text.substr(v);
    bool quoted = false;
    size_t value_pos = t.position + v;
    if (value.empty() && peek().kind == Token::Kind::quoted && peek().position == t.position + t.text.size()) {
      value = peek().text;
      value_pos = peek().position;
      quoted = true;
      ++pos_;
    }
    if (value.empty()) {
      fail(value_pos, "a value must follow '" + name + op_text + "'");
      return std::nullopt;
    }
    n.field = f;
    if (f->type == FieldType::text) {
      if (op_text != ":") {
        fail(t.position + cut, name + " is text: use " + name + ":word or " + name + ":\"a phrase\"");
        return std::nullopt;
      }
      Token inner{quoted ? Token::Kind::quoted : Token::Kind::word, value, value_pos};
      if (quoted) {
        n.field = nullptr;
        n.op = Node::Op::phrase;
        n.value = value;
        return n;
      }
      return full_text(inner);
    }
    if (op_text != ":") {
      if (f->type != FieldType::number) {
        fail(t.position + cut, name + " is not a number: compare it with ':'");
        return std::nullopt;
      }
      auto num = integer(value);
      if (!num) {
        fail(value_pos, "expected a whole number after " + name + op_text);
        return std::nullopt;
      }
      n.number = *num;
      n.op = op_text == ">" ? Node::Op::gt : op_text == ">=" ? Node::Op::ge : op_text == "<" ? Node::Op::lt : Node::Op::le;
      return n;
    }
    switch (f->type) {
      case FieldType::number: {
        auto num = integer(value);
        if (!num) {
          fail(value_pos, name + " is a number");
          return std::nullopt;
        }
        n.number = *num;
        n.op = Node::Op::eq;
        return n;
      }
      case FieldType::ip: {
        auto range = ip_range(value);
        if (!range) {
          fail(value_pos, name + ": an IPv4 or IPv6 address, or a CIDR block (10.0.0.0/8)");
          return std::nullopt;
        }
        n.op = Node::Op::range;
        n.value = range->lo;
        n.value2 = range->hi;
        return n;
      }
      default:
        break;
    }
    if (!quoted && value.size() > 1 && value.back() == '*') {
      n.op = Node::Op::prefix;
      n.value = value.substr(0, value.size() - 1);
    } else {
      n.op = Node::Op::eq;
      n.value = value;
    }
    return n;
  }

  std::optional<Node> full_text(const Token& t) {
    Node n;
    n.position = t.position;
    std::string word = t.text;
    n.op = Node::Op::phrase;
    if (word.size() > 1 && word.back() == '*') {
      word.pop_back();
      n.op = Node::Op::prefix;
    }
    if (!words_in(word)) {
      fail(t.position, "'" + t.text + "' has no letter or digit to search for");
      return std::nullopt;
    }
    n.value = word;
    return n;
  }

  static bool words_in(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
    });
  }

  static std::optional<int64_t> integer(std::string_view s) {
    bool negative = !s.empty() && s.front() == '-';
    if (negative) s.remove_prefix(1);
    if (s.empty() || s.size() > 18) return std::nullopt;
    int64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return negative ? -v : v;
  }

  std::string_view q_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  size_t terms_ = 0;
  ParseError error_;
};

// ---- writing SQL ----

std::string placeholder(Dialect d, size_t n) { return d == Dialect::sqlite ? fmt::format("?{}", n) : fmt::format("${}", n); }

std::string add(SqlCondition& out, Dialect d, SqlParam p) {
  out.params.push_back(std::move(p));
  return placeholder(d, out.params.size());
}

// Where a field's value is read: its column, or a path into the stored event.
std::string operand(const Field& f, Dialect d, SqlCondition& out) {
  if (!f.column.empty()) return "s." + std::string(f.column);
  out.uses_record = true;
  std::string path;
  if (d == Dialect::sqlite) {
    std::string expr = "json_extract(" + std::string(kSqliteBody) + ", '$." + std::string(f.name) + "')";
    return f.type == FieldType::number ? "CAST(" + expr + " AS INTEGER)" : expr;
  }
  std::string parts;
  std::string_view name = f.name;
  while (!name.empty()) {
    size_t dot = name.find('.');
    if (!parts.empty()) parts += ',';
    parts += name.substr(0, dot);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  std::string expr = "(r.body::json #>> '{" + parts + "}')";
  if (f.type == FieldType::number) {
    return "(CASE WHEN " + expr + " ~ '^-?[0-9]{1,18}$' THEN " + expr + "::bigint END)";
  }
  return expr + " COLLATE \"C\"";
}

// The smallest text greater than every text starting with `prefix`; empty when there is none.
std::string successor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return prefix;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// The base letter of a code point with a diacritic, or 0.
char base_letter(uint32_t cp) {
  static const char* latin1 = "AAAAAAACEEEEIIIIDNOOOOO\0OUUUUY\0saaaaaaaceeeeiiiidnooooo\0ouuuuy\0y";
  if (cp >= 0xC0 && cp <= 0xFF) return latin1[cp - 0xC0] == '\0' ? 0 : latin1[cp - 0xC0];
  switch (cp) {
    case 0x102: return 'A';
    case 0x103: return 'a';
    case 0x110: return 'D';
    case 0x111: return 'd';
    case 0x128: return 'I';
    case 0x129: return 'i';
    case 0x168: return 'U';
    case 0x169: return 'u';
    case 0x1A0: return 'O';
    case 0x1A1: return 'o';
    case 0x1AF: return 'U';
    case 0x1B0: return 'u';
    default: break;
  }
  // Latin Extended Additional, the Vietnamese letters: pairs (capital, small) by base letter.
  if (cp >= 0x1EA0 && cp <= 0x1EF9) {
    static const std::pair<uint32_t, char> runs[] = {{0x1EB8, 'a'}, {0x1EC8, 'e'}, {0x1ECC, 'i'},
                                                     {0x1EE4, 'o'}, {0x1EF2, 'u'}, {0x1EFA, 'y'}};
    for (auto [end, letter] : runs) {
      if (cp < end) return (cp % 2 == 0) ? static_cast<char>(letter - 'a' + 'A') : letter;
    }
  }
  return 0;
}

}  // namespace

std::string fold_diacritics(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 0;
    if (len == 0 || i + len > in.size()) {  // ASCII handled above; anything longer is kept
      out += in[i++];
      continue;
    }
    if (len == 1) {
      out += in[i++];
      continue;
    }
    uint32_t cp = len == 2 ? ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(in[i + 1]) & 0x3Fu)
                           : ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(in[i + 1]) & 0x3Fu) << 6) |
                                 (static_cast<unsigned char>(in[i + 2]) & 0x3Fu);
    if (char b = base_letter(cp)) {
      out += b;
    } else {
      out.append(in.substr(i, len));
    }
    i += len;
  }
  return out;
}

const std::vector<Field>& fields() { return kFields; }

const Field* find_field(std::string_view name) {
  for (const auto& f : kFields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<std::string> ip_key(std::string_view text) {
  unsigned char b[16];
  bool v4 = false;
  if (!parse_address(text, b, v4)) return std::nullopt;
  return hex16(b);
}

std::optional<IpRange> ip_range(std::string_view text) {
  size_t slash = text.find('/');
  unsigned char b[16];
  bool v4 = false;
  if (!parse_address(text.substr(0, slash), b, v4)) return std::nullopt;
  int bits = 128;
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    int n = std::stoi(std::string(len));
    if (n > (v4 ? 32 : 128)) return std::nullopt;
    bits = v4 ? 96 + n : n;
  }
  unsigned char lo[16], hi[16];
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(bits - 8 * i, 0, 8);
    unsigned char mask = keep == 0 ? 0 : static_cast<unsigned char>(0xff << (8 - keep));
    lo[i] = b[i] & mask;
    hi[i] = static_cast<unsigned char>(b[i] | ~mask);
  }
  return IpRange{hex16(lo), hex16(hi)};
}

std::variant<Node, ParseError> parse(std::string_view query) { return Parser(query).run(); }

std::string fts5_query(const Node& term) {
  std::string out = "\"";
  for (char c : fold_diacritics(term.value)) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  if (term.op == Node::Op::prefix) out += " *";
  return out;
}

std::string user_key_token(std::string_view user_name) {
  static const char* digits = "0123456789abcdef";
  std::string out = "u";
  for (unsigned char c : user_name.substr(0, kUserKeyBytes)) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

namespace {

// IPv4 addresses are keyed as IPv4-mapped IPv6 (::ffff:a.b.c.d): these 24 hex digits first.
constexpr std::string_view kMappedPrefix = "00000000000000000000ffff";
// The lengths in hex digits of the block tokens of an IPv4 (/16, /24) and an IPv6 (/48, /64) key.
constexpr size_t kV4Blocks[] = {28, 30};
constexpr size_t kV6Blocks[] = {12, 16};

bool is_mapped(std::string_view key) { return key.size() == 32 && key.substr(0, kMappedPrefix.size()) == kMappedPrefix; }

}  // namespace

std::string sqlite_keys(std::string_view source_key, std::string_view destination_key, std::string_view user_name,
                        bool blocks) {
  std::string out;
  auto token = [&](char side, std::string_view t) {
    if (!out.empty()) out += ' ';
    out += side;
    out += t;
  };
  auto address = [&](char side, std::string_view key) {
    if (key.empty()) return;
    token(side, key);
    if (!blocks || key.size() != 32) return;
    for (size_t n : is_mapped(key) ? std::span<const size_t>(kV4Blocks) : std::span<const size_t>(kV6Blocks)) {
      token(side, key.substr(0, n));
    }
  };
  address('s', source_key);
  address('d', destination_key);
  if (!user_name.empty()) {
    if (!out.empty()) out += ' ';
    out += user_key_token(user_name);
  }
  return out;
}

std::optional<std::string> keys_query(const Node& n, bool blocks, bool* exact) {
  if (exact) *exact = true;
  if (n.kind != Node::Kind::term || !n.field) return std::nullopt;
  const auto col = n.field->column;
  // One value, or an indexed block. Any other block or a prefix would be a prefix query, which
  // FTS5 answers by merging every matching token's postings over the whole table, outside the
  // search's cost cap: those read the window's rows instead, where the cap counts them.
  if (col == "user_name" && n.op == Node::Op::eq) return "keys : " + user_key_token(n.value);
  if ((col != "source_ip" && col != "destination_ip") || n.op != Node::Op::range || n.value.size() != 32 ||
      n.value2.size() != 32) {
    return std::nullopt;
  }
  const std::string side(1, col == "source_ip" ? 's' : 'd');
  if (n.value == n.value2) return "keys : " + side + n.value;
  if (!blocks) return std::nullopt;
  // The block's prefix: the digits low and high share; below it low is all 0 and high all f
  // (a CIDR block to the hex digit), else the block is not one.
  size_t common = 0;
  while (common < 32 && n.value[common] == n.value2[common]) ++common;
  auto rest_is = [](std::string_view s, char c) { return s.find_first_not_of(c) == std::string_view::npos; };
  bool aligned = rest_is(std::string_view(n.value).substr(common), '0') &&
                 rest_is(std::string_view(n.value2).substr(common), 'f');
  // The lengths that may serve: IPv4's inside the mapped range, IPv6's outside it (a block of
  // IPv6 that holds IPv4-mapped addresses would miss them: those carry IPv4's lengths only).
  const bool mapped = common >= kMappedPrefix.size() && is_mapped(n.value);
  size_t best = 0;
  for (size_t len : mapped ? std::span<const size_t>(kV4Blocks) : std::span<const size_t>(kV6Blocks)) {
    if (len <= common) best = len;
  }
  if (best == 0) return std::nullopt;
  if (!mapped && rest_is(std::string_view(n.value).substr(0, best), '0')) return std::nullopt;
  if (exact) *exact = aligned && best == common;
  return "keys : " + side + n.value.substr(0, best);
}

std::optional<std::string> fts_match(const Node& n, bool blocks) {
  switch (n.kind) {
    case Node::Kind::negate:
      return std::nullopt;
    case Node::Kind::all_of:
    case Node::Kind::any_of: {
      if (n.children.empty()) return std::nullopt;
      std::string out = "(";
      for (size_t i = 0; i < n.children.size(); ++i) {
        auto part = fts_match(n.children[i], blocks);
        if (!part) return std::nullopt;
        if (i) out += n.kind == Node::Kind::all_of ? " AND " : " OR ";
        out += *part;
      }
      return out + ")";
    }
    case Node::Kind::term:
      break;
  }
  if (!n.field) return "(original : " + fts5_query(n) + ")";
  // A user name's token holds its first kUserKeyBytes: longer ones need the column.
  if (n.field->column == "user_name" && n.value.size() >= kUserKeyBytes) return std::nullopt;
  bool exact = true;
  auto keys = keys_query(n, blocks, &exact);
  if (!keys || !exact) return std::nullopt;
  return "(" + *keys + ")";
}

std::string tsquery_prefix(std::string_view value) {
  std::string out = "'";
  for (char c : fold_diacritics(value)) {
    if (c == '\'' || c == '\\') out += c == '\'' ? '\'' : '\\';
    out += c;
  }
  out += "':*";
  return out;
}

// A field term's condition on its column (or on the stored event's value).
static void column_condition(const Node& node, std::string col, Dialect d, SqlCondition& out);

void to_sql(const Node& node, Dialect d, SqlCondition& out) {
  switch (node.kind) {
    case Node::Kind::all_of:
    case Node::Kind::any_of: {
      if (node.children.empty()) {
        out.sql += node.kind == Node::Kind::all_of ? "1=1" : "1=0";
        return;
      }
      out.sql += '(';
      for (size_t i = 0; i < node.children.size(); ++i) {
        if (i) out.sql += node.kind == Node::Kind::all_of ? " AND " : " OR ";
        to_sql(node.children[i], d, out);
      }
      out.sql += ')';
      return;
    }
    case Node::Kind::negate:
      // No key tokens under a NOT: they would not narrow, and `id IN (…) AND column …` is
      // false where the column is NULL, so its NOT would take events without the field, which the
      // column alone leaves out.
      ++out.negations;
      out.sql += "NOT (";
      to_sql(node.children.front(), d, out);
      out.sql += ')';
      --out.negations;
      return;
    case Node::Kind::term:
      break;
  }
  if (!node.field) {
    out.uses_text = true;
    if (d == Dialect::sqlite) {
      // The index's rows of the search window only (?3, ?4: its first and last id).
      // Only the `original` column: a word never meets a key token.
      out.sql += "s.id IN (SELECT rowid FROM event_fts WHERE event_fts MATCH " +
                 add(out, d, "original : " + fts5_query(node)) + " AND rowid BETWEEN ?3 AND ?4)";
    } else if (node.op == Node::Op::prefix) {
      out.sql += "s.text_index @@ to_tsquery('simple', " + add(out, d, tsquery_prefix(node.value)) + ")";
    } else {
      out.sql += "s.text_index @@ phraseto_tsquery('simple', " + add(out, d, fold_diacritics(node.value)) + ")";
    }
    return;
  }
  const Field& f = *node.field;
  if (f.name == "agency") {
    // The agent's agency: a set of agents the row's agent is checked against.
    std::string cmp;
    if (node.op == Node::Op::prefix) {
      std::string hi = successor(node.value);
      cmp = "agency >= " + add(out, d, node.value) + (hi.empty() ? "" : " AND agency < " + add(out, d, hi));
    } else {
      cmp = "agency = " + add(out, d, node.value);
    }
    out.sql += "s.agent_id IN (SELECT id FROM agents WHERE " + cmp + ")";
    return;
  }
  // SQLite: the key tokens find the candidates in the window, the column decides.
  std::optional<std::string> keys =
      d == Dialect::sqlite && out.negations == 0 ? keys_query(node, out.block_keys) : std::nullopt;
  if (keys) {
    out.sql += "(s.id IN (SELECT rowid FROM event_fts WHERE event_fts MATCH " + add(out, d, *keys) +
               " AND rowid BETWEEN ?3 AND ?4) AND ";
  }
  column_condition(node, operand(f, d, out), d, out);
  if (keys) out.sql += ')';
}

static void column_condition(const Node& node, std::string col, Dialect d, SqlCondition& out) {
  const Field& f = *node.field;
  switch (node.op) {
    case Node::Op::eq:
      if (f.type == FieldType::number) {
        out.sql += col + " = " + add(out, d, node.number);
      } else {
        out.sql += col + " = " + add(out, d, node.value);
      }
      return;
    case Node::Op::prefix: {
      // Byte order (the searched columns are declared so on PostgreSQL; agent_id is not).
      if (d == Dialect::postgres && f.column == "agent_id") col += " COLLATE \"C\"";
      std::string hi = successor(node.value);
      out.sql += "(" + col + " >= " + add(out, d, node.value);
      if (!hi.empty()) out.sql += " AND " + col + " < " + add(out, d, hi);
      out.sql += ")";
      return;
    }
    case Node::Op::range:
      // One address is an equality: its index then seeks the address and the window together.
      if (node.value == node.value2) {
        out.sql += col + " = " + add(out, d, node.value);
        return;
      }
      out.sql += "(" + col + " BETWEEN " + add(out, d, node.value) + " AND " + add(out, d, node.value2) + ")";
      return;
    case Node::Op::gt:
      out.sql += col + " > " + add(out, d, node.number);
      return;
    case Node::Op::ge:
      out.sql += col + " >= " + add(out, d, node.number);
      return;
    case Node::Op::lt:
      out.sql += col + " < " + add(out, d, node.number);
      return;
    case Node::Op::le:
      out.sql += col + " <= " + add(out, d, node.number);
      return;
    case Node::Op::phrase:
      break;
  }
}

}  // namespace vigil::collector::search
