#include "collector/api/routes/common.h"

#include <cctype>

#include "common/ingest/bounded_json.h"

namespace vigil::collector::routes {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

net::HttpResponse error(int status, const std::string& message) {
  return {status, nlohmann::json{{"error", message}}.dump(), "application/json", false};
}

nlohmann::json request_json(const std::string& body) {
  auto parsed = ingest::parse_bounded_json(body);
  return parsed ? std::move(*parsed) : nlohmann::json(nlohmann::json::value_t::discarded);
}

std::optional<std::string> url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

Target split_target(const std::string& target) {
  Target t;
  size_t q = target.find('?');
  t.path = target.substr(0, q);
  if (q == std::string::npos) return t;
  std::string_view rest(target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = url_decode(pair.substr(0, eq));
    auto v = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!k || !v) {
      t.error = "malformed query string";
      return t;
    }
    t.query[*k] = *v;
  }
  return t;
}

std::optional<int64_t> to_int(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<Timestamp> parse_when(const std::string& s) {
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') return Timestamp::parse(s + "T00:00:00Z");
  return Timestamp::parse(s);
}

std::optional<std::string> paging(const std::string& k, const std::string& v, int64_t& before_id, int& limit,
                                  const char* id_kind) {
  if (k == "before") {
    auto n = to_int(v);
    if (!n) return std::string("before: ") + id_kind;
    before_id = *n;
    return std::string();
  }
  if (k == "limit") {
    auto n = to_int(v);
    if (!n || *n < 1 || *n > 1000) return std::string("limit: 1 to 1000");
    limit = static_cast<int>(*n);
    return std::string();
  }
  return std::nullopt;
}

std::optional<int> parse_severity(const std::string& s) {
  static const char* words[] = {"info", "low", "medium", "high", "critical"};
  for (int i = 0; i < 5; ++i) {
    if (s == words[i]) return i + 1;
  }
  auto n = to_int(s);
  if (n && *n >= 1 && *n <= 5) return static_cast<int>(*n);
  return std::nullopt;
}

bool clean_name(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool valid_user_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '@') return false;
  }
  return true;
}

bool valid_role(const std::string& r) { return r == "admin" || r == "analyst" || r == "auditor"; }

std::string client_address(const std::string& remote) {
  size_t colon = remote.rfind(':');
  if (colon == std::string::npos) return remote;
  size_t bracket = remote.rfind(']');
  if (bracket != std::string::npos) return bracket < colon ? remote.substr(0, colon) : remote;
  if (remote.find(':') != colon) return remote;  // a bare IPv6 address, no port
  return remote.substr(0, colon);
}

}  // namespace vigil::collector::routes
