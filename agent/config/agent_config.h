// The agent's configuration (agent.yaml): typed, validated, with every default defined here once.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/fim/audit.h"
#include "agent/fim/deploy.h"
#include "agent/fim/packages.h"
#include "agent/fim/scanner.h"
#include "agent/flow/flow_table.h"
#include "common/config/logging_section.h"
#include "common/config/yaml_reader.h"
#include "common/result.h"
#include "common/util/compress.h"

namespace vigil::agent {

using namespace std::chrono_literals;
using config::Endpoint;

struct AgentSection {
  std::string name;  // host.name of our events; empty: the machine's hostname
  std::string state_dir = "/var/lib/vigil";
  std::string user = "vigil";
  std::chrono::milliseconds health_interval = 30s;

  bool operator==(const AgentSection&) const = default;
};

struct CollectorSection {
  std::vector<Endpoint> addresses;
  std::chrono::milliseconds connect_timeout = 10s;
  uint32_t batch_max_records = 1000;
  uint64_t batch_max_bytes = 1ULL << 20;
  uint32_t batches_in_flight = 2;  // posted at once, each on its own connection, while a backlog is delivered
  std::chrono::milliseconds retry_max_backoff = 60s;
  // Batch bodies: zstd (smallest and fastest), gzip (collectors before zstd), none.
  compress::Codec compression = compress::Codec::zstd;
};

struct CaptureInput {
  std::string interface;
  std::string bpf;
  uint32_t snaplen = 65535;
  uint64_t buffer_size = 16ULL << 20;
  bool promiscuous = true;

  bool operator==(const CaptureInput&) const = default;
};

struct FlowSection {
  std::chrono::milliseconds idle_timeout = 120s;
  std::chrono::milliseconds active_timeout = 30min;
  uint64_t memory_cap = 128ULL << 20;
  uint64_t reassembly_per_flow = 256ULL << 10;  // per direction
  uint64_t reassembly_total = 64ULL << 20;

  bool operator==(const FlowSection&) const = default;
};

// The flow table's settings from the flows: section.
flow::FlowOptions flow_options(const FlowSection& flows);

struct LogInput {
  std::string format;              // syslog journal nginx apache nginx_error apache_error auditd raw
  std::string path;                // file or glob (not for journal)
  std::vector<std::string> match;  // journal matches, FIELD=value
  std::string directory;           // journal: a journal directory to read instead of this host's

  bool operator==(const LogInput&) const = default;
};

struct RulesSection {
  std::vector<std::string> paths = {"/usr/share/vigil/rules", "/etc/vigil/rules.d"};

  bool operator==(const RulesSection&) const = default;
};

struct PoliciesSection {
  std::vector<std::string> paths = {"/usr/share/vigil/rules"};
  std::chrono::milliseconds interval = 6h;
  std::string run = "internal";  // internal | external
  std::string inbox;             // default: <state_dir>/inbox
  // internal: every result goes out once per this interval; between, only changed ones.
  std::chrono::milliseconds full_report_interval = 24h;
  std::string root = "/";  // the host as the scans see it (a container may mount it elsewhere)

  bool operator==(const PoliciesSection&) const = default;
};

struct SpoolSection {
  uint64_t max_size = 1ULL << 30;
  uint64_t segment_size = 16ULL << 20;
  // How often the loop makes what it appended durable (fsync) and commits the positions it came
  // from; also at stop. Shorter: less re-read after a crash and lower latency, more fsyncs.
  std::chrono::milliseconds sync_interval = 200ms;

  bool operator==(const SpoolSection&) const = default;
};

// fim: file integrity monitoring (shared/DESIGN.md "File integrity"). No paths: off.
struct FimPath {
  std::string path{};  // absolute (relative ones are taken from agent.yaml's directory)
  bool recursive{true};
  bool realtime{true};  // inotify besides the scheduled scan
  std::vector<std::string> ignore{};  // globs relative to `path` (agent/fim/scanner.h)
  // Changes of small text files carry a diff (agent/fim/content.h); default: trees in /etc.
  bool diff{false};

