// The long-running agent, `vigil-agent -c agent.yaml`.
#pragma once

#include "agent/config/agent_config.h"

namespace vigil::agent {

int run_agent(const AgentConfig& config, const std::string& config_path);

}  // namespace vigil::agent
