#include "agent/ship/identity.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/net/https_client.h"
#include "common/pki/pki.h"
#include "common/util/host.h"
#include "common/version.h"

namespace vigil::agent {

namespace fs = std::filesystem;

namespace {

// agent.crt.new present means the new pair is complete (it is written last); agent.key.new may
// already have been renamed.
Result<void> finish_renewal(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "agent.crt.new", ec)) {
    fs::remove(dir / "agent.key.new", ec);  // a renewal cut before its certificate arrived
    return {};
  }
  if (fs::exists(dir / "agent.key.new", ec)) {
    fs::rename(dir / "agent.key.new", dir / "agent.key", ec);
    if (ec) return make_error(fmt::format("cannot complete the certificate renewal: {}", ec.message()));
  }
  fs::rename(dir / "agent.crt.new", dir / "agent.crt", ec);
  if (ec) return make_error(fmt::format("cannot complete the certificate renewal: {}", ec.message()));
  return {};
}

}  // namespace

Result<void> store_renewed_identity(const std::string& state_dir, const std::string& key_pem,
                                    const std::string& cert_pem) {
  fs::path dir(state_dir);
  if (auto w = pki::write_file(dir / "agent.key.new", key_pem, true); !w) return w;
  if (auto w = pki::write_file(dir / "agent.crt.new", cert_pem, false); !w) return w;
  return finish_renewal(dir);
}

Result<void> store_ca_bundle(const std::string& state_dir, const std::string& ca_pem) {
  fs::path dir(state_dir);
  if (auto w = pki::write_file(dir / "ca.crt.new", ca_pem, false); !w) return w;
  std::error_code ec;
  fs::rename(dir / "ca.crt.new", dir / "ca.crt", ec);
  if (ec) return make_error(fmt::format("cannot replace {}: {}", (dir / "ca.crt").string(), ec.message()));
  return {};
}

Result<Identity> load_identity(const std::string& state_dir) {
  Identity id;
  fs::path dir(state_dir);
  if (auto f = finish_renewal(dir); !f) return make_error(f.error());
  auto agent_id = pki::read_file(dir / "agent-id", 256);
  auto key = pki::read_file(dir / "agent.key");
  auto cert = pki::read_file(dir / "agent.crt");
  auto ca = pki::read_file(dir / "ca.crt");
  if (!agent_id || !key || !cert || !ca) {
    return make_error(fmt::format("this agent is not enrolled ({} holds no identity): run "
                                  "'vigil-agent enroll -c CONFIG --token TOKEN --ca-pin PIN'",
                                  state_dir));
  }
  id.agent_id = *agent_id;
  while (!id.agent_id.empty() && (id.agent_id.back() == '\n' || id.agent_id.back() == '\r')) id.agent_id.pop_back();
  id.tls = {*ca, *cert, *key};
  return id;
}

