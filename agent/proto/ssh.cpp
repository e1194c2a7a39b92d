#include "agent/proto/ssh.h"

#include <algorithm>

#include "agent/proto/tls.h"

namespace vigil::agent::proto {

namespace {

constexpr size_t kMaxBanner = 255;       // RFC 4253: the identification line, CR LF included
constexpr size_t kMaxPreBannerLines = 16;  // a server may send other lines before its banner
constexpr uint32_t kMaxPacket = 35000;   // RFC 4253 6.1

inline uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

class SshParser final : public StreamParser {
 public:
  explicit SshParser(const ParserContext& ctx) : ctx_(ctx) {}

  void data(flow::StreamDir dir, std::span<const uint8_t> bytes, Timestamp ts) override {
    last_ts_ = ts;
    auto& s = side_[static_cast<int>(dir)];
    if (s.dead || s.kex_done || done_) return;
    s.buf.insert(s.buf.end(), bytes.begin(), bytes.end());
    while (!s.dead && !s.kex_done) {
      if (s.banner.empty()) {
        auto nl = std::find(s.buf.begin(), s.buf.end(), uint8_t{'\n'});
        if (nl == s.buf.end()) {
          if (s.buf.size() > kMaxBanner) give_up(s);
          break;
        }
        std::string line(s.buf.begin(), nl);
        s.buf.erase(s.buf.begin(), nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.starts_with("SSH-")) {
          s.banner = line.substr(0, kMaxBanner);
        } else if (++s.other_lines > kMaxPreBannerLines) {
          give_up(s);
        }
        continue;
      }
      // Binary packets: uint32 length, padding length, payload. The first KEXINIT is in clear.
      if (s.buf.size() < 5) break;
      const uint32_t len = be32(s.buf.data());
      if (len < 2 || len > kMaxPacket) {
        give_up(s);
        break;
      }
      if (s.buf.size() < 4 + len) {
        if (s.buf.size() > ctx_.options->max_buffer && len > ctx_.options->max_buffer) give_up(s);
        break;
      }
      const uint8_t padding = s.buf[4];
      if (padding + 1u > len) {
        give_up(s);
        break;
      }
      std::span<const uint8_t> payload(s.buf.data() + 5, len - padding - 1);
      if (!payload.empty() && payload[0] == 20) {
        if (!parse_kexinit(payload, s.kex)) {
          give_up(s);  // clears the buffer: nothing more to take from it
          break;
        }
        s.kex_done = true;
      }
      s.buf.erase(s.buf.begin(), s.buf.begin() + 4 + len);
      if (++s.packets > 4 && !s.kex_done) give_up(s);  // KEXINIT comes first; stop looking
    }
    if (side_[0].kex_done && side_[1].kex_done) finish();
  }

  void gap(flow::StreamDir dir, uint64_t) override {
    auto& s = side_[static_cast<int>(dir)];
    if (!s.kex_done) give_up(s);
  }

  void end(Timestamp ts) override {
    last_ts_ = ts;
    finish();
  }

 private:
  struct Side {
    std::vector<uint8_t> buf;
    std::string banner;
    KexInit kex;
    bool kex_done = false;
    bool dead = false;
    size_t other_lines = 0;
    size_t packets = 0;
  };

  void give_up(Side& s) {
    if (!s.dead) ++ctx_.counters->ssh_gave_up;
    s.dead = true;
    std::vector<uint8_t>().swap(s.buf);
  }

  void finish() {
    if (done_ || (side_[0].banner.empty() && side_[1].banner.empty())) return;
    done_ = true;
    ++ctx_.counters->ssh_sessions;
    Event e = protocol_event("network.ssh", "ssh", ctx_.ends, last_ts_, *ctx_.host_name);
    if (!side_[0].banner.empty()) e.set(field_id<"ssh.client.software">(), side_[0].banner);
    if (!side_[1].banner.empty()) e.set(field_id<"ssh.server.software">(), side_[1].banner);
    if (side_[0].kex_done) {
      const auto& k = side_[0].kex;
      std::string s = k.kex + ";" + k.enc_c2s + ";" + k.mac_c2s + ";" + k.comp_c2s;
      e.set(field_id<"ssh.client.hassh">(), md5_hex(s));
      e.set(field_id<"ssh.client.hassh_string">(), s);
    }
    if (side_[1].kex_done) {
      const auto& k = side_[1].kex;
      std::string s = k.kex + ";" + k.enc_s2c + ";" + k.mac_s2c + ";" + k.comp_s2c;
      e.set(field_id<"ssh.server.hassh">(), md5_hex(s));
      e.set(field_id<"ssh.server.hassh_string">(), s);
    }
    (*ctx_.sink)(std::move(e));
    for (auto& s : side_) std::vector<uint8_t>().swap(s.buf);
  }

  ParserContext ctx_;
  Side side_[2];
  bool done_ = false;
  Timestamp last_ts_{};
};

}  // namespace

bool parse_kexinit(std::span<const uint8_t> payload, KexInit& out) {
  if (payload.size() < 17 || payload[0] != 20) return false;
  size_t pos = 17;  // code and 16-byte cookie
  std::string* lists[] = {&out.kex,     &out.host_key, &out.enc_c2s,  &out.enc_s2c,
                          &out.mac_c2s, &out.mac_s2c,  &out.comp_c2s, &out.comp_s2c};
  for (std::string* l : lists) {
    if (payload.size() - pos < 4) return false;
    uint32_t n = be32(payload.data() + pos);
    pos += 4;
    if (payload.size() - pos < n) return false;
    l->assign(reinterpret_cast<const char*>(payload.data() + pos), n);
    pos += n;
  }
  return true;
}

std::unique_ptr<StreamParser> make_ssh_parser(const ParserContext& ctx) { return std::make_unique<SshParser>(ctx); }

}  // namespace vigil::agent::proto
