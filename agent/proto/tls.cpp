#include "agent/proto/tls.h"

#include <openssl/evp.h>

#include <memory>

#include <fmt/format.h>

namespace vigil::agent::proto {

namespace {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be24(const uint8_t* p) { return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2]; }

bool grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// A bounds-checked reader over one message.
struct Reader {
  std::span<const uint8_t> d;
  size_t pos = 0;
  bool ok = true;
  size_t left() const { return ok ? d.size() - pos : 0; }
  bool need(size_t n) {
    if (!ok || d.size() - pos < n) ok = false;
    return ok;
  }
  uint8_t u8() { return need(1) ? d[pos++] : 0; }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v = be16(d.data() + pos);
    pos += 2;
    return v;
  }
  std::span<const uint8_t> take(size_t n) {
    if (!need(n)) return {};
    auto s = d.subspan(pos, n);
    pos += n;
    return s;
  }
};

std::string join(const std::vector<uint16_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += '-';
    out += std::to_string(v[i]);
  }
  return out;
}

std::vector<std::string> alpn_list(std::span<const uint8_t> ext) {
  std::vector<std::string> out;
  Reader r{ext};
  Reader list{r.take(r.u16())};
  while (list.ok && list.left() > 0) {
    auto p = list.take(list.u8());
    if (!list.ok) break;
    out.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
  }
  return out;
}

class TlsParser final : public StreamParser {
 public:
  TlsParser(const ParserContext& ctx, std::string upgraded_from)
      : ctx_(ctx), upgraded_from_(std::move(upgraded_from)) {}

  void data(flow::StreamDir dir, std::span<const uint8_t> bytes, Timestamp ts) override {
    const int d = static_cast<int>(dir);
    if (done_ || dead_[d]) return;
    last_ts_ = ts;
    auto& rec = records_[d];
    rec.insert(rec.end(), bytes.begin(), bytes.end());
    size_t used = 0;
    if (!started_[d]) {
      // The first record of a direction may be in the SSLv2 format: a 2-byte header with the
      // high bit set (RFC 5246 E.2; the 3-byte form never carries a hello).
      if (rec.empty()) return;
      if (rec[0] & 0x80) {
        if (rec.size() < 2) return;
        const size_t len = (size_t{rec[0] & 0x7fu} << 8) | rec[1];
        if (len > ctx_.options->max_buffer) return give_up(d);
        if (rec.size() < 2 + len) return;
        if (!sslv2_hello(d, std::span<const uint8_t>(rec.data() + 2, len))) return give_up(d);
        if (d == 1) return finish();  // an SSLv2 server: nothing in v3 records follows
        used = 2 + len;
      }
      started_[d] = true;
    }
    // Whole records: handshake payloads join the direction's handshake buffer.
    while (rec.size() - used >= 5) {
      const uint8_t type = rec[used];
      const size_t len = be16(rec.data() + used + 3);
      if (rec[used + 1] != 3 || len > 18432) return give_up(d);
      if (rec.size() - used < 5 + len) break;
      if (type == 22) {
        auto& hs = handshake_[d];
        hs.insert(hs.end(), rec.begin() + static_cast<std::ptrdiff_t>(used + 5),
                  rec.begin() + static_cast<std::ptrdiff_t>(used + 5 + len));
      } else if (type != 20 && type != 21 && type != 23 && type != 24) {
        return give_up(d);
      } else if (type == 23 || type == 20) {
        // Application data or ChangeCipherSpec: the clear handshake is over in this direction.
        hello_done_[d] = true;
      }
      used += 5 + len;
    }
    rec.erase(rec.begin(), rec.begin() + static_cast<std::ptrdiff_t>(used));
    if (rec.size() > ctx_.options->max_buffer + 5) return give_up(d);
    handshake_messages(d);
    if (handshake_[d].size() > ctx_.options->max_buffer) return give_up(d);
    if (have_server_ || (hello_done_[0] && hello_done_[1])) finish();
  }

  void gap(flow::StreamDir dir, uint64_t) override {
    if (!done_) give_up(static_cast<int>(dir));
  }
  void end(Timestamp ts) override {
    last_ts_ = ts;
    finish();
  }

 private:
  // An SSLv2 record's message: the client's CLIENT-HELLO (v3 records may follow it), or the
  // server's SERVER-HELLO (message type 4, session-id-hit, certificate type, version), after
  // which the server speaks SSLv2 only.
  bool sslv2_hello(int d, std::span<const uint8_t> msg) {
    if (d == 0) {
      if (have_client_) return true;
      have_client_ = parse_sslv2_client_hello(msg, client_);
      return have_client_;
    }
    if (msg.size() < 5 || msg[0] != 4) return false;
    server_.version = be16(msg.data() + 3);
    have_server_ = true;
    return true;
  }