  bool operator==(const FimPath&) const = default;
};

struct FimSection {
  std::chrono::milliseconds interval{12h};  // full rescan (quick: unchanged metadata reuses the hash)
  std::vector<FimPath> paths{};
  uint64_t max_files{fim::kDefaultMaxFiles};
  uint64_t max_read_rate{fim::kDefaultMaxReadRate};  // bytes per second read for hashing
  std::vector<std::string> nodiff{};  // files never diffed, besides fim::default_nodiff()
  // Web deployments (agent/fim/deploy.h): changes are marked in or out of these windows (local
  // time) and, when the event names its user, by a deploy user or not. Empty: no mark.
  std::vector<fim::DeployWindow> deploy_windows{};
  std::vector<std::string> deploy_users{};
  // Package upgrades (agent/fim/packages.h): changes within package_window of dpkg's work, read
  // from dpkg_log, are marked as package activity. dpkg_log "": no mark.
  std::string dpkg_log{fim::kDefaultDpkgLog};
  std::string dpkg_info{fim::kDefaultDpkgInfo};
  std::chrono::milliseconds package_window{10min};
  // Who changed a file (agent/fim/audit.h): the audit log's events naming the file within
  // audit_window of the change. audit_log "": no attribution.
  std::string audit_log{fim::kDefaultAuditLog};
  std::chrono::milliseconds audit_window{5s};

  bool enabled() const { return !paths.empty(); }
  bool operator==(const FimSection&) const = default;
};

struct AgentConfig {
  AgentSection agent;
  CollectorSection collector;
  std::vector<CaptureInput> capture;
  FlowSection flows;
  std::vector<LogInput> logs;
  RulesSection rules;
  PoliciesSection policies;
  SpoolSection spool;
  config::LoggingSection logging;
  FimSection fim{};
};

// What a reload (SIGHUP) of agent.yaml does to a running agent: `applied` is the running
// configuration with every setting that can change in flight taken from the new file (logs,
// rules, policies except run and full_report_interval, logging.level, agent.health_interval);
// the other settings keep their running values and, where the file changed them, are named in
// `needs_restart` (state_dir, the identity and spool under it, the user, captures whose
// privileges are gone, the collector connection, flows, spool, queues). fim changes in flight too
// (`fim_changed`): its source is rebuilt on the baseline it kept, so a tree still watched keeps its
// baseline, one added is baselined silently, one removed is dropped from the baseline.
struct ConfigReload {
  AgentConfig applied;
  std::vector<std::string> needs_restart;
  bool logs_changed = false;
  bool rules_changed = false;
  bool policies_changed = false;
  bool logging_changed = false;
  bool fim_changed = false;
};
ConfigReload plan_reload(const AgentConfig& running, const AgentConfig& loaded);

// Reads and validates; all problems end up in reader.diagnostics(). The config is usable only
// when diagnostics have no errors.
AgentConfig read_agent_config(config::YamlReader& reader, const YAML::Node& root);

struct LoadedAgentConfig {
  AgentConfig config;
  config::Diagnostics diagnostics;  // warnings only, when loading succeeded
};

// A group bundle's restricted overlay of agent.yaml (config/agent.yaml in the bundle; shared/DESIGN.md
// "Groups and bundles"): only `logs` (inputs added to the file's), `rules: {paths}` (added),
// `policies: {interval}` and `capture: {bpf}` (the filter of every interface, from the next
// start). Anything that moves trust (collector, agent, spool, policies.run, inbox...) is refused.
struct ConfigOverlay {
  std::vector<LogInput> logs;
  std::vector<std::string> rule_paths;
  std::optional<std::chrono::milliseconds> policies_interval;
  std::optional<std::string> capture_bpf;
};
// Every problem as name:line:column, one per line.
Result<ConfigOverlay> load_config_overlay(const std::string& name, const std::string& text);
// `cfg` with the overlay over it (inputs of a path the file already follows are not added twice).
void apply_overlay(AgentConfig& cfg, const ConfigOverlay& overlay);

// Loads a file; the error lists every problem, one per line, as file:line:column.
Result<LoadedAgentConfig> load_agent_config(const std::string& path);
Result<LoadedAgentConfig> load_agent_config_string(const std::string& name, const std::string& text);

}  // namespace vigil::agent
