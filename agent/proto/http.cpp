#include "agent/proto/http.h"

#include <charconv>
#include <deque>
#include <string>
#include <string_view>

namespace vigil::agent::proto {

namespace {

constexpr size_t kMaxPending = 32;  // requests waiting for their responses

constexpr std::string_view kMethods[] = {"GET ",     "POST ",  "HEAD ",  "PUT ",     "DELETE ", "OPTIONS ",
                                         "PATCH ",   "TRACE ", "CONNECT ", "PROPFIND ", "PROPPATCH ", "MKCOL ",
                                         "COPY ",    "MOVE ",  "LOCK ",  "UNLOCK "};

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

struct Request {
  std::string method, uri, version, host, user_agent, referrer;
  std::string authorization;  // the scheme only ("basic", "bearer"...), never the credential
};

// One direction's framing: headers, then a body of known length, chunks, or up to the close.
struct Direction {
  enum class State { headers, body, chunk_size, chunk_data, chunk_crlf, trailers, to_close, dead };
  State state = State::headers;
  std::string buf;
  uint64_t remaining = 0;
  uint64_t body_bytes = 0;
};

class HttpParser final : public StreamParser {
 public:
  explicit HttpParser(const ParserContext& ctx) : ctx_(ctx) {}

  void data(flow::StreamDir dir, std::span<const uint8_t> bytes, Timestamp ts) override {
    last_ts_ = ts;
    std::string_view in(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    auto& d = dir_[static_cast<int>(dir)];
    const bool request = dir == flow::StreamDir::to_server;
    while (!in.empty() && d.state != Direction::State::dead) {
      switch (d.state) {
        case Direction::State::headers: {
          size_t keep = d.buf.size();
          d.buf.append(in);
          size_t end = d.buf.find("\r\n\r\n", keep >= 3 ? keep - 3 : 0);
          size_t lf_end = end == std::string::npos ? d.buf.find("\n\n", keep >= 1 ? keep - 1 : 0) : std::string::npos;
          size_t stop = end != std::string::npos ? end + 4 : lf_end != std::string::npos ? lf_end + 2 : std::string::npos;
          if (stop == std::string::npos) {
            if (d.buf.size() > ctx_.options->max_buffer) give_up(d);
            return;
          }
          in = in.substr(stop - keep);
          std::string head = d.buf.substr(0, stop);
          d.buf.clear();
          if (request ? !on_request(head, d) : !on_response(head, d)) give_up(d);
          break;
        }
        case Direction::State::body:
        case Direction::State::chunk_data: {
          size_t n = static_cast<size_t>(std::min<uint64_t>(d.remaining, in.size()));
          d.remaining -= n;
          d.body_bytes += n;
          in.remove_prefix(n);
          if (d.remaining == 0) {
            if (d.state == Direction::State::body) {
              message_done(d, request);
            } else {
              d.state = Direction::State::chunk_crlf;
            }
          }
          break;
        }
        case Direction::State::chunk_crlf:
        case Direction::State::chunk_size:
        case Direction::State::trailers: {
          size_t nl = in.find('\n');
          size_t take = nl == std::string_view::npos ? in.size() : nl + 1;
          d.buf.append(in.substr(0, take));
          in.remove_prefix(take);
          if (nl == std::string_view::npos) {
            if (d.buf.size() > 1024) give_up(d);
            break;
          }
          std::string_view line = trim(std::string_view(d.buf).substr(0, d.buf.size() - 1));
          if (d.state == Direction::State::chunk_crlf) {
            d.state = Direction::State::chunk_size;
          } else if (d.state == Direction::State::chunk_size) {
            uint64_t size = 0;
            auto hex = line.substr(0, line.find(';'));
            auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
            if (ec != std::errc() || hex.empty()) {
              d.buf.clear();
              give_up(d);
              break;
            }
            d.remaining = size;
            d.state = size == 0 ? Direction::State::trailers : Direction::State::chunk_data;
          } else if (line.empty()) {  // trailers end with an empty line
            d.buf.clear();
            message_done(d, request);
            break;
          }
          d.buf.clear();
          break;
        }
        case Direction::State::to_close:
          d.body_bytes += in.size();
          in = {};
          break;
        case Direction::State::dead: break;
      }
    }
  }

  void gap(flow::StreamDir dir, uint64_t bytes) override {
    auto& d = dir_[static_cast<int>(dir)];
    // Inside a body of known length a gap only shortens what is left to skip.
    if ((d.state == Direction::State::body || d.state == Direction::State::chunk_data) && bytes < d.remaining) {
      d.remaining -= bytes;
      d.body_bytes += bytes;
      return;
    }
    if (d.state == Direction::State::to_close) return;
    give_up(d);
  }

  void end(Timestamp ts) override {
    last_ts_ = ts;
    auto& resp = dir_[1];
    if (resp.state == Direction::State::to_close && response_open_) emit_response();
    // Requests never answered.
    while (!pending_.empty()) {
      emit(pending_.front(), 0, 0);
      pending_.pop_front();
    }
  }

 private:
  bool on_request(const std::string& head, Direction& d) {
    std::string_view text(head);
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    size_t sp1 = line.find(' ');
    size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return false;
    Request r;
    r.method = std::string(line.substr(0, sp1));
    r.uri = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    r.version = std::string(line.substr(sp2 + 1));
    if (!r.version.starts_with("HTTP/")) return false;
    uint64_t length = 0;
    bool chunked = false;
    for_headers(text.substr(eol + 1), [&](std::string_view name, std::string_view value) {
      if (iequals(name, "host")) r.host = std::string(value);
      else if (iequals(name, "user-agent")) r.user_agent = std::string(value);
      else if (iequals(name, "referer")) r.referrer = std::string(value);
      else if (iequals(name, "authorization")) {
        std::string scheme(value.substr(0, value.find(' ')));
        for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.authorization = scheme.substr(0, 32);
      }
      else if (iequals(name, "content-length")) std::from_chars(value.data(), value.data() + value.size(), length);
      else if (iequals(name, "transfer-encoding") && value.find("chunked") != std::string_view::npos) chunked = true;
    });
    if (pending_.size() >= kMaxPending) {
      ++ctx_.counters->http_gave_up;  // the oldest is reported without its response
      emit(pending_.front(), 0, 0);
      pending_.pop_front();
    }
    pending_.push_back(std::move(r));
    start_body(d, chunked, length, true);
    return true;
  }

  bool on_response(const std::string& head, Direction& d) {
    std::string_view text(head);
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    if (!line.starts_with("HTTP/")) return false;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return false;
    int status = 0;
    auto code = line.substr(sp + 1, 3);
    auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
    if (ec != std::errc() || status < 100 || status > 999) return false;
    uint64_t length = 0;
    bool chunked = false, has_length = false;
    for_headers(text.substr(eol + 1), [&](std::string_view name, std::string_view value) {
      if (iequals(name, "content-length")) {
        has_length = std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc();
      } else if (iequals(name, "transfer-encoding") && value.find("chunked") != std::string_view::npos) {
        chunked = true;
      }
    });
    if (status < 200) return true;  // 100 Continue and friends: the real response follows
    status_ = status;
    response_open_ = true;
    d.body_bytes = 0;
    const bool head_request = !pending_.empty() && pending_.front().method == "HEAD";
    if (head_request || status == 204 || status == 304) {
      message_done(d, false);
    } else if (chunked || has_length) {
      start_body(d, chunked, length, false);
    } else {
      d.state = Direction::State::to_close;  // the body runs to the end of the connection
    }
    return true;
  }

  template <typename F>
  static void for_headers(std::string_view text, F&& f) {
    while (!text.empty()) {
      size_t eol = text.find('\n');
      std::string_view line = trim(text.substr(0, eol));
      text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      f(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
    }
  }

  void start_body(Direction& d, bool chunked, uint64_t length, bool request) {
    d.body_bytes = 0;
    if (chunked) {
      d.state = Direction::State::chunk_size;
    } else if (length > 0) {
      d.state = Direction::State::body;
      d.remaining = length;
    } else {
      message_done(d, request);
    }
  }

  void message_done(Direction& d, bool request) {
    d.state = Direction::State::headers;
    if (!request && response_open_) emit_response();
  }

  void emit_response() {
    response_open_ = false;
    if (pending_.empty()) {
      Request unknown;  // a response whose request was not seen (capture started mid-connection)
      emit(unknown, status_, dir_[1].body_bytes);
      return;
    }
    emit(pending_.front(), status_, dir_[1].body_bytes);
    pending_.pop_front();
  }

  void emit(const Request& r, int status, uint64_t body_bytes) {
    ++ctx_.counters->http_transactions;
    Event e = protocol_event("network.http", "http", ctx_.ends, last_ts_, *ctx_.host_name);
    if (!r.method.empty()) e.set(fields::http_request_method, r.method);
    if (!r.uri.empty()) set_url_target(e, r.uri);
    if (!r.host.empty()) {
      std::string_view host = r.host;
      if (!host.starts_with('[')) host = host.substr(0, host.rfind(':') == std::string_view::npos ? host.size() : host.rfind(':'));
      e.set(fields::url_domain, std::string(host));
    }
    if (!r.user_agent.empty()) e.set(fields::user_agent_original, r.user_agent);
    if (!r.referrer.empty()) e.set(fields::http_request_referrer, r.referrer);
    if (!r.authorization.empty()) e.set(fields::http_authorization, r.authorization);
    if (!r.version.empty()) e.set(fields::http_version, r.version.substr(5));
    if (status > 0) {
      e.set(fields::http_response_status_code, int64_t{status});
      e.set(fields::http_response_body_bytes, static_cast<int64_t>(body_bytes));
    }
    (*ctx_.sink)(std::move(e));
  }

  void give_up(Direction& d) {
    if (d.state != Direction::State::dead) ++ctx_.counters->http_gave_up;
    d.state = Direction::State::dead;
    std::string().swap(d.buf);
  }

  ParserContext ctx_;
  Direction dir_[2];
  std::deque<Request> pending_;
  int status_ = 0;
  bool response_open_ = false;
  Timestamp last_ts_{};
};

}  // namespace

bool looks_like_http_request(std::span<const uint8_t> bytes) {
  std::string_view s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  for (auto m : kMethods) {
    if (s.starts_with(m)) return true;
  }
  return false;
}

std::unique_ptr<StreamParser> make_http_parser(const ParserContext& ctx) { return std::make_unique<HttpParser>(ctx); }

}  // namespace vigil::agent::proto
