#include "agent/app/agent_cli.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "agent/config/agent_config.h"
#include "agent/replay/replay.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
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
  auto rules = rules::load_rules(loaded->config.rules.paths);
  if (!rules) {
    std::fputs(rules.error().c_str(), stderr);
    return 1;
  }
  cli::print_warnings(rules->diagnostics);
  std::printf("%s: configuration OK (%zu rules from %zu files)\n", path.c_str(), rules->set->rules.size(),
              rules->set->files.size());
  return 0;
}

// `rules test`: which events each rule matched, and the alerts the rule set raises on them.
int rules_test(const std::vector<std::string>& rule_paths, const std::string& events_path, bool show_alerts) {
  auto loaded = rules::load_rules(rule_paths);
  if (!loaded) {
    std::fputs(loaded.error().c_str(), stderr);
    return 1;
  }
  cli::print_warnings(loaded->diagnostics);
  std::ifstream in(events_path);
  if (!in) {
    std::fprintf(stderr, "vigil-agent: error: cannot read events file %s\n", events_path.c_str());
    return 1;
  }
  rules::Engine engine(loaded->set);
  size_t line_no = 0;
  std::map<std::string, std::vector<size_t>> matched;
  engine.set_match_callback([&](const rules::Rule& r, const Event&) { matched[r.id].push_back(line_no); });
  std::vector<Event> alerts;
  size_t malformed = 0, events = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto ev = event_from_json_line(line);
    if (!ev) {
      ++malformed;
      std::fprintf(stderr, "%s:%zu: skipped: %s\n", events_path.c_str(), line_no, ev.error().c_str());
      continue;
    }
    ++events;
    engine.process(*ev, alerts);
  }
  for (const auto& rule : loaded->set->rules) {
    auto it = matched.find(rule->id);
    if (it == matched.end()) {
      std::printf("%s: no match\n", rule->id.c_str());
      continue;
    }
    std::string lines;
    for (size_t i = 0; i < it->second.size() && i < 50; ++i) lines += (i ? "," : "") + std::to_string(it->second[i]);
    if (it->second.size() > 50) lines += ",...";
    std::printf("%s: %zu matched (lines %s)\n", rule->id.c_str(), it->second.size(), lines.c_str());
  }
  std::printf("%zu events, %zu malformed lines skipped, %zu alerts\n", events, malformed, alerts.size());
  if (show_alerts) {
    for (const auto& a : alerts) std::printf("%s\n", to_json_line(a).c_str());
  }
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
  auto* check = app.add_subcommand("check-config",
                                   "Validate a configuration file and the rules it names; exit 0 when valid, 1 "
                                   "with every problem as file:line:column.");
  check->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();

  auto* rules_cmd = app.add_subcommand("rules", "Work with detection rules.");
  rules_cmd->require_subcommand(1);
  std::vector<std::string> rule_paths;
  std::string events_path;
  bool show_alerts = false;
  auto* rules_test_cmd = rules_cmd->add_subcommand(
      "test", "Run rules over events (JSON lines) and print which events each rule matched and the alerts raised.");
  rules_test_cmd->add_option("rules", rule_paths, "Rule files or directories")->required();
  rules_test_cmd->add_option("--events", events_path, "Events, one JSON object per line")->required();
  rules_test_cmd->add_flag("--alerts", show_alerts, "Also print the alerts as JSON lines");

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
    if (rules_test_cmd->parsed()) return rules_test(rule_paths, events_path, show_alerts);
    if (replay_cmd->parsed()) return run_replay_command(replay_args);
    return 1;
  });
  // CLI11 reports usage errors with its own codes (100 and up); our contract says 1.
  return rc >= 100 ? 1 : rc;
}

}  // namespace vigil::agent
