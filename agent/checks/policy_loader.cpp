#include "agent/checks/policy_loader.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "agent/checks/host.h"
#include "agent/checks/web_server_config.h"

namespace vigil::agent::checks {

using config::MapReader;
using config::YamlReader;
namespace fs = std::filesystem;
using compliance::read_id;
using compliance::read_levels;

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::pass: return "pass";
    case Outcome::fail: return "fail";
    case Outcome::not_applicable: return "not_applicable";
    case Outcome::error: return "error";
  }
  return "error";
}

namespace {

bool read_string_or_list(YamlReader& r, const YAML::Node& n, std::vector<std::string>& out, std::string_view what) {
  if (n.IsScalar()) {
    std::string s;
    if (!r.read(n, s, what)) return false;
    out = {s};
    return true;
  }
  return r.read_list(n, out, what);
}

// ---- policies ----------------------------------------------------------------------------------

class PolicyParser {
 public:
  PolicyParser(YamlReader& r, const LoadedFrameworks& fws) : r_(r), fws_(fws) {}

  void parse(const YAML::Node& root, Policy& p) {
    MapReader top(r_, root, "");
    {
      MapReader m(r_, top.require("policy"), "policy");
      if (auto v = m.require("id")) read_id(r_, v, p.id, "policy.id");
      if (auto v = m.require("title")) r_.read(v, p.title, "policy.title");
      if (auto v = m.require("version")) r_.read(v, p.version, "policy.version");
      if (auto v = m.get("description")) r_.read(v, p.description, "policy.description");
      if (auto v = m.get("allow_commands")) r_.read(v, p.allow_commands, "policy.allow_commands");
    }
    allow_commands_ = p.allow_commands;
    auto checks = top.require("checks");
    if (!checks) return;
    if (!checks.IsSequence()) {
      r_.error(checks, "checks: expected a list of checks");
      return;
    }
    std::map<std::string, std::string> ids;
    for (size_t i = 0; i < checks.size(); ++i) {
      Check c;
      const YAML::Node item = checks[i];
      parse_check(item, i, c);
      if (!c.id.empty()) {
        auto [it, inserted] = ids.emplace(c.id, c.position);
        if (!inserted) r_.error(item["id"], fmt::format("duplicate check id '{}' (first defined at {})", c.id, it->second));
      }
      p.checks.push_back(std::move(c));
    }
  }

 private:
  void parse_check(const YAML::Node& n, size_t index, Check& c) {
    std::string ctx = fmt::format("checks[{}]", index);
    MapReader m(r_, n, ctx);
    if (!m.is_map()) return;
    auto [line, col] = config::position(n);
    c.position = fmt::format("{}:{}", r_.file(), line);
    if (auto v = m.require("id")) read_id(r_, v, c.id, m.path("id"));
    if (!c.id.empty()) ctx = c.id;
    if (auto v = m.require("title")) r_.read(v, c.title, m.path("title"));
    if (auto v = m.require("rationale")) r_.read(v, c.rationale, m.path("rationale"));
    if (auto v = m.require("remediation")) r_.read(v, c.remediation, m.path("remediation"));
    if (auto v = m.require("level")) {
      int64_t lvl = 1;
      if (r_.read(v, lvl, m.path("level"), 1, 5)) c.level = static_cast<int>(lvl);
    }
    if (auto v = m.require("compliance")) parse_compliance(v, ctx, c);
    if (auto v = m.get("applies_if")) {
      c.applies_if.emplace();
      parse_condition(v, ctx + ".applies_if", *c.applies_if);
    }
    if (auto v = m.require("condition")) parse_condition(v, ctx + ".condition", c.condition);
  }

  void parse_compliance(const YAML::Node& n, const std::string& ctx, Check& c) {
    if (!n.IsMap()) {
      r_.error(n, fmt::format("{}.compliance: expected a map of framework id to control ids", ctx));
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      std::string fw_id;
      if (!r_.read(k, fw_id, ctx + ".compliance")) continue;
      const Framework* fw = fws_.find(fw_id);
      if (!fw) {
        std::vector<std::string_view> names;
        for (const auto& f : fws_.frameworks) names.push_back(f.id);
        r_.error(k, fmt::format("{}.compliance: unknown framework '{}'{}", ctx, fw_id, config::did_you_mean(fw_id, names)));
        continue;
      }
      std::vector<std::string> controls;
      if (!read_string_or_list(r_, v, controls, ctx + ".compliance." + fw_id)) continue;
      for (size_t i = 0; i < controls.size(); ++i) {
        if (!fw->find(controls[i])) {
          const YAML::Node at = v.IsSequence() ? v[i] : v;
          r_.error(at, fmt::format("{}.compliance.{}: unknown control '{}' (not in {})", ctx, fw_id, controls[i], fw->file));
        }
      }
      c.compliance[fw_id] = std::move(controls);
    }
  }

