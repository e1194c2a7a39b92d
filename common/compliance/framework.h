// Control catalogues (rules/frameworks/*.yaml, shared/DESIGN.md "Compliance policies"): what a
// framework requires, of systems at which security levels. The agent maps its checks onto these
// controls; the collector derives the per-requirement self-assessment from them.
//
// A catalogue file:
//   framework: {id, title, version?, authority?, levels_meaning?, source_note?}
//   controls:
//     - id: log-retention-3m          # letters, digits, '.', '_', ':', '-'
//       title: "..."                  # a plain string (no {vi, en} form for catalogues yet)
//       group: server                 # requirement group: network | server | application | data | ...
//       levels: [3]                   # security levels (1-5) of the systems that must meet it
//       verified: false               # read in the primary text (or two independent sources)?
//       source_note: "..."            # where the value comes from; required when not verified
//       suggested: false              # optional: true when the standard only recommends the value
//                                     # (marked "gợi ý" in the text) rather than requiring it
//       applies_to: system            # optional: whom the control asks something of:
//                                     #   system (default): the information system itself, its
//                                     #     servers, network, applications and data: what an
//                                     #     agent on a server can give evidence for;
//                                     #   workstation: user computers (desktops, laptops):
//                                     #     checks and rules run on servers give no evidence for
//                                     #     it, so none is mapped to it;
//                                     #   organisation: the agency's processes and people (reports,
//                                     #     assessments): evidenced by records, not by host state.
//       retention: 90d                # optional: events must be kept at least this long (the
//                                     #   collector's retention.events is held to it, per level)
// Any other key on a control (or in `framework:`) is refused with file:line:column.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/yaml_reader.h"
#include "common/result.h"

namespace vigil::compliance {

// Whom a control asks something of (`applies_to:` in a catalogue).
enum class ControlScope { system, workstation, organisation };
std::string_view scope_name(ControlScope scope);

struct Control {
  std::string id;
  i18n::Text title;
  std::string group;
  std::vector<int> levels;  // security levels (1-5) of the systems that must meet it
  bool verified = false;
  std::string source_note;
  bool suggested = false;  // the standard only recommends the value; it does not require it
  ControlScope scope = ControlScope::system;
  // How long events must be kept (log retention controls); the collector's retention.events
  // defaults to the longest its systems' levels require and is reported against it.
  std::optional<std::chrono::milliseconds> retention{};
  // Whether systems at `level` must meet it.
  bool applies_to(int level) const;
};

struct Framework {
  std::string id;
  i18n::Text title;
  std::string version;
  std::string authority;
  std::string source_note;
  std::vector<Control> controls;
  std::string file;
  const Control* find(std::string_view control_id) const;
};

// The longest event retention `fw`'s controls require of a system at `level` (nullopt: none).
std::optional<std::chrono::milliseconds> required_retention(const Framework& fw, int level);

struct LoadedFrameworks {
  std::vector<Framework> frameworks;
  config::Diagnostics diagnostics;  // warnings
  const Framework* find(std::string_view id) const;
};

// Framework files or directories of them (*.yaml with a top-level `framework:`; other YAML files
// in a directory are skipped). Every problem is reported as file:line:column.
Result<LoadedFrameworks> load_frameworks(const std::vector<std::string>& paths);
// Catalogues given as text: (name diagnostics call it, YAML).
Result<LoadedFrameworks> load_frameworks_text(const std::vector<std::pair<std::string, std::string>>& texts);
// Catalogues of `over` replace those of `base` with the same id; the others are added. Returns the
// ids replaced.
std::vector<std::string> overlay_frameworks(LoadedFrameworks& base, LoadedFrameworks over);

// An identifier of a framework, control, policy or check: letters, digits, '.', '_', ':', '-',
// starting with a letter or digit. Reports an error at `n` otherwise.
bool read_id(config::YamlReader& r, const YAML::Node& n, std::string& out, std::string_view what);
bool valid_id(std::string_view id);
// A list of security levels 1-5.
void read_levels(config::YamlReader& r, const YAML::Node& n, std::vector<int>& out, std::string_view what);

}  // namespace vigil::compliance
