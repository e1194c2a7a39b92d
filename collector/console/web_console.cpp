#include "collector/console/web_console.h"

#include <algorithm>
#include <cctype>

#include <openssl/crypto.h>

#include "common/pki/pki.h"

namespace vigil::collector::console {

namespace {

std::string_view content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

bool has_header(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return true;
    }
  }
  return false;
}

// If-None-Match holds the ETag (or "*"), as one of a comma-separated list.
bool etag_matches(const std::string& if_none_match, std::string_view etag) {
  if (if_none_match.empty()) return false;
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

}  // namespace

std::optional<net::HttpResponse> serve_file(const net::HttpRequest& request, std::string_view path) {
  std::string_view name;
  if (path == "/" || path == "/index.html") {
    name = "index.html";
  } else if (path.starts_with("/ui/")) {
    name = path.substr(4);
  } else {
    return std::nullopt;
  }
  if (request.method != "GET") {
    net::HttpResponse r{405, "GET only\n", "text/plain; charset=utf-8", false};
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    const EmbeddedFile& f = kEmbeddedFiles[i];
    if (name != f.name) continue;
    net::HttpResponse r;
    r.headers.emplace_back("ETag", f.etag);
    // Revalidated on every load (a 304 costs one round trip): an upgraded collector's files are
    // picked up at once without versioned names.
    r.headers.emplace_back("Cache-Control", "no-cache");
    if (etag_matches(request.header("If-None-Match"), f.etag)) {
      r.status = 304;
      r.content_type = std::string(content_type(name));
      return r;
    }
    r.status = 200;
    r.content_type = std::string(content_type(name));
    r.body.assign(reinterpret_cast<const char*>(f.data), f.size);
    return r;
  }
  return net::HttpResponse{404, "not found\n", "text/plain; charset=utf-8", false};
}

void add_security_headers(net::HttpResponse& response, std::string_view path) {
  if (!has_header(response, "Content-Security-Policy")) {
    // Printable reports are self-contained pages styled inline, with no script: they get a
    // policy of their own, as strict for everything else.
    bool report = path.starts_with("/api/v1/reports/") && response.content_type.starts_with("text/html");
    response.headers.emplace_back("Content-Security-Policy",
                                  std::string(report ? kReportContentSecurityPolicy : kContentSecurityPolicy));
  }
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  if (!path.starts_with("/ui/") && path != "/" && path != "/index.html" && !has_header(response, "Cache-Control")) {
    response.headers.emplace_back("Cache-Control", "no-store");
  }
}

std::string session_cookie(const net::HttpRequest& request) {
  std::string header = request.header("Cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    size_t semi = rest.find(';');
    std::string_view pair = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == "vigil_session") return std::string(pair.substr(eq + 1));
  }
  return "";
}

bool authenticated_by_cookie(const net::HttpRequest& request) {
  return request.header("Authorization").rfind("Bearer ", 0) != 0 && !session_cookie(request).empty();
}

std::string csrf_token(const std::string& session_secret) { return pki::sha256_hex("vigil-csrf:" + session_secret); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool cross_site(const net::HttpRequest& request) {
  std::string site = request.header("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin" && site != "none") return true;
  std::string origin = request.header("Origin");
  if (origin.empty()) return false;  // not a browser, or an old one: the token still decides
  std::string host = request.header("Host");
  return host.empty() || origin != "https://" + host;
}

std::string csrf_refusal(const net::HttpRequest& request) {
  if (request.method == "GET" || request.method == "HEAD") return "";
  if (!authenticated_by_cookie(request)) return "";
  if (cross_site(request)) return "cross-site request refused";
  std::string sent = request.header("X-CSRF-Token");
  if (sent.empty()) return "missing X-CSRF-Token header (the token comes with login and GET /api/v1/session)";
  if (!constant_time_equal(sent, csrf_token(session_cookie(request)))) return "wrong X-CSRF-Token";
  return "";
}

}  // namespace vigil::collector::console
