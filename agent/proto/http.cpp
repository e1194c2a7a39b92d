#include "agent/proto/http.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <string>
#include <string_view>

#include "agent/proto/tls.h"

namespace vigil::agent::proto {

namespace {

constexpr size_t kMaxTxns = 32;          // transactions waiting for their other half
constexpr size_t kMaxLine = 1024;        // a chunk-size, chunk-end or trailer line
constexpr size_t kMaxMethod = 24;        // longest method token accepted ("VERSION-CONTROL", ...)
constexpr size_t kMaxHttp09Line = 2048;  // a request line without a version (HTTP/0.9)

constexpr std::string_view kMethods[] = {"GET ",   "POST ",  "HEAD ",    "PUT ",      "DELETE ",    "OPTIONS ",
                                         "PATCH ", "TRACE ", "CONNECT ", "PROPFIND ", "PROPPATCH ", "MKCOL ",
                                         "COPY ",  "MOVE ",  "LOCK ",    "UNLOCK "};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool method_char(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }
bool control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
bool digit(char c) { return c >= '0' && c <= '9'; }

// "HTTP/" DIGIT "." DIGIT
bool version_token(std::string_view v) {
  return v.size() == 8 && v.starts_with("HTTP/") && digit(v[5]) && v[6] == '.' && digit(v[7]);
}

enum class Verdict { more, ok, http09, bad };

// The request line at the start of `buf`, which may not hold all of it yet. HTTP/1.x needs a
// method token, a target without control characters and a version; HTTP/0.9 (no version) only
// "GET /path" in printable ASCII, on a line of bounded length.
Verdict check_request_line(std::string_view buf, size_t cap) {
  size_t i = 0;
  while (i < buf.size() && i <= kMaxMethod && method_char(buf[i])) ++i;
  if (i == buf.size()) return i <= kMaxMethod ? Verdict::more : Verdict::bad;
  if (i == 0 || i > kMaxMethod || buf[i] != ' ') return Verdict::bad;
  const std::string_view method = buf.substr(0, i);
  size_t nl = buf.find('\n', i);
  std::string_view line = buf.substr(0, nl);
  if (nl != std::string_view::npos && line.ends_with('\r')) line.remove_suffix(1);
  // Control characters end the check early: binary junk is refused before the line is complete.
  const size_t checked_to =
      nl == std::string_view::npos && !line.empty() && line.back() == '\r' ? line.size() - 1 : line.size();
  for (size_t k = i + 1; k < checked_to; ++k) {
    if (control(line[k]) && line[k] != '\t') return Verdict::bad;
  }
  if (nl == std::string_view::npos) return buf.size() > cap ? Verdict::bad : Verdict::more;
  line = trim(line);
  if (line.size() <= i) return Verdict::bad;  // a method and nothing after it
  const size_t last = line.rfind(' ');
  if (last != std::string_view::npos && last > i && version_token(line.substr(last + 1))) {
    return trim(line.substr(i + 1, last - i - 1)).empty() ? Verdict::bad : Verdict::ok;
  }
  // No version: HTTP/0.9, or a line of some other protocol that starts with a word like GET.
  const std::string_view target = line.substr(i + 1);
  if (method != "GET" || !target.starts_with('/') || line.size() > kMaxHttp09Line) return Verdict::bad;
  for (char c : target) {
    if (c <= 0x20 || c >= 0x7f) return Verdict::bad;
  }
  return Verdict::http09;
}

// The status line at the start of `buf`: "HTTP/x.y NNN ...". Refused from its first bytes.
Verdict check_status_line(std::string_view buf) {
  constexpr std::string_view kPrefix = "HTTP/";
  if (buf.size() < kPrefix.size()) return kPrefix.starts_with(buf) ? Verdict::more : Verdict::bad;
  if (!buf.starts_with(kPrefix)) return Verdict::bad;
  size_t nl = buf.find('\n');
  if (nl == std::string_view::npos) return Verdict::more;
  std::string_view line = trim(buf.substr(0, nl));
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || !version_token(line.substr(0, sp))) return Verdict::bad;
  auto code = line.substr(sp + 1, 3);
  if (code.size() != 3 || !digit(code[0]) || !digit(code[1]) || !digit(code[2]) || code[0] == '0') return Verdict::bad;
  if (line.size() > sp + 4 && line[sp + 4] != ' ') return Verdict::bad;
  return Verdict::ok;
}

template <typename F>
void for_headers(std::string_view text, F&& f) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    f(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
}

// One request/response exchange; either half may be missing or come first.
struct Txn {
  bool has_request = false;
  bool request_done = false;
  std::string method, uri, version, host, user_agent, referrer;
  std::string authorization;  // the scheme only ("basic", "bearer"...), never the credential
  uint64_t request_body_bytes = 0;
  Timestamp request_ts{};

