#include "collector/pki/init.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/config/yaml_reader.h"
#include "common/pki/pki.h"
#include "common/util/host.h"

namespace vigil::collector {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
constexpr auto kCaValidity = std::chrono::hours(24 * 365 * 10);
constexpr auto kServerValidity = std::chrono::hours(24 * 825);
// Packaged installs: init runs as root, the collector as the user owning its data directory
// (vigil, made by the package). The PKI goes to that user, or the collector could not read its
// keys; systemd's StateDirectory= re-owns only a directory whose top is someone else's.
template <typename Outs>
Result<void> hand_to_data_dir_owner(const fs::path& pki_dir, const Outs& outs) {
  struct stat parent {};
  if (::geteuid() != 0 || ::stat(pki_dir.parent_path().c_str(), &parent) != 0 || parent.st_uid == 0) return {};
  std::vector<fs::path> paths{pki_dir};
  for (const auto& out : outs) {
    if (out.path.parent_path() == pki_dir) paths.push_back(out.path);
  }
  for (const auto& p : paths) {
    if (::chown(p.c_str(), parent.st_uid, parent.st_gid) != 0) {
      return make_error(fmt::format("cannot hand {} to uid {}: {}", p.string(), parent.st_uid, std::strerror(errno)));
    }
  }
  return {};
}

}  // namespace

Result<InitResult> init_collector(const InitOptions& o) {
  auto agents = config::parse_endpoint(o.agents_listen);
  auto console = config::parse_endpoint(o.console_listen);
  if (!agents) return make_error("--agents-listen: expected HOST:PORT, got '" + o.agents_listen + "'");
  if (!console) return make_error("--console-listen: expected HOST:PORT, got '" + o.console_listen + "'");

  std::vector<std::string> hosts = o.hosts;
  if (hosts.empty()) {
    if (auto name = local_host_name(); !name.empty()) hosts.push_back(name);
    hosts.emplace_back("localhost");
    hosts.emplace_back("127.0.0.1");
    hosts.emplace_back("::1");
  }
  const bool self_contained = !o.dir.empty();
  fs::path pki_dir = self_contained ? o.dir / "pki" : o.pki_dir;
  fs::path vigilctl_path = self_contained ? o.dir / "vigilctl.yaml" : o.vigilctl_path;
  fs::path collector_path = self_contained ? o.dir / "collector.yaml" : fs::path();
  std::string ca_ref = self_contained ? "pki/ca.crt" : fs::absolute(pki_dir / "ca.crt").string();
  if (fs::exists(pki_dir / "ca.key") && !o.force) {
    return make_error(fmt::format("{} already holds a CA; use --force to replace it (every enrolled agent "
                                  "must then enroll again)",
                                  pki_dir.string()));
  }
  std::error_code ec;
  fs::create_directories(pki_dir, ec);
  if (ec) return make_error(fmt::format("cannot create {}: {}", pki_dir.string(), ec.message()));
  fs::permissions(pki_dir, fs::perms::owner_all, ec);
  // A self-contained directory also holds the database: the owner's alone.
  if (self_contained) fs::permissions(o.dir, fs::perms::owner_all, ec);

  auto ca_key = pki::generate_key();
  if (!ca_key) return make_error(ca_key.error());
  auto ca = pki::make_ca(*ca_key, "Vigil CA " + hosts.front(), kCaValidity);
  if (!ca) return make_error(ca.error());
  auto server_key = pki::generate_key();
  if (!server_key) return make_error(server_key.error());
  auto server = pki::issue(*ca, *ca_key, server_key->get(), hosts.front(), hosts, true, kServerValidity);
  if (!server) return make_error(server.error());
  auto pin = pki::spki_pin(*ca);
  if (!pin) return make_error(pin.error());

  std::string admin_token = pki::random_token();
  struct Out {
    fs::path path;
    Result<std::string> content;
    bool secret;
  };
  std::vector<Out> outs;
  outs.push_back({pki_dir / "ca.crt", pki::to_pem(*ca), false});
  outs.push_back({pki_dir / "ca.key", pki::to_pem(*ca_key), true});
  outs.push_back({pki_dir / "server.crt", pki::to_pem(*server), false});
  outs.push_back({pki_dir / "server.key", pki::to_pem(*server_key), true});
  outs.push_back({pki_dir / "admin-token.sha256", pki::sha256_hex(admin_token) + "\n", true});
  // The key bundles pushed to agents are signed with (collector/fleet); kept when one exists, so
  // agents that hold its public half keep accepting bundles.
  if (!fs::exists(pki_dir / "bundle-signing.key", ec)) {
    auto signing = pki::generate_signing_key();
    if (!signing) return make_error(signing.error());
    outs.push_back({pki_dir / "bundle-signing.key", pki::to_pem(*signing), true});
    outs.push_back({pki_dir / "bundle-signing.pub", pki::public_pem(*signing), false});
  }

  std::string collector_yaml = fmt::format(
      "# Written by vigil-collector init. See the commented example in the Vigil sources\n"
      "# (config/collector.yaml) for every key. Relative paths are relative to this file.\n"
      "collector:\n"
      "  data_dir: .\n"
      "  pki_dir: pki\n"
      "  agents_listen: \"{}\"\n"
      "  console_listen: \"{}\"\n"
      "  storage: {{driver: sqlite}}\n"
      "logging:\n"
      "  level: info\n",
      agents->to_string(), console->to_string());
  std::string console_host = hosts.front();
  if (console_host.find(':') != std::string::npos) console_host = "[" + console_host + "]";
  std::string vigilctl_yaml = fmt::format(
      "# Written by vigil-collector init: how vigilctl reaches this collector. Holds an admin API\n"
      "# token: keep it 0600.\n"
      "console: https://{}:{}\n"
      "ca: {}\n"
      "token: {}\n",
      console_host, console->port, ca_ref, admin_token);
  if (self_contained) outs.push_back({collector_path, collector_yaml, false});
  outs.push_back({vigilctl_path, vigilctl_yaml, true});
  for (auto& out : outs) {
    if (!out.content) return make_error(out.content.error());
    auto w = pki::write_file(out.path, *out.content, out.secret);
    if (!w) return make_error(w.error());
  }
  if (!self_contained) {
    if (auto r = hand_to_data_dir_owner(pki_dir, outs); !r) return make_error(r.error());
  }
  return InitResult{*pin, collector_path, vigilctl_path};
}

}  // namespace vigil::collector
