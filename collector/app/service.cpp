#include "collector/app/service.h"

#include <poll.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "collector/api/console_api.h"
#include "collector/api/https_server.h"
#include "collector/export/exporter.h"
#include "collector/report/builtin_frameworks.h"
#include "collector/ingest/agents_api.h"
#include "collector/store/store.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"
#include "common/util/signals.h"
#include "common/version.h"

namespace vigil::collector {

namespace fs = std::filesystem;

int run_collector(const CollectorConfig& config) {
  const auto& c = config.collector;
  auto level = logging::parse_level(config.logging.level);
  logging::setup("vigil-collector", level.value_or(spdlog::level::info));
  auto log = logging::get("collector");
  signals::install();

  // What the log may say about the store: the DSN can hold a password, so only its parts.
  std::string store_name;
  Result<std::unique_ptr<Store>> store = make_error("no store");
  if (c.storage.driver == "postgres") {
    store_name = describe_postgres_dsn(c.storage.dsn);
    PostgresOptions pg;
    pg.dsn = c.storage.dsn;
    pg.connections = static_cast<int>(c.storage.connections);
    store = open_postgres_store(pg);
  } else {
    store_name = "sqlite " + c.storage.path;
    std::error_code ec;
    fs::create_directories(fs::path(c.storage.path).parent_path(), ec);
    store = open_sqlite_store(c.storage.path);
  }
  if (!store) {
    log->error("{}", store.error());
    return 1;
  }
  // The admin token `init` made is imported once; only its hash is kept anywhere.
  fs::path bootstrap = fs::path(c.pki_dir) / "admin-token.sha256";
  if (auto hash = pki::read_file(bootstrap, 256)) {
    std::string h = *hash;
    while (!h.empty() && (h.back() == '\n' || h.back() == '\r')) h.pop_back();
    if (h.size() == 64) {
      auto r = (*store)->add_api_token(h, {"init", "admin", {}});
      if (!r) log->warn("cannot import the admin token: {}", r.error());
    }
  }

  auto read = [&](const char* name) { return pki::read_file(fs::path(c.pki_dir) / name); };
  auto ca_pem = read("ca.crt");
  auto ca_key_pem = read("ca.key");
  auto cert_pem = read("server.crt");
  auto key_pem = read("server.key");
  for (const auto* r : {&ca_pem, &ca_key_pem, &cert_pem, &key_pem}) {
    if (!*r) {
      log->error("{} (run 'vigil-collector init')", r->error());
      return 1;
    }
  }
  auto ca = pki::cert_from_pem(*ca_pem);
  auto ca_key = pki::key_from_pem(*ca_key_pem);
  if (!ca || !ca_key) {
    log->error("cannot load the CA from {}", c.pki_dir);
    return 1;
  }
  if (auto certs = pki::split_certs(*ca_pem); certs && certs->size() > 1) {
    log->info("CA rotation in its overlap: agent certificates of {} CAs are accepted, new ones are signed by '{}' "
              "('vigil-collector ca retire-old' ends the overlap)",
              certs->size(), pki::common_name(*ca));
  }

  AgentsApiOptions agents_opts;
  agents_opts.default_framework = c.default_framework;
  agents_opts.max_records_per_batch = c.limits.max_records_per_batch;
  agents_opts.agent_cert_validity = std::chrono::duration_cast<std::chrono::seconds>(c.agent_cert_validity);
  AgentsApi agents_api(**store, std::move(*ca), std::move(*ca_key), *ca_pem, agents_opts);
  // Control catalogues: the shipped ones, then collector.frameworks over them.
  auto frameworks = compliance::load_frameworks_text(builtin_framework_texts());
  if (!frameworks) {
    log->error("shipped control catalogues: {}", frameworks.error());
    return 1;
  }
  if (!c.frameworks.empty()) {
    auto extra = compliance::load_frameworks(c.frameworks);
    if (!extra) {
      log->error("collector.frameworks: {}", extra.error());
      return 1;
    }
    for (const auto& d : extra->diagnostics.items()) log->warn("{}", d.to_string());
    for (const auto& id : compliance::overlay_frameworks(*frameworks, std::move(*extra))) {
      log->info("control catalogue '{}' replaced by the one in collector.frameworks", id);
    }
  }
  {
    std::string ids;
    for (const auto& f : frameworks->frameworks) ids += (ids.empty() ? "" : ", ") + f.id;
    log->info("control catalogues: {}", ids);
  }
  ConsoleApi console_api(**store, c.default_framework);
  console_api.set_frameworks(std::make_shared<const compliance::LoadedFrameworks>(std::move(*frameworks)));
  Exporter exporter(**store, config.exports, c.data_dir);
  console_api.set_silent_after(c.silent_after);
  console_api.set_metrics_source([&] {
    const auto& s = agents_api.stats();
    std::string m;
    auto counter = [&](const char* name, const char* help, uint64_t v) {
      m += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
    };
    counter("vigil_ingest_batches_total", "Batches received from agents.", s.batches.load());
    counter("vigil_ingest_records_total", "Records stored (new).", s.records_new.load());
    counter("vigil_ingest_duplicates_total", "Records received again and skipped.", s.records_duplicate.load());
    counter("vigil_ingest_malformed_total", "Malformed batches refused.", s.malformed.load());
    counter("vigil_enrolled_total", "Agents enrolled by this collector.", s.enrolled.load());
    m += "# HELP vigil_export_delivered_total Alerts an export delivered.\n# TYPE vigil_export_delivered_total counter\n";
    for (size_t i = 0; i < exporter.size(); ++i) {
      m += fmt::format("vigil_export_delivered_total{{export=\"{}\"}} {}\n", exporter.name(i),
                       exporter.stats(i).delivered.load());
    }
    m += "# HELP vigil_export_failures_total Failed delivery attempts.\n# TYPE vigil_export_failures_total counter\n";
    for (size_t i = 0; i < exporter.size(); ++i) {
      m += fmt::format("vigil_export_failures_total{{export=\"{}\"}} {}\n", exporter.name(i),
                       exporter.stats(i).failures.load());
    }
    m += "# HELP vigil_export_cursor Id of the last alert an export delivered (lag: newest id minus this).\n"
         "# TYPE vigil_export_cursor gauge\n";
    for (size_t i = 0; i < exporter.size(); ++i) {
      m += fmt::format("vigil_export_cursor{{export=\"{}\"}} {}\n", exporter.name(i), exporter.stats(i).cursor.load());
    }
    return m;
  });

  net::TlsFiles tls{*ca_pem, *cert_pem, *key_pem};
  HttpsServerOptions agents_opts_srv;
  agents_opts_srv.host = c.agents_listen.host;
  agents_opts_srv.port = c.agents_listen.port;
  agents_opts_srv.tls = tls;
  agents_opts_srv.request_client_cert = true;
  agents_opts_srv.max_body_bytes = c.max_batch_bytes;
  agents_opts_srv.handshake_timeout = c.limits.handshake_timeout;
  agents_opts_srv.request_timeout = c.limits.request_timeout;
  agents_opts_srv.idle_timeout = c.limits.idle_timeout;
  agents_opts_srv.max_connections = c.limits.max_connections;
  agents_opts_srv.threads = c.threads;
  agents_opts_srv.name = "agents";
  HttpsServer agents(agents_opts_srv, [&](const net::HttpRequest& r) { return agents_api.handle(r); });

  HttpsServerOptions console_opts = agents_opts_srv;
  console_opts.host = c.console_listen.host;
  console_opts.port = c.console_listen.port;
  console_opts.request_client_cert = false;
  console_opts.max_body_bytes = 1 << 20;
  console_opts.threads = 1;
  console_opts.name = "console";
  HttpsServer console(console_opts, [&](const net::HttpRequest& r) { return console_api.handle(r); });

  if (auto r = agents.start(); !r) {
    log->error("agents listener: {}", r.error());
    return 1;
  }
  if (auto r = console.start(); !r) {
    log->error("console listener: {}", r.error());
    return 1;
  }
  log->info("vigil-collector {} listening: agents {}:{}, console {}:{}, store {}", kVersion, c.agents_listen.host,
            agents.port(), c.console_listen.host, console.port(), store_name);
  exporter.start();
  sd_notify(0, "READY=1");

  pollfd pfd{signals::wake_fd(), POLLIN, 0};
  while (!signals::stop_requested()) {
    ::poll(&pfd, 1, 1000);
    uint64_t drain;
    [[maybe_unused]] auto n = ::read(pfd.fd, &drain, sizeof(drain));
    if (signals::take_reload_request()) log->info("SIGHUP: nothing to reload yet");
  }
  sd_notify(0, "STOPPING=1");
  log->info("stopping");
  agents.stop();
  console.stop();
  exporter.stop();
  for (size_t i = 0; i < exporter.size(); ++i) {
    log->info("export {}: {} alerts delivered, {} failed attempts, cursor at alert {}", exporter.name(i),
              exporter.stats(i).delivered.load(), exporter.stats(i).failures.load(), exporter.stats(i).cursor.load());
  }
  const auto& s = agents_api.stats();
  log->info("agents: {} enrolled, {} batches, {} records stored, {} duplicates skipped", s.enrolled.load(),
            s.batches.load(), s.records_new.load(), s.records_duplicate.load());
  return 0;
}

}  // namespace vigil::collector
