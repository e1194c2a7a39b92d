// Plain HTTP request/response values shared by the HTTPS server and client, so that code using
// them never includes Beast or Asio.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vigil::net {

struct PeerCertificate {
  std::string common_name;
  std::string serial_hex;
};

struct HttpRequest {
  std::string method;
  std::string target;
  std::string body;  // decoded (Content-Encoding gzip undone)
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<PeerCertificate> peer;  // a client certificate that verified against our CA
  std::string remote;                   // address:port of the client

  // The value of a header (case-insensitive name), or empty.
  std::string header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  bool close = false;  // close the connection after this response
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra ones, e.g. Set-Cookie
};

}  // namespace vigil::net