  void handshake_messages(int d) {
    auto& hs = handshake_[d];
    size_t used = 0;
    while (hs.size() - used >= 4) {
      const uint8_t type = hs[used];
      const size_t len = be24(hs.data() + used + 1);
      if (len > ctx_.options->max_buffer) return give_up(d);
      if (hs.size() - used < 4 + len) break;
      std::span<const uint8_t> body(hs.data() + used + 4, len);
      if (type == 1 && d == 0 && !have_client_) {
        have_client_ = parse_client_hello(body, client_);
        if (!have_client_) ++ctx_.counters->tls_gave_up;
      } else if (type == 2 && d == 1 && !have_server_) {
        have_server_ = parse_server_hello(body, server_);
        if (!have_server_) ++ctx_.counters->tls_gave_up;
      }
      used += 4 + len;
    }
    hs.erase(hs.begin(), hs.begin() + static_cast<std::ptrdiff_t>(used));
  }

  void give_up(int d) {
    if (!dead_[d]) ++ctx_.counters->tls_gave_up;
    dead_[d] = true;
    records_[d].clear();
    handshake_[d].clear();
  }

  void finish() {
    if (done_ || !(have_client_ || have_server_)) return;
    done_ = true;
    ++ctx_.counters->tls_handshakes;
    Event e = protocol_event("network.tls", "tls", ctx_.ends, last_ts_, *ctx_.host_name);
    if (have_client_) {
      if (!client_.server_name.empty()) e.set(fields::tls_client_server_name, client_.server_name);
      e.set(fields::tls_client_ja3, client_.ja3_hash);
      e.set(field_id<"tls.client.ja3_string">(), client_.ja3);
      if (!client_.supported_versions.empty() || client_.legacy_version) {
        uint16_t offered = client_.legacy_version;
        for (uint16_t v : client_.supported_versions) offered = std::max(offered, v);
        e.set(field_id<"tls.client.version">(), tls_version_name(offered));
      }
      if (client_.sslv2) e.set(field_id<"vigil.tls.client.sslv2">(), true);
    }
    if (have_server_) {
      e.set(fields::tls_version, tls_version_name(server_.version));
      e.set(field_id<"tls.version_protocol">(), tls_version_protocol(server_.version));
      if (int draft = tls_draft(server_.version)) e.set(field_id<"vigil.tls.draft">(), draft);
    }
    std::string alpn = have_server_ && !server_.alpn.empty() ? server_.alpn
                       : have_client_ && !client_.alpn.empty() ? client_.alpn.front()
                                                                 : std::string();
    if (!alpn.empty()) e.set(fields::tls_next_protocol, alpn);
    if (!upgraded_from_.empty()) e.set(field_id<"vigil.tls.starttls">(), upgraded_from_);
    (*ctx_.sink)(std::move(e));
    for (auto& b : records_) std::vector<uint8_t>().swap(b);
    for (auto& b : handshake_) std::vector<uint8_t>().swap(b);
  }

  ParserContext ctx_;
  std::string upgraded_from_;
  std::vector<uint8_t> records_[2];
  std::vector<uint8_t> handshake_[2];
  bool started_[2] = {false, false};
  bool dead_[2] = {false, false};
  bool hello_done_[2] = {false, false};
  bool have_client_ = false, have_server_ = false, done_ = false;
  ClientHello client_;
  ServerHello server_;
  Timestamp last_ts_{};
};

}  // namespace

