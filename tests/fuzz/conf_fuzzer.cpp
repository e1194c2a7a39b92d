// libFuzzer target for the block-structured configuration readers of the compliance checks
// (agent/checks/config_tree.h: nginx, Apache httpd, nftables) and the TLS protocol arithmetic of
// agent/checks/web_server_config.h, and the nftables and web server evaluators. A web server's configuration may be
// written by people other than the host's administrator (a hosting panel, a web team): every reader must end with a
// tree or an error within its caps, never crash, loop or grow without bound. The input is split at NUL bytes into
// files: the first is the main file, the others are what any included path reads (in turn), so include chains, loops
// and depth caps are reached.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/checks/config_tree.h"
#include "agent/checks/nftables_config.h"
#include "agent/checks/web_server_config.h"

namespace {

using vigil::agent::checks::ConfNode;
using vigil::agent::checks::ConfRead;
using vigil::agent::checks::FileRead;

// Walks the tree within the block-depth cap, trying the protocol parsers on every directive.
void walk(const ConfNode& n, int depth) {
  if (depth > 70) std::abort();  // past ConfLimits::max_block_depth (64)
  if (!n.words.empty()) {
    const std::vector<std::string> args(n.words.begin() + 1, n.words.end());
    (void)vigil::agent::checks::nginx_tls_protocols(args);
    (void)vigil::agent::checks::apache_tls_protocols(args);
    (void)n.where();
    (void)n.text();
  }
  for (const auto& c : n.children) walk(c, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> files;
  size_t start = 0;
  while (files.size() < 8) {
    size_t nul = text.find('\0', start);
    files.emplace_back(text.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  size_t next = 1;
  const vigil::agent::checks::ConfFileSource source = [&](const std::string& path) {
    FileRead r;
    if (path.ends_with("/main.conf")) {
      r.status = FileRead::Status::ok;
      r.content = files[0];
    } else if (files.size() > 1) {
      r.status = FileRead::Status::ok;
      r.content = files[next];
      next = next + 1 < files.size() ? next + 1 : 1;
    }
    return r;
  };
  // A root that holds nothing: globs in includes match nothing; literal includes read `source`.
  const vigil::agent::checks::HostRoot host("/nonexistent-vigil-fuzz-root");
  for (int dialect = 0; dialect < 3; ++dialect) {
    next = 1;
    ConfRead got = dialect == 0   ? vigil::agent::checks::read_nginx_config(host, source, "/etc/nginx/main.conf")
                   : dialect == 1 ? vigil::agent::checks::read_apache_config(host, source, "/etc/apache2/main.conf")
                                  : vigil::agent::checks::read_nftables_config(host, source, "/etc/main.conf");
    if (got.status != FileRead::Status::ok) continue;
    walk(got.root, 0);
    // The evaluators over the tree: nginx and Apache models, nftables chain replay.
    if (dialect == 2) {
      (void)vigil::agent::checks::evaluate_nftables({}, got.root);
    } else {
      using vigil::agent::checks::WebServerProbe;
      for (auto kind : {WebServerProbe::Kind::tls_protocols, WebServerProbe::Kind::hsts}) {
        WebServerProbe p;
        p.server = dialect == 0 ? WebServerProbe::Server::nginx : WebServerProbe::Server::apache;
        p.kind = kind;
        (void)vigil::agent::checks::evaluate_web_server(p, got.root, std::nullopt);
      }
    }
  }
  return 0;
}
