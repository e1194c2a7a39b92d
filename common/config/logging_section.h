// The `logging:` section that every Vigil config file shares.
#pragma once

#include <string>

#include "common/config/yaml_reader.h"

namespace vigil::config {

struct LoggingSection {
  std::string level = "info";  // trace debug info warn error critical off
};

void read_logging_section(YamlReader& reader, const YAML::Node& node, LoggingSection& out);

}  // namespace vigil::config
