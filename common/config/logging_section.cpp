#include "common/config/logging_section.h"

namespace vigil::config {

void read_logging_section(YamlReader& r, const YAML::Node& n, LoggingSection& out) {
  MapReader m(r, n, "logging");
  if (auto v = m.get("level")) {
    r.read_choice(v, out.level, m.path("level"), {"trace", "debug", "info", "warn", "error", "critical", "off"});
  }
}

}  // namespace vigil::config
