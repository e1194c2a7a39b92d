// agents_sim: many enrolled agents against one real collector, from one process (issue 23).
// enrollment.cpp makes or reuses the agents' identities (tokens over the console API, CSRs made
// here, certificates the collector signs, cached on disk by CA pin); main.cpp holds their
// mutual-TLS connections, sends heartbeats and batches as the agent's shipper does, checks every
// acknowledgement and reports what the collector stored and what it cost.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config/yaml_reader.h"
#include "common/result.h"

namespace vigil::bench {

// One simulated agent's identity, as the real agent keeps it in state_dir.
struct SimIdentity {
  std::string agent_id;
  std::string host;
  std::string key_pem;
  std::string cert_pem;
};

// The operator's vigilctl.yaml: console address, the CA it is verified with, an admin API token.
struct ConsoleAccess {
  config::Endpoint console;
  std::string ca_pem;
  std::string token;
};

// Reads vigilctl.yaml with the keys vigilctl reads (console: https://HOST:PORT, ca, token).
Result<ConsoleAccess> load_console_access(const std::filesystem::path& path);

struct EnrollSetup {
  config::Endpoint agents;  // the collector's agents listener, as dialled
  std::string ca_pin;       // sha256:<hex> of the collector's CA (pki_dir/ca.crt)
  ConsoleAccess console;
  std::string agency = "agents-sim";
  int level = 2;
  std::filesystem::path cache_dir;  // identities live in cache_dir/<pin hex>/
  unsigned workers = 2;             // enrollments in flight
};

struct EnrollOutcome {
  std::vector<SimIdentity> identities;  // the first N, in order
  std::string ca_pem;                   // the CA(s) the collector named at enrollment (or /v1/ca)
  size_t reused = 0;                    // from the cache
  size_t enrolled = 0;                  // new this run
  size_t cache_dropped = 0;             // cached but unusable (unreadable, expired)
  std::vector<std::string> errors;      // enrollment failures (the run does not go on)
  double seconds = 0;
};

// The first `n` identities of the cache for this CA pin, enrolling what is missing exactly as
// `vigil-agent enroll` does: GET /v1/ca checked against the pin, a one-time token from the console
// API, a key and CSR made here, POST /v1/enroll over a connection verified against the pinned CA.
// Each new identity is appended to the cache as soon as it is made.
Result<EnrollOutcome> load_or_enroll(const EnrollSetup& setup, size_t n);

}  // namespace vigil::bench