  bool has_response = false;  // a final status line (or an HTTP/0.9 answer) seen
  bool response_done = false;
  int status = 0;
  std::string response_version;
  uint64_t response_body_bytes = 0;
  Timestamp response_ts{};
};

// One direction's framing.
struct Side {
  enum class State {
    headers,     // a start line and headers
    body,        // `remaining` bytes of a sized body
    chunk_size,  // chunked body: the size line
    chunk_data,  // `remaining` bytes of a chunk
    chunk_crlf,  // the CRLF after a chunk
    trailers,    // after the last chunk, up to an empty line
    to_close,    // a response body that runs to the end of the connection
    wait,        // client: after CONNECT or Upgrade, bytes held until the answer decides
    after_09,    // client: after an HTTP/0.9 request, nothing more is expected
    tunnel,      // CONNECT 2xx or 101: the hosted TLS parser (or nothing) takes the bytes
    dead,
  };
  State state = State::headers;
  std::string buf;
  bool line_ok = false;  // the start line in `buf` was checked
  uint64_t remaining = 0;
  uint64_t body_bytes = 0;
  uint64_t index = 0;       // the transaction of the message in progress
  uint64_t index_next = 0;  // responses: the transaction the next final response answers
  bool in_message = false;
  bool expect_continue = false;  // the request asked for 100-continue before its body
  bool await_answer = false;     // the request was CONNECT or Upgrade
  Timestamp start_ts{};
};

class HttpParser final : public StreamParser {
 public:
  explicit HttpParser(const ParserContext& ctx) : ctx_(ctx) {}

