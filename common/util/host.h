// This machine's host name (gethostname), or "" when it cannot be read.
#pragma once

#include <string>

namespace vigil {

std::string local_host_name();

}  // namespace vigil
