// The control catalogues the collector judges against: the shipped ones (builtin_frameworks.h),
// then those of collector.frameworks over them (same id: replaced). The service and check-config
// load them alike.
#pragma once

#include <string>
#include <vector>

#include "common/compliance/framework.h"
#include "common/result.h"

namespace vigil::collector {

// `notes` receives what is worth logging: warnings of the extra files, the catalogues replaced.
Result<compliance::LoadedFrameworks> load_catalogues(const std::vector<std::string>& extra_paths,
                                                     std::vector<std::string>& notes);

}  // namespace vigil::collector
