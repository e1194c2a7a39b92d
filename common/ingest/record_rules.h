// What makes a record acceptable to the collector, shared by the agent (which checks what it
// spools, so it never ships a record the collector would quarantine) and the collector (which
// quarantines what fails, and never refuses the records behind it). Each side extracts the few
// facts from its own representation (an Event on the agent, parsed JSON on the collector).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::ingest {

// Nesting depth that JSON from agents or clients may reach (objects and arrays together).
inline constexpr size_t kMaxJsonDepth = 64;
// Bounds on the fields the store indexes or lists.
inline constexpr size_t kMaxIdBytes = 200;

struct RecordFacts {
  std::string_view kind;     // event.kind ("event" when absent)
  std::string_view dataset;  // event.dataset
  std::string_view rule_id;
  std::string_view policy_id;     // vigil.policy.id
  std::string_view check_result;  // vigil.check.result
};

// Why the collector would quarantine a record with these facts; nullopt when it stores it.
std::optional<std::string> refuse_reason(const RecordFacts& facts);

// Whether `result` is one of a compliance check's results.
bool is_check_result(std::string_view result);

// Where in `text` a JSON value first nests deeper than `max_depth` (byte offset), or nullopt.
// Strings are skipped with their escapes, so brackets inside them do not count. Linear, no
// recursion: safe on any input, run before a parser whose later use (dump, conversion) recurses.
std::optional<size_t> json_depth_exceeded(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Text holds no control characters (C0, DEL, C1) nor bidirectional overrides: safe to log and to
// show.
bool printable(std::string_view text);

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD: what a text
// column (PostgreSQL's above all) or a JSON string can hold.
std::string valid_utf8(std::string_view text);

}  // namespace vigil::ingest
