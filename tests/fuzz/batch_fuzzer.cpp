// libFuzzer target for the collector's batch ingest: a POST /v1/batches body as a hostile agent
// sends it (NDJSON {epoch, seq, event}). Every record kept must serialise and parse back, every
// quarantined line must carry a reason and valid UTF-8, and nothing may recurse with the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "collector/ingest/batch_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto batch = vigil::collector::parse_batch(body, 1000, "agt-fuzz", "fuzz-host");
  for (const auto& r : batch.records) {
    auto back = nlohmann::json::parse(r.json, nullptr, false);
    if (back.is_discarded() || !back.is_object()) std::abort();
  }
  for (const auto& q : batch.quarantined) {
    if (q.reason.empty()) std::abort();
    (void)nlohmann::json(q.body).dump();  // throws on invalid UTF-8
  }
  return 0;
}