  void data(flow::StreamDir dir, std::span<const uint8_t> bytes, Timestamp ts) override {
    last_ts_ = ts;
    std::string_view in(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const bool request = dir == flow::StreamDir::to_server;
    feed(request, in, ts);
  }

  void gap(flow::StreamDir dir, uint64_t bytes) override {
    const bool request = dir == flow::StreamDir::to_server;
    Side& d = side(request);
    using S = Side::State;
    bool skipped = false;
    switch (d.state) {
      case S::body:
        // Inside a body of known length a gap only shortens what is left to skip.
        if (bytes <= d.remaining) {
          skipped = true;
          d.remaining -= bytes;
          d.body_bytes += bytes;
          if (d.remaining == 0) message_done(request);
        }
        break;
      case S::chunk_data:
        // Inside a chunk, or reaching into the CRLF that ends it: the next size line is where
        // the chunk's size says.
        if (bytes <= d.remaining + 2) {
          skipped = true;
          const uint64_t in_chunk = std::min(bytes, d.remaining);
          d.remaining -= in_chunk;
          d.body_bytes += in_chunk;
          if (d.remaining == 0) d.state = bytes - in_chunk == 2 ? S::chunk_size : S::chunk_crlf;
        }
        break;
      case S::to_close:
        skipped = true;
        d.body_bytes += bytes;
        break;
      case S::tunnel:
        skipped = true;
        if (tls_) tls_->gap(dir, bytes);
        tunnel_decided_ = true;
        break;
      case S::dead:
        skipped = true;
        break;
      default:
        break;
    }
    // Anywhere else the next message's start is lost with the bytes.
    if (!skipped) give_up(d);
    flush_ready();
  }

  void end(Timestamp ts) override {
    last_ts_ = ts;
    ending_ = true;
    // A response cut short by the end still has its status; a body to the close is complete.
    Side& r = side(false);
    if (r.in_message && r.index >= base_ && r.index - base_ < txns_.size()) {
      txns_[r.index - base_].response_done = true;
    }
    flush_ready();
    if (tls_) tls_->end(ts);
  }

 private:
  Side& side(bool request) { return dir_[request ? 0 : 1]; }

  void feed(bool request, std::string_view in, Timestamp ts) {
    Side& d = side(request);
    using S = Side::State;
    while (!in.empty() && d.state != S::dead) {
      switch (d.state) {
        case S::headers:
          headers(request, d, in, ts);
          break;
        case S::body:
        case S::chunk_data: {
          if (request && d.expect_continue && d.body_bytes == 0 && answered(d.index) &&
              looks_like_http_request({reinterpret_cast<const uint8_t*>(in.data()), in.size()})) {
            // Refused with a final status before the body: the client moved on without sending it.
            d.state = S::headers;
            message_done(request);
            break;
          }
          size_t n = static_cast<size_t>(std::min<uint64_t>(d.remaining, in.size()));
          d.remaining -= n;
          d.body_bytes += n;
          in.remove_prefix(n);
          if (d.remaining == 0) {
            if (d.state == S::body) {
              message_done(request);
            } else {
              d.state = S::chunk_crlf;
            }
          }
          break;
        }
        case S::chunk_crlf:
        case S::chunk_size:
        case S::trailers: {
          size_t nl = in.find('\n');
          size_t take = nl == std::string_view::npos ? in.size() : nl + 1;
          d.buf.append(in.substr(0, take));
          in.remove_prefix(take);
          if (nl == std::string_view::npos) {
            if (d.buf.size() > kMaxLine) give_up(d);
            break;
          }
          std::string line(trim(std::string_view(d.buf).substr(0, d.buf.size() - 1)));
          d.buf.clear();
          if (d.state == S::trailers) {
            if (line.empty()) message_done(request);  // trailers end with an empty line
            break;
          }
          if (d.state == S::chunk_crlf && line.empty()) {
            d.state = S::chunk_size;
            break;
          }
          // A size line (after a chunk's CRLF, or where a gap took the CRLF's first byte).
          uint64_t size = 0;
          std::string_view hex = trim(std::string_view(line).substr(0, line.find(';')));
          auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
          if (ec != std::errc() || hex.empty() || p != hex.data() + hex.size()) {
            give_up(d);
            break;
          }
          d.remaining = size;
          d.state = size == 0 ? S::trailers : S::chunk_data;
          break;
        }
        case S::to_close:
          d.body_bytes += in.size();
          in = {};
          break;
        case S::wait:
          d.buf.append(in);
          in = {};
          if (d.buf.size() > ctx_.options->max_buffer) give_up(d);
          break;
        case S::after_09:
          // A real HTTP/0.9 client sends its one line and waits for the close.
          while (!in.empty() && (in.front() == '\r' || in.front() == '\n')) in.remove_prefix(1);
          if (!in.empty()) not_http09();
          break;
        case S::tunnel:
          tunnel(request, in, ts);
          in = {};
          break;
        case S::dead:
          break;
      }
    }
    flush_ready();
  }

  // Start line and headers: takes what `in` holds of them, leaves the rest.
  void headers(bool request, Side& d, std::string_view& in, Timestamp ts) {
    if (d.buf.empty()) {
      // Empty lines between messages are skipped (RFC 9112, section 2.2).
      while (!in.empty() && (in.front() == '\r' || in.front() == '\n')) in.remove_prefix(1);
      if (in.empty()) return;
      d.start_ts = ts;
      d.line_ok = false;
    }
    const size_t keep = d.buf.size();
    d.buf.append(in);
    bool http09 = false;
    if (!d.line_ok) {
      Verdict v = request ? check_request_line(d.buf, ctx_.options->max_buffer) : response_line(d.buf);
      if (v == Verdict::bad) {
        refuse(request);
        return;
      }
      if (v == Verdict::more) {
        if (d.buf.size() > ctx_.options->max_buffer) give_up(d);
        in = {};
        return;
      }
      if (v == Verdict::http09 && !request) return http09_answer(d, in);
      if (v == Verdict::ok && !request) seen_http_ = true;
      http09 = v == Verdict::http09;
      d.line_ok = true;
    }
    size_t stop = std::string::npos;
    if (http09) {
      stop = d.buf.find('\n') + 1;
    } else {
      size_t end = d.buf.find("\r\n\r\n", keep >= 3 ? keep - 3 : 0);
      size_t lf_end = end == std::string::npos ? d.buf.find("\n\n", keep >= 1 ? keep - 1 : 0) : std::string::npos;
      stop = end != std::string::npos ? end + 4 : lf_end != std::string::npos ? lf_end + 2 : std::string::npos;
    }
    if (stop == std::string::npos) {
      if (d.buf.size() > ctx_.options->max_buffer) give_up(d);
      in = {};
      return;
    }
    in.remove_prefix(stop - keep);
    std::string head = d.buf.substr(0, stop);
    d.buf.clear();
    d.line_ok = false;
    if (request) {
      on_request(head, d, http09);
    } else {
      on_response(head, d);
    }
  }

  // A response start line; an HTTP/0.9 request is answered without one.
  Verdict response_line(std::string_view buf) {
    Verdict v = check_status_line(buf);
    if (v != Verdict::bad) return v;
    const Txn* t = peek(side(false).index_next);
    return t && t->has_request && t->version == "0.9" ? Verdict::http09 : Verdict::bad;
  }

  void on_request(std::string_view text, Side& d, bool http09) {
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    size_t sp1 = line.find(' ');
    size_t sp2 = http09 ? line.size() : line.rfind(' ');
    const uint64_t index = next_request_++;
    Txn* t = txn_at(index);
    d.index = index;
    d.in_message = true;
    d.expect_continue = false;
    d.await_answer = false;
    uint64_t length = 0;
    bool chunked = false;
    Txn scratch;  // when the transaction was already reported (too many waiting)
    Txn& r = t ? *t : scratch;
    if (!http09) seen_http_ = true;
    r.has_request = true;
    r.request_ts = d.start_ts;
    r.method = std::string(line.substr(0, sp1));
    r.uri = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    r.version = http09 ? std::string("0.9") : std::string(line.substr(sp2 + 1 + 5));
    if (!http09) {
      for_headers(text.substr(eol + 1), [&](std::string_view name, std::string_view value) {
        if (iequals(name, "host")) {
          r.host = std::string(value);
        } else if (iequals(name, "user-agent")) {
          r.user_agent = std::string(value);
        } else if (iequals(name, "referer")) {
          r.referrer = std::string(value);
        } else if (iequals(name, "authorization")) {
          std::string scheme(value.substr(0, std::min<size_t>(value.find(' '), 32)));
          for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          r.authorization = std::move(scheme);
        } else if (iequals(name, "content-length")) {
          std::from_chars(value.data(), value.data() + value.size(), length);
        } else if (iequals(name, "transfer-encoding") && value.find("chunked") != std::string_view::npos) {
          chunked = true;
        } else if (iequals(name, "expect") && iequals(value, "100-continue")) {
          d.expect_continue = true;
        } else if (iequals(name, "upgrade")) {
          d.await_answer = true;
        }
      });
    }
    if (r.method == "CONNECT") {
      d.await_answer = true;
      chunked = false;
      length = 0;
    }
    if (http09) {
      d.body_bytes = 0;
      d.state = Side::State::after_09;
      d.in_message = false;
      r.request_done = true;
      return;
    }
    start_body(d, chunked, length, true);
  }

  void on_response(std::string_view text, Side& d) {
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    size_t sp = line.find(' ');
    int status = 0;
    auto code = line.substr(sp + 1, 3);
    std::from_chars(code.data(), code.data() + code.size(), status);
    uint64_t length = 0;
    bool chunked = false, has_length = false;
    for_headers(text.substr(eol + 1), [&](std::string_view name, std::string_view value) {
      if (iequals(name, "content-length")) {
        has_length = std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc();
      } else if (iequals(name, "transfer-encoding") && value.find("chunked") != std::string_view::npos) {
        chunked = true;
      }
    });
    if (status < 200 && status != 101) return;  // 100 Continue and friends: the real response follows
    const uint64_t index = d.index_next;
    Txn* t = txn_at(index);
    d.index = index;
    d.in_message = true;
    d.body_bytes = 0;
    if (t) {
      t->has_response = true;
      t->status = status;
      t->response_version = std::string(line.substr(5, 3));
      t->response_ts = d.start_ts;
    }
    const std::string_view method = t && t->has_request ? std::string_view(t->method) : std::string_view();
    if (status == 101 || (method == "CONNECT" && status / 100 == 2)) {
      // The connection now carries something else; a 2xx to CONNECT has no body (RFC 9110 9.3.6).
      d.state = Side::State::tunnel;
      message_done(false);
      return;
    }
    if (method == "HEAD" || status == 204 || status == 304) {
      message_done(false);
    } else if (chunked || has_length) {
      start_body(d, chunked, length, false);
    } else {
      d.state = Side::State::to_close;  // the body runs to the end of the connection
    }
  }

  // The answer to an HTTP/0.9 request: no status line, the body runs to the close.
  void http09_answer(Side& d, std::string_view& in) {
    const uint64_t index = d.index_next;
    if (Txn* t = txn_at(index)) {
      t->has_response = true;
      t->response_ts = d.start_ts;
    }
    d.index = index;
    d.in_message = true;
    d.body_bytes = d.buf.size();
    d.buf.clear();
    d.state = Side::State::to_close;
    in = {};
  }

  void start_body(Side& d, bool chunked, uint64_t length, bool request) {
    d.body_bytes = 0;
    if (chunked) {
      d.state = Side::State::chunk_size;
    } else if (length > 0) {
      d.state = Side::State::body;
      d.remaining = length;
    } else {
      message_done(request);
    }
  }

  // The message in progress on one side is complete.
  void message_done(bool request) {
    Side& d = side(request);
    Txn* t = txn_at(d.index);
    d.in_message = false;
    if (request) {
      if (t) {
        t->request_done = true;
        t->request_body_bytes = d.body_bytes;
      }
      d.state = Side::State::headers;
      if (d.await_answer) {
        d.state = Side::State::wait;
        if (answered(d.index)) answer_arrived(d.index);  // the answer came first
      }
      return;
    }
    if (t) {
      t->response_done = true;
      t->response_body_bytes = d.body_bytes;
    }
    if (d.state != Side::State::tunnel) d.state = Side::State::headers;
    d.index_next = d.index + 1;
    answer_arrived(d.index);
  }

  // The final response of transaction `index` is complete: a client holding bytes for it learns
  // whether they are a tunnel or its next request.
  void answer_arrived(uint64_t index) {
    Side& q = side(true);
    if (side(false).state == Side::State::tunnel && q.state == Side::State::headers && q.buf.empty() &&
        index < next_request_) {
      q.state = Side::State::tunnel;  // switched though the request asked for no Upgrade
      return;
    }
    if (q.state != Side::State::wait || q.index != index) return;
    std::string held = std::move(q.buf);
    q.buf.clear();
    if (side(false).state == Side::State::tunnel) {
      q.state = Side::State::tunnel;
    } else {
      q.state = Side::State::headers;
      q.await_answer = false;
    }
    if (!held.empty()) feed(true, held, last_ts_);
  }

  // The final response of transaction `index` is complete (reported or not).
  bool answered(uint64_t index) const { return index < dir_[1].index_next; }

  void tunnel(bool request, std::string_view in, Timestamp ts) {
    if (!tunnel_decided_) {
      // TLS inside the tunnel starts with a handshake record; anything else is not looked at.
      tunnel_decided_ = true;
      if (static_cast<uint8_t>(in.front()) == 0x16) {
        tls_ = make_tls_parser(ctx_);
        ++ctx_.counters->tls_upgrades;
      }
    }
    if (tls_) {
      tls_->data(request ? flow::StreamDir::to_server : flow::StreamDir::to_client,
                 {reinterpret_cast<const uint8_t*>(in.data()), in.size()}, ts);
    }
  }

  // The transaction at `index`, made when first needed; null when it was already reported.
  Txn* txn_at(uint64_t index) {
    if (index < base_) return nullptr;
    while (index - base_ >= txns_.size()) {
      if (txns_.size() >= kMaxTxns) {
        ++ctx_.counters->http_gave_up;  // the oldest is reported without its other half
        emit_front();
        if (index < base_) return nullptr;
        continue;
      }
      txns_.emplace_back();
    }
    return &txns_[index - base_];
  }

  const Txn* peek(uint64_t index) const {
    return index >= base_ && index - base_ < txns_.size() ? &txns_[index - base_] : nullptr;
  }

  // A side that will send no more messages.
  bool gone(bool request) {
    auto s = side(request).state;
    return ending_ || s == Side::State::dead || s == Side::State::tunnel;
  }

  // Reports transactions from the oldest while they are whole or their missing half cannot come.
  void flush_ready() {
    while (!txns_.empty()) {
      const Txn& t = txns_.front();
      if (!t.has_request && !t.has_response) {
        if (!ending_) break;
        txns_.pop_front();
        ++base_;
        continue;
      }
      const bool request_final = t.has_request || gone(true);
      const bool response_final = t.response_done || gone(false);
      if (!request_final || !response_final) break;
      emit_front();
    }
  }

  void emit_front() {
    // A message still in progress counts the body bytes seen so far.
    Txn& t = txns_.front();
    if (dir_[0].in_message && dir_[0].index == base_ && t.has_request) t.request_body_bytes = dir_[0].body_bytes;
    if (dir_[1].in_message && dir_[1].index == base_ && t.has_response) t.response_body_bytes = dir_[1].body_bytes;
    emit(t);
    txns_.pop_front();
    ++base_;
  }

  void emit(const Txn& t) {
    ++ctx_.counters->http_transactions;
    Event e = protocol_event("network.http", "http", ctx_.ends, t.has_request ? t.request_ts : t.response_ts,
                             *ctx_.host_name);
    if (t.has_request) {
      e.set(fields::http_request_method, t.method);
      std::string_view host = t.host;
      if (t.method == "CONNECT") {
        e.set(fields::url_original, t.uri);  // authority-form: host:port, not a path
        if (host.empty()) host = t.uri;
      } else {
        set_url_target(e, t.uri);
      }
      if (!host.empty()) e.set(fields::url_domain, std::string(host_of(host)));
      if (!t.user_agent.empty()) e.set(fields::user_agent_original, t.user_agent);
      if (!t.referrer.empty()) e.set(fields::http_request_referrer, t.referrer);
      if (!t.authorization.empty()) e.set(fields::http_authorization, t.authorization);
      e.set(fields::http_version, t.version);
      e.set(field_id<"http.request.body.bytes">(), static_cast<int64_t>(t.request_body_bytes));
    } else if (!t.response_version.empty()) {
      e.set(fields::http_version, t.response_version);
    }
    if (t.has_response) {
      if (t.status > 0) e.set(fields::http_response_status_code, int64_t{t.status});
      e.set(fields::http_response_body_bytes, static_cast<int64_t>(t.response_body_bytes));
    }
    (*ctx_.sink)(std::move(e));
  }

  // The host of a Host header or an authority: the port dropped, IPv6 literals kept in brackets
  // (as ECS's url.domain has them).
  static std::string_view host_of(std::string_view authority) {
    if (authority.starts_with('[')) {
      size_t close = authority.find(']');
      return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
    }
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) == std::string_view::npos) {
      return authority.substr(0, colon);
    }
    return authority;  // a bare IPv6 address (no brackets) is left whole
  }

