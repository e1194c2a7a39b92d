#include "common/util/host.h"

#include <unistd.h>

#include <array>

namespace vigil {

std::string local_host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return {};
  return buf.data();
}

}  // namespace vigil
