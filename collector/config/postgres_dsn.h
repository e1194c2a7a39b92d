// What a libpq connection string (collector.storage.dsn) says, read without connecting and
// without ever repeating it: it may hold a password.
#pragma once

#include <string>

#include "common/result.h"

namespace vigil::collector {

// What a connection string says about its password.
struct DsnSecrets {
  bool inline_password = false;  // password=... in the string itself
  std::string passfile;          // passfile=..., if given
};
// Checks a connection string without connecting; the message never repeats the string.
Result<DsnSecrets> check_postgres_dsn(const std::string& dsn);
// What a log line may say about a connection string: user, host, port and database, no password.
std::string describe_postgres_dsn(const std::string& dsn);

}  // namespace vigil::collector