  // A start line no HTTP speaker would send. On a connection that has shown no HTTP yet, the
  // whole stream is something else that began with an HTTP-like word: nothing is reported.
  void refuse(bool request) {
    if (request && !seen_http_ && !side(false).buf.starts_with("HTTP/")) {
      drop_all();
      return;
    }
    give_up(side(request));
  }

  // After "GET /path\r\n" the client said more: that was not an HTTP/0.9 request.
  void not_http09() {
    if (base_ == 0 && !txns_.empty() && txns_.front().version == "0.9") {
      drop_all();
      return;
    }
    give_up(side(true));
  }

  void drop_all() {
    ++ctx_.counters->http_gave_up;
    txns_.clear();
    for (auto& d : dir_) {
      d.state = Side::State::dead;
      std::string().swap(d.buf);
    }
  }

  void give_up(Side& d) {
    if (d.state != Side::State::dead) ++ctx_.counters->http_gave_up;
    d.state = Side::State::dead;
    std::string().swap(d.buf);
  }

  ParserContext ctx_;
  Side dir_[2];
  std::deque<Txn> txns_;  // transactions from base_ on, waiting for a half or for older ones
  uint64_t base_ = 0;
  uint64_t next_request_ = 0;
  bool seen_http_ = false;
  bool ending_ = false;
  bool tunnel_decided_ = false;
  std::unique_ptr<StreamParser> tls_;
  Timestamp last_ts_{};
};

}  // namespace

bool looks_like_http_request(std::span<const uint8_t> bytes) {
  std::string_view s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  for (auto m : kMethods) {
    if (!s.starts_with(m)) continue;
    // The target's first byte, when there is one: printable, not a space or a control byte.
    return s.size() == m.size() || (!control(s[m.size()]) && s[m.size()] != ' ');
  }
  return false;
}

std::unique_ptr<StreamParser> make_http_parser(const ParserContext& ctx) { return std::make_unique<HttpParser>(ctx); }

}  // namespace vigil::agent::proto
