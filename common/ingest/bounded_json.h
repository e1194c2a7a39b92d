// Parsing JSON that comes from agents or clients: nesting is bounded before nlohmann's parser
// runs, so nothing later (dump, conversion to an Event) recurses deeper than kMaxJsonDepth.
#pragma once

#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ingest/record_rules.h"
#include "common/result.h"

namespace vigil::ingest {

inline Result<nlohmann::json> parse_bounded_json(std::string_view text, size_t max_depth = kMaxJsonDepth) {
  if (auto at = json_depth_exceeded(text, max_depth)) {
    return make_error(fmt::format("JSON nests deeper than {} at byte {}", max_depth, *at));
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return make_error("not valid JSON");
  return j;
}

}  // namespace vigil::ingest
