// The agents listener's endpoints (shared/DESIGN.md "Agent ⇄ collector"):
//   GET  /v1/ca       the CA certificate (agents compare it with their pin before sending a token)
//   POST /v1/enroll   one-time token + CSR -> agent id and certificate (no client certificate yet)
//   POST /v1/batches  NDJSON records {epoch, seq, event}; one transaction; {"acked": last_seq}; a
//                     record that fails is quarantined with its reason, never refusing the rest
//   POST /v1/renew    {csr} -> {certificate}: a new certificate for the agent; the old one is
//                     refused from then on
//   GET  /v1/signing-key  the public key bundles are signed with (also in the enrollment answer, which
//                     agents keep it from; the renewal answer carries it too, unused: it is not rotated)
//   GET  /v1/bundle   the agent's group's current bundle, signed (common/fleet/bundle.h); 404: none
// Every batch's answer names the agent's group and its current bundle version: {"bundle": {"group",
// "version"}}; the agent fetches the bundle when it runs another.
// Every other request needs a verified, unrevoked client certificate: without one it is refused
// (401) and the connection closed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <memory>
#include <string>
#include <variant>

#include "collector/ingest/batch_parser.h"
#include "collector/ingest/group_commit.h"
#include "collector/store/store.h"
#include "common/net/http_types.h"
#include "common/pki/pki.h"

namespace spdlog {
class logger;
}

namespace vigil::collector {

struct AgentsApiOptions {
  std::string default_framework = "tcvn11930";
  size_t max_records_per_batch = 10'000;
  std::chrono::seconds agent_cert_validity{90LL * 24 * 3600};
  std::string signing_public_pem;  // empty: no signing key, no bundles
  GroupCommitOptions group_commit;
};

struct AgentsApiStats {
  std::atomic<uint64_t> enrolled{0};
  std::atomic<uint64_t> enroll_refused{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> records_new{0};
  std::atomic<uint64_t> records_duplicate{0};
  std::atomic<uint64_t> refused_unauthenticated{0};
  std::atomic<uint64_t> refused_revoked{0};
  std::atomic<uint64_t> malformed{0};     // batches refused whole (over the record bound), bad bodies
  std::atomic<uint64_t> quarantined{0};   // records set aside with their reason (new rows)
  std::atomic<uint64_t> renewed{0};
  std::atomic<uint64_t> bundles_served{0};
  std::atomic<uint64_t> bundles_tampered{0};  // served with a stored hash that no longer matches
};

class AgentsApi {
 public:
  using Reply = std::function<void(net::HttpResponse)>;

  AgentsApi(Store& store, pki::Cert ca, pki::Key ca_key, std::string ca_pem, AgentsApiOptions options);
  // Every endpoint, answered before it returns (a batch is stored on its own).
  net::HttpResponse handle(const net::HttpRequest& request);
  // The listener's entry: a batch goes to group commit (collector/ingest/group_commit.h) and is
  // answered once stored and durable (from a writer thread, or SQLite's full-text indexer); the
  // rest as handle() answers them.
  void handle_async(net::HttpRequest request, Reply reply);
  // Stores what is queued and answers it; batches after this are answered 503.
  void stop() { commit_.stop(); }
  const AgentsApiStats& stats() const { return stats_; }
  const GroupCommitStats& commit_stats() const { return commit_.stats(); }

 private:
  // The agent a request with a client certificate comes from, or the answer refusing it.
  std::variant<AgentRecord, net::HttpResponse> authorize(const net::HttpRequest& request);
  net::HttpResponse enroll(const net::HttpRequest& request);
  net::HttpResponse batches(const net::HttpRequest& request, const AgentRecord& agent);
  // A parsed batch, checked: what to store, or the answer refusing it (also for an empty batch).
  // `parsed`: the body parsed already for this agent (its id and host), else it is parsed here.
  std::variant<BatchWrite, net::HttpResponse> prepare_batch(const net::HttpRequest& request, const AgentRecord& agent,
                                                            uint64_t& last_seq, ParsedBatch* parsed = nullptr);
  // The host an agent was last authorized with (parsing a batch needs it, to write agent.*), so
  // the listener's threads parse and the store's writer only checks who sent it.
  std::optional<std::string> known_host(const std::string& agent_id);
  void remember_host(const AgentRecord& agent);
  void forget_host(const std::string& agent_id);
  // The answer once `written` is stored (`stored`: what it added).
  net::HttpResponse batch_stored(const AgentRecord& agent, const BatchWrite& written, const StoredBatch& stored,
                                 uint64_t last_seq);
  net::HttpResponse renew(const net::HttpRequest& request, const std::string& agent_id, const std::string& serial);
  net::HttpResponse bundle(const AgentRecord& agent);
  // The group's current version, asked of the store at most once a second per group; nullopt when
  // the store fails (the answer then names no version, and the agent keeps what it runs).
  std::optional<int64_t> bundle_version(const std::string& group);
  // What an agent.health record says of the agent's bundle and program version.
  void note_health(const AgentRecord& agent, const std::string& json);

  Store& store_;
  pki::Cert ca_;
  pki::Key ca_key_;
  std::string ca_pem_;
  AgentsApiOptions options_;
  AgentsApiStats stats_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex versions_mutex_;
  std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>> versions_;
  // The envelope last served per group, by version: a push to many agents reads the store once.
  std::map<std::string, std::pair<int64_t, std::shared_ptr<const std::string>>> envelopes_;
  std::mutex hosts_mutex_;
  std::unordered_map<std::string, std::string> hosts_;  // agent id -> host; cleared at kMaxKnownHosts
  static constexpr size_t kMaxKnownHosts = 200'000;
  GroupCommit commit_;  // last: its writers stop before what they use goes
};

}  // namespace vigil::collector
