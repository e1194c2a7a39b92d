#include "agent/app/agent_cli.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "agent/config/agent_config.h"
#include "agent/replay/replay.h"
#include "common/event/json.h"
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

struct ReplayArgs {
  std::vector<std::string> pcaps;
  std::string out = "-";
  std::string host_name;
};

int run_replay_command(const ReplayArgs& args) {
  if (args.pcaps.empty()) {
    std::fputs("vigil-agent replay: error: no input; give at least one --pcap FILE\n", stderr);
    return 1;
  }
  std::FILE* out = stdout;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> owned(nullptr, &std::fclose);
  if (args.out != "-") {
    owned.reset(std::fopen(args.out.c_str(), "w"));
    if (!owned) {
      std::fprintf(stderr, "vigil-agent replay: error: cannot write '%s': %s\n", args.out.c_str(), std::strerror(errno));
      return 1;
    }
    out = owned.get();
  }
  static char buffer[1 << 16];
  std::setvbuf(out, buffer, _IOFBF, sizeof buffer);

  replay::ReplayOptions options;
  options.pcaps = args.pcaps;
  options.host_name = args.host_name;
  const FlowSection defaults;  // one source of truth for the flow defaults
  options.flows.idle_timeout_ns = std::chrono::nanoseconds(defaults.idle_timeout).count();
  options.flows.active_timeout_ns = std::chrono::nanoseconds(defaults.active_timeout).count();
  options.flows.memory_cap = defaults.memory_cap;

  std::string line;
  auto stats = replay::run_replay(options, [&](const Event& event) {
    line = to_json_line(event);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
  });
  if (!stats) {
    std::fprintf(stderr, "vigil-agent replay: error: %s\n", stats.error().c_str());
    return 1;
  }
  if (std::fflush(out) != 0) {
    std::fprintf(stderr, "vigil-agent replay: error: writing '%s': %s\n", args.out.c_str(), std::strerror(errno));
    return 1;
  }
  if (!stats->read_errors.empty()) {
    for (const auto& e : stats->read_errors) std::fprintf(stderr, "vigil-agent replay: error: %s\n", e.c_str());
    return 1;
  }
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

  ReplayArgs replay_args;
  auto* replay_cmd = app.add_subcommand(
      "replay", "Run capture files through decode and flows; write events as JSON lines (0: inputs read to the "
                "end, 1: bad arguments or unreadable input).");
  replay_cmd->add_option("--pcap", replay_args.pcaps, "Capture file (pcap or pcapng); repeat for several")
      ->allow_extra_args(false);
  replay_cmd->add_option("--out", replay_args.out, "Output file, - for stdout")->capture_default_str();
  replay_cmd->add_option("--host-name", replay_args.host_name, "host.name of the events (default: hostname)");

  int rc = cli::run(app, argc, argv, [&]() -> int {
    if (check->parsed()) return check_config(config_path);
    if (replay_cmd->parsed()) return run_replay_command(replay_args);
    return 1;
  });
  // CLI11 reports usage errors with its own codes (100 and up); our contract says 1.
  return rc >= 100 ? 1 : rc;
}

}  // namespace vigil::agent
