#include "agent/app/agent_cli.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "agent/checks/policy_loader.h"
#include "agent/checks/compliance_runner.h"
#include "agent/checks/scheduled_scans.h"
#include "agent/checks/scanner.h"
#include "agent/fim/command.h"
#include "agent/config/agent_config.h"
#include "agent/app/daemon.h"
#include "agent/capture/pcap_live_source.h"
#include "agent/replay/replay.h"
#include "agent/pipeline/capture_source.h"
#include "agent/pipeline/pipeline.h"
#include "agent/ship/identity.h"
#include "agent/logs/scan.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "common/event/json.h"
#include "common/i18n/text.h"
#include "common/util/cli.h"
#include "common/util/host.h"

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
  std::string policies = "policies run externally";
  if (loaded->config.policies.run == "internal") {
    auto set = checks::load_policy_set(loaded->config.policies.paths);
    if (!set) {
      std::fputs(set.error().c_str(), stderr);
      return 1;
    }
    cli::print_warnings(set->diagnostics);
    size_t n = 0;
    for (const auto& p : set->policies) n += p.checks.size();
    policies = fmt::format("{} compliance policies with {} checks", set->policies.size(), n);
  }
  std::printf("%s: configuration OK (%zu rules from %zu files, %s)\n", path.c_str(), rules->set->rules.size(),
              rules->set->files.size(), policies.c_str());
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

// Standard output for "-", else the named file; an error names the command and the file.
class OutputFile {
 public:
  bool open(const std::string& path, const char* command) {
    if (path == "-") return true;
    owned_.reset(std::fopen(path.c_str(), "w"));
    if (!owned_) {
      std::fprintf(stderr, "vigil-agent %s: error: cannot write '%s': %s\n", command, path.c_str(), std::strerror(errno));
      return false;
    }
    return true;
  }
  std::FILE* get() const { return owned_ ? owned_.get() : stdout; }

 private:
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> owned_{nullptr, &std::fclose};
};

struct CaptureArgs {
  std::string interface;
  std::string bpf;
  double seconds = 10;
  std::string out = "-";
  bool no_promiscuous = false;
};

