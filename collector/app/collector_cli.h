#pragma once

namespace vigil::collector {

// The vigil-collector command line; returns the process exit code.
int collector_main(int argc, char** argv);

}  // namespace vigil::collector
