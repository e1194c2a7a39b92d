#include "collector/config/collector_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "collector/config/postgres_dsn.h"
#include "common/util/host.h"

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
  if (auto v = m.get("events"); v && r.read_duration(v, out.events, m.path("events"), kMin, kMax)) {
    out.events_line = v.Mark().line + 1;
    out.events_column = v.Mark().column + 1;
  }
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
  auto console_url = m.get("console_url");
  if (console_url && r.read(console_url, out.console_url, m.path("console_url"))) {
    const auto& u = out.console_url;
    bool ok = (u.starts_with("https://") || u.starts_with("http://")) && u.size() > 8 &&
              std::none_of(u.begin(), u.end(),
                           [](char ch) { return static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f; });
    if (!ok) {
      r.error(console_url,
              m.path("console_url") + ": an https:// URL without spaces (e.g. https://soc.example.gov.vn:9443)");
    }
    while (out.console_url.ends_with('/')) out.console_url.pop_back();
  }
  read_limits(r, m.get("limits"), out.limits);
  read_storage(r, m.get("storage"), out.storage);
  read_retention(r, m.get("retention"), out.retention);
  m.finish();

  if (out.console_url.empty()) {
    std::string host = local_host_name();
    out.console_url = fmt::format("https://{}:{}", host.empty() ? "localhost" : host, out.console_listen.port);
  }
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

// `0` (no deadline) or a duration.
void read_deadline(YamlReader& r, const YAML::Node& n, std::chrono::milliseconds& out, const std::string& what) {
  if (n.IsScalar() && n.Scalar() == "0") {
    out = std::chrono::milliseconds(0);
    return;
  }
  r.read_duration(n, out, what, 1min, 3650 * 24h);
}

void read_incidents(YamlReader& r, const YAML::Node& n, IncidentsSection& out) {
  MapReader m(r, n, "incidents");
  MapReader d(r, m.get("deadlines"), "incidents.deadlines");
  static constexpr std::array<const char*, 6> kNames = {"", "info", "low", "medium", "high", "critical"};
  for (size_t sev = 1; sev < kNames.size(); ++sev) {
    auto v = d.get(kNames[sev]);
    if (!v) continue;
    MapReader s(r, v, d.path(kNames[sev]));
    if (auto x = s.get("notify")) read_deadline(r, x, out.deadlines[sev].notify, s.path("notify"));
    if (auto x = s.get("report")) read_deadline(r, x, out.deadlines[sev].report, s.path("report"));
    s.finish();
  }
  d.finish();
  if (auto x = m.get("notify_overdue")) r.read(x, out.notify_overdue, m.path("notify_overdue"));
  m.finish();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// An address in a mail header: no spaces, controls, angle brackets or commas; one '@'.
bool plain_address(const std::string& a) {
  if (a.empty() || a.size() > 254 || std::count(a.begin(), a.end(), '@') != 1 || a.front() == '@' || a.back() == '@') {
    return false;
  }
  return std::none_of(a.begin(), a.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= ' ' || u == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '\\';
  });
}

// A secret from a file, its last line ending dropped; an error naming the file when unreadable.
void read_secret_file(YamlReader& r, const YAML::Node& at, const std::string& what, const std::string& path,
                      std::string& out) {
  std::ifstream f(path, std::ios::binary);
  std::string text;
  if (f) text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (!f && !f.eof()) {
    r.error(at, fmt::format("{}: cannot read '{}'", what, path));
    return;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) {
    r.error(at, fmt::format("{}: '{}' is empty", what, path));
    return;
  }
  if (text.find_first_of("\r\n") != std::string::npos) {
    r.error(at, fmt::format("{}: '{}' must hold one line", what, path));
    return;
  }
  out = std::move(text);
}

// "N/PERIOD": 20/1h, 5/10m.
void read_rate(YamlReader& r, const YAML::Node& v, NotifySection& e, const std::string& what) {
  std::string text;
  if (!r.read(v, text, what)) return;
  auto slash = text.find('/');
  std::optional<std::chrono::milliseconds> period;
  uint64_t count = 0;
  bool ok = slash != std::string::npos && slash > 0 && slash <= 6;
  if (ok) {
    for (size_t i = 0; i < slash; ++i) {
      if (text[i] < '0' || text[i] > '9') ok = false;
      else count = count * 10 + static_cast<uint64_t>(text[i] - '0');
    }
    period = config::parse_duration(std::string_view(text).substr(slash + 1));
  }
  if (!ok || !period) {
    r.error(v, fmt::format("{}: expected N/PERIOD such as 20/1h or 5/10m, got '{}'", what, text));
    return;
  }
  if (count < 1 || count > 100000 || *period < std::chrono::seconds(1) || *period > std::chrono::hours(7 * 24)) {
    r.error(v, fmt::format("{}: '{}' is out of range (1 to 100000 notices per 1s to 7d)", what, text));
    return;
  }
  e.rate_count = static_cast<uint32_t>(count);
  e.rate_period = *period;
}

