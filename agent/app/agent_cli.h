#pragma once

#include <optional>
#include <string>

#include "common/result.h"

namespace vigil::agent {

// The vigil-agent command line; returns the process exit code.
int agent_main(int argc, char** argv);

// Where `vigil-agent enroll` may find its one-time token. --token shows the secret in the process
// list, so --token-file and the environment are offered beside it.
struct EnrollTokenSources {
  std::optional<std::string> option;  // --token T
  std::optional<std::string> file;    // --token-file FILE: the token is its first line, trimmed
  std::optional<std::string> env;     // VIGIL_ENROLL_TOKEN (unset or empty: not a source)
};

// The token from exactly one source, or an error a user can act on (none, several, an unreadable
// or empty file, an empty token).
Result<std::string> enroll_token(const EnrollTokenSources& sources);

}  // namespace vigil::agent
