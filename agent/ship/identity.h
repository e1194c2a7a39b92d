// The agent's identity after enrollment: id, key, certificate and the collector's CA, kept in
// state_dir (key 0600, owned by agent.user).
#pragma once

#include <optional>
#include <string>

#include "agent/config/agent_config.h"
#include "common/net/tls.h"
#include "common/result.h"

namespace vigil::agent {

struct Identity {
  std::string agent_id;
  net::TlsFiles tls;  // ca_pem, cert_pem, key_pem
};

// Reads state_dir/{agent-id,agent.key,agent.crt,ca.crt}; an error says to enroll first. A
// renewal that a crash interrupted is completed first.
Result<Identity> load_identity(const std::string& state_dir);

// Stores a renewed key and certificate: both are written as *.new first, then renamed, so a
// crash leaves either the old pair or (completed at the next load) the new one.
Result<void> store_renewed_identity(const std::string& state_dir, const std::string& key_pem,
                                    const std::string& cert_pem);

// Stores the CA bundle the collector handed over at renewal (during a CA rotation: the new CA
// and the old one), written beside and renamed over ca.crt.
Result<void> store_ca_bundle(const std::string& state_dir, const std::string& ca_pem);

struct EnrollOptions {
  std::string token;
  std::string ca_pin;                   // sha256:<hex>
  std::optional<config::Endpoint> collector;  // default: the first of collector.addresses
  std::string host_name;                // default: the machine's hostname
};

// Enrollment (shared/DESIGN.md): fetch the collector's CA, compare it with the pin, then — over a
// connection verified against that CA only — send the token and a CSR made here. The key never
// leaves this host. Writes the identity into state_dir.
Result<Identity> enroll(const AgentConfig& config, const EnrollOptions& options);

}  // namespace vigil::agent
