#include "collector/config/postgres_dsn.h"

#include <memory>
#include <string_view>

#include <libpq-fe.h>

namespace vigil::collector {

namespace {

// The keywords of a connection string, or an error that does not repeat the string (it may
// hold a password).
Result<std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>> parse_dsn(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (!opts) {
    PQfreemem(err);
    return make_error(
        "not a valid libpq connection string (keyword=value pairs such as \"host=db dbname=vigil user=vigil "
        "passfile=/etc/vigil/pgpass\", or a postgresql:// URI)");
  }
  return std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>(opts, &PQconninfoFree);
}

}  // namespace

Result<DsnSecrets> check_postgres_dsn(const std::string& dsn) {
  auto opts = parse_dsn(dsn);
  if (!opts) return make_error(opts.error());
  DsnSecrets out;
  for (PQconninfoOption* o = opts->get(); o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "password" && *o->val) out.inline_password = true;
    if (k == "passfile") out.passfile = o->val;
  }
  return out;
}

std::string describe_postgres_dsn(const std::string& dsn) {
  auto opts = parse_dsn(dsn);
  if (!opts) return "postgres (invalid connection string)";
  std::string user, host, port, db;
  for (PQconninfoOption* o = opts->get(); o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "user") user = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
  }
  std::string out = "postgres ";
  if (!user.empty()) out += user + "@";
  out += host.empty() ? std::string("(default host)") : host;
  if (!port.empty()) out += ":" + port;
  if (!db.empty()) out += "/" + db;
  return out;
}

}  // namespace vigil::collector
