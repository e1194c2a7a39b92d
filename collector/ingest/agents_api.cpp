#include "collector/ingest/agents_api.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/ingest/batch_parser.h"
#include "common/ingest/bounded_json.h"
#include "common/fleet/bundle.h"
#include "common/ingest/record_rules.h"
#include "common/log/logging.h"
#include "common/version.h"

namespace vigil::collector {

namespace {

net::HttpResponse json_error(int status, const std::string& message, bool close = false) {
  return {status, nlohmann::json{{"error", message}}.dump(), "application/json", close};
}

std::string new_agent_id() { return "agt-" + pki::sha256_hex(pki::random_token()).substr(0, 20); }

}  // namespace

AgentsApi::AgentsApi(Store& store, pki::Cert ca, pki::Key ca_key, std::string ca_pem, AgentsApiOptions options)
    : store_(store),
      ca_(std::move(ca)),
      ca_key_(std::move(ca_key)),
      ca_pem_(std::move(ca_pem)),
      options_(std::move(options)),
      log_(logging::get("agents")),
      commit_(store_, options_.group_commit) {}

std::variant<AgentRecord, net::HttpResponse> AgentsApi::authorize(const net::HttpRequest& r) {
  if (!r.peer) {
    ++stats_.refused_unauthenticated;
    log_->warn("{}: {} {} refused: no verified client certificate", r.remote, r.method, r.target);
    return json_error(401, "a client certificate signed by this collector's CA is required", true);
  }
  auto revoked = store_.is_revoked(r.peer->serial_hex);
  if (!revoked) return json_error(503, "store unavailable", true);
  auto agent = store_.get_agent(r.peer->common_name);
  if (!agent) return json_error(503, "store unavailable", true);
  if (*revoked || !agent->has_value() || (*agent)->status != "active" || (*agent)->cert_serial != r.peer->serial_hex) {
    ++stats_.refused_revoked;
    log_->warn("{}: agent {} refused: certificate {} revoked or unknown", r.remote, r.peer->common_name,
               r.peer->serial_hex);
    return json_error(403, "certificate revoked", true);
  }
  return std::move(**agent);
}

void AgentsApi::handle_async(net::HttpRequest request, Reply reply) {
  if (!(request.method == "POST" && request.target == "/v1/batches" && request.peer)) return reply(handle(request));
  struct Pending {
    net::HttpRequest request;
    Reply reply;
    AgentRecord agent;
    uint64_t last_seq = 0;
    std::optional<ParsedBatch> parsed;  // parsed here, for the agent's host as last authorized
    std::string parsed_host;
  };
  // A full queue refuses before the batch is parsed: under overload the listener's threads do
  // not parse what is then thrown away (the agent sends it again). Asked with the bytes the job
  // will hold (parsed here, the records hold the events again, and their columns).
  auto host = known_host(request.peer->common_name);
  const size_t job_bytes = request.body.size() * (host ? 3 : 1);
  if (commit_.refuses(job_bytes)) {
    log_->warn("{}: agent {}: batch refused: the collector is writing as fast as it can; the agent sends it again",
               request.remote, request.peer->common_name);
    return reply(json_error(503, "busy: try again"));
  }
  auto p = std::make_shared<Pending>();
  p->request = std::move(request);
  p->reply = std::move(reply);
  GroupCommit::Job job;
  job.bytes = job_bytes;
  // Parsing (and the store's packing: SQLite compresses the bodies) is most of a batch's work
  // outside the store: done here, on the listener's thread, so the one writer only checks the
  // sender and stores. The agent's id is its certificate's name;
  // its host (written into agent.*) is the one it was last authorized with, checked again on
  // the writer; a batch parsed for another host (or an agent not seen yet) is parsed there.
  if (host) {
    p->parsed = parse_batch(p->request.body, options_.max_records_per_batch, p->request.peer->common_name, *host);
    store_.pack(p->parsed->records);
    p->parsed_host = std::move(*host);
  }
  // On the writer thread: who sent it (revocation is read as the batch is stored, not before it
  // waited), then its records.
  job.prepare = [this, p]() -> std::optional<BatchWrite> {
    auto who = authorize(p->request);
    if (auto* refused = std::get_if<net::HttpResponse>(&who)) {
      forget_host(p->request.peer->common_name);  // its next batches are not parsed before refusal
      p->reply(std::move(*refused));
      return std::nullopt;
    }
    p->agent = std::move(std::get<AgentRecord>(who));
    remember_host(p->agent);
    ParsedBatch* parsed = p->parsed && p->parsed_host == p->agent.host ? &*p->parsed : nullptr;
    auto batch = prepare_batch(p->request, p->agent, p->last_seq, parsed);
    p->parsed.reset();
    if (auto* answer = std::get_if<net::HttpResponse>(&batch)) {
      p->reply(std::move(*answer));
      return std::nullopt;
    }
    p->request.body = {};  // parsed: the records hold what is kept
    return std::move(std::get<BatchWrite>(batch));
  };
  job.done = [this, p](const Result<StoredBatch>& stored, const BatchWrite& written) {
    if (!stored) {
      log_->error("agent {}: storing a batch failed: {}", p->agent.id, stored.error());
      return p->reply(json_error(503, "store unavailable"));
    }
    p->reply(batch_stored(p->agent, written, *stored, p->last_seq));
  };
  auto& answer = p->reply;  // still ours when the queue refuses the job
  if (!commit_.submit(std::move(job))) {
    log_->warn("{}: agent {}: batch refused: the collector is writing as fast as it can; the agent sends it again",
               p->request.remote, p->request.peer->common_name);
    answer(json_error(503, "busy: try again"));
  }
}

net::HttpResponse AgentsApi::handle(const net::HttpRequest& r) {
  if (r.method == "GET" && r.target == "/v1/ca") return {200, ca_pem_, "application/x-pem-file", false};
  if (r.method == "POST" && r.target == "/v1/enroll") return enroll(r);
  auto who = authorize(r);
  if (auto* refused = std::get_if<net::HttpResponse>(&who)) return std::move(*refused);
  const AgentRecord* agent = &std::get<AgentRecord>(who);
  if (r.method == "POST" && r.target == "/v1/batches") return batches(r, *agent);
  if (r.method == "POST" && r.target == "/v1/renew") return renew(r, r.peer->common_name, r.peer->serial_hex);
  if (r.method == "GET" && r.target == "/v1/bundle") return bundle(*agent);
  if (r.method == "GET" && r.target == "/v1/signing-key") {
    if (options_.signing_public_pem.empty()) return json_error(404, "this collector has no bundle signing key");
    return {200, options_.signing_public_pem, "application/x-pem-file", false};
  }
  return json_error(404, "no such endpoint");
}

// Certificate renewal: an agent holding a valid, current certificate trades a new CSR for a new
// certificate; from then on only the new one is accepted.
net::HttpResponse AgentsApi::renew(const net::HttpRequest& r, const std::string& agent_id,
                                   const std::string& serial) {
  auto parsed = ingest::parse_bounded_json(r.body);
  nlohmann::json body = parsed ? std::move(*parsed) : nlohmann::json();
  if (!body.is_object() || !body.contains("csr") || !body["csr"].is_string()) {
    ++stats_.malformed;
    return json_error(400, "expected {\"csr\": PEM}", true);
  }
  auto csr = pki::csr_from_pem(body["csr"].get<std::string>());
  if (!csr) return json_error(400, "the CSR is not valid PEM", true);
  auto cert = pki::sign_csr(ca_, ca_key_, *csr, agent_id, options_.agent_cert_validity);
  if (!cert) return json_error(400, cert.error(), true);
  auto pem = pki::to_pem(*cert);
  if (!pem) return json_error(500, "cannot encode the certificate", true);
  auto replaced = store_.replace_agent_cert(agent_id, serial, pki::serial_hex(*cert));
  if (!replaced) return json_error(503, "store unavailable");
  if (!*replaced) return json_error(409, "the certificate changed meanwhile; renew again", true);
  ++stats_.renewed;
  log_->info("agent {}: certificate renewed (serial {} replaces {})", agent_id, pki::serial_hex(*cert), serial);
  nlohmann::json out{{"certificate", *pem}, {"ca", ca_pem_}};
  if (!options_.signing_public_pem.empty()) out["signing_key"] = options_.signing_public_pem;
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse AgentsApi::enroll(const net::HttpRequest& r) {
  auto parsed = ingest::parse_bounded_json(r.body);
  nlohmann::json body = parsed ? std::move(*parsed) : nlohmann::json();
  if (!body.is_object() || !body.contains("token") || !body["token"].is_string() ||
      !body.contains("csr") || !body["csr"].is_string()) {
    ++stats_.malformed;
    return json_error(400, "expected {\"token\": ..., \"csr\": ..., \"host\": ..., \"version\": ...}", true);
  }
  auto text_member = [&](const char* key) {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string host = text_member("host");
  std::string version = text_member("version");
  if (host.size() > 255 || version.size() > 64) return json_error(400, "host or version too long", true);
  // Both reach log lines and the console: no control characters (log injection).
  if (!ingest::printable(host) || !ingest::printable(version)) {
    ++stats_.enroll_refused;
    log_->warn("{}: enrollment refused: host or version holds control characters", r.remote);
    return json_error(400, "host and version may not hold control characters", true);
  }
  // The CSR is checked before the token is spent on it: a weak key costs the agent nothing.
  auto csr = pki::csr_from_pem(body["csr"].get<std::string>());
  if (!csr) {
    ++stats_.enroll_refused;
    return json_error(400, "the CSR is not valid PEM", true);
  }
  if (auto checked = pki::check_csr(*csr); !checked) {
    ++stats_.enroll_refused;
    log_->warn("{}: enrollment of '{}' refused: {}", r.remote, host, checked.error());
    return json_error(400, checked.error(), true);
  }
  auto token = store_.consume_token(pki::sha256_hex(body["token"].get<std::string>()), Timestamp::now());
  if (!token) {
    ++stats_.enroll_refused;
    log_->warn("{}: enrollment of '{}' refused: {}", r.remote, host, token.error());
    return json_error(403, token.error(), true);
  }
  std::string id = new_agent_id();
  auto cert = pki::sign_csr(ca_, ca_key_, *csr, id, options_.agent_cert_validity);
  if (!cert) {
    ++stats_.enroll_refused;
    log_->warn("{}: enrollment of '{}' refused: {}", r.remote, host, cert.error());
    return json_error(400, cert.error(), true);
  }
  AgentRecord a;
  a.id = id;
  a.agency = token->agency;
  a.level = token->level;
  a.host = host;
  a.version = version;
  a.cert_serial = pki::serial_hex(*cert);
  a.group = token->group;
  a.systems = token->systems;
  a.enrolled = Timestamp::now();
  a.last_seen = a.enrolled;
  auto added = store_.add_agent(a);
  if (!added) return json_error(503, "store unavailable", true);
  auto pem = pki::to_pem(*cert);
  if (!pem) return json_error(500, "cannot encode the certificate", true);
  ++stats_.enrolled;
  log_->info("enrolled agent {} ({}) for agency '{}' at level {} in group {}", id, host, a.agency, a.level, a.group);
  nlohmann::json out{{"agent_id", id}, {"certificate", *pem}, {"ca", ca_pem_}};
  if (!options_.signing_public_pem.empty()) out["signing_key"] = options_.signing_public_pem;
  return {200, out.dump(), "application/json", false};
}

std::optional<std::string> AgentsApi::known_host(const std::string& agent_id) {
  std::lock_guard lock(hosts_mutex_);
  auto it = hosts_.find(agent_id);
  if (it == hosts_.end()) return std::nullopt;
  return it->second;
}

void AgentsApi::remember_host(const AgentRecord& agent) {
  std::lock_guard lock(hosts_mutex_);
  // Past the bound the table starts again: batches are parsed on the writer until it refills.
  if (hosts_.size() >= kMaxKnownHosts && !hosts_.contains(agent.id)) hosts_.clear();
  hosts_[agent.id] = agent.host;
}

void AgentsApi::forget_host(const std::string& agent_id) {
  std::lock_guard lock(hosts_mutex_);
  hosts_.erase(agent_id);
}

std::variant<BatchWrite, net::HttpResponse> AgentsApi::prepare_batch(const net::HttpRequest& r,
                                                                     const AgentRecord& agent, uint64_t& last_seq,
                                                                     ParsedBatch* parsed) {
  const std::string& agent_id = agent.id;
  ParsedBatch batch = parsed ? std::move(*parsed)
                             : parse_batch(r.body, options_.max_records_per_batch, agent.id, agent.host);
  if (batch.refused) {
    ++stats_.malformed;
    log_->warn("{}: agent {}: batch refused: {}", r.remote, agent_id, *batch.refused);
    return json_error(413, *batch.refused, true);
  }
  if (!batch.quarantined.empty()) {
    const auto& first = batch.quarantined.front();
    log_->warn("{}: agent {}: {} record(s) quarantined; first, line {}: {}", r.remote, agent_id,
               batch.quarantined.size(), first.line, first.reason);
  }
  if (batch.records.empty() && batch.quarantined.empty()) {
    nlohmann::json out{{"acked", 0}};
    if (auto v = bundle_version(agent.group)) out["bundle"] = {{"group", agent.group}, {"version", *v}};
    return net::HttpResponse{200, out.dump(), "application/json", false};
  }
  last_seq = batch.last_seq;
  // Quarantined records are stored before the batch's, in the same transaction: a failure is
  // answered 503 and the agent sends it all again.
  return BatchWrite{agent_id, batch.epoch, std::move(batch.records), std::move(batch.quarantined)};
}

net::HttpResponse AgentsApi::batch_stored(const AgentRecord& agent, const BatchWrite& written,
                                          const StoredBatch& stored, uint64_t last_seq) {
  // The newest health record says what the agent runs.
  for (auto it = written.records.rbegin(); it != written.records.rend(); ++it) {
    if (it->dataset == "agent.health") {
      note_health(agent, it->json);
      break;
    }
  }
  ++stats_.batches;
  stats_.records_new += stored.records;
  stats_.records_duplicate += written.records.size() - stored.records;
  stats_.quarantined += stored.quarantined;
  nlohmann::json out{{"acked", last_seq}, {"stored", stored.records}, {"quarantined", written.quarantined.size()}};
  if (auto v = bundle_version(agent.group)) out["bundle"] = {{"group", agent.group}, {"version", *v}};
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse AgentsApi::batches(const net::HttpRequest& r, const AgentRecord& agent) {
  uint64_t last_seq = 0;
  auto prepared = prepare_batch(r, agent, last_seq);
  if (auto* answer = std::get_if<net::HttpResponse>(&prepared)) return std::move(*answer);
  std::vector<BatchWrite> one;
  one.push_back(std::move(std::get<BatchWrite>(prepared)));
  store_.pack(one.front().records);  // here, not under the store's writer
  auto stored = store_.store_batches(one, Timestamp::now());
  if (!stored) {
    log_->error("agent {}: storing a batch failed: {}", agent.id, stored.error());
    return json_error(503, "store unavailable");
  }
  store_.wait_durable();  // answered once findable too (SQLite's full-text index)
  return batch_stored(agent, one.front(), stored->front(), last_seq);
}

std::optional<int64_t> AgentsApi::bundle_version(const std::string& group) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(versions_mutex_);
    auto it = versions_.find(group);
    if (it != versions_.end() && now - it->second.second < std::chrono::seconds(1)) return it->second.first;
  }
  auto v = store_.bundle_version(group);
  if (!v) return std::nullopt;  // the agent keeps what it runs; the next batch asks again
  std::lock_guard lock(versions_mutex_);
  if (versions_.size() > 10'000) versions_.clear();  // groups are few; a bound all the same
  versions_[group] = {*v, now};
  return *v;
}

void AgentsApi::note_health(const AgentRecord& agent, const std::string& json) {
  auto parsed = ingest::parse_bounded_json(json);
  if (!parsed || !parsed->is_object()) return;
  const auto& j = *parsed;
  std::string version;
  if (auto a = j.find("agent"); a != j.end() && a->is_object()) {
    if (auto v = a->find("version"); v != a->end() && v->is_string() && v->get<std::string>().size() <= 64 &&
                                     ingest::printable(v->get<std::string>())) {
      version = v->get<std::string>();
    }
  }
  BundleStatus status;
  bool has_bundle = false;
  if (auto v = j.find("vigil"); v != j.end() && v->is_object()) {
    if (auto b = v->find("bundle"); b != v->end() && b->is_object()) {
      auto text = [&](const char* key) {
        auto it = b->find(key);
        std::string out = it != b->end() && it->is_string() ? it->get<std::string>() : std::string();
        if (out.size() > 500) out.resize(500);
        return ingest::printable(out) ? out : std::string("(unprintable)");
      };
      status.group = text("group");
      if (auto n = b->find("version"); n != b->end() && n->is_number_integer()) status.version = n->get<int64_t>();
      if (auto t = Timestamp::parse(text("applied_at"))) status.applied_at = *t;
      std::string result = text("result");
      if (result != "applied") status.error = result;
      has_bundle = true;
    }
  }
  const bool same_version = version.empty() || version == agent.version;
  if (!has_bundle && same_version) return;
  // Every heartbeat carries it: written only when it says something new.
  if (has_bundle && same_version && status.group == agent.bundle_group && status.version == agent.bundle_version &&
      status.applied_at.ns == agent.bundle_applied_at.ns && status.error == agent.bundle_error) {
    return;
  }
  if (!has_bundle) {
    status.group = agent.bundle_group;
    status.version = agent.bundle_version;
    status.applied_at = agent.bundle_applied_at;
    status.error = agent.bundle_error;
  }
  if (auto r = store_.set_bundle_status(agent.id, status, version); !r) {
    log_->warn("agent {}: recording its bundle status failed: {}", agent.id, r.error());
  }
}

net::HttpResponse AgentsApi::bundle(const AgentRecord& agent) {
  if (auto version = bundle_version(agent.group)) {
    std::lock_guard lock(versions_mutex_);
    auto it = envelopes_.find(agent.group);
    if (it != envelopes_.end() && it->second.first == *version) {
      ++stats_.bundles_served;
      return {200, *it->second.second, "application/json", false};
    }
  }
  auto current = store_.current_bundle(agent.group);
  if (!current) return json_error(503, "store unavailable");
  if (!current->has_value()) return json_error(404, "group " + agent.group + " has no bundle yet");
  const BundleRecord& b = **current;
  if (pki::sha256_hex(b.content) != b.sha256) {
    // Served all the same: the agents verify the signature and refuse it; this says where to look.
    ++stats_.bundles_tampered;
    log_->error("group {} version {}: the stored hash no longer matches the stored content (changed in storage); "
                "agents will refuse it: push again",
                b.group, b.version);
  }
  auto envelope =
      std::make_shared<const std::string>(fleet::to_envelope({b.group, b.version, b.sha256, b.signature, b.content}));
  {
    std::lock_guard lock(versions_mutex_);
    if (envelopes_.size() > 1000) envelopes_.clear();  // groups are few; a bound all the same
    envelopes_[b.group] = {b.version, envelope};
  }
  ++stats_.bundles_served;
  return {200, *envelope, "application/json", false};
}

}  // namespace vigil::collector
