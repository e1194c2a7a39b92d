// Sigma rules (SigmaHQ format) compiled onto the native rule engine: logsource routing and field
// mapping from agent/rules/sigma_logsources.yaml, detection selections, modifiers and conditions,
// and correlation rules (event_count, value_count, temporal, temporal_ordered). See shared/DESIGN.md
// "Rules". What we cannot evaluate faithfully is rejected with a reason, never approximated.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/rules/rule.h"
#include "common/config/yaml_reader.h"

namespace vigil::agent::rules::sigma {

// One entry of the logsource table.
struct Logsource {
  std::string product, category, service;  // lower-case; empty when the entry leaves it out
  std::vector<std::string> datasets;
  std::vector<std::pair<FieldId, std::vector<std::string>>> where;
  std::map<std::string, std::string, std::less<>> fields;  // Sigma name -> ours
  std::string prefix;
  FieldId keywords{};
};

class Mappings {
 public:
  // The table compiled into the agent.
  static const Mappings& builtin();
  // Parses a table (the text of sigma_logsources.yaml); problems go to `reader`.
  static Mappings parse(config::YamlReader& reader, const YAML::Node& root);

  const Logsource* find(std::string_view product, std::string_view category, std::string_view service) const;
  // Our field for a Sigma field name in this logsource, or nullopt when it has none.
  static std::optional<FieldId> resolve(const Logsource& ls, std::string_view name);

 private:
  std::vector<Logsource> entries_;
};

struct Correlation {
  std::string type;  // event_count, value_count, temporal, temporal_ordered
  std::vector<std::string> refs;
  std::vector<std::string> group_by;
  std::string value_field;
  std::map<std::string, std::map<std::string, std::string>> aliases;  // alias -> rule -> field
  bool generate = false;
};

struct Document {
  enum class Kind { rule, correlation, rejected, invalid };
  Kind kind = Kind::invalid;
  Rule rule;                             // rule and correlation (inputs resolved by the loader)
  const Logsource* logsource = nullptr;  // rule
  Correlation correlation;               // correlation
  std::string reason;                    // rejected
};

// Compiles one YAML document of a Sigma file. Invalid Sigma (a condition naming no identifier, a
// malformed selection) is reported through `reader` as an error at its position; an unsupported
// feature comes back as Kind::rejected with its reason.
Document compile(config::YamlReader& reader, const YAML::Node& doc, const Mappings& mappings = Mappings::builtin());

// Sigma's base64offset: the three encodings of `value` at each offset, trimmed to the characters
// that do not depend on the surrounding bytes (exposed for tests).
std::vector<std::string> base64_offsets(std::string_view value);

}  // namespace vigil::agent::rules::sigma
