#include "collector/config/collector_config.h"

#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "collector/config/postgres_dsn.h"

namespace vigil::collector {

using config::MapReader;
using config::YamlReader;

namespace {

void read_storage(YamlReader& r, const YAML::Node& n, StorageSection& out) {
  MapReader m(r, n, "collector.storage");
  if (auto v = m.get("driver")) {
    r.read_choice(v, out.driver, m.path("driver"), {"sqlite", "postgres", "postgresql"});
    if (out.driver == "postgresql") out.driver = "postgres";
  }
  auto path = m.get("path");
  auto dsn = m.get("dsn");
  auto connections = m.get("connections");
  if (path) r.read_path(path, out.path, m.path("path"));
  if (dsn) r.read(dsn, out.dsn, m.path("dsn"));
  if (connections) r.read(connections, out.connections, m.path("connections"), 1, 256);
  if (out.driver == "postgres") {
    if (!dsn) r.error(m.node(), "collector.storage: driver postgres needs 'dsn' (e.g. \"host=db dbname=vigil\")");
    if (path) r.error(path, "collector.storage.path: only the sqlite driver takes a path");
    if (dsn) {
      // The string itself is never repeated: it may hold a password.
      auto checked = check_postgres_dsn(out.dsn);
      if (!checked) {
        r.error(dsn, "collector.storage.dsn: " + checked.error());
      } else {
        if (checked->inline_password) {
          r.warning(dsn,
                    "collector.storage.dsn: holds a password; passfile=FILE (or PGPASSFILE) keeps it out of "
                    "this file");
        }
        std::error_code ec;
        if (!checked->passfile.empty() && !std::filesystem::exists(checked->passfile, ec)) {
          r.warning(dsn, fmt::format("collector.storage.dsn: passfile '{}' does not exist", checked->passfile));
        }
      }
    }
  } else {
    if (dsn) r.error(dsn, "collector.storage.dsn: only the postgres driver takes a dsn");
    if (connections) r.error(connections, "collector.storage.connections: only the postgres driver takes connections");
  }
}

void read_retention(YamlReader& r, const YAML::Node& n, RetentionSection& out) {
  MapReader m(r, n, "collector.retention");
  constexpr auto kMin = std::chrono::milliseconds(24h);
  constexpr auto kMax = std::chrono::milliseconds(3650 * 24h);
  if (auto v = m.get("events")) r.read_duration(v, out.events, m.path("events"), kMin, kMax);
  if (auto v = m.get("alerts")) r.read_duration(v, out.alerts, m.path("alerts"), kMin, kMax);
  if (auto v = m.get("health")) r.read_duration(v, out.health, m.path("health"), kMin, kMax);
  if (auto v = m.get("compliance_history")) {
    r.read_duration(v, out.compliance_history, m.path("compliance_history"), kMin, kMax);
  }
  if (auto v = m.get("audit")) r.read_duration(v, out.audit, m.path("audit"), kMin, kMax);
  if (auto v = m.get("interval")) r.read_duration(v, out.interval, m.path("interval"), 1s, 7 * 24h);
}

void read_limits(YamlReader& r, const YAML::Node& n, LimitsSection& out) {
  MapReader m(r, n, "collector.limits");
  if (auto v = m.get("handshake_timeout")) r.read_duration(v, out.handshake_timeout, m.path("handshake_timeout"), 100ms, 5min);
  if (auto v = m.get("request_timeout")) r.read_duration(v, out.request_timeout, m.path("request_timeout"), 100ms, 30min);
  if (auto v = m.get("idle_timeout")) r.read_duration(v, out.idle_timeout, m.path("idle_timeout"), 1s, 24h);
  if (auto v = m.get("max_connections")) r.read(v, out.max_connections, m.path("max_connections"), 1, 1000000);
  if (auto v = m.get("max_connections_per_source")) {
    r.read(v, out.max_connections_per_source, m.path("max_connections_per_source"), 0, 1000000);
  }
  if (auto v = m.get("console_max_connections")) {
    r.read(v, out.console_max_connections, m.path("console_max_connections"), 1, 100000);
  }
  if (auto v = m.get("max_records_per_batch")) {
    r.read(v, out.max_records_per_batch, m.path("max_records_per_batch"), 1, 1000000);
  }
}

void read_collector(YamlReader& r, const YAML::Node& n, CollectorSection& out, bool check_pki) {
  MapReader m(r, n, "collector");
  if (auto v = m.get("data_dir")) r.read_path(v, out.data_dir, m.path("data_dir"));
  auto agents = m.get("agents_listen");
  auto console = m.get("console_listen");
  if (agents) r.read_endpoint(agents, out.agents_listen, m.path("agents_listen"));
  if (console) r.read_endpoint(console, out.console_listen, m.path("console_listen"));
  if (out.agents_listen.port == out.console_listen.port && out.agents_listen.host == out.console_listen.host) {
    r.error(console ? console : m.node(), "collector.console_listen: must differ from agents_listen");
  }
  auto pki = m.get("pki_dir");
  if (pki) r.read_path(pki, out.pki_dir, m.path("pki_dir"));
  if (auto v = m.get("threads")) r.read(v, out.threads, m.path("threads"), 0, 256);
  if (auto v = m.get("default_framework")) {
    if (r.read(v, out.default_framework, m.path("default_framework")) && out.default_framework.empty()) {
      r.error(v, "collector.default_framework: must not be empty");
    }
  }
  if (auto v = m.get("frameworks")) {
    if (r.read_list(v, out.frameworks, m.path("frameworks"))) {
      for (auto& f : out.frameworks) f = r.resolve(f).string();
    }
  }
  if (auto v = m.get("silent_after")) r.read_duration(v, out.silent_after, m.path("silent_after"), 30s, 7 * 24h);
  if (auto v = m.get("max_batch_bytes")) {
    r.read_size(v, out.max_batch_bytes, m.path("max_batch_bytes"), 64ULL << 10, 256ULL << 20);
  }
  if (auto v = m.get("agent_cert_validity")) {
    r.read_duration(v, out.agent_cert_validity, m.path("agent_cert_validity"), 10s, 3650 * 24h);
  }
  read_limits(r, m.get("limits"), out.limits);
  read_storage(r, m.get("storage"), out.storage);
  read_retention(r, m.get("retention"), out.retention);
  m.finish();

  if (out.pki_dir.empty()) out.pki_dir = (std::filesystem::path(out.data_dir) / "pki").string();
  if (out.storage.driver == "sqlite" && out.storage.path.empty()) {
    out.storage.path = (std::filesystem::path(out.data_dir) / "vigil.db").string();
  }
  // The collector cannot serve without its PKI: say so now rather than at start.
  std::error_code ec;
  const YAML::Node& at = pki ? pki : m.node();
  if (!check_pki) return;
  if (!std::filesystem::is_directory(out.pki_dir, ec)) {
    r.error(at, fmt::format("collector.pki_dir: '{}' is not a directory (run 'vigil-collector init')", out.pki_dir));
  } else {
    for (const char* f : kPkiFiles) {
      auto p = std::filesystem::path(out.pki_dir) / f;
      if (!std::filesystem::exists(p, ec)) {
        r.error(at, fmt::format("collector.pki_dir: '{}' is missing (run 'vigil-collector init')", p.string()));
      }
    }
  }
}

Result<LoadedCollectorConfig> finish_load(YamlReader& r, const std::optional<YAML::Node>& root,
                                          bool check_pki = true) {
  LoadedCollectorConfig out;
  if (root) out.config = read_collector_config(r, *root, check_pki);
  if (r.diagnostics().has_errors()) return make_error(r.diagnostics().to_string());
  out.diagnostics = r.diagnostics();
  return out;
}

void read_exports(YamlReader& r, const YAML::Node& n, std::vector<ExportSection>& out) {
  if (!n) return;
  if (!n.IsSequence()) {
    r.error(n, "exports: expected a list of exports");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < n.size(); ++i) {
    MapReader m(r, n[i], fmt::format("exports[{}]", i));
    if (!m.is_map()) continue;
    ExportSection e;
    if (auto v = m.require("name")) {
      if (r.read(v, e.name, m.path("name"))) {
        bool ok = !e.name.empty() && e.name.size() <= 64 &&
                  e.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos;
        if (!ok) r.error(v, m.path("name") + ": 1 to 64 of a-z, 0-9, - and _");
        if (ok && !names.insert(e.name).second) r.error(v, m.path("name") + ": '" + e.name + "' is used twice");
      }
    }
    auto kind = m.require("kind");
    if (kind) r.read_choice(kind, e.kind, m.path("kind"), {"syslog", "jsonl", "webhook"});
    if (e.kind == "syslog") {
      if (auto v = m.require("address")) r.read_endpoint(v, e.address, m.path("address"));
      if (auto v = m.get("tls")) r.read(v, e.tls, m.path("tls"));
    }
    if (e.kind == "jsonl") {
      if (auto v = m.require("path")) r.read_path(v, e.path, m.path("path"));
    }
    if (e.kind == "webhook") {
      if (auto v = m.require("url")) {
        if (r.read(v, e.url, m.path("url")) && !e.url.starts_with("https://")) {
          r.error(v, m.path("url") + ": an https:// URL (alerts do not travel in clear)");
        }
      }
    }
    if (e.kind == "webhook" || e.tls) {
      e.ca = "/etc/ssl/certs/ca-certificates.crt";
      if (auto v = m.get("ca")) r.read_path(v, e.ca, m.path("ca"));
    }
    if (auto v = m.get("min_severity")) {
      std::string sev;
      if (r.read_choice(v, sev, m.path("min_severity"), {"info", "low", "medium", "high", "critical"})) {
        static const std::map<std::string, int> kLevels = {{"info", 1}, {"low", 2}, {"medium", 3}, {"high", 4}, {"critical", 5}};
        e.min_severity = kLevels.at(sev);
      }
    }
    if (auto v = m.get("start")) {
      std::string start;
      if (r.read_choice(v, start, m.path("start"), {"now", "beginning"})) e.from_beginning = start == "beginning";
    }
    m.finish();
    out.push_back(std::move(e));
  }
}

}  // namespace

CollectorConfig read_collector_config(YamlReader& r, const YAML::Node& root, bool check_pki) {
  CollectorConfig cfg;
  MapReader top(r, root, "");
  if (!top.is_map()) return cfg;
  read_collector(r, top.get("collector"), cfg.collector, check_pki);
  config::read_logging_section(r, top.get("logging"), cfg.logging);
  read_exports(r, top.get("exports"), cfg.exports);
  top.finish();
  return cfg;
}

Result<LoadedCollectorConfig> load_collector_config(const std::string& path, bool check_pki) {
  YamlReader r(path);
  auto root = r.load_file();
  return finish_load(r, root, check_pki);
}

Result<LoadedCollectorConfig> load_collector_config_string(const std::string& name, const std::string& text) {
  YamlReader r(name);
  auto root = r.load_string(text);
  return finish_load(r, root);
}

}  // namespace vigil::collector
