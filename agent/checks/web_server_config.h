// What a web server's configuration says, as a probe result: the protocols each TLS server
// allows, Strict-Transport-Security on public TLS servers, and effective directive values.
// nginx: servers are the `server` blocks of `http`, `stream` and `mail` (HSTS and directives: of
// `http` only); a directive a server does not set comes from its context (then from the main
// context), and add_header from the enclosing context only when the server, location or `if` has
// none of its own, as nginx inherits them: every location is judged for HSTS. Apache: servers are
// the <VirtualHost> sections (and the main server when it has SSLEngine on); a directive a virtual
// host does not set comes from the main server configuration; <IfModule> follows the LoadModule
// lines of the configuration, other conditional sections (<IfVersion>, <IfDefine>, <If>...) are
// read as if their condition held, and a TLS protocol value from one must pass in every
// alternative; Header directives are replayed in order (main server, then virtual host).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/checks/config_tree.h"
#include "agent/checks/policy.h"
#include "agent/checks/scanner.h"
#include "common/result.h"

namespace vigil::agent::checks {

// Debian's nginx packages, in the order their version is looked up (the policy's
// `*nginx_installed` anchor lists the same packages).
const std::vector<std::string>& nginx_packages();

// Protocol names from the oldest: SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.
const std::vector<std::string>& tls_protocol_names();

// The protocols enabled by nginx's ssl_protocols arguments, or an error naming an unknown word.
Result<std::vector<std::string>> nginx_tls_protocols(const std::vector<std::string>& args);
// The protocols enabled by Apache's SSLProtocol arguments ("all -SSLv3 -TLSv1", "+TLSv1.2"): a
// word without + or - replaces the set, as mod_ssl does.
Result<std::vector<std::string>> apache_tls_protocols(const std::vector<std::string>& args);

// `package_version`: the installed nginx/apache2 package (dpkg), which decides nginx's built-in
// ssl_protocols when no configuration sets it.
ProbeResult evaluate_web_server(const WebServerProbe& probe, const ConfNode& root,
                                const std::optional<std::string>& package_version);

}  // namespace vigil::agent::checks
