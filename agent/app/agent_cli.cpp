#include "agent/app/agent_cli.h"

#include <cstdio>

#include "agent/config/agent_config.h"
#include "common/util/cli.h"

namespace vigil::agent {

namespace {

int check_config(const std::string& path) {
  auto loaded = load_agent_config(path);
  if (!loaded) {
    std::fputs(loaded.error().c_str(), stderr);
    return 1;
  }
  cli::print_warnings(loaded->diagnostics);
  std::printf("%s: configuration OK\n", path.c_str());
  return 0;
}

}  // namespace

int agent_main(int argc, char** argv) {
  CLI::App app{"vigil-agent: captures traffic, tails logs, checks the host, evaluates rules and reports "
               "to the Vigil collector over mutual TLS.",
               "vigil-agent"};
  cli::setup_app(app, "vigil-agent");
  app.require_subcommand(1);

  std::string config_path = "/etc/vigil/agent.yaml";
  auto* check = app.add_subcommand("check-config", "Validate a configuration file and exit (0: valid, 1: errors).");
  check->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();

  return cli::run(app, argc, argv, [&]() -> int {
    if (check->parsed()) return check_config(config_path);
    return 1;
  });
}

}  // namespace vigil::agent
