#include "agent/proto/starttls.h"

#include <algorithm>
#include <deque>
#include <string>

#include "agent/proto/tls.h"

namespace vigil::agent::proto {

namespace {

constexpr size_t kMaxLine = 2048;             // longer lines are skipped to their end
constexpr size_t kMaxCommands = 64;           // client commands or messages watched
constexpr size_t kMaxPending = 16;            // commands awaiting their reply (pipelining)
constexpr uint64_t kMaxWatched = 256 * 1024;  // bytes a side may send before the upgrade
constexpr size_t kMaxLdapMessage = 1024;      // LDAP messages looked into; larger are skipped
constexpr std::string_view kLdapStartTlsOid = "1.3.6.1.4.1.1466.20037";
constexpr uint32_t kPgSslRequest = 80877103;     // 1234 << 16 | 5679
constexpr uint32_t kPgGssEncRequest = 80877104;  // 1234 << 16 | 5680

inline uint32_t be32(std::string_view p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) | (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | static_cast<uint8_t>(p[3]);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The next space-separated word of `rest`, upper-cased, and `rest` after it.
std::string word(std::string_view& rest) {
  size_t i = 0;
  while (i < rest.size() && rest[i] == ' ') ++i;
  size_t j = i;
  while (j < rest.size() && rest[j] != ' ') ++j;
  std::string w(rest.substr(i, j - i));
  for (char& c : w) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  rest.remove_prefix(j);
  return w;
}

// BER (LDAP's subset: one-byte tags, definite lengths of up to four bytes).
enum class Ber { ok, more, bad };

Ber ber_head(std::string_view b, uint8_t& tag, size_t& len, size_t& head) {
  if (b.size() < 2) return Ber::more;
  tag = static_cast<uint8_t>(b[0]);
  if ((tag & 0x1f) == 0x1f) return Ber::bad;
  const auto l0 = static_cast<uint8_t>(b[1]);
  if (l0 < 0x80) {
    len = l0;
    head = 2;
    return Ber::ok;
  }
  const size_t n = l0 & 0x7f;
  if (n == 0 || n > 4) return Ber::bad;
  if (b.size() < 2 + n) return Ber::more;
  len = 0;
  for (size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<uint8_t>(b[2 + i]);
  head = 2 + n;
  return Ber::ok;
}

// Walks the elements of one complete BER value's contents.
struct BerReader {
  std::string_view d;
  bool next(uint8_t& tag, std::string_view& content) {
    size_t len = 0, head = 0;
    if (ber_head(d, tag, len, head) != Ber::ok || d.size() - head < len) return false;
    content = d.substr(head, len);
    d.remove_prefix(head + len);
    return true;
  }
};

bool ber_int(std::string_view c, int64_t& out) {
  if (c.empty() || c.size() > 4) return false;
  out = static_cast<int8_t>(c[0]);
  for (size_t i = 1; i < c.size(); ++i) out = out * 256 + static_cast<uint8_t>(c[i]);
  return true;
}

class StartTlsParser final : public StreamParser {
 public:
  StartTlsParser(const ParserContext& ctx, StartTlsKind kind) : ctx_(ctx), kind_(kind) {}

  void data(flow::StreamDir dir, std::span<const uint8_t> bytes, Timestamp ts) override {
    if (tls_) return tls_->data(dir, bytes, ts);
    if (stopped_) return;
    const int d = static_cast<int>(dir);
    watched_[d] += bytes.size();
    if (watched_[d] > kMaxWatched) return stop();
    buf_[d].append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // Progress on one side can unblock the other: a refused upgrade lets the client's held
    // bytes be read as commands again.
    for (bool progress = true; progress && !tls_ && !stopped_;) {
      progress = false;
      if (!awaiting_) progress = run(0, ts);
      if (!tls_ && !stopped_) progress = run(1, ts) || progress;
    }
    if (tls_ || stopped_) return;
    for (int i = 0; i < 2; ++i) {
      buf_[i].erase(0, pos_[i]);
      pos_[i] = 0;
    }
    // Bytes the client sent after its upgrade command wait for the answer, up to the cap.
    if (buf_[0].size() > ctx_.options->max_buffer) stop();
  }

  void gap(flow::StreamDir dir, uint64_t bytes) override {
    if (tls_) return tls_->gap(dir, bytes);
    stop();
  }

  void end(Timestamp ts) override {
    if (tls_) return tls_->end(ts);
    stop();
  }

 private:
  struct Pending {
    const char* upgrade = nullptr;  // the protocol name when this command asks for TLS
    bool multiline = false;         // POP3: a +OK answer is followed by lines up to "."
    bool gss = false;               // PostgreSQL: a GSSENCRequest
  };

  // Reads the whole units (lines, BER messages, PostgreSQL requests) direction `d` holds;
  // true when at least one was consumed.
  bool run(int d, Timestamp ts) {
    bool any = false;
    while (!tls_ && !stopped_ && !(d == 0 && awaiting_)) {
      bool got = false;
      switch (kind_) {
        case StartTlsKind::ldap:
          got = ldap_unit(d, ts);
          break;
        case StartTlsKind::postgres:
          got = pg_unit(d, ts);
          break;
        default:
          got = line_unit(d, ts);
          break;
      }
      if (!got) break;
      any = true;
    }
    return any;
  }

  std::string_view rest(int d) const { return std::string_view(buf_[d]).substr(pos_[d]); }

  // ---- Line protocols: SMTP, FTP, IMAP, POP3.

  bool line_unit(int d, Timestamp ts) {
    std::string_view b = rest(d);
    const size_t nl = b.find('\n');
    if (nl == std::string_view::npos) {
      if (b.size() > kMaxLine) {  // an over-long line: skip it to its end
        skipping_[d] = true;
        pos_[d] = buf_[d].size();
      }
      return false;
    }
    pos_[d] += nl + 1;
    if (skipping_[d]) {
      skipping_[d] = false;
      return true;
    }
    std::string_view line = b.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (d == 0) {
      client_line(line);
    } else {
      server_line(line, ts);
    }
    return true;
  }

  void client_line(std::string_view line) {
    if (++commands_ > kMaxCommands) return stop();
    std::string_view args = line;
    if (kind_ == StartTlsKind::imap) {
      std::string tag = word(args);
      if (word(args) == "STARTTLS" && !tag.empty()) {
        imap_tag_ = std::move(tag);
        awaiting_ = true;
      }
      return;
    }
    const std::string cmd = word(args);
    Pending p;
    if (kind_ == StartTlsKind::smtp_ftp) {
      if (cmd == "STARTTLS") {
        p.upgrade = "smtp";
      } else if (cmd == "AUTH") {
        const std::string how = word(args);
        if (how == "TLS" || how == "SSL" || how == "TLS-C" || how == "TLS-P") p.upgrade = "ftp";
      } else if (cmd == "DATA" || cmd == "BDAT") {
        return stop();  // mail content follows; STARTTLS comes before it
      }
    } else {  // POP3
      if (cmd == "STLS") {
        p.upgrade = "pop3";
      } else if (cmd == "CAPA" || cmd == "RETR" || cmd == "TOP") {
        p.multiline = true;
      } else if (cmd == "LIST" || cmd == "UIDL") {
        p.multiline = word(args).empty();
      }
    }
    if (pending_.size() >= kMaxPending) return stop();
    pending_.push_back(p);
    if (p.upgrade) awaiting_ = true;
  }

  void server_line(std::string_view line, Timestamp ts) {
    if (kind_ == StartTlsKind::imap) {
      // Untagged ("*") and continuation ("+") lines never answer STARTTLS.
      std::string_view args = line;
      if (!awaiting_ || word(args) != imap_tag_) return;
      answer(word(args) == "OK", "imap", ts);
      return;
    }
    if (kind_ == StartTlsKind::smtp_ftp) {
      // A reply ends with "ddd" or "ddd text"; "ddd-" lines and FTP's free lines continue it,
      // and FTP's 1xx replies are preliminary.
      if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) return;
      if ((line.size() > 3 && line[3] != ' ') || line[0] == '1') return;
      if (!greeted_) {
        greeted_ = true;
        return;
      }
      if (pending_.empty()) return;  // unsolicited (421 closing)
      const Pending p = pending_.front();
      pending_.pop_front();
      if (p.upgrade) {
        const std::string_view yes = std::string_view(p.upgrade) == "smtp" ? "220" : "234";
        answer(line.substr(0, 3) == yes, p.upgrade, ts);
      }
      return;
    }
    // POP3: "+OK", "-ERR", or "+ " asking for more of a SASL exchange.
    if (in_multiline_) {
      if (line == ".") in_multiline_ = false;
      return;
    }
    const bool ok = line.starts_with("+OK");
    const bool more = line == "+" || line.starts_with("+ ");
    if (!ok && !more && !line.starts_with("-ERR")) return;
    if (!greeted_) {
      greeted_ = true;
      return;
    }
    if (pending_.empty()) return;
    const Pending p = pending_.front();
    pending_.pop_front();
    if (p.multiline && ok) in_multiline_ = true;
    if (p.upgrade) answer(ok, p.upgrade, ts);
  }

  // ---- LDAP: LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp CHOICE, ... }.

  bool ldap_unit(int d, Timestamp ts) {
    std::string_view b = rest(d);
    if (skip_[d]) {
      const size_t n = std::min<uint64_t>(skip_[d], b.size());
      skip_[d] -= n;
      pos_[d] += n;
      return n > 0;
    }
    uint8_t tag = 0;
    size_t len = 0, head = 0;
    const Ber r = ber_head(b, tag, len, head);
    if (r == Ber::more) return false;
    if (r == Ber::bad || tag != 0x30) {
      stop();  // not LDAP, or SASL-wrapped after a bind: nothing more to follow
      return false;
    }
    if (d == 0 && ++commands_ > kMaxCommands) {
      stop();
      return false;
    }
    if (head + len > kMaxLdapMessage) {
      skip_[d] = head + len;
      return true;
    }
    if (b.size() < head + len) return false;
    BerReader msg{b.substr(head, len)};
    pos_[d] += head + len;
    std::string_view id_bytes, op;
    uint8_t id_tag = 0, op_tag = 0;
    int64_t id = 0;
    if (!msg.next(id_tag, id_bytes) || id_tag != 0x02 || !ber_int(id_bytes, id) || !msg.next(op_tag, op)) {
      stop();
      return false;
    }
    BerReader inner{op};
    uint8_t t = 0;
    std::string_view v;
    if (d == 0 && op_tag == 0x77) {  // ExtendedRequest: requestName [0] LDAPOID
      if (inner.next(t, v) && t == 0x80 && v == kLdapStartTlsOid) {
        ldap_id_ = id;
        awaiting_ = true;
      }
    } else if (d == 1 && op_tag == 0x78 && awaiting_ && id == ldap_id_) {  // ExtendedResponse
      int64_t code = -1;
      const bool ok = inner.next(t, v) && t == 0x0a && ber_int(v, code) && code == 0;  // success
      answer(ok, "ldap", ts);
    }
    return true;
  }

  // ---- PostgreSQL: 8-byte SSLRequest / GSSENCRequest, each answered by one byte.

  bool pg_unit(int d, Timestamp ts) {
    std::string_view b = rest(d);
    if (d == 0) {
      if (b.size() < 8) return false;
      const uint32_t code = be32(b.substr(4));
      if (be32(b) != 8 || (code != kPgSslRequest && code != kPgGssEncRequest) || pending_.size() >= kMaxPending) {
        stop();  // the StartupMessage: the session stays in clear
        return false;
      }
      pos_[0] += 8;
      Pending p;
      p.gss = code == kPgGssEncRequest;
      if (!p.gss) p.upgrade = "postgresql";
      pending_.push_back(p);
      if (p.upgrade) awaiting_ = true;
      return true;
    }
    if (b.empty()) return false;
    if (pending_.empty()) {
      stop();
      return false;
    }
    const char c = b[0];
    pos_[1] += 1;
    const Pending p = pending_.front();
    pending_.pop_front();
    if (p.gss) {
      if (c != 'N') stop();  // 'G': GSSAPI encryption, nothing we read
    } else {
      answer(c == 'S', p.upgrade, ts);
      if (!tls_) stop();  // 'N' (or an error): the session stays in clear
    }
    return true;
  }

  // ---- The upgrade.

  void answer(bool yes, const char* protocol, Timestamp ts) {
    awaiting_ = false;
    if (!yes) return;
    tls_ = make_tls_parser(ctx_, protocol);
    ++ctx_.counters->tls_upgrades;
    // The client's bytes since its command, then the server's since its answer.
    std::string client = buf_[0].substr(pos_[0]);
    std::string server = buf_[1].substr(pos_[1]);
    std::string().swap(buf_[0]);
    std::string().swap(buf_[1]);
    pending_.clear();
    auto span_of = [](const std::string& s) {
      return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    };
    if (!client.empty()) tls_->data(flow::StreamDir::to_server, span_of(client), ts);
    if (!server.empty()) tls_->data(flow::StreamDir::to_client, span_of(server), ts);
  }

  void stop() {
    if (stopped_ || tls_) return;
    stopped_ = true;
    ++ctx_.counters->streams_unknown;  // recognised as a plain-text start, but no TLS came of it
    for (auto& b : buf_) std::string().swap(b);
    pending_.clear();
  }

  ParserContext ctx_;
  StartTlsKind kind_;
  std::unique_ptr<StreamParser> tls_;
  std::string buf_[2];
  size_t pos_[2] = {0, 0};
  uint64_t watched_[2] = {0, 0};
  uint64_t skip_[2] = {0, 0};
  bool skipping_[2] = {false, false};
  std::deque<Pending> pending_;
  std::string imap_tag_;
  int64_t ldap_id_ = -1;
  size_t commands_ = 0;
  bool awaiting_ = false;  // the client asked for TLS; its later bytes wait for the answer
  bool greeted_ = false;
  bool in_multiline_ = false;
  bool stopped_ = false;
};

}  // namespace

std::optional<StartTlsKind> starttls_kind(std::string_view c, std::string_view s) {
  if (s.starts_with("220 ") || s.starts_with("220-")) return StartTlsKind::smtp_ftp;
  if (s.starts_with("* OK") || s.starts_with("* PREAUT")) return StartTlsKind::imap;  // "* PREAUTH"
  if (s.starts_with("+OK")) return StartTlsKind::pop3;
  if (c.size() >= 8 && be32(c) == 8 && (be32(c.substr(4)) == kPgSslRequest || be32(c.substr(4)) == kPgGssEncRequest)) {
    return StartTlsKind::postgres;
  }
  // LDAP: SEQUENCE, a definite length, messageID INTEGER of 1 to 4 bytes, then (when in view)
  // an APPLICATION-class protocolOp.
  if (c.size() >= 6 && static_cast<uint8_t>(c[0]) == 0x30) {
    const auto l0 = static_cast<uint8_t>(c[1]);
    const size_t len_bytes = l0 < 0x80 ? 0 : l0 & 0x7f;
    if (l0 == 0x80 || len_bytes > 4) return std::nullopt;
    const size_t i = 2 + len_bytes;  // the INTEGER
    if (c.size() < i + 2) return std::nullopt;
    const auto id_len = static_cast<uint8_t>(c[i + 1]);
    if (c[i] != 0x02 || id_len < 1 || id_len > 4) return std::nullopt;
    const size_t op = i + 2 + id_len;
    if (op < c.size() && (static_cast<uint8_t>(c[op]) & 0xc0) != 0x40) return std::nullopt;
    return StartTlsKind::ldap;
  }
  return std::nullopt;
}

std::unique_ptr<StreamParser> make_starttls_parser(const ParserContext& ctx, StartTlsKind kind) {
  return std::make_unique<StartTlsParser>(ctx, kind);
}

}  // namespace vigil::agent::proto