// `capture`: a live interface through the same decode and flow pipeline as the daemon, for a
// fixed time; every flow still open at the end is written with end_reason "shutdown".
int run_capture_command(const CaptureArgs& args) {
  capture::LiveOptions lo;
  lo.interface = args.interface;
  lo.bpf = args.bpf;
  lo.promiscuous = !args.no_promiscuous;
  auto source = capture::PcapLiveSource::open(lo);
  if (!source) {
    std::fprintf(stderr, "vigil-agent capture: error: %s\n", source.error().c_str());
    return 1;
  }
  OutputFile output;
  if (!output.open(args.out, "capture")) return 1;
  std::FILE* out = output.get();
  // The daemon's pipeline (no rules), its sink the output file.
  pipeline::PipelineOptions po;
  po.host_name = local_host_name();
  po.traffic.flows = flow_options(FlowSection{});
  uint64_t events = 0;
  std::string line;
  pipeline::Pipeline pipe(po, [&](const Event& e, std::string_view, const std::string*) {
    line.clear();
    append_json_line(line, e);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
    ++events;
  });
  pipeline::CaptureSource capture(std::move(source.value()), false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(args.seconds);
  std::vector<pollfd> fds;
  while (std::chrono::steady_clock::now() < deadline) {
    if (capture.poll(pipe) > 0) continue;
    if (capture.read_errors() > 0) {
      std::fprintf(stderr, "vigil-agent capture: error: %s\n", capture.error().c_str());
      return 1;
    }
    pipe.advance(Timestamp::now());
    fds.clear();
    capture.wake_fds(fds);
    ::poll(fds.data(), fds.size(), 100);
  }
  pipe.flush(flow::EndReason::shutdown);
  auto st = capture.stats();
  std::fflush(out);
  std::fprintf(stderr, "%s: %llu packets, %llu flow events; kernel received %llu, dropped %llu\n",
               args.interface.c_str(), static_cast<unsigned long long>(pipe.traffic().counters().packets),
               static_cast<unsigned long long>(pipe.traffic().counters().flow_events),
               static_cast<unsigned long long>(st.kernel_received), static_cast<unsigned long long>(st.kernel_dropped));
  return 0;
}

struct ReplayArgs {
  std::vector<std::string> pcaps;
  std::vector<std::string> logs;  // FORMAT:FILE
  std::vector<std::string> rules;
  bool no_rules = false;
  bool no_protocols = false;
  std::string out = "-";
  std::string host_name;
};

// The rules replay uses without --rules: the installed ones, or the source tree's for a binary
// run from its build tree.
std::vector<std::string> default_rule_paths() {
  std::error_code ec;
  if (std::filesystem::is_directory("/usr/share/vigil/rules", ec)) return {"/usr/share/vigil/rules"};
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string build_dir = VIGIL_BUILD_DIR;
  if (!ec && exe.string().starts_with(build_dir + "/")) return {std::string(VIGIL_SOURCE_DIR) + "/rules"};
  return {};
}

int run_replay_command(const ReplayArgs& args) {
  if (args.pcaps.empty() && args.logs.empty()) {
    std::fputs("vigil-agent replay: error: no input; give at least one --pcap FILE or --log FORMAT:FILE\n", stderr);
    return 1;
  }
  replay::ReplayOptions options;
  for (const auto& spec : args.logs) {
    auto colon = spec.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) {
      std::fprintf(stderr, "vigil-agent replay: error: --log %s: expected FORMAT:FILE (e.g. syslog:/var/log/auth.log)\n",
                   spec.c_str());
      return 1;
    }
    options.logs.push_back({spec.substr(0, colon), spec.substr(colon + 1)});
  }
  if (!args.no_rules) {
    auto paths = args.rules.empty() ? default_rule_paths() : args.rules;
    if (!paths.empty()) {
      auto loaded = rules::load_rules(paths);
      if (!loaded) {
        std::fprintf(stderr, "vigil-agent replay: error: rules not loaded:\n%s", loaded.error().c_str());
        return 1;
      }
      cli::print_warnings(loaded->diagnostics);
      options.rules = loaded->set;
    }
  }
  OutputFile output;
  if (!output.open(args.out, "replay")) return 1;
  std::FILE* out = output.get();
  static char buffer[1 << 16];
  std::setvbuf(out, buffer, _IOFBF, sizeof buffer);

  options.pcaps = args.pcaps;
  options.protocols = !args.no_protocols;
  options.host_name = args.host_name;
  options.flows = flow_options(FlowSection{});  // agent.yaml's defaults, one source of truth

  // Lines gathered in one buffer written by blocks: no allocation nor stdio call per event.
  std::string lines;
  lines.reserve(1 << 17);
  auto stats = replay::run_replay(options, [&](const Event& event, const std::string* json) {
    if (json) {
      lines += *json;
    } else {
      append_json_line(lines, event);
    }
    lines += '\n';
    if (lines.size() >= (1 << 16)) {
      std::fwrite(lines.data(), 1, lines.size(), out);
      lines.clear();
    }
  });
  std::fwrite(lines.data(), 1, lines.size(), out);
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

struct ScanArgs {
  std::string policy;
  std::string root = "/";
  std::vector<std::string> frameworks;
  int level = 0;  // 0: every check
  std::string format = "json";
  std::string lang = "en";  // the text format's language: titles and words (evidence stays English)
};

// The text format's words in the scan's language.
std::string outcome_word(checks::Outcome o, i18n::Lang lang) {
  if (lang == i18n::Lang::vi) {
    switch (o) {
      case checks::Outcome::pass: return "ĐẠT";
      case checks::Outcome::fail: return "KHÔNG ĐẠT";
      case checks::Outcome::error: return "LỖI";
      case checks::Outcome::not_applicable: return "KHÔNG ÁP DỤNG";
    }
  }
  std::string word(checks::outcome_name(o));
  for (auto& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return word;
}

// `scan`: one JSON document (or a text table); exit 0 nothing fails, 2 a check fails, 1 error.
int scan(const ScanArgs& a) {
  std::error_code ec;
  if (!std::filesystem::is_directory(a.root, ec)) {
    std::fprintf(stderr, "vigil-agent: error: --root %s is not a directory\n", a.root.c_str());
    return 1;
  }
  auto fw_paths = a.frameworks;
  if (fw_paths.empty()) fw_paths.push_back(checks::default_frameworks_dir(a.policy));
  auto fws = checks::load_frameworks(fw_paths);
  if (!fws) {
    std::fputs(fws.error().c_str(), stderr);
    return 1;
  }
  cli::print_warnings(fws->diagnostics);
  auto loaded = checks::load_policy(a.policy, *fws);
  if (!loaded) {
    std::fputs(loaded.error().c_str(), stderr);
    return 1;
  }
  cli::print_warnings(loaded->diagnostics);
  checks::ScanOptions opts;
  opts.root = a.root;
  if (a.level > 0) opts.level = a.level;
  checks::Scanner scanner(opts);
  auto results = scanner.scan(loaded->policy);
  auto summary = checks::summarize(results);
  std::string host = checks::root_host_name(a.root);
  if (a.format == "json") {
    std::printf("%s\n", checks::scan_document(loaded->policy, opts, results, host).dump(2).c_str());
  } else if (a.format == "jsonl") {
    // One compliance.check event per line: what the agent's inbox takes (policies.run: external).
    auto doc = checks::scan_document(loaded->policy, opts, results, host);
    for (const auto& r : doc["results"]) std::printf("%s\n", r.dump().c_str());
  } else {
    const auto lang = i18n::parse_lang(a.lang).value_or(i18n::Lang::en);
    const bool vi = lang == i18n::Lang::vi;
    const std::string level = a.level > 0 ? std::to_string(a.level) : (vi ? "tất cả" : "all");
    std::printf(vi ? "chính sách %s %s (%s), thư mục gốc %s, cấp độ %s\n" : "policy %s %s (%s), root %s, level %s\n",
                loaded->policy.id.c_str(), loaded->policy.version.c_str(), loaded->policy.title.in(lang).c_str(),
                a.root.c_str(), level.c_str());
    for (const auto& r : results) {
      std::printf(vi ? "%s %s (cấp độ %d) %s\n    %s\n" : "%s %s (level %d) %s\n    %s\n",
                  cli::pad_columns(outcome_word(r.outcome, lang), 14).c_str(), r.check->id.c_str(), r.check->level,
                  r.check->title.in(lang).c_str(), r.evidence.c_str());
      if ((r.outcome == checks::Outcome::fail || r.outcome == checks::Outcome::error) && !r.check->remediation.empty()) {
        std::printf(vi ? "    khắc phục: %s\n" : "    fix: %s\n", r.check->remediation.in(lang).c_str());
      }
    }
    auto score = summary.score();
    std::printf(vi ? "đạt %zu, không đạt %zu, lỗi %zu, không áp dụng %zu, điểm %s\n"
                   : "pass %zu, fail %zu, error %zu, not_applicable %zu, score %s\n",
                summary.pass, summary.fail, summary.error, summary.not_applicable,
                score ? fmt::format("{:.3f}", *score).c_str() : "n/a");
  }
  return checks::scan_exit_code(summary);
}

}  // namespace

Result<std::string> enroll_token(const EnrollTokenSources& sources) {
  bool from_env = sources.env && !sources.env->empty();
  int given = int{sources.option.has_value()} + int{sources.file.has_value()} + int{from_env};
  if (given == 0) {
    return make_error("no enrollment token: give --token-file FILE (or set VIGIL_ENROLL_TOKEN, or --token, which "
                      "other users can see in the process list)");
  }
  if (given > 1) {
    std::string which;
    if (sources.option) which += " --token";
    if (sources.file) which += " --token-file";
    if (from_env) which += " VIGIL_ENROLL_TOKEN";
    return make_error("the enrollment token was given more than once (" + which.substr(1) +
                      "): give exactly one of --token, --token-file and VIGIL_ENROLL_TOKEN");
  }
  if (sources.option) {
    std::string token(logs::trim(*sources.option));
    if (token.empty()) return make_error("--token: the token is empty");
    return token;
  }
  if (from_env) {
    std::string token(logs::trim(*sources.env));
    if (token.empty()) return make_error("VIGIL_ENROLL_TOKEN: the token is blank");
    return token;
  }
  std::ifstream in(*sources.file);
  if (!in) return make_error(fmt::format("--token-file {}: cannot read: {}", *sources.file, std::strerror(errno)));
  std::string line;
  std::getline(in, line);
  if (in.bad()) return make_error(fmt::format("--token-file {}: cannot read: {}", *sources.file, std::strerror(errno)));
  std::string token(logs::trim(line));
  if (token.empty()) return make_error(fmt::format("--token-file {}: no token on its first line", *sources.file));
  return token;
}

int agent_main(int argc, char** argv) {
  CLI::App app{"vigil-agent: captures traffic, tails logs, checks the host, evaluates rules and reports "
               "to the Vigil collector over mutual TLS.",
               "vigil-agent"};
  cli::setup_app(app, "vigil-agent");
  app.footer([] {
    return std::string(
        "Without a subcommand the agent runs in the foreground (as vigil-agent.service runs it) and answers:\n"
        "  SIGHUP   reload rules and policies (a broken file is reported and the previous set stays)\n"
        "  SIGUSR1  compliance scan now (policies.run: external: writes <inbox>/scan.request, which\n"
        "           vigil-scan.path watches)\n"
        "  SIGTERM  stop: flush open flows, sync the spool, deliver what it holds for up to 5 s\n"
        "\n"
        "Files:\n"
        "  /etc/vigil/agent.yaml    configuration (every key: the commented file the package ships)\n"
        "  /var/lib/vigil           enrollment key and certificate, spool, log offsets, scan inbox\n"
        "  /usr/share/vigil/rules   shipped detection rules, compliance policies, control catalogues\n"
        "\n"
        "Exit status: 0 success, 1 error; scan: 2 when a check fails; fim check: 2 when something changed.");
  });
  app.require_subcommand(0, 1);

  std::string config_path = "/etc/vigil/agent.yaml";
  app.add_option("-c,--config", config_path, "Run the agent in the foreground with this configuration")
      ->capture_default_str();

  EnrollOptions enroll_opts;
  EnrollTokenSources token_sources;
  std::string enroll_collector;
  auto* enroll_cmd = app.add_subcommand(
      "enroll", "Enroll with a collector: check its CA against the pin, then trade the one-time token and a "
                "CSR made here for this agent's certificate (stored in agent.state_dir).");
  enroll_cmd->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  enroll_cmd->add_option("--token", token_sources.option,
                         "One-time enrollment token (vigilctl tokens create); visible to other users in the "
                         "process list: prefer --token-file or VIGIL_ENROLL_TOKEN");
  enroll_cmd->add_option("--token-file", token_sources.file,
                         "File whose first line is the enrollment token (give exactly one token source)");
  enroll_cmd->add_option("--ca-pin", enroll_opts.ca_pin, "sha256:<hex> printed by 'vigil-collector init'")
      ->required();
  enroll_cmd->add_option("--collector", enroll_collector, "HOST:PORT (default: the first of collector.addresses)");
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
  replay_cmd->add_option("--pcap", replay_args.pcaps,
                         "Capture files (pcap or pcapng): --pcap A B or --pcap A --pcap B; packets are merged by time");
  replay_cmd->add_option("--log", replay_args.logs,
                         "Log files as FORMAT:FILE (syslog, nginx, apache, nginx_error, apache_error, auditd, raw); "
                         "repeatable, merged with the packets by time");
  replay_cmd->add_option("--rules", replay_args.rules,
                         "Rule files or directories (default: /usr/share/vigil/rules, or the source tree's rules/ "
                         "for a binary in its build tree)");
  replay_cmd->add_flag("--no-rules", replay_args.no_rules, "Run no rules (events only)");
  replay_cmd->add_flag("--no-protocols", replay_args.no_protocols,
                       "No DNS/TLS/HTTP/SSH metadata (flows and anomalies only; for comparing throughput)");
  replay_cmd->add_option("--out", replay_args.out, "Output file, - for stdout")->capture_default_str();
  replay_cmd->add_option("--host-name", replay_args.host_name, "host.name of the events (default: hostname)");


  CaptureArgs capture_args;
  auto* capture_cmd = app.add_subcommand(
      "capture", "Capture an interface live for a while through decode and flows; write the flow events as JSON "
                 "lines (needs root or CAP_NET_RAW).");
  capture_cmd->add_option("-i,--interface", capture_args.interface, "Interface to capture")->required();
  capture_cmd->add_option("--bpf", capture_args.bpf, "BPF filter (tcpdump syntax)");
  capture_cmd->add_option("--seconds", capture_args.seconds, "How long to capture")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  capture_cmd->add_option("--out", capture_args.out, "Output file, - for stdout")->capture_default_str();
  capture_cmd->add_flag("--no-promiscuous", capture_args.no_promiscuous, "Leave the interface out of promiscuous mode");

  ScanArgs scan_args;
  auto* scan_cmd = app.add_subcommand(
      "scan", "Evaluate a compliance policy against this host (or a host image under --root) and print one JSON "
              "document; exit 0 when nothing fails, 2 when a check fails, 1 on error.");
  scan_cmd->add_option("--policy", scan_args.policy, "Policy file (rules/policies/*.yaml)")->required();
  scan_cmd->add_option("--root", scan_args.root, "Evaluate every path under this directory")->capture_default_str();
  scan_cmd->add_option("--level", scan_args.level, "Only checks whose level is at most N (1-5)")->check(CLI::Range(1, 5));
  scan_cmd->add_option("--format", scan_args.format, "json (one document), jsonl (one event per line) or text")
      ->check(CLI::IsMember({"json", "jsonl", "text"}))
      ->capture_default_str();
  scan_cmd->add_option("--lang", scan_args.lang, "Language of the text format: en (default) or vi")
      ->check(CLI::IsMember({"en", "vi"}));
  scan_cmd->add_option("--frameworks", scan_args.frameworks,
                       "Control catalogues (files or directories; default: <policy dir>/../frameworks)");

  // The daemon's compliance scan in a child process (agent/checks/scheduled_scans.h): started by
  // the agent itself, so it is left out of --help.
  checks::ScheduledScanArgs scheduled_args;
  auto* scheduled_cmd = app.add_subcommand(
      "scheduled-scan", "The running agent's compliance scan: every policy under --path, one event per line.");
  scheduled_cmd->group("");
  scheduled_cmd->add_option("--path", scheduled_args.paths, "Policies and catalogues (files or directories)");
  scheduled_cmd->add_option("--root", scheduled_args.root, "Evaluate every path under this directory");
  scheduled_cmd->add_flag("--check", scheduled_args.check, "Only load the policies and print what they hold");
  scheduled_cmd->add_option("--copy-to", scheduled_args.copy_to, "With --check: copy the policy files under DIR");
  scheduled_cmd->add_flag("--drop-ambient", scheduled_args.drop_ambient,
                          "Clear the ambient capabilities the agent raised for this process");

  // File integrity, one shot: `fim baseline` records trees, `fim check` reports what changed.
  fim::CommandArgs fim_args;
  auto* fim_cmd = app.add_subcommand("fim", "File integrity: record trees (baseline) and report what changed (check).");
  fim_cmd->require_subcommand(1);
  auto add_fim_walk_options = [&](CLI::App* c) {
    c->add_option("--ignore", fim_args.ignore,
                  "Glob to leave out, relative to each --path: '*.log' (a name at any depth), 'cache/**' "
                  "(a path; ** spans directories); repeatable");
    c->add_flag("--no-recursive", fim_args.no_recursive, "Only each --path and the entries directly inside it");
    c->add_option("--max-files", fim_args.max_files, "Record at most N entries (0: no cap)")->capture_default_str();
    c->add_option("--max-read-rate", fim_args.max_read_rate,
                  "Read at most this many bytes per second for hashing, e.g. 50MiB (default: unthrottled)");
  };
  auto* fim_baseline_cmd = fim_cmd->add_subcommand(
      "baseline", "Walk the paths (symlinks never followed), hash regular files with SHA-256 and write the baseline.");
  fim_baseline_cmd->add_option("--path", fim_args.paths, "Directory or file to record; repeatable")->required();
  add_fim_walk_options(fim_baseline_cmd);
  fim_baseline_cmd->add_option("--out", fim_args.out, "Baseline file to write (atomically)")->required();
  fim_baseline_cmd->add_flag("--diff", fim_args.diff,
                             "Keep the contents of text files up to 64 KiB (secrets aside) in <out>.content, so "
                             "that 'fim check' shows what changed inside them");
  auto* fim_check_cmd = fim_cmd->add_subcommand(
      "check", "Compare the paths with a baseline; one file.integrity event per change as JSON lines; exit 0 when "
               "nothing changed, 2 when something did, 1 on error.");
  fim_check_cmd->add_option("--path", fim_args.paths, "Directory or file to check; repeatable (default: the baseline's)");
  add_fim_walk_options(fim_check_cmd);
  fim_check_cmd->add_option("--baseline", fim_args.baseline, "Baseline written by 'fim baseline'")->required();
  fim_check_cmd->add_option("--out", fim_args.out, "Output file, - for stdout")->default_str("-");
  fim_check_cmd->add_flag("--full", fim_args.full,
                          "Re-hash every file (default: reuse the baseline's hash when size, times, inode, mode and "
                          "owner are unchanged)");
  fim_check_cmd->add_option("--host-name", fim_args.host_name, "host.name of the events (default: hostname)");

  int rc = cli::run(app, argc, argv, [&]() -> int {
    if (capture_cmd->parsed()) return run_capture_command(capture_args);
    if (enroll_cmd->parsed()) {
      auto loaded = load_agent_config(config_path);
      if (!loaded) {
        std::fputs(loaded.error().c_str(), stderr);
        return 1;
      }
      if (!enroll_collector.empty()) {
        auto ep = config::parse_endpoint(enroll_collector);
        if (!ep) {
          std::fprintf(stderr, "vigil-agent enroll: error: --collector: expected HOST:PORT\n");
          return 1;
        }
        enroll_opts.collector = *ep;
      }
      if (const char* env = std::getenv("VIGIL_ENROLL_TOKEN")) token_sources.env = env;
      auto token = enroll_token(token_sources);
      if (!token) {
        std::fprintf(stderr, "vigil-agent enroll: error: %s\n", token.error().c_str());
        return 1;
      }
      enroll_opts.token = std::move(token.value());
      if (enroll_opts.host_name.empty()) enroll_opts.host_name = loaded->config.agent.name;
      auto id = enroll(loaded->config, enroll_opts);
      if (!id) {
        std::fprintf(stderr, "vigil-agent enroll: error: %s\n", id.error().c_str());
        return 1;
      }
      std::printf("enrolled as %s; identity stored in %s\n", id->agent_id.c_str(),
                  loaded->config.agent.state_dir.c_str());
      return 0;
    }
    if (app.get_subcommands().empty()) {
      auto loaded = load_agent_config(config_path);
      if (!loaded) {
        std::fputs(loaded.error().c_str(), stderr);
        return 1;
      }
      cli::print_warnings(loaded->diagnostics);
      return run_agent(loaded->config, config_path);
    }
    if (scan_cmd->parsed()) return scan(scan_args);
    if (scheduled_cmd->parsed()) {
      return checks::run_scheduled_scan(scheduled_args);
    }
    if (fim_baseline_cmd->parsed()) return fim::baseline_command(fim_args);
    if (fim_check_cmd->parsed()) return fim::check_command(fim_args);
    if (check->parsed()) return check_config(config_path);
    if (rules_test_cmd->parsed()) return rules_test(rule_paths, events_path, show_alerts);
    if (replay_cmd->parsed()) return run_replay_command(replay_args);
    return 1;
  });
  // CLI11 reports usage errors with its own codes (100 and up); our contract says 1.
  return rc >= 100 ? 1 : rc;
}

}  // namespace vigil::agent