  void parse_condition(const YAML::Node& n, const std::string& ctx, Condition& out) {
    if (!n.IsMap() || n.size() != 1) {
      r_.error(n, fmt::format("{}: expected a map with exactly one key: all, any, none or a probe "
                              "(file, lines, setting, directory, sysctl, mount, listening, service, "
                              "package, accounts, command, nginx, apache, nftables, yaml, file_age, os_release)",
                              ctx));
      return;
    }
    const std::string key = n.begin()->first.Scalar();
    const YAML::Node keynode = n.begin()->first;
    const YAML::Node v = n.begin()->second;
    if (key == "all" || key == "any" || key == "none") {
      out.kind = key == "all" ? Condition::Kind::all : key == "any" ? Condition::Kind::any : Condition::Kind::none;
      if (!v.IsSequence() || v.size() == 0) {
        r_.error(v, fmt::format("{}.{}: expected a non-empty list of conditions", ctx, key));
        return;
      }
      for (size_t i = 0; i < v.size(); ++i) {
        Condition child;
        parse_condition(v[i], fmt::format("{}.{}[{}]", ctx, key, i), child);
        out.children.push_back(std::move(child));
      }
      return;
    }
    out.kind = Condition::Kind::probe;
    std::string pctx = ctx + "." + key;
    Probe probe;
    if (key == "file") probe = parse_file(v, pctx);
    else if (key == "lines") probe = parse_lines(v, pctx);
    else if (key == "setting") probe = parse_setting(v, pctx);
    else if (key == "directory") probe = parse_directory(v, pctx);
    else if (key == "sysctl") probe = parse_sysctl(v, pctx);
    else if (key == "mount") probe = parse_mount(v, pctx);
    else if (key == "listening") probe = parse_listening(v, pctx);
    else if (key == "service") probe = parse_service(v, pctx);
    else if (key == "package") probe = parse_package(v, pctx);
    else if (key == "accounts") probe = parse_accounts(v, pctx);
    else if (key == "nginx" || key == "apache") probe = parse_web_server(v, pctx, key);
    else if (key == "nftables") probe = parse_nftables(v, pctx);
    else if (key == "yaml") probe = parse_yaml(v, pctx);
    else if (key == "file_age") probe = parse_file_age(v, pctx);
    else if (key == "os_release") probe = parse_os_release(v, pctx);
    else if (key == "command") {
      if (!allow_commands_) {
        r_.error(keynode, fmt::format("{}: command probes need 'allow_commands: true' in the policy header", pctx));
      }
      probe = parse_command(v, pctx);
    } else {
      r_.error(keynode, fmt::format("{}: unknown condition '{}'{}", ctx, key,
                                    config::did_you_mean(key, {"all", "any", "none", "file", "lines", "setting",
                                                               "directory", "sysctl", "mount", "listening", "service",
                                                               "package", "accounts", "command", "nginx", "apache",
                                                               "nftables", "yaml", "file_age", "os_release"})));
      return;
    }
    out.probe = std::make_shared<const Probe>(std::move(probe));
  }

  void read_abs_path(const YAML::Node& v, std::string& out, const std::string& what) {
    if (r_.read(v, out, what) && (out.empty() || out.front() != '/')) {
      r_.error(v, fmt::format("{}: '{}' must be an absolute path (it is taken under --root)", what, out));
    }
  }

  void read_paths(MapReader& m, std::vector<std::string>& out) {
    if (auto v = m.require("path")) {
      if (read_string_or_list(r_, v, out, m.path("path"))) {
        for (size_t i = 0; i < out.size(); ++i) {
          if (out[i].empty() || out[i].front() != '/') {
            r_.error(v.IsSequence() ? v[i] : v, fmt::format("{}: '{}' must be an absolute path", m.path("path"), out[i]));
          }
        }
      }
    }
  }

