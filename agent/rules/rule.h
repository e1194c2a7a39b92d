// Compiled native rules (rules/detection/*.yaml): see shared/DESIGN.md "Rules".
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <re2/re2.h>

#include "common/event/event.h"

namespace vigil::agent::rules {

enum class Severity : int { info = 1, low = 2, medium = 3, high = 4, critical = 5 };
std::string_view severity_name(Severity s);

struct Cidr {
  IpAddress network;
  int prefix = 0;  // bits, counted on the 128-bit mapped form
  bool contains(const IpAddress& ip) const;
};

// One node of a `when` tree.
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
  enum class Kind { none, threshold, distinct };
  Kind kind = Kind::none;
  uint32_t count = 1;
  std::chrono::milliseconds within{0};
  std::vector<FieldId> group_by;
  FieldId distinct_field{};  // Kind::distinct
};

struct Rule {
  std::string id;
  std::string title;
  std::string description;
  std::string file;  // where it came from, for messages
  Severity severity = Severity::medium;
  Condition when;
  Aggregation aggregation;
  std::chrono::milliseconds suppress{0};
  std::vector<std::string> tags;
  std::vector<std::string> techniques;                                // T1110, from attack.t1110 tags
  std::vector<std::pair<std::string, std::vector<std::string>>> compliance;  // framework -> controls
  std::vector<std::string> datasets;  // from `event.dataset` at the top of `when`: the rule's index
};

}  // namespace vigil::agent::rules
