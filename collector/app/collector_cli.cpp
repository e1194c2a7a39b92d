#include "collector/app/collector_cli.h"
#include "collector/fleet/bundle_builder.h"

#include <cstdio>
#include <filesystem>

#include "collector/app/service.h"
#include "collector/config/collector_config.h"
#include "collector/pki/init.h"
#include "collector/pki/rotate.h"
#include "collector/report/catalogues.h"
#include "collector/retention/retention.h"
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
  // Events kept less long than a catalogue asks of some level: a system at that level fails its
  // log retention control (unset, retention.events follows the systems' levels).
  const auto& retention = loaded->config.collector.retention;
  if (retention.events_line > 0) {
    std::vector<std::string> notes;
    auto catalogues = load_catalogues(loaded->config.collector.frameworks, notes);
    if (catalogues) {
      for (const auto& shortfall : retention_shortfalls(retention.events, *catalogues)) {
        std::fprintf(stderr,
                     "%s:%d:%d: warning: collector.retention.events: %s is below what %s: a system at that level fails "
                     "its log retention control\n",
                     path.c_str(), retention.events_line, retention.events_column,
                     config::format_duration(retention.events).c_str(), shortfall.c_str());
      }
    }
  }
  std::printf("%s: configuration OK\n", path.c_str());
  return 0;
}

// The PKI directory of `--dir DIR` (DIR/pki), else of the configuration's pki_dir.
Result<std::filesystem::path> pki_dir_of(const std::string& dir, const std::string& config_path) {
  if (!dir.empty()) return std::filesystem::path(dir) / "pki";
  auto loaded = load_collector_config(config_path, /*check_pki=*/false);
  if (!loaded) return make_error(loaded.error());
  return std::filesystem::path(loaded->config.collector.pki_dir);
}

}  // namespace

