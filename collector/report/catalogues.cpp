#include "collector/report/catalogues.h"

#include "collector/report/builtin_frameworks.h"

namespace vigil::collector {

Result<compliance::LoadedFrameworks> load_catalogues(const std::vector<std::string>& extra_paths,
                                                     std::vector<std::string>& notes) {
  auto frameworks = compliance::load_frameworks_text(builtin_framework_texts());
  if (!frameworks) return make_error("shipped control catalogues: " + frameworks.error());
  if (extra_paths.empty()) return frameworks;
  auto extra = compliance::load_frameworks(extra_paths);
  if (!extra) return make_error("collector.frameworks: " + extra.error());
  for (const auto& d : extra->diagnostics.items()) notes.push_back(d.to_string());
  for (const auto& id : compliance::overlay_frameworks(*frameworks, std::move(*extra))) {
    notes.push_back("control catalogue '" + id + "' replaced by the one in collector.frameworks");
  }
  return frameworks;
}

}  // namespace vigil::collector