  void read_missing(MapReader& m, IfMissing& out) {
    if (auto v = m.get("missing")) {
      std::string s;
      if (r_.read_choice(v, s, m.path("missing"), {"pass", "fail", "not_applicable", "error"})) {
        out = s == "pass" ? IfMissing::pass : s == "fail" ? IfMissing::fail
              : s == "not_applicable" ? IfMissing::not_applicable : IfMissing::error;
      }
    }
  }

  std::shared_ptr<const RE2> read_regex(const YAML::Node& v, const std::string& what) {
    std::string pattern;
    if (!r_.read(v, pattern, what)) return nullptr;
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<const RE2>(pattern, opts);
    if (!re->ok()) {
      r_.error(v, fmt::format("{}: invalid regular expression: {}", what, re->error()));
      return nullptr;
    }
    return re;
  }

  void read_expect(MapReader& m, bool& present, std::string_view a, std::string_view b) {
    if (auto v = m.get("expect")) {
      std::string s;
      if (r_.read_choice(v, s, m.path("expect"), {a, b})) present = s == a;
    }
  }

  // `default:` (the value when the key is not set) and the comparison, as setting, yaml and web
  // server directive probes read them.
  void read_default_and_comparison(MapReader& m, std::optional<std::string>& default_value, Comparison& c) {
    if (auto v = m.get("default")) {
      std::string s;
      if (r_.read(v, s, m.path("default"))) default_value = s;
    }
    read_comparison(m, c);
  }

  void read_comparison(MapReader& m, Comparison& c, bool numeric_order = true) {
    YAML::Node opn = m.get("op");
    YAML::Node valn = m.require("value");
    std::string op = "==";
    if (opn) {
      r_.read_choice(opn, op, m.path("op"), {"==", "!=", "<", "<=", ">", ">=", "in", "not_in", "matches", "not_matches"});
    }
    using Op = Comparison::Op;
    static const std::map<std::string, Op> kOps = {{"==", Op::eq}, {"!=", Op::ne}, {"<", Op::lt}, {"<=", Op::le},
                                                   {">", Op::gt}, {">=", Op::ge}, {"in", Op::in},
                                                   {"not_in", Op::not_in}, {"matches", Op::matches},
                                                   {"not_matches", Op::not_matches}};
    if (auto it = kOps.find(op); it != kOps.end()) c.op = it->second;
    if (!valn) return;
    if (c.op == Op::in || c.op == Op::not_in) {
      r_.read_list(valn, c.values, m.path("value"));
    } else if (c.op == Op::matches || c.op == Op::not_matches) {
      c.regex = read_regex(valn, m.path("value"));
      if (c.regex) c.values = {c.regex->pattern()};
    } else {
      std::string s;
      if (r_.read(valn, s, m.path("value"))) c.values = {s};
      if (numeric_order && (c.op == Op::lt || c.op == Op::le || c.op == Op::gt || c.op == Op::ge) && !parse_int(s) &&
          !s.empty()) {
        r_.error(valn, fmt::format("{}: '{}' must be an integer for '{}'", m.path("value"), s, op));
      }
    }
  }

  FileProbe parse_file(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    FileProbe p;
    if (auto v = m.require("path")) read_abs_path(v, p.path, m.path("path"));
    if (auto v = m.get("exists")) {
      bool b = true;
      if (r_.read(v, b, m.path("exists"))) p.exists = b;
    }
    if (auto v = m.get("mode")) {
      MapReader mm(r_, v, m.path("mode"));
      if (auto mx = mm.require("max")) {
        std::string s;
        if (r_.read(mx, s, mm.path("max"))) {
          static const RE2 kOctal("0?[0-7]{3,4}");
          if (!RE2::FullMatch(s, kOctal)) {
            r_.error(mx, fmt::format("{}: '{}' is not an octal mode such as \"0644\" (quote it)", mm.path("max"), s));
          } else {
            p.max_mode = static_cast<uint32_t>(std::stoul(s, nullptr, 8));
          }
        }
      }
    }
    if (auto v = m.get("owner")) read_string_or_list(r_, v, p.owners, m.path("owner"));
    if (auto v = m.get("group")) read_string_or_list(r_, v, p.groups, m.path("group"));
    read_missing(m, p.missing);
    if (!p.exists && !p.max_mode && p.owners.empty() && p.groups.empty()) p.exists = true;
    if (p.exists == false && (p.max_mode || !p.owners.empty() || !p.groups.empty())) {
      r_.error(n, fmt::format("{}: 'exists: false' cannot be combined with mode, owner or group", ctx));
    }
    return p;
  }

