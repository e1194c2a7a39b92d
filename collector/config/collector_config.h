// The collector's configuration (collector.yaml): typed, validated, defaults defined here once.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config/logging_section.h"
#include "common/config/yaml_reader.h"
#include "common/result.h"

namespace vigil::collector {

using namespace std::chrono_literals;
using config::Endpoint;

struct StorageSection {
  std::string driver = "sqlite";  // sqlite | postgres ("postgresql" is read as postgres)
  std::string path;               // sqlite file; default <data_dir>/vigil.db
  // postgres: a libpq connection string. Never logged; it may hold a password, though
  // passfile= (or PGPASSFILE in the environment) keeps the secret out of collector.yaml.
  std::string dsn;
  uint32_t connections = 4;  // postgres: connections the collector's threads share
};

struct RetentionSection {
  // Unless collector.yaml sets it, the longer of this and what the levels of the information
  // systems require (their catalogues' log retention controls; collector/retention/retention.h).
  std::chrono::milliseconds events = 30 * 24h;
  int events_line = 0;    // where collector.yaml sets events (1-based); 0: not set
  int events_column = 0;
  std::chrono::milliseconds alerts = 365 * 24h;
  std::chrono::milliseconds health = 30 * 24h;
  std::chrono::milliseconds compliance_history = 400 * 24h;
  std::chrono::milliseconds audit = 730 * 24h;
  // How often the purge runs (it also runs at start).
  std::chrono::milliseconds interval = 1h;
};

// Bounds of the agents listener: a client that breaks them is disconnected and counted.
struct LimitsSection {
  std::chrono::milliseconds handshake_timeout = 10s;
  std::chrono::milliseconds request_timeout = 30s;  // to receive one whole request
  std::chrono::milliseconds idle_timeout = 120s;    // between requests on a kept-alive connection
  uint32_t max_connections = 10000;
  // Open connections from one address; 0: no bound (behind HAProxy every agent comes from one).
  uint32_t max_connections_per_source = 0;
  // The console listener's own budget, so a saturated agents listener leaves it served.
  uint32_t console_max_connections = 512;
  uint32_t max_records_per_batch = 10000;
};

struct CollectorSection {
  std::string data_dir = "/var/lib/vigil-collector";
  Endpoint agents_listen{"0.0.0.0", 8443};
  Endpoint console_listen{"0.0.0.0", 9443};
  std::string pki_dir;  // default <data_dir>/pki
  uint32_t threads = 0;  // 0: one per core
  std::string default_framework = "tcvn11930";
  // Control catalogues (files or directories of *.yaml) read at start, beside the shipped ones
  // compiled in; a catalogue with the id of a shipped one replaces it.
  std::vector<std::string> frameworks;
  std::chrono::milliseconds silent_after = 90s;  // three missed heartbeats
  uint64_t max_batch_bytes = 8ULL << 20;
  // Lifetime of the certificates agents get; they renew when a third of it is left.
  std::chrono::milliseconds agent_cert_validity = 90 * 24h;
  // Base of the links to alerts in notices; default https://<host name>:<console port>.
  std::string console_url;
  LimitsSection limits;
  StorageSection storage;
  RetentionSection retention;
};

// Alerts forwarded to other systems (a SIEM, an archive, a chat room), each with a durable cursor
// in <data_dir>/exports: an outage of the receiver delays delivery, it loses nothing.
struct ExportSection {
  std::string name;          // names the cursor file and the log lines
  std::string kind;          // syslog (RFC 5424 over TCP, octet counting) | jsonl | webhook
  Endpoint address;          // syslog receiver
  bool tls = false;          // syslog over TLS (RFC 5425)
  std::string ca;            // syslog with tls, webhook: CA certificates that verify the receiver
  std::string path;          // jsonl: file the alerts are appended to
  std::string url;           // webhook: https://host[:port]/path, the alert as a JSON POST
  int min_severity = 1;      // info 1 .. critical 5
  bool from_beginning = false;  // a new export starts with the stored alerts (else with new ones)
};

// Alert notices to people (e-mail, Telegram), each target with a durable cursor in
// <data_dir>/notify: a mail server's outage delays notices, it loses and repeats none.
struct NotifySection {
  std::string name{};  // names the cursor file and the log lines; default <type>-<index>
  std::string type{};  // email | telegram
  int min_severity{1};  // info 1 .. critical 5
  std::vector<std::string> agencies{};  // only alerts of these agencies (empty: all)
  // rate: at most `rate_count` notices per `rate_period`; the alerts beyond go into one digest
  // at the end of the period. 0: no limit.
  uint32_t rate_count{0};
  std::chrono::milliseconds rate_period{0};
  std::string lang{"vi"};  // vi | en
  std::string ca{};        // CA certificates that verify the server; empty: the system's
  // email
  Endpoint smtp{};
  std::string tls{"starttls"};  // starttls | implicit | none (loopback only)
  std::string from{};
  std::vector<std::string> to{};
  std::string username{};
  std::string password_file{};
  std::string password{};  // read from password_file at load; never logged
  // telegram
  std::string bot_token_file{};
  std::string bot_token{};  // read from bot_token_file at load; never logged
  std::string chat_id{};
  std::string api_url{"https://api.telegram.org"};
};

// Reporting clock of an incident at one severity, counted from detection; 0: no deadline.
struct IncidentDeadline {
  std::chrono::milliseconds notify{0};  // notice to the authority
  std::chrono::milliseconds report{0};  // full report
};

// Decree 331/2026 art. 31.2(d): a serious incident (high, critical) is notified within 24 h and
// reported within 72 h of its detection.
struct IncidentsSection {
  // Index = severity 1 (info) .. 5 (critical); index 0 unused.
  std::array<IncidentDeadline, 6> deadlines{{{}, {}, {}, {}, {24h, 72h}, {24h, 72h}}};
  // A deadline passing unmet is told once to the `notify:` targets whose severity and agencies the
  // incident matches.
  bool notify_overdue{true};
};

struct CollectorConfig {
  CollectorSection collector;
  std::vector<ExportSection> exports;
  std::vector<NotifySection> notify;
  IncidentsSection incidents;
  config::LoggingSection logging;
};

// Files the PKI directory must hold for the collector to serve.
inline constexpr const char* kPkiFiles[] = {"ca.crt", "server.crt", "server.key"};

// `check_pki` false skips the check that the PKI files exist (for `init`, which makes them).
CollectorConfig read_collector_config(config::YamlReader& reader, const YAML::Node& root, bool check_pki = true);

struct LoadedCollectorConfig {
  CollectorConfig config;
  config::Diagnostics diagnostics;  // warnings only, when loading succeeded
};

Result<LoadedCollectorConfig> load_collector_config(const std::string& path, bool check_pki = true);
Result<LoadedCollectorConfig> load_collector_config_string(const std::string& name, const std::string& text);

}  // namespace vigil::collector
