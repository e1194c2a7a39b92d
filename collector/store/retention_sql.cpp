#include "collector/store/retention_sql.h"

#include "collector/store/common_sql.h"

namespace vigil::collector {

Result<bool> SqlRetentionStore::claim_retention_round(Timestamp now, Timestamp last_before) {
  return database().query<bool>("claim_retention_round", [&](SqlConnection& c) -> Result<bool> {
    auto r = c.run(kClaimRetentionRound, SqlParams().integer(now.ns).integer(last_before.ns));
    if (!r) return make_error(r.error());
    return !r->empty();
  });
}

}  // namespace vigil::collector