void read_notify(YamlReader& r, const YAML::Node& n, std::vector<NotifySection>& out) {
  if (!n) return;
  if (!n.IsSequence()) {
    r.error(n, "notify: expected a list of notification targets");
    return;
  }
  std::map<std::string, YAML::Node> names;
  for (size_t i = 0; i < n.size(); ++i) {
    MapReader m(r, n[i], fmt::format("notify[{}]", i));
    if (!m.is_map()) continue;
    NotifySection e;
    auto type = m.require("type");
    if (type) r.read_choice(type, e.type, m.path("type"), {"email", "telegram"});
    auto name = m.get("name");
    if (name) {
      if (r.read(name, e.name, m.path("name"))) {
        bool ok = !e.name.empty() && e.name.size() <= 64 &&
                  e.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos;
        if (!ok) r.error(name, m.path("name") + ": 1 to 64 of a-z, 0-9, - and _");
      }
    } else if (!e.type.empty()) {
      e.name = fmt::format("{}-{}", e.type, i + 1);
    }
    if (!e.name.empty() && !names.emplace(e.name, name ? name : m.node()).second) {
      r.error(name ? name : m.node(), fmt::format("{}: name '{}' is used twice (give each target its own 'name')",
                                                  m.context(), e.name));
    }
    if (auto v = m.get("min_severity")) {
      std::string sev;
      if (r.read_choice(v, sev, m.path("min_severity"), {"info", "low", "medium", "high", "critical"})) {
        static const std::map<std::string, int> kLevels = {
            {"info", 1}, {"low", 2}, {"medium", 3}, {"high", 4}, {"critical", 5}};
        e.min_severity = kLevels.at(sev);
      }
    }
    if (auto v = m.get("agencies")) {
      if (r.read_list(v, e.agencies, m.path("agencies")) && e.agencies.empty()) {
        r.error(v, m.path("agencies") + ": name one agency at least (or leave the key out for all)");
      }
    }
    if (auto v = m.get("rate")) read_rate(r, v, e, m.path("rate"));
    if (auto v = m.get("lang")) r.read_choice(v, e.lang, m.path("lang"), {"vi", "en"});
    if (auto v = m.get("ca")) r.read_path(v, e.ca, m.path("ca"));
    if (e.type == "email") {
      auto smtp = m.require("smtp");
      if (smtp) r.read_endpoint(smtp, e.smtp, m.path("smtp"));
      auto tls = m.get("tls");
      if (tls) r.read_choice(tls, e.tls, m.path("tls"), {"starttls", "implicit", "none"});
      if (e.tls == "none" && !e.smtp.host.empty() && !is_loopback(e.smtp.host)) {
        r.error(tls, fmt::format("{}: none sends mail and password in clear; only for a relay on this machine "
                                 "(127.0.0.1, ::1, localhost), not {}",
                                 m.path("tls"), e.smtp.host));
      }
      if (auto v = m.require("from")) {
        if (r.read(v, e.from, m.path("from")) && !plain_address(e.from)) {
          r.error(v, m.path("from") + ": expected one address such as vigil@example.gov.vn");
        }
      }
      if (auto v = m.require("to")) {
        if (r.read_list(v, e.to, m.path("to"))) {
          if (e.to.empty()) r.error(v, m.path("to") + ": name one address at least");
          for (const auto& a : e.to) {
            if (!plain_address(a)) {
              r.error(v, fmt::format("{}: '{}' is not an address such as soc@example.gov.vn", m.path("to"), a));
            }
          }
        }
      }
      auto user = m.get("username");
      if (user && r.read(user, e.username, m.path("username")) &&
          e.username.find_first_of("\r\n") != std::string::npos) {
        r.error(user, m.path("username") + ": one line");
      }
      auto pw = m.get("password_file");
      if (pw && r.read_path(pw, e.password_file, m.path("password_file"))) {
        read_secret_file(r, pw, m.path("password_file"), e.password_file, e.password);
      }
      if (user && !pw) r.error(user, m.path("username") + ": needs password_file (a file holding the password)");
      if (pw && !user) r.error(pw, m.path("password_file") + ": needs username");
    }
    if (e.type == "telegram") {
      auto token = m.require("bot_token_file");
      if (token && r.read_path(token, e.bot_token_file, m.path("bot_token_file"))) {
        read_secret_file(r, token, m.path("bot_token_file"), e.bot_token_file, e.bot_token);
        constexpr const char* kTokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_-";
        if (!e.bot_token.empty() && e.bot_token.find_first_not_of(kTokenChars) != std::string::npos) {
          r.error(token, fmt::format("{}: '{}' does not hold a bot token (digits, ':', letters)",
                                     m.path("bot_token_file"), e.bot_token_file));
          e.bot_token.clear();
        }
      }
      if (auto v = m.require("chat_id")) {
        if (v.IsScalar()) e.chat_id = v.Scalar();
        if (e.chat_id.empty() || e.chat_id.size() > 64 ||
            e.chat_id.find_first_of(" \t\r\n\"\\") != std::string::npos) {
          r.error(v, m.path("chat_id") + ": expected a chat id such as -1001234567890 or @channel");
        }
      }
      if (auto v = m.get("api_url")) {
        if (r.read(v, e.api_url, m.path("api_url")) && !e.api_url.starts_with("https://")) {
          r.error(v, m.path("api_url") + ": an https:// URL (the bot token travels in it)");
        }
        while (e.api_url.ends_with('/')) e.api_url.pop_back();
      }
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
  read_notify(r, top.get("notify"), cfg.notify);
  read_incidents(r, top.get("incidents"), cfg.incidents);
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
