// Compliance policies and control catalogues (rules/policies/*.yaml, rules/frameworks/*.yaml):
// see shared/DESIGN.md "Compliance policies". Parsed once into these typed structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <re2/re2.h>

#include "common/compliance/framework.h"
#include "common/i18n/text.h"

namespace vigil::agent::checks {

// The result of a check or of one probe.
enum class Outcome : uint8_t { pass, fail, not_applicable, error };
std::string_view outcome_name(Outcome o);

// What a probe reports when the thing it looks at is absent (file, mount, directory).
enum class IfMissing : uint8_t { fail, pass, not_applicable, error };

// A value comparison: `op: "<="` with `value: 90`, `op: in` with `value: [a, b]`.
struct Comparison {
  enum class Op : uint8_t { eq, ne, lt, le, gt, ge, in, not_in, matches, not_matches };
  Op op = Op::eq;
  std::vector<std::string> values;    // one unless in / not_in
  std::shared_ptr<const RE2> regex;  // matches / not_matches
  // True when `actual` satisfies the comparison. Numbers compare as numbers when both sides are
  // integers; text compares case-insensitively.
  bool test(std::string_view actual) const;
  std::string describe() const;  // "<= 90"
};

struct FileProbe {
  std::string path;
  std::optional<bool> exists;
  std::optional<uint32_t> max_mode;  // mode: {max: "0644"}: no permission bit beyond these
  std::vector<std::string> owners;   // names (resolved in the root's etc/passwd) or numbers
  std::vector<std::string> groups;
  IfMissing missing = IfMissing::fail;
};

// Lines of a file that match (or must not match) a regular expression.
struct LinesProbe {
  std::vector<std::string> paths;  // globs allowed
  std::shared_ptr<const RE2> regex;
  bool expect_present = true;
  IfMissing missing = IfMissing::fail;
};

// A "Key value" / "key=value" setting compared with a value.
struct SettingProbe {
  enum class Format : uint8_t { keyvalue, sshd };
  std::vector<std::string> paths;  // globs allowed, read in order
  std::string key;
  std::vector<std::string> aliases;  // other names of the same option (`key: [bind-address, bind_address]`)
  Format format = Format::keyvalue;
  bool first_wins = false;  // sshd: the first value wins; otherwise the last
  std::optional<std::string> default_value;  // when the key is not set anywhere
  Comparison compare;
  IfMissing missing = IfMissing::fail;  // when none of the files exists
  bool per_file = false;  // each file on its own (php.ini per SAPI), every one must satisfy the comparison
};

struct DirectoryProbe {
  std::string path;
  std::shared_ptr<const RE2> name_regex;  // null: every entry
  bool expect_none = true;               // expect: none | some
  IfMissing missing = IfMissing::fail;
};

struct SysctlProbe {
  std::string key;
  Comparison compare;
};

struct MountProbe {
  std::string path;
  std::vector<std::string> options;      // each must be present
  IfMissing missing = IfMissing::fail;   // not a separate mount
};

struct ListenProbe {
  std::vector<uint32_t> ports;
  std::string protocol = "any";  // tcp | udp | any
  bool expect_present = false;
  bool except_loopback = false;  // sockets bound to loopback do not count
};

struct ServiceProbe {
  std::string unit;
  std::optional<bool> enabled;
  std::optional<bool> active;
};

struct PackageProbe {
  std::string name;
  bool installed = true;
  std::optional<Comparison> version;  // Debian version ordering
};

struct AccountsProbe {
  enum class Kind : uint8_t { empty_passwords, uid0_only_root, shadowed_passwords, password_max_days, inactive_days };
  Kind kind = Kind::empty_passwords;
  int64_t max = 0;
  // Only these accounts (empty: all): members of the groups (supplementary in /etc/group or
  // primary in /etc/passwd) and the named users.
  std::vector<std::string> groups;
  std::vector<std::string> users;
};

struct CommandProbe {
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{10000};
  std::shared_ptr<const RE2> regex;  // on stdout; null: only the exit code counts
  bool expect_present = true;
  std::optional<int> exit_code;
};

// The effective configuration of a web server (agent/checks/web_server_config.h): nginx from
// /etc/nginx/nginx.conf, Apache from /etc/apache2/apache2.conf, includes followed.
//   nginx: {check: tls_protocols, min: TLSv1.2, default_safe_since: "1.27.3"}
//   apache: {check: hsts, min_max_age: 31536000}
//   nginx: {check: directive, key: server_tokens, scope: servers, op: "==", value: "off", default: "on"}
struct WebServerProbe {
  enum class Server : uint8_t { nginx, apache };
  enum class Kind : uint8_t { tls_protocols, hsts, directive };
  enum class Scope : uint8_t { global, servers, everywhere };
  Server server = Server::nginx;
  Kind kind = Kind::directive;
  std::string path;                // the main file; defaults per server
  std::string min_tls = "TLSv1.2"; // tls_protocols: the lowest protocol a TLS server may allow
  // tls_protocols, nginx: the package version from which the built-in ssl_protocols (used when no
  // configuration sets one) allows nothing below TLS 1.2; unset or older: the default fails.
  std::optional<std::string> default_safe_since;
  int64_t min_max_age = 0;         // hsts: the lowest max-age accepted
  std::string key;                 // directive
  Scope scope = Scope::servers;    // directive: the global value, or every server's effective value, or every occurrence
  std::optional<std::string> default_value;
  Comparison compare;
  IfMissing missing = IfMissing::fail;  // when the main file does not exist
};

// A base chain of /etc/nftables.conf (includes followed) on `hook` with `policy` for IPv4 and IPv6:
// in an inet table, or in an ip and an ip6 table (agent/checks/nftables_config.h: the last
// declaration of a chain wins).   nftables: {path: /etc/nftables.conf, hook: input, policy: drop}
struct NftablesProbe {
  std::string path = "/etc/nftables.conf";
  std::string hook = "input";
  std::string policy = "drop";
  IfMissing missing = IfMissing::fail;
};

// A value in a YAML file by dotted key (mongod.conf's net.bindIp); a list is joined with ",". A key
// that goes through a list of mappings takes the value from each item that has it, as a list
// (fim.paths.path: the path of every fim tree).
//   yaml: {path: /etc/mongod.conf, key: security.authorization, value: enabled, default: disabled}
//   yaml: {path: /etc/vigil/agent.yaml, key: logs, count: true, op: ">=", value: 1}
struct YamlProbe {
  std::string path;
  std::string key;
  bool count = false;  // compare the number of items of the list at `key` (0 when unset), not its value
  std::optional<std::string> default_value;
  Comparison compare;
  IfMissing missing = IfMissing::fail;
};

// The newest modification time among files matching the globs is at most max_days old.
//   file_age: {path: ["/var/lib/clamav/daily.c[lv]d"], max_days: 3}
struct FileAgeProbe {
  std::vector<std::string> paths;
  int64_t max_days = 7;
  IfMissing missing = IfMissing::fail;
};

// /etc/os-release (or /usr/lib/os-release): the release is still supported. `eol` is the table:
// distribution id -> VERSION_ID -> the date its (free) security support ends, "YYYY-MM-DD". A
// version older than every row fails, newer passes, between two rows is an error (add the row).
//   os_release: {eol: {debian: {"11": "2026-08-31", "12": "2028-06-30"}}}
struct OsReleaseProbe {
  std::map<std::string, std::map<std::string, std::string>> eol;
};

using Probe = std::variant<FileProbe, LinesProbe, SettingProbe, DirectoryProbe, SysctlProbe, MountProbe,
                           ListenProbe, ServiceProbe, PackageProbe, AccountsProbe, CommandProbe, WebServerProbe,
                           NftablesProbe, YamlProbe, FileAgeProbe, OsReleaseProbe>;

struct Condition {
  enum class Kind : uint8_t { probe, all, any, none };
  Kind kind = Kind::all;
  std::vector<Condition> children;
  std::shared_ptr<const Probe> probe;  // Kind::probe
};

struct Check {
  std::string id;
  i18n::Text title;
  i18n::Text rationale;
  i18n::Text remediation;
  int level = 1;  // the lowest security level that requires it (1-5)
  std::map<std::string, std::vector<std::string>> compliance;  // framework id -> control ids
  std::optional<Condition> applies_if;  // not_applicable unless this passes
  Condition condition;
  std::string position;  // file:line, for messages
};

struct Policy {
  std::string id;
  i18n::Text title;
  std::string version;
  i18n::Text description;
  bool allow_commands = false;
  std::vector<Check> checks;
  std::string file;
};

using compliance::Control;
using compliance::Framework;

}  // namespace vigil::agent::checks
