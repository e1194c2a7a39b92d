// Compiled native rules (rules/detection/*.yaml): see shared/DESIGN.md "Rules".
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include <re2/re2.h>

#include "common/event/event.h"
#include "common/i18n/text.h"

namespace vigil::agent::rules {

enum class Severity : int { info = 1, low = 2, medium = 3, high = 4, critical = 5 };
std::string_view severity_name(Severity s);

struct Cidr {
  IpAddress network;
  int prefix = 0;  // bits, counted on the 128-bit mapped form
  bool contains(const IpAddress& ip) const;
};

// "ADDRESS" or "ADDRESS/BITS" (IPv4 or IPv6); nullopt when it is neither.
std::optional<Cidr> parse_cidr(std::string_view text);

// One node of a `when` tree.
// A field inside a list of objects as a rule names it, by its ECS path ("dns.answers.data"): the
// event holds the list, and the rule's value matches when any object's leaf does.
struct NestedField {
  FieldId list;
  FieldId leaf;
};
// The list and leaf of a nested field's id, or null for every other field.
const NestedField* nested_field(FieldId id);
// True when `name` is a nested field rules may use.
bool is_nested_field(std::string_view name);

struct Condition {
  enum class Kind { all, any, not_, field };
  enum class Op { equals, contains, startswith, endswith, regex, cidr, gt, gte, lt, lte, exists };

  Kind kind = Kind::all;
  std::vector<Condition> children;  // all / any / not

  // Kind::field
  FieldId field{};
  Op op = Op::equals;
  bool cased = false;
  std::vector<std::string> strings;  // lower-cased unless `cased`
  std::vector<std::shared_ptr<const RE2>> regexes;
  std::vector<Cidr> cidrs;
  double number = 0;
  bool exists = true;
};

struct Aggregation {
  // threshold / distinct: native `threshold` / `distinct`, and Sigma event_count / value_count.
  // temporal(_ordered): Sigma correlations, every input rule within the window (in list order).
  enum class Kind { none, threshold, distinct, temporal, temporal_ordered };
  Kind kind = Kind::none;
  uint32_t count = 1;
  std::chrono::milliseconds within{0};
  std::vector<FieldId> group_by;
  FieldId distinct_field{};  // Kind::distinct
};

// One rule a Sigma correlation is built on. The correlation is fed when that rule fires (every
// match of a plain rule, every alert of an aggregating one), with the event that completed it.
struct CorrelationInput {
  size_t rule = 0;                // index in the rule set
  std::vector<FieldId> group_by;  // the correlation's group-by fields, as this input names them
  FieldId value_field{};          // value_count: the counted field, as this input names it
};

struct Feed {
  size_t correlation = 0;  // index in the rule set
  size_t input = 0;        // position in that correlation's inputs
};

struct Rule {
  std::string id;
  i18n::Text title;
  i18n::Text description;
  std::string file;  // where it came from, for messages
  Severity severity = Severity::medium;
  Condition when;
  Aggregation aggregation;
  std::chrono::milliseconds suppress{0};
  std::vector<std::string> tags;
  std::vector<std::string> techniques;                                // T1110, from attack.t1110 tags
  std::vector<std::pair<std::string, std::vector<std::string>>> compliance;  // framework -> controls
  std::vector<std::string> datasets;  // from `event.dataset` at the top of `when`: the rule's index

  // Sigma rules: author and licence travel with every alert (the Detection Rule License asks it).
  std::string author;
  std::string license;
  std::string name;  // Sigma `name`: correlations may refer to a rule by it (or by id)

  // A Sigma correlation is never matched against events; the rules of `inputs` feed it.
  bool is_correlation = false;
  std::vector<CorrelationInput> inputs;
  std::vector<Feed> feeds;  // the correlations this rule feeds when it fires
  bool emits = true;        // false when a correlation consumes its results (Sigma `generate: false`)
};

}  // namespace vigil::agent::rules
