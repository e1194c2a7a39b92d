#pragma once

namespace vigil::agent {

// The vigil-agent command line; returns the process exit code.
int agent_main(int argc, char** argv);

}  // namespace vigil::agent
