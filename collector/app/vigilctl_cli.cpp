#include "collector/app/collector_cli.h"

#include "common/util/cli.h"

namespace vigil::collector {

int vigilctl_main(int argc, char** argv) {
  CLI::App app{"vigilctl: the operator's command line for a Vigil collector (tokens, agents, alerts, "
               "compliance reports).",
               "vigilctl"};
  cli::setup_app(app, "vigilctl");
  std::string config_path = "/etc/vigil/vigilctl.yaml";
  app.add_option("-c,--config", config_path, "vigilctl configuration (console URL, CA, API token)")
      ->capture_default_str();
  return cli::run(app, argc, argv, [&]() -> int {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  });
}

}  // namespace vigil::collector
