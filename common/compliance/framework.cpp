#include "common/compliance/framework.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>
#include <set>

#include <fmt/format.h>

#include "common/config/content_files.h"

namespace vigil::compliance {

using config::MapReader;
using config::YamlReader;
namespace fs = std::filesystem;

std::string_view scope_name(ControlScope scope) {
  switch (scope) {
    case ControlScope::system: return "system";
    case ControlScope::workstation: return "workstation";
    case ControlScope::organisation: return "organisation";
  }
  return "system";
}

bool Control::applies_to(int level) const {
  return std::find(levels.begin(), levels.end(), level) != levels.end();
}

const Control* Framework::find(std::string_view control_id) const {
  for (const auto& c : controls) {
    if (c.id == control_id) return &c;
  }
  return nullptr;
}

const Framework* LoadedFrameworks::find(std::string_view id) const {
  for (const auto& f : frameworks) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

bool valid_id(std::string_view id) {
  if (id.empty() || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char ch : id) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

bool read_id(YamlReader& r, const YAML::Node& n, std::string& out, std::string_view what) {
  if (!r.read(n, out, what)) return false;
  if (!valid_id(out)) {
    r.error(n, fmt::format("{}: '{}' is not a valid id (letters, digits, '.', '_', ':', '-')", what, out));
    return false;
  }
  return true;
}

void read_levels(YamlReader& r, const YAML::Node& n, std::vector<int>& out, std::string_view what) {
  if (!n.IsSequence()) {
    r.error(n, fmt::format("{}: expected a list of levels 1-5", what));
    return;
  }
  for (const auto& item : n) {
    int64_t v = 0;
    if (r.read(item, v, what, 1, 5)) out.push_back(static_cast<int>(v));
  }
}

namespace {

// ---- frameworks --------------------------------------------------------------------------------

void parse_framework(YamlReader& r, const YAML::Node& root, Framework& fw) {
  MapReader top(r, root, "");
  {
    MapReader m(r, top.require("framework"), "framework");
    if (auto v = m.require("id")) read_id(r, v, fw.id, "framework.id");
    if (auto v = m.require("title")) r.read(v, fw.title, "framework.title");
    if (auto v = m.get("version")) r.read(v, fw.version, "framework.version");
    if (auto v = m.get("authority")) r.read(v, fw.authority, "framework.authority");
    if (auto v = m.get("source_note")) r.read(v, fw.source_note, "framework.source_note");
    if (auto v = m.get("levels_meaning")) {
      i18n::Text s;  // read for its checks; not shown anywhere yet
      r.read(v, s, "framework.levels_meaning");
    }
  }
  auto controls = top.require("controls");
  if (!controls) return;
  if (!controls.IsSequence()) {
    r.error(controls, "controls: expected a list of controls");
    return;
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < controls.size(); ++i) {
    const YAML::Node item = controls[i];
    std::string ctx = fmt::format("controls[{}]", i);
    MapReader m(r, item, ctx);
    Control c;
    if (auto v = m.require("id")) {
      if (read_id(r, v, c.id, m.path("id")) && !ids.insert(c.id).second) {
        r.error(v, fmt::format("duplicate control id '{}'", c.id));
      }
    }
    if (auto v = m.require("title")) r.read(v, c.title, m.path("title"));
    if (auto v = m.require("group")) r.read(v, c.group, m.path("group"));
    if (auto v = m.require("levels")) read_levels(r, v, c.levels, m.path("levels"));
    if (auto v = m.require("verified")) r.read(v, c.verified, m.path("verified"));
    if (auto v = m.get("source_note")) r.read(v, c.source_note, m.path("source_note"));
    if (auto v = m.get("suggested")) r.read(v, c.suggested, m.path("suggested"));
    if (auto v = m.get("applies_to")) {
      std::string scope;
      if (r.read_choice(v, scope, m.path("applies_to"), {"system", "workstation", "organisation"})) {
        c.scope = scope == "workstation"    ? ControlScope::workstation
                  : scope == "organisation" ? ControlScope::organisation
                                            : ControlScope::system;
      }
    }
    if (auto v = m.get("retention")) {
      std::chrono::milliseconds d{0};
      if (r.read_duration(v, d, m.path("retention"), std::chrono::hours(24), std::chrono::hours(24 * 3650))) c.retention = d;
    }
    if (!c.verified && c.source_note.empty() && m.is_map()) {
      r.error(item, fmt::format("{}: an unverified control needs a source_note saying why", ctx));
    }
    fw.controls.push_back(std::move(c));
  }
}

}  // namespace

namespace {

// One loaded file or text: a framework added to `out`, problems to `diags`.
void add_framework(YamlReader& r, const std::optional<YAML::Node>& root, bool must_be_framework,
                   std::map<std::string, std::string>& seen, LoadedFrameworks& out, config::Diagnostics& diags) {
  if (root) {
    if (!root->IsMap() || !(*root)["framework"]) {
      if (must_be_framework) r.error(*root, "not a framework file (expected a top-level 'framework:')");
    } else {
      Framework fw;
      fw.file = r.file();
      parse_framework(r, *root, fw);
      if (!fw.id.empty()) {
        auto [it, inserted] = seen.emplace(fw.id, fw.file);
        if (!inserted) {
          r.error((*root)["framework"]["id"], fmt::format("duplicate framework id '{}' (also in {})", fw.id, it->second));
        }
      }
      out.frameworks.push_back(std::move(fw));
    }
  }
  for (const auto& d : r.diagnostics().items()) diags.add(d);
}

}  // namespace

Result<LoadedFrameworks> load_frameworks(const std::vector<std::string>& paths) {
  LoadedFrameworks out;
  config::Diagnostics diags;
  std::map<std::string, std::string> seen;
  // The top level of each directory, or the file named (common/config/content_files.h); a file
  // named must be a catalogue, a directory's other files are other loaders'.
  std::set<std::string> taken;
  for (const auto& p : paths) {
    std::error_code ec;
    const bool explicit_file = !fs::is_directory(p, ec);
    config::ContentFiles walked;
    config::walk_content({p}, false, walked, taken);
    for (const auto& missing : walked.missing) {
      diags.add({config::Diagnostic::Severity::error, missing, 0, 0, "framework path does not exist"});
    }
    for (const auto& f : walked.files) {
      if (!explicit_file && f.kind != config::ContentKind::framework && f.kind != config::ContentKind::unknown) continue;
      YamlReader r(f.path.string());
      add_framework(r, r.load_file(), explicit_file, seen, out, diags);
    }
  }
  if (diags.has_errors()) return make_error(diags.to_string());
  out.diagnostics = std::move(diags);
  return out;
}

Result<LoadedFrameworks> load_frameworks_text(const std::vector<std::pair<std::string, std::string>>& texts) {
  LoadedFrameworks out;
  config::Diagnostics diags;
  std::map<std::string, std::string> seen;
  for (const auto& [name, text] : texts) {
    YamlReader r(name);
    add_framework(r, r.load_string(text), true, seen, out, diags);
  }
  if (diags.has_errors()) return make_error(diags.to_string());
  out.diagnostics = std::move(diags);
  return out;
}

std::vector<std::string> overlay_frameworks(LoadedFrameworks& base, LoadedFrameworks over) {
  std::vector<std::string> replaced;
  for (auto& fw : over.frameworks) {
    auto it = std::find_if(base.frameworks.begin(), base.frameworks.end(),
                           [&](const Framework& f) { return f.id == fw.id; });
    if (it != base.frameworks.end()) {
      replaced.push_back(fw.id);
      *it = std::move(fw);
    } else {
      base.frameworks.push_back(std::move(fw));
    }
  }
  for (const auto& d : over.diagnostics.items()) base.diagnostics.add(d);
  return replaced;
}

std::optional<std::chrono::milliseconds> required_retention(const Framework& fw, int level) {
  std::optional<std::chrono::milliseconds> out;
  for (const auto& c : fw.controls) {
    if (c.retention && c.applies_to(level) && (!out || *c.retention > *out)) out = c.retention;
  }
  return out;
}

}  // namespace vigil::compliance
