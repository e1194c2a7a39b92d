#include "collector/app/collector_cli.h"

#include <cstdio>

#include "collector/config/collector_config.h"
#include "common/util/cli.h"

namespace vigil::collector {

namespace {

int check_config(const std::string& path) {
  auto loaded = load_collector_config(path);
  if (!loaded) {
    std::fputs(loaded.error().c_str(), stderr);
    return 1;
  }
  cli::print_warnings(loaded->diagnostics);
  std::printf("%s: configuration OK\n", path.c_str());
  return 0;
}

}  // namespace

int collector_main(int argc, char** argv) {
  CLI::App app{"vigil-collector: enrolls Vigil agents, stores their events, alerts and check results, "
               "and serves the console and reports.",
               "vigil-collector"};
  cli::setup_app(app, "vigil-collector");
  app.require_subcommand(1);

  std::string config_path = "/etc/vigil/collector.yaml";
  auto* check = app.add_subcommand("check-config", "Validate a configuration file and exit (0: valid, 1: errors).");
  check->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();

  return cli::run(app, argc, argv, [&]() -> int {
    if (check->parsed()) return check_config(config_path);
    return 1;
  });
}

}  // namespace vigil::collector
