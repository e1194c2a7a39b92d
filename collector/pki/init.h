// `vigil-collector init`: a new deployment's PKI and configuration files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"

namespace vigil::collector {

struct InitOptions {
  // Self-contained mode: DIR/collector.yaml, DIR/pki, DIR/vigilctl.yaml. Packaged mode (dir empty):
  // the PKI goes to pki_dir and vigilctl.yaml to vigilctl_path; collector.yaml is left alone.
  std::filesystem::path dir;
  std::filesystem::path pki_dir;
  std::filesystem::path vigilctl_path;
  std::vector<std::string> hosts;      // names and addresses agents and operators use
  std::string agents_listen = "0.0.0.0:8443";
  std::string console_listen = "0.0.0.0:9443";
  bool force = false;                  // replace an existing PKI
};

struct InitResult {
  std::string ca_pin;  // sha256:<hex>
  std::filesystem::path collector_config;  // empty in packaged mode
  std::filesystem::path vigilctl_config;
};

// Writes DIR/pki/{ca.crt,ca.key,server.crt,server.key,admin-token.sha256}, DIR/collector.yaml and
// DIR/vigilctl.yaml (console URL, CA, the admin API token). Keys and tokens are 0600. In packaged
// mode, run as root, the PKI is handed to the owner of its parent directory (the collector's user).
Result<InitResult> init_collector(const InitOptions& options);

}  // namespace vigil::collector