int collector_main(int argc, char** argv) {
  CLI::App app{
      "vigil-collector: enrolls Vigil agents, stores their events, alerts and check results, "
      "and serves the console and reports.",
      "vigil-collector"};
  cli::setup_app(app, "vigil-collector");
  app.footer([] {
    return std::string(
        "Without a subcommand the collector runs in the foreground (as vigil-collector.service runs it);\n"
        "SIGTERM stops it. Run init once, as root, before the first start.\n"
        "\n"
        "Files:\n"
        "  /etc/vigil/collector.yaml  configuration (every key: the commented file the package ships)\n"
        "  /etc/vigil/vigilctl.yaml   written by init: console URL, CA and admin API token (root only)\n"
        "  /var/lib/vigil-collector   store (vigil.db) and PKI (pki/)\n"
        "\n"
        "Exit status: 0 success, 1 error.");
  });
  app.require_subcommand(0, 1);

  std::string config_path = "/etc/vigil/collector.yaml";
  app.add_option("-c,--config", config_path, "Run the collector in the foreground with this configuration")
      ->capture_default_str();
  auto* check = app.add_subcommand("check-config", "Validate a configuration file and exit (0: valid, 1: errors).");
  check->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();

  InitOptions init_opts;
  std::string init_dir;
  auto* init = app.add_subcommand(
      "init",
      "Create the PKI (CA, server certificate), collector.yaml and vigilctl.yaml with an admin token; "
      "prints the CA pin agents enroll with.");
  init->add_option("--dir", init_dir, "Self-contained directory to write (default: the paths of -c)");
  init->add_option("-c,--config", config_path, "Configuration whose paths to use when --dir is not given")
      ->capture_default_str();
  init->add_option("--host", init_opts.hosts,
                   "Name or address agents and operators use for this collector (repeat; the first names "
                   "the console URL)");
  init->add_option("--agents-listen", init_opts.agents_listen, "HOST:PORT for agents")->capture_default_str();
  init->add_option("--console-listen", init_opts.console_listen, "HOST:PORT for the console and API")
      ->capture_default_str();
  init->add_flag("--force", init_opts.force, "Replace an existing PKI");

  std::string ca_dir;
  auto* ca_cmd = app.add_subcommand("ca",
                                    "Rotate the CA with an overlap: 'ca rotate', then, once every agent has "
                                    "renewed its certificate, 'ca retire-old'. Restart the collector after each.");
  ca_cmd->require_subcommand(1);
  auto* rotate = ca_cmd->add_subcommand(
      "rotate",
      "Make a new CA that signs agent certificates from now on; the old CA stays trusted and keeps "
      "signing the server certificate, agents fetch the new one when they renew.");
  auto* retire = ca_cmd->add_subcommand(
      "retire-old",
      "End the overlap: the server certificate is re-issued by the new CA and certificates of the "
      "old CA are refused from the next start.");
  for (auto* sub : {rotate, retire}) {
    sub->add_option("--dir", ca_dir, "Directory written by 'init --dir' (default: the pki_dir of -c)");
    sub->add_option("-c,--config", config_path, "Configuration whose pki_dir to use when --dir is not given")
        ->capture_default_str();
  }

  auto* signing_cmd = app.add_subcommand("signing-key", "The key bundles pushed to agent groups are signed with");
  signing_cmd->require_subcommand(1);
  auto* signing_create = signing_cmd->add_subcommand(
      "create",
      "Make the signing key when the PKI has none (installations from before groups); does nothing "
      "when it exists. Restart the collector; agents learn the key when they next deliver.");
  signing_create->add_option("--dir", ca_dir, "Directory written by 'init --dir' (default: the pki_dir of -c)");
  signing_create->add_option("-c,--config", config_path, "Configuration whose pki_dir to use when --dir is not given")
      ->capture_default_str();

  return cli::run(app, argc, argv, [&]() -> int {
    if (check->parsed()) return check_config(config_path);
    if (signing_create->parsed()) {
      auto found = pki_dir_of(ca_dir, config_path);
      if (!found) {
        std::fputs(found.error().c_str(), stderr);
        return 1;
      }
      const std::filesystem::path pki_dir = *found;
      std::error_code ec;
      if (!std::filesystem::exists(pki_dir / "ca.crt", ec)) {
        std::fprintf(stderr, "vigil-collector signing-key: error: %s holds no PKI: run 'vigil-collector init' first\n",
                     pki_dir.c_str());
        return 1;
      }
      auto made = ensure_signing_key(pki_dir.string());
      if (!made) {
        std::fprintf(stderr, "vigil-collector signing-key: error: %s\n", made.error().c_str());
        return 1;
      }
      std::printf("%s %s\n", *made ? "signing key written to" : "a signing key exists already in", pki_dir.c_str());
      return 0;
    }
    if (ca_cmd->parsed()) {
      auto found = pki_dir_of(ca_dir, config_path);
      if (!found) {
        std::fputs(found.error().c_str(), stderr);
        return 1;
      }
      const std::filesystem::path pki_dir = *found;
      const bool rotating = rotate->parsed();
      auto r = rotating ? rotate_ca(pki_dir) : retire_old_ca(pki_dir);
      if (!r) {
        std::fprintf(stderr, "vigil-collector ca: error: %s\n", r.error().c_str());
        return 1;
      }
      if (rotating) {
        std::printf(
            "new CA in %s; restart the collector. Agents move to it as they renew their certificates;\n"
            "until 'vigil-collector ca retire-old', new agents enroll with the old pin.\n",
            pki_dir.c_str());
        std::printf("ca-pin: %s\n", r->old_ca_pin.c_str());
        std::printf("next-ca-pin: %s\n", r->new_ca_pin.c_str());
      } else {
        std::printf(
            "old CA retired in %s; restart the collector. Agents that did not renew since the rotation\n"
            "must enroll again.\n",
            pki_dir.c_str());
        std::printf("ca-pin: %s\n", r->new_ca_pin.c_str());
      }
      return 0;
    }
    if (!init->parsed()) {
      auto loaded = load_collector_config(config_path);
      if (!loaded) {
        std::fputs(loaded.error().c_str(), stderr);
        return 1;
      }
      cli::print_warnings(loaded->diagnostics);
      return run_collector(loaded->config);
    }
    {
      if (!init_dir.empty()) {
        init_opts.dir = init_dir;
      } else {
        auto loaded = load_collector_config(config_path, /*check_pki=*/false);
        if (!loaded) {
          std::fputs(loaded.error().c_str(), stderr);
          return 1;
        }
        const auto& c = loaded->config.collector;
        init_opts.pki_dir = c.pki_dir;
        init_opts.vigilctl_path = std::filesystem::path(config_path).parent_path() / "vigilctl.yaml";
        init_opts.agents_listen = c.agents_listen.to_string();
        init_opts.console_listen = c.console_listen.to_string();
      }
      auto r = init_collector(init_opts);
      if (!r) {
        std::fprintf(stderr, "vigil-collector: error: %s\n", r.error().c_str());
        return 1;
      }
      if (!r->collector_config.empty()) std::printf("wrote %s\n", r->collector_config.c_str());
      std::printf("wrote %s\n", r->vigilctl_config.c_str());
      std::printf("ca-pin: %s\n", r->ca_pin.c_str());
      return 0;
    }
    return 1;
  });
}

}  // namespace vigil::collector
