#include "collector/app/service.h"

#include <poll.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "collector/api/console_api.h"
#include "collector/config/postgres_dsn.h"
#include "collector/api/https_server.h"
#include "collector/export/exporter.h"
#include "collector/notify/incident_deadlines.h"
#include "collector/notify/notifier.h"
#include "collector/fleet/bundle_builder.h"
#include "collector/report/catalogues.h"
#include "collector/ingest/agents_api.h"
#include "collector/retention/retention.h"
#include "collector/store/store.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"
#include "common/util/signals.h"
#include "common/version.h"

namespace vigil::collector {

namespace fs = std::filesystem;

// Descriptors the collector holds besides connections: store, logs, exports, the console's.
constexpr rlim_t kReservedDescriptors = 256;

// Every connection takes a descriptor. Raises the soft limit to the hard one where allowed, then
// lowers max_connections (agents) and console_max_connections with a warning when the limit
// leaves no room for them: an unreachable bound would otherwise end in EMFILE.
void fit_connections_to_descriptors(LimitsSection& limits, spdlog::logger& log) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  const rlim_t wanted = rlim_t{limits.max_connections} + limits.console_max_connections + kReservedDescriptors;
  if (rl.rlim_cur == RLIM_INFINITY || wanted <= rl.rlim_cur) return;
  const rlim_t room = rl.rlim_cur > kReservedDescriptors + 2 ? rl.rlim_cur - kReservedDescriptors : 2;
  const auto console = static_cast<uint32_t>(std::min<rlim_t>(limits.console_max_connections, std::max<rlim_t>(1, room / 8)));
  const auto agents = static_cast<uint32_t>(std::max<rlim_t>(1, room - console));
  log.warn("the descriptor limit ({}) leaves room for {} connections, not {} + {}: serving at most {} agents' and {} "
           "console connections (raise LimitNOFILE or lower collector.limits.max_connections)",
           static_cast<uint64_t>(rl.rlim_cur), static_cast<uint64_t>(room), limits.max_connections,
           limits.console_max_connections, std::min(agents, limits.max_connections), console);
  limits.max_connections = std::min(agents, limits.max_connections);
  limits.console_max_connections = console;
}