  LinesProbe parse_lines(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    LinesProbe p;
    read_paths(m, p.paths);
    if (auto v = m.require("match")) p.regex = read_regex(v, m.path("match"));
    read_expect(m, p.expect_present, "present", "absent");
    read_missing(m, p.missing);
    return p;
  }

  SettingProbe parse_setting(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    SettingProbe p;
    read_paths(m, p.paths);
    if (auto v = m.require("key")) {
      if (v.IsSequence()) {  // names of one option, any of which sets it
        std::vector<std::string> keys;
        if (r_.read_list(v, keys, m.path("key"))) {
          if (keys.empty()) {
            r_.error(v, fmt::format("{}: expected at least one name", m.path("key")));
          } else {
            p.key = keys.front();
            p.aliases.assign(keys.begin() + 1, keys.end());
          }
        }
      } else {
        r_.read(v, p.key, m.path("key"));
      }
    }
    if (auto v = m.get("format")) {
      std::string s;
      if (r_.read_choice(v, s, m.path("format"), {"keyvalue", "sshd"})) {
        p.format = s == "sshd" ? SettingProbe::Format::sshd : SettingProbe::Format::keyvalue;
      }
    }
    p.first_wins = p.format == SettingProbe::Format::sshd;
    if (auto v = m.get("wins")) {
      std::string s;
      if (r_.read_choice(v, s, m.path("wins"), {"first", "last"})) p.first_wins = s == "first";
    }
    read_default_and_comparison(m, p.default_value, p.compare);
    read_missing(m, p.missing);
    if (auto v = m.get("per_file")) r_.read(v, p.per_file, m.path("per_file"));
    return p;
  }

