#include "agent/config/agent_config.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include <fmt/format.h>

#include "agent/capture/pcap_api.h"
#include "agent/fim/content.h"

namespace vigil::agent {

using config::MapReader;
using config::YamlReader;

namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

void read_agent_section(YamlReader& r, const YAML::Node& n, AgentSection& out) {
  MapReader m(r, n, "agent");
  if (auto v = m.get("name")) r.read(v, out.name, m.path("name"));
  if (auto v = m.get("state_dir")) r.read_path(v, out.state_dir, m.path("state_dir"));
  if (auto v = m.get("user")) {
    if (r.read(v, out.user, m.path("user")) && out.user.empty()) r.error(v, "agent.user: must not be empty");
  }
  m.retired("queue_capacity",
            "the agent reads its sources in one loop, a bounded slice of each per pass, so no queue lies between "
            "its stages: what is not read yet waits in its source (the file, the journal, the capture buffer)");
  if (auto v = m.get("health_interval")) r.read_duration(v, out.health_interval, m.path("health_interval"), 1s, 1h);
}

void read_collector_section(YamlReader& r, const YAML::Node& n, CollectorSection& out) {
  MapReader m(r, n, "collector");
  if (auto v = m.require("addresses")) {
    if (!v.IsSequence() || v.size() == 0) {
      r.error(v, "collector.addresses: expected a non-empty list of HOST:PORT");
    } else {
      for (const auto& item : v) {
        Endpoint ep;
        if (r.read_endpoint(item, ep, m.path("addresses"))) out.addresses.push_back(ep);
      }
    }
  }
  if (auto v = m.get("connect_timeout")) r.read_duration(v, out.connect_timeout, m.path("connect_timeout"), 100ms, 5min);
  if (auto v = m.get("batch_max_records")) r.read(v, out.batch_max_records, m.path("batch_max_records"), 1, 100'000);
  if (auto v = m.get("batch_max_bytes")) r.read_size(v, out.batch_max_bytes, m.path("batch_max_bytes"), 4096, 64 * kMiB);
  if (auto v = m.get("batches_in_flight")) r.read(v, out.batches_in_flight, m.path("batches_in_flight"), 1, 8);
  if (auto v = m.get("retry_max_backoff")) {
    r.read_duration(v, out.retry_max_backoff, m.path("retry_max_backoff"), 1s, 1h);
  }
  if (auto v = m.get("compression")) {
    std::string name;
    if (r.read_choice(v, name, m.path("compression"), {"zstd", "gzip", "none"})) {
      out.compression = name == "none" ? compress::Codec::none : *compress::codec_of_encoding(name);
    }
  }
}

void read_capture(YamlReader& r, const YAML::Node& n, std::vector<CaptureInput>& out) {
  if (!n.IsSequence()) {
    r.error(n, "capture: expected a list of interfaces ({interface: NAME, bpf: ...})");
    return;
  }
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < n.size(); ++i) {
    MapReader m(r, n[i], fmt::format("capture[{}]", i));
    CaptureInput c;
    if (auto v = m.require("interface")) {
      if (r.read(v, c.interface, m.path("interface"))) {
        if (c.interface.empty() || c.interface.size() > 15) {
          r.error(v, fmt::format("{}: an interface name has 1 to 15 characters", m.path("interface")));
        } else if (!seen.insert(c.interface).second) {
          r.error(v, fmt::format("{}: interface '{}' is captured twice", m.path("interface"), c.interface));
        }
      }
    }
    if (auto v = m.get("bpf")) r.read(v, c.bpf, m.path("bpf"));
    if (auto v = m.get("snaplen")) r.read(v, c.snaplen, m.path("snaplen"), 64, 262144);
    if (auto v = m.get("buffer_size")) r.read_size(v, c.buffer_size, m.path("buffer_size"), kMiB, 2 * kGiB);
    if (auto v = m.get("promiscuous")) r.read(v, c.promiscuous, m.path("promiscuous"));
    out.push_back(std::move(c));
  }
}

void read_flows(YamlReader& r, const YAML::Node& n, FlowSection& out) {
  MapReader m(r, n, "flows");
  if (auto v = m.get("idle_timeout")) r.read_duration(v, out.idle_timeout, m.path("idle_timeout"), 1s, 24h);
  if (auto v = m.get("active_timeout")) r.read_duration(v, out.active_timeout, m.path("active_timeout"), 10s, 24h);
  if (auto v = m.get("memory_cap")) r.read_size(v, out.memory_cap, m.path("memory_cap"), kMiB, 64 * kGiB);
  if (auto v = m.get("reassembly_per_flow")) {
    r.read_size(v, out.reassembly_per_flow, m.path("reassembly_per_flow"), 4096, 64 * kMiB);
  }
  if (auto v = m.get("reassembly_total")) {
    r.read_size(v, out.reassembly_total, m.path("reassembly_total"), kMiB, 16 * kGiB);
  }
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

void read_logs(YamlReader& r, const YAML::Node& n, std::vector<LogInput>& out) {
  if (!n.IsSequence()) {
    r.error(n, "logs: expected a list of inputs ({path: FILE, format: FORMAT} or {format: journal})");
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    MapReader m(r, n[i], fmt::format("logs[{}]", i));
    LogInput in;
    auto format_node = m.require("format");
    if (format_node) {
      r.read_choice(format_node, in.format, m.path("format"),
                    {"syslog", "journal", "nginx", "apache", "nginx_error", "apache_error", "auditd", "raw"});
    }
    auto path_node = m.get("path");
    auto match_node = m.get("match");
    auto directory_node = m.get("directory");
    if (in.format == "journal") {
      if (path_node) r.error(path_node, fmt::format("{}: the journal input takes no path", m.path("path")));
      if (directory_node) r.read_path(directory_node, in.directory, m.path("directory"));
      if (match_node && r.read_list(match_node, in.match, m.path("match"))) {
        for (size_t k = 0; k < in.match.size(); ++k) {
          const std::string& expr = in.match[k];
          size_t eq = expr.find('=');
          bool ok = eq != std::string::npos && eq > 0;
          for (size_t c = 0; ok && c < eq; ++c) {
            char ch = expr[c];
            ok = (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
          }
          if (!ok) {
            r.error(match_node[k], fmt::format("{}: expected FIELD=value with an upper-case journal field "
                                               "(e.g. _SYSTEMD_UNIT=ssh.service), got '{}'",
                                               m.path("match"), expr));
          }
        }
      }
    } else if (!in.format.empty()) {
      if (match_node) r.error(match_node, fmt::format("{}: only the journal input takes match", m.path("match")));
      if (directory_node) {
        r.error(directory_node, fmt::format("{}: only the journal input takes directory", m.path("directory")));
      }
      if (!path_node) {
        r.error(m.node(), fmt::format("{}: missing required key 'path' for format {}", m.context(), in.format));
      } else if (r.read_path(path_node, in.path, m.path("path"))) {
        if (has_glob_chars(in.path)) {
          glob_t g{};
          int rc = glob(in.path.c_str(), GLOB_NOSORT, nullptr, &g);
          globfree(&g);
          if (rc != 0) r.warning(path_node, fmt::format("{}: '{}' matches no file yet", m.path("path"), in.path));
        } else if (!std::filesystem::exists(in.path)) {
          r.warning(path_node, fmt::format("{}: '{}' does not exist yet", m.path("path"), in.path));
        }
      }
    }
    out.push_back(std::move(in));
  }
}

void read_dirs(YamlReader& r, const YAML::Node& v, std::vector<std::string>& out, const std::string& what) {
  if (!r.read_list(v, out, what)) return;
  for (size_t k = 0; k < out.size(); ++k) {
    out[k] = r.resolve(out[k]).string();
    std::error_code ec;
    if (!std::filesystem::exists(out[k], ec)) {
      r.warning(v[k], fmt::format("{}: '{}' does not exist", what, out[k]));
    }
  }
}

void read_rules(YamlReader& r, const YAML::Node& n, RulesSection& out) {
  MapReader m(r, n, "rules");
  if (auto v = m.get("paths")) read_dirs(r, v, out.paths, m.path("paths"));
}

void read_policies(YamlReader& r, const YAML::Node& n, PoliciesSection& out) {
  MapReader m(r, n, "policies");
  if (auto v = m.get("paths")) read_dirs(r, v, out.paths, m.path("paths"));
  if (auto v = m.get("interval")) r.read_duration(v, out.interval, m.path("interval"), 1min, 30 * 24h);
  if (auto v = m.get("run")) r.read_choice(v, out.run, m.path("run"), {"internal", "external"});
  if (auto v = m.get("inbox")) r.read_path(v, out.inbox, m.path("inbox"));
  if (auto v = m.get("full_report_interval")) {
    r.read_duration(v, out.full_report_interval, m.path("full_report_interval"), 1s, 365 * 24h);
  }
  if (auto v = m.get("root")) r.read_path(v, out.root, m.path("root"));
}

void read_spool(YamlReader& r, const YAML::Node& n, SpoolSection& out) {
  MapReader m(r, n, "spool");
  if (auto v = m.get("max_size")) r.read_size(v, out.max_size, m.path("max_size"), 16 * kMiB, 1024 * kGiB);
  if (auto v = m.get("segment_size")) r.read_size(v, out.segment_size, m.path("segment_size"), kMiB, kGiB);
  if (auto v = m.get("sync_interval")) r.read_duration(v, out.sync_interval, m.path("sync_interval"), 0ms, 10s);
  m.retired("fsync_interval", "the spool syncs every sync_interval (default 200ms); fsync_interval was never read");
  if (out.segment_size > out.max_size) {
    r.error(m.node(), "spool: segment_size must not exceed max_size");
  }
}

void read_fim(YamlReader& r, const YAML::Node& n, FimSection& out) {
  MapReader m(r, n, "fim");
  if (!m.is_map()) return;
  if (auto v = m.get("interval")) r.read_duration(v, out.interval, m.path("interval"), 10s, 30 * 24h);
  if (auto v = m.get("max_files")) {
    int64_t files = 0;
    if (r.read(v, files, m.path("max_files"), 1, 100'000'000)) out.max_files = static_cast<uint64_t>(files);
  }
  if (auto v = m.get("max_read_rate")) {
    // "50MiB/s" or "50MiB": bytes per second.
    auto rate = v.IsScalar() ? fim::parse_read_rate(v.Scalar()) : std::nullopt;
    if (!rate) {
      r.error(v, fmt::format("{}: expected a rate between 64KiB/s and 64GiB/s such as 50MiB/s", m.path("max_read_rate")));
    } else {
      out.max_read_rate = *rate;
    }
  }
  if (auto v = m.get("nodiff")) {
    if (r.read_list(v, out.nodiff, m.path("nodiff"))) {
      for (size_t k = 0; k < out.nodiff.size(); ++k) {
        if (out.nodiff[k].empty()) r.error(v[k], fmt::format("{}: an empty glob", m.path("nodiff")));
      }
    }
  }
  if (auto v = m.get("deploy_windows")) {
    std::vector<std::string> texts;
    if (r.read_list(v, texts, m.path("deploy_windows"))) {
      for (size_t k = 0; k < texts.size(); ++k) {
        std::string why;
        if (auto w = fim::parse_deploy_window(texts[k], why)) {
          out.deploy_windows.push_back(std::move(*w));
        } else {
          r.error(v[k], fmt::format("{}[{}]: {}", m.path("deploy_windows"), k, why));
        }
      }
    }
  }
  if (auto v = m.get("deploy_users")) {
    if (r.read_list(v, out.deploy_users, m.path("deploy_users"))) {
      for (size_t k = 0; k < out.deploy_users.size(); ++k) {
        if (out.deploy_users[k].empty()) r.error(v[k], fmt::format("{}: an empty user name", m.path("deploy_users")));
      }
    }
  }
  if (auto v = m.get("dpkg_log")) {
    // "" turns the package marks off.
    if (std::string s; r.read(v, s, m.path("dpkg_log"))) out.dpkg_log = s.empty() ? s : r.resolve(s).string();
  }
  if (auto v = m.get("dpkg_info")) r.read_path(v, out.dpkg_info, m.path("dpkg_info"));
  if (auto v = m.get("package_window")) {
    r.read_duration(v, out.package_window, m.path("package_window"), 1min, 24h);
  }
  if (auto v = m.get("audit_log")) {
    // "" turns attribution off.
    if (std::string s; r.read(v, s, m.path("audit_log"))) out.audit_log = s.empty() ? s : r.resolve(s).string();
  }
  if (auto v = m.get("audit_window")) r.read_duration(v, out.audit_window, m.path("audit_window"), 1s, 60s);
  if (auto v = m.get("paths")) {
    if (!v.IsSequence()) {
      r.error(v, fmt::format("{}: expected a list of trees ({{path: DIR, recursive: true, realtime: true, ignore: "
                             "[GLOB], diff: true}})",
                             m.path("paths")));
    } else {
      std::unordered_set<std::string> seen;
      for (size_t i = 0; i < v.size(); ++i) {
        MapReader pm(r, v[i], fmt::format("fim.paths[{}]", i));
        if (!pm.is_map()) continue;
        FimPath p;
        if (auto pv = pm.require("path"); pv && r.read_path(pv, p.path, pm.path("path"))) {
          p.path = fim::normalize_root(p.path);
          std::error_code ec;
          if (!seen.insert(p.path).second) {
            r.error(pv, fmt::format("{}: '{}' is listed twice", pm.path("path"), p.path));
          } else if (!std::filesystem::exists(std::filesystem::symlink_status(p.path, ec))) {
            r.warning(pv, fmt::format("{}: '{}' does not exist yet (it is reported when it appears)", pm.path("path"),
                                      p.path));
          }
        }
        if (auto pv = pm.get("recursive")) r.read(pv, p.recursive, pm.path("recursive"));
        if (auto pv = pm.get("realtime")) r.read(pv, p.realtime, pm.path("realtime"));
        p.diff = fim::diff_by_default(p.path);
        if (auto pv = pm.get("diff")) r.read(pv, p.diff, pm.path("diff"));
        if (auto pv = pm.get("ignore")) {
          if (r.read_list(pv, p.ignore, pm.path("ignore"))) {
            for (size_t k = 0; k < p.ignore.size(); ++k) {
              if (p.ignore[k].empty()) r.error(pv[k], fmt::format("{}: an empty glob", pm.path("ignore")));
            }
          }
        }
        pm.finish();
        out.paths.push_back(std::move(p));
      }
    }
  }
  m.finish();
}

}  // namespace

AgentConfig read_agent_config(YamlReader& r, const YAML::Node& root) {
  AgentConfig cfg;
  MapReader top(r, root, "");
  if (!top.is_map()) return cfg;
  read_agent_section(r, top.get("agent"), cfg.agent);
  read_collector_section(r, top.require("collector"), cfg.collector);
  if (auto v = top.get("capture")) read_capture(r, v, cfg.capture);
  read_flows(r, top.get("flows"), cfg.flows);
  if (auto v = top.get("logs")) read_logs(r, v, cfg.logs);
  read_rules(r, top.get("rules"), cfg.rules);
  read_policies(r, top.get("policies"), cfg.policies);
  read_spool(r, top.get("spool"), cfg.spool);
  config::read_logging_section(r, top.get("logging"), cfg.logging);
  if (auto v = top.get("fim"); v && !v.IsNull()) read_fim(r, v, cfg.fim);
  top.finish();
  if (cfg.policies.inbox.empty()) cfg.policies.inbox = cfg.agent.state_dir + "/inbox";
  return cfg;
}

namespace {
Result<LoadedAgentConfig> finish_load(YamlReader& r, const std::optional<YAML::Node>& root) {
  LoadedAgentConfig out;
  if (root) out.config = read_agent_config(r, *root);
  if (r.diagnostics().has_errors()) return make_error(r.diagnostics().to_string());
  out.diagnostics = r.diagnostics();
  return out;
}
}  // namespace

Result<LoadedAgentConfig> load_agent_config(const std::string& path) {
  YamlReader r(path);
  auto root = r.load_file();
  return finish_load(r, root);
}

Result<LoadedAgentConfig> load_agent_config_string(const std::string& name, const std::string& text) {
  YamlReader r(name);
  auto root = r.load_string(text);
  return finish_load(r, root);
}

namespace {
// Why an overlay may not name a path (nullopt: it may): relative, or where the agent's identity,
// the collector's keys or the system's secrets live. Empty: not given.
std::optional<std::string> overlay_path_refused(const std::string& p) {
  if (p.empty()) return std::nullopt;
  if (p.front() != '/') return "is not an absolute path";
  if (p.find("/../") != std::string::npos || p.ends_with("/..") || p.find("/./") != std::string::npos) {
    return "holds '.' or '..'";
  }
  for (const char* prefix : {"/etc/vigil", "/var/lib/vigil", "/etc/shadow", "/etc/gshadow", "/etc/ssl/private",
                             "/etc/ssh", "/root", "/proc", "/sys", "/dev", "/run/credentials"}) {
    const std::string_view pre(prefix);
    if (p.starts_with(pre) && (p.size() == pre.size() || p[pre.size()] == '/' || p[pre.size()] == '*' ||
                               pre == "/var/lib/vigil")) {
      return fmt::format("lies under {} (a group bundle may not read it)", prefix);
    }
  }
  return std::nullopt;
}
}  // namespace

Result<ConfigOverlay> load_config_overlay(const std::string& name, const std::string& text) {
  YamlReader r(name);
  auto root = r.load_string(text);
  ConfigOverlay out;
  if (root && root->IsMap()) {
    for (const auto& kv : *root) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "logs") {
        read_logs(r, v, out.logs);
        for (size_t i = 0; i < out.logs.size() && v.IsSequence() && i < v.size(); ++i) {
          for (const std::string* p : {&out.logs[i].path, &out.logs[i].directory}) {
            if (auto why = overlay_path_refused(*p)) r.error(v[i], fmt::format("logs[{}]: '{}' {}", i, *p, *why));
          }
        }
      } else if (key == "rules") {
        RulesSection rules;
        rules.paths.clear();
        read_rules(r, v, rules);
        for (const auto& p : rules.paths) {
          if (auto why = overlay_path_refused(p)) r.error(v, fmt::format("rules.paths: '{}' {}", p, *why));
        }
        out.rule_paths = rules.paths;
      } else if (key == "policies") {
        MapReader m(r, v, "policies");
        std::chrono::milliseconds interval{};
        if (auto i = m.get("interval"); i && r.read_duration(i, interval, m.path("interval"), 1min, 30 * 24h)) {
          out.policies_interval = interval;
        }
        m.finish();
      } else if (key == "capture") {
        MapReader m(r, v, "capture");
        std::string bpf;
        if (auto b = m.get("bpf"); b && r.read(b, bpf, m.path("bpf"))) {
          // Compiled here, as at the push: a filter libpcap refuses would stop the agent at its start.
          const std::string& missing = capture::load_pcap();
          pcap_t* dead = missing.empty() ? capture::libpcap().open_dead(DLT_EN10MB, 65535) : nullptr;
          bpf_program prog{};
          if (!missing.empty()) {
            r.error(b, fmt::format("capture.bpf: {}", missing));
          } else if (dead && capture::libpcap().compile(dead, &prog, bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
            r.error(b, fmt::format("capture.bpf: {}", capture::libpcap().geterr(dead)));
          } else {
            capture::libpcap().freecode(&prog);
            out.capture_bpf = bpf;
          }
          if (dead) capture::libpcap().close(dead);
        }
        m.finish();
      } else {
        r.error(kv.first, fmt::format("{}: not allowed in a group bundle's overlay (it takes logs, rules, "
                                      "policies.interval and capture.bpf)",
                                      key));
      }
    }
  } else if (root && !root->IsNull()) {
    r.error(*root, "expected a mapping of logs, rules, policies and capture");
  }
  if (r.diagnostics().has_errors()) return make_error(r.diagnostics().to_string());
  return out;
}

void apply_overlay(AgentConfig& cfg, const ConfigOverlay& o) {
  for (const auto& input : o.logs) {
    bool known = false;
    for (const auto& have : cfg.logs) known = known || have == input || (!input.path.empty() && have.path == input.path);
    if (!known) cfg.logs.push_back(input);
  }
  for (const auto& p : o.rule_paths) {
    if (std::find(cfg.rules.paths.begin(), cfg.rules.paths.end(), p) == cfg.rules.paths.end()) {
      cfg.rules.paths.push_back(p);
    }
  }
  if (o.policies_interval) cfg.policies.interval = *o.policies_interval;
  if (o.capture_bpf) {
    for (auto& c : cfg.capture) c.bpf = *o.capture_bpf;
  }
}

namespace {
bool same_collector(const CollectorSection& a, const CollectorSection& b) {
  auto same_endpoints = std::equal(a.addresses.begin(), a.addresses.end(), b.addresses.begin(), b.addresses.end(),
                                   [](const Endpoint& x, const Endpoint& y) { return x.host == y.host && x.port == y.port; });
  return same_endpoints && a.connect_timeout == b.connect_timeout && a.batch_max_records == b.batch_max_records &&
         a.batch_max_bytes == b.batch_max_bytes && a.batches_in_flight == b.batches_in_flight &&
         a.retry_max_backoff == b.retry_max_backoff &&
         a.compression == b.compression;
}
}  // namespace

ConfigReload plan_reload(const AgentConfig& running, const AgentConfig& loaded) {
  ConfigReload r;
  r.applied = running;
  AgentConfig& a = r.applied;
  auto restart_if = [&](bool changed, const char* setting) {
    if (changed) r.needs_restart.emplace_back(setting);
  };
  restart_if(loaded.agent.name != running.agent.name, "agent.name");
  restart_if(loaded.agent.state_dir != running.agent.state_dir, "agent.state_dir");
  restart_if(loaded.agent.user != running.agent.user, "agent.user");
  a.agent.health_interval = loaded.agent.health_interval;
  restart_if(!same_collector(loaded.collector, running.collector), "collector");
  restart_if(loaded.capture != running.capture, "capture");
  restart_if(loaded.flows != running.flows, "flows");
  restart_if(loaded.spool != running.spool, "spool");
  restart_if(loaded.policies.run != running.policies.run, "policies.run");
  restart_if(loaded.policies.full_report_interval != running.policies.full_report_interval,
             "policies.full_report_interval");

  r.logs_changed = loaded.logs != running.logs;
  a.logs = loaded.logs;
  r.rules_changed = loaded.rules != running.rules;
  a.rules = loaded.rules;
  PoliciesSection p = loaded.policies;
  p.run = running.policies.run;
  p.full_report_interval = running.policies.full_report_interval;
  // The inbox defaults to one under state_dir: follow the running state_dir, not the new one.
  if (loaded.policies.inbox == loaded.agent.state_dir + "/inbox") p.inbox = running.policies.inbox;
  r.policies_changed = p != running.policies;
  a.policies = p;
  r.fim_changed = loaded.fim != running.fim;
  a.fim = loaded.fim;
  r.logging_changed = loaded.logging.level != running.logging.level;
  a.logging = loaded.logging;
  return r;
}

flow::FlowOptions flow_options(const FlowSection& flows) {
  flow::FlowOptions o;
  o.idle_timeout_ns = std::chrono::nanoseconds(flows.idle_timeout).count();
  o.active_timeout_ns = std::chrono::nanoseconds(flows.active_timeout).count();
  o.memory_cap = flows.memory_cap;
  o.streams.window = static_cast<uint32_t>(flows.reassembly_per_flow);
  o.streams.memory_cap = flows.reassembly_total;
  o.streams.idle_timeout_ns = o.idle_timeout_ns;
  return o;
}

}  // namespace vigil::agent