int run_collector(const CollectorConfig& config_in) {
  CollectorConfig config = config_in;
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
    // A directory made here is the owner's alone (the database and its WAL are 0600 within).
    const auto dir = fs::path(c.storage.path).parent_path();
    if (!dir.empty() && !fs::exists(dir, ec) && fs::create_directories(dir, ec)) {
      fs::permissions(dir, fs::perms::owner_all, ec);
    }
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
      // A new one (`init --force`) retires the one before it.
      auto r = (*store)->import_bootstrap_token(h, Timestamp::now());
      if (!r) {
        log->warn("cannot import the admin token: {}", r.error());
      } else if (*r > 0) {
        log->info("the admin token of an earlier 'vigil-collector init' was revoked: a newer one replaces it");
      }
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

  // The key bundles are signed with: without one, groups work but nothing can be pushed.
  std::shared_ptr<const pki::Key> signing_key;
  std::string signing_problem;
  if (auto key = load_signing_key(c.pki_dir)) {
    signing_key = std::make_shared<const pki::Key>(std::move(*key));
  } else {
    signing_problem = key.error();
    log->warn("bundles cannot be pushed: {}", signing_problem);
  }
  AgentsApiOptions agents_opts;
  if (signing_key) {
    if (auto pub = pki::public_pem(*signing_key)) {
      agents_opts.signing_public_pem = *pub;
      log->info("bundles are signed with key {}", pki::key_fingerprint(*pub));
    }
  }
  agents_opts.default_framework = c.default_framework;
  agents_opts.max_records_per_batch = c.limits.max_records_per_batch;
  // SQLite takes one writer at a time; PostgreSQL takes batches over several connections at once.
  agents_opts.group_commit.writers = c.storage.driver == "postgres" ? 2 : 1;
  agents_opts.agent_cert_validity = std::chrono::duration_cast<std::chrono::seconds>(c.agent_cert_validity);
  AgentsApi agents_api(**store, std::move(*ca), std::move(*ca_key), *ca_pem, agents_opts);
  // Control catalogues: the shipped ones, then collector.frameworks over them.
  std::vector<std::string> catalogue_notes;
  auto frameworks = load_catalogues(c.frameworks, catalogue_notes);
  for (const auto& note : catalogue_notes) log->warn("{}", note);
  if (!frameworks) {
    log->error("{}", frameworks.error());
    return 1;
  }
  {
    std::string ids;
    for (const auto& f : frameworks->frameworks) ids += (ids.empty() ? "" : ", ") + f.id;
    log->info("control catalogues: {}", ids);
  }
  ConsoleApi console_api(**store, c.default_framework);
  auto catalogues = std::make_shared<const compliance::LoadedFrameworks>(std::move(*frameworks));
  console_api.set_frameworks(catalogues);
  console_api.set_signing_key(signing_key, signing_problem);
  Exporter exporter(**store, config.exports, c.data_dir);
  Notifier notifier(**store, config.notify, c.data_dir, c.console_url);
  IncidentDeadlines deadlines(**store, notifier, c.console_url, config.incidents.notify_overdue);
  // Events are kept as long as the information systems' levels require (unless set).
  Retention retention(**store, c.retention, [&store, catalogues, &c]() -> Result<RetentionNeed> {
    auto systems = (*store)->list_systems();
    if (!systems) return make_error(systems.error());
    auto agencies = (*store)->list_agencies();
    if (!agencies) return make_error(agencies.error());
    return events_retention_needed(*systems, *agencies, *catalogues, c.default_framework);
  });
  console_api.set_silent_after(c.silent_after);
  console_api.set_incidents(config.incidents);
  console_api.set_retention(c.retention);
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
    counter("vigil_ingest_quarantined_total", "Records quarantined with their reason instead of stored.",
            s.quarantined.load());
    counter("vigil_enrolled_total", "Agents enrolled by this collector.", s.enrolled.load());
    const auto& g = agents_api.commit_stats();
    counter("vigil_ingest_groups_total", "Transactions group commit wrote (each holds one or more batches).",
            g.groups.load());
    counter("vigil_ingest_refused_busy_total", "Batches refused at once: the write queue was at its bound.",
            g.refused_full.load());
    counter("vigil_ingest_write_failures_total", "Batches whose write failed (answered 503, sent again).",
            g.failed.load());
    m += fmt::format("# HELP vigil_ingest_queue Batches waiting to be written.\n# TYPE vigil_ingest_queue gauge\n"
                     "vigil_ingest_queue {}\n",
                     g.queued.load());
    m += fmt::format("# HELP vigil_ingest_awaiting_durable Batches stored whose answers wait for the store's "
                     "durability (SQLite: its full-text index).\n# TYPE vigil_ingest_awaiting_durable gauge\n"
                     "vigil_ingest_awaiting_durable {}\n",
                     g.awaiting.load());
    m += fmt::format("# HELP vigil_ingest_largest_group Batches in the largest transaction so far.\n"
                     "# TYPE vigil_ingest_largest_group gauge\nvigil_ingest_largest_group {}\n",
                     g.largest_group.load());
    m += (*store)->metrics_text();
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
    m += "# HELP vigil_notify_sent_total Notices of one alert a target's server accepted.\n"
         "# TYPE vigil_notify_sent_total counter\n";
    for (size_t i = 0; i < notifier.size(); ++i) {
      m += fmt::format("vigil_notify_sent_total{{target=\"{}\"}} {}\n", notifier.name(i),
                       notifier.stats(i).sent.load());
    }
    m += "# HELP vigil_notify_digests_total Digests of alerts beyond a target's rate that its server accepted.\n"
         "# TYPE vigil_notify_digests_total counter\n";
    for (size_t i = 0; i < notifier.size(); ++i) {
      m += fmt::format("vigil_notify_digests_total{{target=\"{}\"}} {}\n", notifier.name(i),
                       notifier.stats(i).digests.load());
    }
    m += "# HELP vigil_notify_failures_total Failed attempts to send a notice.\n"
         "# TYPE vigil_notify_failures_total counter\n";
    for (size_t i = 0; i < notifier.size(); ++i) {
      m += fmt::format("vigil_notify_failures_total{{target=\"{}\"}} {}\n", notifier.name(i),
                       notifier.stats(i).failures.load());
    }
    m += "# HELP vigil_notify_cursor Id of the last alert a target's notice (or digest) covered.\n"
         "# TYPE vigil_notify_cursor gauge\n";
    for (size_t i = 0; i < notifier.size(); ++i) {
      m += fmt::format("vigil_notify_cursor{{target=\"{}\"}} {}\n", notifier.name(i), notifier.stats(i).cursor.load());
    }
    m += "# HELP vigil_notify_announcements_total Incident deadline notices a target's server accepted.\n"
         "# TYPE vigil_notify_announcements_total counter\n";
    for (size_t i = 0; i < notifier.size(); ++i) {
      m += fmt::format("vigil_notify_announcements_total{{target=\"{}\"}} {}\n", notifier.name(i),
                       notifier.stats(i).announcements.load());
    }
    m += fmt::format("# HELP vigil_incidents_active Incidents not yet reported.\n# TYPE vigil_incidents_active gauge\n"
                     "vigil_incidents_active {}\n", deadlines.active());
    m += fmt::format("# HELP vigil_incidents_overdue Deadlines of incidents passed unmet (first notification, full report).\n"
                     "# TYPE vigil_incidents_overdue gauge\nvigil_incidents_overdue {}\n", deadlines.overdue());
    const auto& t = retention.totals();
    m += "# HELP vigil_retention_purged_total Rows retention removed, by kind.\n"
         "# TYPE vigil_retention_purged_total counter\n";
    for (auto [kind, n] : {std::pair{"events", &t.events}, {"alerts", &t.alerts}, {"alert_history", &t.alert_history},
                           {"health", &t.health}, {"compliance_history", &t.compliance_history}, {"audit", &t.audit}}) {
      m += fmt::format("vigil_retention_purged_total{{kind=\"{}\"}} {}\n", kind, n->load());
    }
    counter("vigil_retention_runs_total", "Retention purges run.", t.runs.load());
    m += fmt::format("# HELP vigil_retention_events_seconds How long events are kept (the systems' levels decide "
                     "unless collector.yaml sets it).\n# TYPE vigil_retention_events_seconds gauge\n"
                     "vigil_retention_events_seconds {}\n",
                     std::chrono::duration_cast<std::chrono::seconds>(retention.events_retention()).count());
    counter("vigil_retention_failures_total", "Retention purges that failed.", t.failures.load());
    counter("vigil_retention_skipped_total", "Retention rounds another collector sharing the database took.",
            t.skipped.load());
    counter("vigil_retention_unreadable_bodies_total",
            "Purged events whose body could not be read back (a damaged block of bodies).", t.unreadable_bodies.load());
    return m;
  });

  fit_connections_to_descriptors(config.collector.limits, *log);
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
  agents_opts_srv.max_connections_per_source = c.limits.max_connections_per_source;
  // Enrollment is the only request served without a client certificate: a token, a CSR, host and
  // version fit in a few KiB.
  agents_opts_srv.max_anonymous_body_bytes = 16 * 1024;
  agents_opts_srv.threads = c.threads;
  agents_opts_srv.name = "agents";
  HttpsServer agents(agents_opts_srv, [&](net::HttpRequest r, HttpsServer::Reply reply) {
    agents_api.handle_async(std::move(r), std::move(reply));
  });

  HttpsServerOptions console_opts = agents_opts_srv;
  console_opts.host = c.console_listen.host;
  console_opts.port = c.console_listen.port;
  console_opts.request_client_cert = false;
  console_opts.max_body_bytes = 1 << 20;
  // A group's bundle (vigilctl groups push): up to 16 MiB of files, as JSON (escapes included).
  console_opts.large_bodies.push_back({"POST", "/bundles", 40u << 20});
  console_opts.max_connections = c.limits.console_max_connections;
  console_opts.max_connections_per_source = 0;
  console_opts.threads = 1;
  console_opts.name = "console";
  HttpsServer console(console_opts, [&](const net::HttpRequest& r) { return console_api.handle(r); });

  if (auto r = agents.start(); !r) {
    log->error("agents listener: {}", r.error());
    return 1;
  }
  if (auto r = console.start(); !r) {
    log->error("console listener: {}", r.error());
    agents_api.stop();  // before the agents listener goes: answers still queued reach it
    return 1;
  }
  log->info("vigil-collector {} listening: agents {}:{}, console {}:{}, store {}", kVersion, c.agents_listen.host,
            agents.port(), c.console_listen.host, console.port(), store_name);
  exporter.start();
  notifier.start();
  retention.start();
  sd_notify(0, "READY=1");

  pollfd pfd{signals::wake_fd(), POLLIN, 0};
  // Incident deadlines are looked at every 10 s: a passing one is told within that.
  auto next_deadlines = std::chrono::steady_clock::now();
  while (!signals::stop_requested()) {
    if (std::chrono::steady_clock::now() >= next_deadlines) {
      deadlines.check(Timestamp::now());
      next_deadlines = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    ::poll(&pfd, 1, 1000);
    uint64_t drain;
    [[maybe_unused]] auto n = ::read(pfd.fd, &drain, sizeof(drain));
    if (signals::take_reload_request()) log->info("SIGHUP: nothing to reload yet");
  }
  sd_notify(0, "STOPPING=1");
  log->info("stopping");
  agents_api.stop();  // batches waiting are stored and answered while the listener still runs
  agents.stop();
  console.stop();
  exporter.stop();
  notifier.stop();
  retention.stop();
  for (size_t i = 0; i < exporter.size(); ++i) {
    log->info("export {}: {} alerts delivered, {} failed attempts, cursor at alert {}", exporter.name(i),
              exporter.stats(i).delivered.load(), exporter.stats(i).failures.load(), exporter.stats(i).cursor.load());
  }
  for (size_t i = 0; i < notifier.size(); ++i) {
    log->info("notify {}: {} notices and {} digests sent, {} failed attempts, cursor at alert {}", notifier.name(i),
              notifier.stats(i).sent.load(), notifier.stats(i).digests.load(), notifier.stats(i).failures.load(),
              notifier.stats(i).cursor.load());
  }
  const auto& s = agents_api.stats();
  log->info("agents: {} enrolled, {} batches, {} records stored, {} duplicates skipped", s.enrolled.load(),
            s.batches.load(), s.records_new.load(), s.records_duplicate.load());
  return 0;
}

}  // namespace vigil::collector