  WebServerProbe parse_web_server(const YAML::Node& n, const std::string& ctx, const std::string& server) {
    MapReader m(r_, n, ctx);
    WebServerProbe p;
    using K = WebServerProbe::Kind;
    p.server = server == "apache" ? WebServerProbe::Server::apache : WebServerProbe::Server::nginx;
    p.path = server == "apache" ? "/etc/apache2/apache2.conf" : "/etc/nginx/nginx.conf";
    if (auto v = m.get("path")) read_abs_path(v, p.path, m.path("path"));
    std::string check;
    if (auto v = m.require("check")) r_.read_choice(v, check, m.path("check"), {"tls_protocols", "hsts", "directive"});
    p.kind = check == "tls_protocols" ? K::tls_protocols : check == "hsts" ? K::hsts : K::directive;
    if (p.kind == K::tls_protocols) {
      if (auto v = m.get("min")) {
        r_.read_choice(v, p.min_tls, m.path("min"), {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"});
      }
      if (auto v = m.get("default_safe_since")) {
        std::string s;
        if (r_.read(v, s, m.path("default_safe_since"))) p.default_safe_since = s;
      }
    } else if (p.kind == K::hsts) {
      if (auto v = m.get("min_max_age")) r_.read(v, p.min_max_age, m.path("min_max_age"), 0, int64_t{1} << 40);
    } else if (!check.empty()) {
      if (auto v = m.require("key")) r_.read(v, p.key, m.path("key"));
      if (auto v = m.get("scope")) {
        std::string s;
        if (r_.read_choice(v, s, m.path("scope"), {"global", "servers", "everywhere"})) {
          p.scope = s == "global" ? WebServerProbe::Scope::global
                    : s == "servers" ? WebServerProbe::Scope::servers : WebServerProbe::Scope::everywhere;
        }
      }
      read_default_and_comparison(m, p.default_value, p.compare);
    }
    read_missing(m, p.missing);
    return p;
  }

  NftablesProbe parse_nftables(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    NftablesProbe p;
    if (auto v = m.get("path")) read_abs_path(v, p.path, m.path("path"));
    if (auto v = m.get("hook")) {
      r_.read_choice(v, p.hook, m.path("hook"), {"prerouting", "input", "forward", "output", "postrouting"});
    }
    if (auto v = m.get("policy")) r_.read_choice(v, p.policy, m.path("policy"), {"drop", "accept"});
    read_missing(m, p.missing);
    return p;
  }

  YamlProbe parse_yaml(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    YamlProbe p;
    if (auto v = m.require("path")) read_abs_path(v, p.path, m.path("path"));
    if (auto v = m.require("key")) {
      if (r_.read(v, p.key, m.path("key")) && (p.key.empty() || p.key.front() == '.' || p.key.back() == '.')) {
        r_.error(v, fmt::format("{}: '{}' is not a dotted key such as net.bindIp", m.path("key"), p.key));
      }
    }
    if (auto v = m.get("count")) r_.read(v, p.count, m.path("count"));
    read_default_and_comparison(m, p.default_value, p.compare);
    read_missing(m, p.missing);
    return p;
  }

  FileAgeProbe parse_file_age(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    FileAgeProbe p;
    read_paths(m, p.paths);
    if (auto v = m.require("max_days")) r_.read(v, p.max_days, m.path("max_days"), 0, 36500);
    read_missing(m, p.missing);
    return p;
  }

  OsReleaseProbe parse_os_release(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    OsReleaseProbe p;
    auto eol = m.require("eol");
    if (!eol) return p;
    if (!eol.IsMap()) {
      r_.error(eol, fmt::format("{}: expected a map of distribution id to {{VERSION_ID: \"YYYY-MM-DD\"}}", m.path("eol")));
      return p;
    }
    static const RE2 kDate("[0-9]{4}-[0-9]{2}-[0-9]{2}");
    for (auto it = eol.begin(); it != eol.end(); ++it) {
      std::string distro;
      if (!r_.read(it->first, distro, m.path("eol"))) continue;
      const YAML::Node versions = it->second;
      if (!versions.IsMap()) {
        r_.error(versions, fmt::format("{}.{}: expected a map of VERSION_ID to an end-of-life date", m.path("eol"), distro));
        continue;
      }
      for (auto vt = versions.begin(); vt != versions.end(); ++vt) {
        std::string version, date;
        std::string what = fmt::format("{}.{}", m.path("eol"), distro);
        if (!r_.read(vt->first, version, what) || !r_.read(vt->second, date, what + "." + version)) continue;
        if (!RE2::FullMatch(date, kDate)) {
          r_.error(vt->second, fmt::format("{}.{}: '{}' is not a date YYYY-MM-DD", what, version, date));
          continue;
        }
        p.eol[distro][version] = date;
      }
    }
    return p;
  }

  DirectoryProbe parse_directory(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    DirectoryProbe p;
    if (auto v = m.require("path")) read_abs_path(v, p.path, m.path("path"));
    if (auto v = m.get("match")) p.name_regex = read_regex(v, m.path("match"));
    if (auto v = m.get("expect")) {
      std::string s;
      if (r_.read_choice(v, s, m.path("expect"), {"none", "some"})) p.expect_none = s == "none";
    }
    read_missing(m, p.missing);
    return p;
  }

  SysctlProbe parse_sysctl(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    SysctlProbe p;
    if (auto v = m.require("key")) {
      static const RE2 kKey("[A-Za-z0-9_.*-]+(\\.[A-Za-z0-9_*-]+)*");
      if (r_.read(v, p.key, m.path("key")) && (!RE2::FullMatch(p.key, kKey) || p.key.find("..") != std::string::npos)) {
        r_.error(v, fmt::format("{}: '{}' is not a sysctl name", m.path("key"), p.key));
      }
    }
    read_comparison(m, p.compare);
    return p;
  }

  MountProbe parse_mount(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    MountProbe p;
    if (auto v = m.require("path")) read_abs_path(v, p.path, m.path("path"));
    if (auto v = m.get("options")) r_.read_list(v, p.options, m.path("options"));
    read_missing(m, p.missing);
    return p;
  }

  ListenProbe parse_listening(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    ListenProbe p;
    if (auto v = m.require("ports")) {
      if (!v.IsSequence()) {
        r_.error(v, fmt::format("{}: expected a list of port numbers", m.path("ports")));
      } else {
        for (const auto& item : v) {
          uint32_t port = 0;
          if (r_.read(item, port, m.path("ports"), 1, 65535)) p.ports.push_back(port);
        }
      }
    }
    if (auto v = m.get("protocol")) r_.read_choice(v, p.protocol, m.path("protocol"), {"tcp", "udp", "any"});
    read_expect(m, p.expect_present, "present", "absent");
    if (auto v = m.get("except_loopback")) r_.read(v, p.except_loopback, m.path("except_loopback"));
    return p;
  }

  ServiceProbe parse_service(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    ServiceProbe p;
    if (auto v = m.require("unit")) {
      static const RE2 kUnit("[A-Za-z0-9@_.:\\\\-]+\\.(service|socket|timer|target|path|mount)");
      if (r_.read(v, p.unit, m.path("unit")) && !RE2::FullMatch(p.unit, kUnit)) {
        r_.error(v, fmt::format("{}: '{}' is not a unit name such as 'ssh.service'", m.path("unit"), p.unit));
      }
    }
    bool b = false;
    if (auto v = m.get("enabled"); v && r_.read(v, b, m.path("enabled"))) p.enabled = b;
    if (auto v = m.get("active"); v && r_.read(v, b, m.path("active"))) p.active = b;
    if (!p.enabled && !p.active && m.is_map()) r_.error(n, fmt::format("{}: say 'enabled' or 'active' (or both)", ctx));
    return p;
  }

  PackageProbe parse_package(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    PackageProbe p;
    if (auto v = m.require("name")) r_.read(v, p.name, m.path("name"));
    if (auto v = m.get("installed")) r_.read(v, p.installed, m.path("installed"));
    if (auto v = m.get("version")) {
      MapReader vm(r_, v, m.path("version"));
      Comparison c;
      read_comparison(vm, c, /*numeric_order=*/false);  // Debian version ordering
      p.version = std::move(c);
    }
    return p;
  }

  AccountsProbe parse_accounts(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    AccountsProbe p;
    if (auto v = m.require("check")) {
      std::string s;
      using K = AccountsProbe::Kind;
      if (r_.read_choice(v, s, m.path("check"),
                         {"empty_passwords", "uid0_only_root", "shadowed_passwords", "password_max_days", "inactive_days"})) {
        p.kind = s == "empty_passwords" ? K::empty_passwords : s == "uid0_only_root" ? K::uid0_only_root
                 : s == "shadowed_passwords" ? K::shadowed_passwords : s == "password_max_days" ? K::password_max_days
                 : K::inactive_days;
        if (p.kind == K::password_max_days || p.kind == K::inactive_days) {
          if (auto mx = m.require("max")) r_.read(mx, p.max, m.path("max"), 0, 100000);
        }
      }
    }
    if (auto v = m.get("groups")) read_string_or_list(r_, v, p.groups, m.path("groups"));
    if (auto v = m.get("users")) read_string_or_list(r_, v, p.users, m.path("users"));
    return p;
  }

  CommandProbe parse_command(const YAML::Node& n, const std::string& ctx) {
    MapReader m(r_, n, ctx);
    CommandProbe p;
    if (auto v = m.require("run")) {
      if (r_.read_list(v, p.argv, m.path("run")) && (p.argv.empty() || p.argv[0].empty() || p.argv[0].front() != '/')) {
        r_.error(v, fmt::format("{}: the program must be an absolute path (no shell, no PATH lookup)", m.path("run")));
      }
    }
    if (auto v = m.get("timeout")) {
      r_.read_duration(v, p.timeout, m.path("timeout"), std::chrono::milliseconds(10), std::chrono::minutes(5));
    }
    if (auto v = m.get("match")) p.regex = read_regex(v, m.path("match"));
    read_expect(m, p.expect_present, "present", "absent");
    if (auto v = m.get("exit")) {
      int64_t code = 0;
      if (r_.read(v, code, m.path("exit"), 0, 255)) p.exit_code = static_cast<int>(code);
    }
    if (!p.regex && !p.exit_code && m.is_map()) r_.error(n, fmt::format("{}: say 'match' or 'exit' (or both)", ctx));
    return p;
  }

  YamlReader& r_;
  const LoadedFrameworks& fws_;
  bool allow_commands_ = false;
};

}  // namespace

std::string default_frameworks_dir(const std::string& policy_path) {
  return (fs::path(policy_path).parent_path() / ".." / "frameworks").lexically_normal().string();
}

Result<LoadedPolicy> load_policy(const std::string& path, const LoadedFrameworks& frameworks) {
  YamlReader r(path);
  auto root = r.load_file();
  LoadedPolicy out;
  out.policy.file = path;
  if (root) {
    if (!root->IsMap() || !(*root)["policy"]) {
      r.error(*root, "not a policy file (expected a top-level 'policy:' and 'checks:')");
    } else {
      PolicyParser(r, frameworks).parse(*root, out.policy);
    }
  }
  if (r.diagnostics().has_errors()) return make_error(r.diagnostics().to_string());
  out.diagnostics = r.diagnostics();
  return out;
}

}  // namespace vigil::agent::checks
