#include "common/net/http_types.h"

#include <strings.h>

namespace vigil::net {

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  }
  return {};
}

}  // namespace vigil::net
