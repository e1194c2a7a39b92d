// The web console: its static files (collector/console/web/*, embedded into the binary at build
// time by cmake/EmbedFiles.cmake) and the browser-facing protections of the console listener:
// security headers on every response and CSRF checks on requests authenticated by the session
// cookie (a per-session token in X-CSRF-Token, and no cross-site Origin or Sec-Fetch-Site).
// Callers with "Authorization: Bearer" (API tokens, vigilctl) are not browsers riding a cookie
// and are not held to the CSRF checks.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/net/http_types.h"

namespace vigil::collector::console {

// One embedded file; the table is generated into console_files.cpp.
struct EmbeddedFile {
  const char* name;  // path under web/, e.g. "app.js"
  const unsigned char* data;
  size_t size;
  const char* etag;  // quoted, from the SHA-256 of the content
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

// "/" (index.html) and "/ui/NAME": the file with its content type, ETag and Cache-Control, or a
// 304 when If-None-Match names the current ETag, or 404 for an unknown /ui/ name. nullopt for
// any other path (the API's).
std::optional<net::HttpResponse> serve_file(const net::HttpRequest& request, std::string_view path);

// The Content-Security-Policy of the console's pages: scripts and styles from the console's own
// files only, nothing inline, no framing.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// The policy of the printable HTML reports (GET /api/v1/reports/...): inline styles and data:
// images of their own, no script, nothing loaded.
inline constexpr std::string_view kReportContentSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

// Adds the headers every console response carries: a CSP unless the handler set its own (the
// report policy on HTML reports), nosniff, no referrer, no framing; no-store on API answers
// that did not choose.
void add_security_headers(net::HttpResponse& response, std::string_view path);

// The session cookie's value, or empty.
std::string session_cookie(const net::HttpRequest& request);
// True when the request authenticates with the session cookie (no Bearer header).
bool authenticated_by_cookie(const net::HttpRequest& request);
// The CSRF token of a session: derived from the session secret, so nothing more is stored and a
// page that only sees the token learns nothing of the session.
std::string csrf_token(const std::string& session_secret);
bool constant_time_equal(std::string_view a, std::string_view b);
// True when a browser says the request comes from another site (Sec-Fetch-Site cross-site or
// same-site, or an Origin that is not this listener's own).
bool cross_site(const net::HttpRequest& request);
// Why a state-changing request riding the session cookie is refused, or empty when it may pass:
// it must come from the console's own origin and carry the session's token in X-CSRF-Token.
std::string csrf_refusal(const net::HttpRequest& request);

}  // namespace vigil::collector::console
