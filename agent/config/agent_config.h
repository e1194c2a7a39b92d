// The agent's configuration (agent.yaml): typed, validated, with every default defined here once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

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
  uint32_t queue_capacity = 65536;  // events between pipeline stages
  std::chrono::milliseconds health_interval = 30s;
};

struct CollectorSection {
  std::vector<Endpoint> addresses;
  std::chrono::milliseconds connect_timeout = 10s;
  uint32_t batch_max_records = 1000;
  uint64_t batch_max_bytes = 1ULL << 20;
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
};

struct FlowSection {
  std::chrono::milliseconds idle_timeout = 120s;
  std::chrono::milliseconds active_timeout = 30min;
  uint64_t memory_cap = 128ULL << 20;
  uint64_t reassembly_per_flow = 256ULL << 10;  // per direction
  uint64_t reassembly_total = 64ULL << 20;
};

// The flow table's settings from the flows: section.
flow::FlowOptions flow_options(const FlowSection& flows);

struct LogInput {
  std::string format;              // syslog journal nginx apache nginx_error apache_error auditd raw
  std::string path;                // file or glob (not for journal)
  std::vector<std::string> match;  // journal matches, FIELD=value
  std::string directory;           // journal: a journal directory to read instead of this host's
};

struct RulesSection {
  std::vector<std::string> paths = {"/usr/share/vigil/rules", "/etc/vigil/rules.d"};
};

struct PoliciesSection {
  std::vector<std::string> paths = {"/usr/share/vigil/rules"};
  std::chrono::milliseconds interval = 6h;
  std::string run = "internal";  // internal | external
  std::string inbox;             // default: <state_dir>/inbox
  // internal: every result goes out once per this interval; between, only changed ones.
  std::chrono::milliseconds full_report_interval = 24h;
  std::string root = "/";  // the host as the scans see it (a container may mount it elsewhere)
};

struct SpoolSection {
  uint64_t max_size = 1ULL << 30;
  uint64_t segment_size = 16ULL << 20;
  std::chrono::milliseconds fsync_interval = 1s;
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
};

// Reads and validates; all problems end up in reader.diagnostics(). The config is usable only
// when diagnostics have no errors.
AgentConfig read_agent_config(config::YamlReader& reader, const YAML::Node& root);

struct LoadedAgentConfig {
  AgentConfig config;
  config::Diagnostics diagnostics;  // warnings only, when loading succeeded
};

// Loads a file; the error lists every problem, one per line, as file:line:column.
Result<LoadedAgentConfig> load_agent_config(const std::string& path);
Result<LoadedAgentConfig> load_agent_config_string(const std::string& name, const std::string& text);

}  // namespace vigil::agent