Result<Identity> enroll(const AgentConfig& config, const EnrollOptions& o) {
  config::Endpoint ep;
  if (o.collector) {
    ep = *o.collector;
  } else if (!config.collector.addresses.empty()) {
    ep = config.collector.addresses.front();
  } else {
    return make_error("no collector address: set collector.addresses or give --collector");
  }
  std::string want_pin = o.ca_pin;
  std::transform(want_pin.begin(), want_pin.end(), want_pin.begin(), [](unsigned char c) { return std::tolower(c); });
  if (want_pin.rfind("sha256:", 0) != 0 || want_pin.size() != 71) {
    return make_error("--ca-pin: expected sha256:<64 hex digits> as printed by 'vigil-collector init'");
  }

  // 1. The CA, fetched without trusting anything yet, must match the pin.
  net::HttpsClientOptions insecure;
  insecure.host = ep.host;
  insecure.port = ep.port;
  insecure.verify_server = false;
  insecure.timeout = config.collector.connect_timeout;
  std::string ca_pem;
  {
    net::HttpsClient client(insecure);
    auto r = client.request("GET", "/v1/ca", "");
    if (!r) return make_error(r.error());
    if (r->status != 200) return make_error(fmt::format("the collector answered {} to GET /v1/ca", r->status));
    ca_pem = r->body;
  }
  // During a CA rotation the collector presents two CAs: the pin names the one to trust (the one
  // that signed the server certificate until the old CA retires). Only that one is trusted here.
  auto bundle = pki::split_certs(ca_pem);
  if (!bundle) return make_error("the collector's CA is not a certificate: " + bundle.error());
  std::string pinned_pem;
  std::vector<std::string> pins;
  for (const auto& pem : *bundle) {
    auto ca = pki::cert_from_pem(pem);
    if (!ca) return make_error("the collector's CA is not a certificate: " + ca.error());
    auto pin = pki::spki_pin(*ca);
    if (!pin) return make_error(pin.error());
    if (*pin == want_pin) {
      pinned_pem = pem;
      break;
    }
    pins.push_back(*pin);
  }
  if (pinned_pem.empty()) {
    return make_error(fmt::format("the collector at {} presents a CA whose pin is {}, not the {} given: refusing "
                                  "to send the token (wrong collector, or someone in between)",
                                  ep.to_string(), fmt::join(pins, " or "), want_pin));
  }

  // 2. Key and CSR here; token and CSR over a connection verified against the pinned CA.
  auto key = pki::generate_key();
  if (!key) return make_error(key.error());
  std::string host = o.host_name.empty() ? local_host_name() : o.host_name;
  auto csr = pki::make_csr(*key, host);
  if (!csr) return make_error(csr.error());
  auto csr_pem = pki::to_pem(*csr);
  if (!csr_pem) return make_error(csr_pem.error());
  net::HttpsClientOptions verified = insecure;
  verified.verify_server = true;
  verified.tls.ca_pem = pinned_pem;
  net::HttpsClient client(verified);
  nlohmann::json body{{"token", o.token}, {"csr", *csr_pem}, {"host", host}, {"version", kVersion}};
  auto r = client.request("POST", "/v1/enroll", body.dump(), {{"Content-Type", "application/json"}});
  if (!r) return make_error(r.error());
  auto answer = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    std::string why = answer.is_object() ? answer.value("error", r->body) : r->body;
    return make_error(fmt::format("enrollment refused by the collector ({}): {}", r->status, why));
  }
  if (!answer.is_object() || !answer.contains("agent_id") || !answer.contains("certificate")) {
    return make_error("the collector's enrollment answer is malformed");
  }
  Identity id;
  id.agent_id = answer["agent_id"].get<std::string>();
  auto key_pem = pki::to_pem(*key);
  if (!key_pem) return make_error(key_pem.error());
  // The CAs to trust from now on, as the collector names them over the pinned connection.
  std::string trusted = pinned_pem;
  if (answer.contains("ca") && answer["ca"].is_string() && pki::split_certs(answer["ca"].get<std::string>())) {
    trusted = answer["ca"].get<std::string>();
  }
  id.tls = {trusted, answer["certificate"].get<std::string>(), *key_pem};

  // 3. Stored in state_dir, owned by the agent's user when we run as root.
  fs::path dir(config.agent.state_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  // The key the collector signs group bundles with (agent/fleet/bundle_client.h), from this
  // pinned connection.
  std::string signing_key;
  if (answer.contains("signing_key") && answer["signing_key"].is_string()) {
    signing_key = answer["signing_key"].get<std::string>();
  }
  std::vector<std::tuple<const char*, std::string, bool>> files{{"agent.key", id.tls.key_pem, true},
                                                                {"agent.crt", id.tls.cert_pem, false},
                                                                {"ca.crt", id.tls.ca_pem, false},
                                                                {"agent-id", id.agent_id + "\n", false}};
  if (!signing_key.empty()) files.emplace_back("signing-key.pub", signing_key, false);
  for (const auto& [name, content, secret] : files) {
    auto w = pki::write_file(dir / name, content, secret);
    if (!w) return make_error(w.error());
    if (geteuid() == 0) {
      if (const passwd* pw = getpwnam(config.agent.user.c_str())) {
        if (chown((dir / name).c_str(), pw->pw_uid, pw->pw_gid) != 0) {
          return make_error(fmt::format("cannot give {} to user {}", (dir / name).string(), config.agent.user));
        }
      }
    }
  }
  return id;
}

}  // namespace vigil::agent
