// The long-running collector: store, agents listener, console listener, until SIGTERM.
#pragma once

#include "collector/config/collector_config.h"

namespace vigil::collector {

// Runs in the foreground; returns the exit code.
int run_collector(const CollectorConfig& config);

}  // namespace vigil::collector
