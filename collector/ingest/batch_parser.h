// Reading one POST /v1/batches body (NDJSON records {epoch, seq, event}) from an agent, which may
// be hostile: every line is checked on its own. A line that fails (not JSON, nesting deeper than
// 64, a key twice in one object, no epoch/seq/event, out of order, or an event the store must not
// take, by the rules in common/ingest/record_rules.h) is set aside with its reason to be
// quarantined; it never stops the lines behind it. Only a bound on the whole batch (records per
// batch) refuses it. A record's json is its event's bytes as received (validated), with agent.*
// replaced.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/store/store.h"

namespace vigil::collector {

struct ParsedBatch {
  std::string epoch;  // of the batch's first line that has one
  std::vector<IncomingRecord> records;
  std::vector<QuarantinedRecord> quarantined;
  // The highest seq of the batch's epoch seen on any line, stored or quarantined: what is
  // acknowledged, so the agent moves past what was quarantined.
  uint64_t last_seq = 0;
  // Set when the batch as a whole is refused (more records than allowed).
  std::optional<std::string> refused;
};

// Bytes of a quarantined line that are kept (the rest is cut, and the cut counted in its reason).
inline constexpr size_t kQuarantineKeepBytes = 4096;

// `agent_id` and `host` (from the agent's certificate and its enrollment) replace the events'
// agent.* (collector/ingest/agent_identity.h). The columns are the events' values unescaped.
ParsedBatch parse_batch(std::string_view body, size_t max_records, const std::string& agent_id,
                        const std::string& host);

}  // namespace vigil::collector
