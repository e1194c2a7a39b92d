#pragma once

namespace vigil::collector {

// The vigilctl command line; returns the process exit code.
int vigilctl_main(int argc, char** argv);

}  // namespace vigil::collector