std::string md5_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  // MD5 fetched once and one context per thread: OpenSSL 3 looks the algorithm up (under a lock)
  // on every EVP_Digest call, which cost more than the hash of a JA3 or HASSH string.
  static EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!md5 || !ctx || EVP_DigestInit_ex2(ctx.get(), md5, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), text.data(), text.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), md, &n) != 1) {
    EVP_Digest(text.data(), text.size(), md, &n, EVP_md5(), nullptr);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size_t{n} * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

std::string tls_version_name(uint16_t v) {
  switch (v) {
    case 0x0002: return "2.0";
    case 0x0300: return "3.0";
    case 0x0301: return "1.0";
    case 0x0302: return "1.1";
    case 0x0303: return "1.2";
    case 0x0304: return "1.3";
    default: return tls_draft(v) ? "1.3" : fmt::format("0x{:04x}", v);
  }
}

std::string tls_version_protocol(uint16_t v) { return v == 0x0002 || v == 0x0300 ? "ssl" : "tls"; }

int tls_draft(uint16_t v) { return (v >> 8) == 0x7f && (v & 0xff) != 0 ? v & 0xff : 0; }

bool parse_client_hello(std::span<const uint8_t> body, ClientHello& out) {
  Reader r{body};
  out.legacy_version = r.u16();
  r.take(32);
  r.take(r.u8());  // session id
  std::vector<uint16_t> ciphers, extensions, groups, formats;
  Reader cs{r.take(r.u16())};
  while (cs.ok && cs.left() >= 2) {
    uint16_t c = cs.u16();
    if (!grease(c)) ciphers.push_back(c);
  }
  out.cipher_suites = ciphers;
  r.take(r.u8());  // compression methods
  if (!r.ok) return false;
  if (r.left() >= 2) {
    Reader ex{r.take(r.u16())};
    while (ex.ok && ex.left() >= 4) {
      const uint16_t type = ex.u16();
      auto data = ex.take(ex.u16());
      if (!ex.ok) return false;
      if (!grease(type)) extensions.push_back(type);
      Reader x{data};
      switch (type) {
        case 0: {  // server_name
          Reader list{x.take(x.u16())};
          while (list.ok && list.left() >= 3) {
            uint8_t kind = list.u8();
            auto name = list.take(list.u16());
            if (list.ok && kind == 0 && out.server_name.empty()) {
              out.server_name.assign(reinterpret_cast<const char*>(name.data()), name.size());
            }
          }
          break;
        }
        case 10: {  // supported_groups
          Reader list{x.take(x.u16())};
          while (list.ok && list.left() >= 2) {
            uint16_t g = list.u16();
            if (!grease(g)) groups.push_back(g);
          }
          break;
        }
        case 11: {  // ec_point_formats
          auto list = x.take(x.u8());
          for (uint8_t f : list) formats.push_back(f);
          break;
        }
        case 16: out.alpn = alpn_list(data); break;
        case 43: {  // supported_versions
          Reader list{x.take(x.u8())};
          while (list.ok && list.left() >= 2) {
            uint16_t v = list.u16();
            if (!grease(v)) out.supported_versions.push_back(v);
          }
          break;
        }
        default: break;
      }
    }
  }
  out.ja3 = fmt::format("{},{},{},{},{}", out.legacy_version, join(ciphers), join(extensions), join(groups),
                        join(formats));
  out.ja3_hash = md5_hex(out.ja3);
  return true;
}

bool parse_server_hello(std::span<const uint8_t> body, ServerHello& out) {
  Reader r{body};
  out.version = r.u16();
  r.take(32);
  // TLS 1.3 drafts before 22 put their version here and had neither session id nor compression.
  const bool early_draft = tls_draft(out.version) != 0 && tls_draft(out.version) < 22;
  if (!early_draft) r.take(r.u8());  // session id
  r.u16();                           // cipher
  if (!early_draft) r.u8();          // compression
  if (!r.ok) return false;
  if (r.left() >= 2) {
    Reader ex{r.take(r.u16())};
    while (ex.ok && ex.left() >= 4) {
      const uint16_t type = ex.u16();
      auto data = ex.take(ex.u16());
      if (!ex.ok) break;
      if (type == 43 && data.size() == 2) out.version = be16(data.data());
      if (type == 16) {
        auto l = alpn_list(data);
        if (!l.empty()) out.alpn = l.front();
      }
    }
  }
  return true;
}

bool parse_sslv2_client_hello(std::span<const uint8_t> msg, ClientHello& out) {
  Reader r{msg};
  if (r.u8() != 1) return false;
  out.legacy_version = r.u16();
  const size_t spec_len = r.u16();
  const size_t session_len = r.u16();
  const size_t challenge_len = r.u16();
  auto specs = r.take(spec_len);
  r.take(session_len);
  r.take(challenge_len);
  if (!r.ok || spec_len == 0 || spec_len % 3 != 0 || challenge_len < 16 || challenge_len > 32) return false;
  out.sslv2 = true;
  std::string list;
  for (size_t i = 0; i + 3 <= specs.size(); i += 3) {
    const uint32_t spec = (uint32_t{specs[i]} << 16) | be16(specs.data() + i + 1);
    if (specs[i] == 0 && grease(static_cast<uint16_t>(spec))) continue;
    if (specs[i] == 0) out.cipher_suites.push_back(static_cast<uint16_t>(spec));
    if (!list.empty()) list += '-';
    list += std::to_string(spec);
  }
  out.ja3 = fmt::format("{},{},,,", out.legacy_version, list);
  out.ja3_hash = md5_hex(out.ja3);
  return true;
}

std::unique_ptr<StreamParser> make_tls_parser(const ParserContext& ctx) {
  return std::make_unique<TlsParser>(ctx, std::string());
}

std::unique_ptr<StreamParser> make_tls_parser(const ParserContext& ctx, std::string upgraded_from) {
  return std::make_unique<TlsParser>(ctx, std::move(upgraded_from));
}

}  // namespace vigil::agent::proto
