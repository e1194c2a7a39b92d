#include "collector/ingest/agents_api.h"

#include <algorithm>
#include <initializer_list>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log/logging.h"
#include "common/version.h"

namespace vigil::collector {

namespace {

net::HttpResponse json_error(int status, const std::string& message, bool close = false) {
  return {status, nlohmann::json{{"error", message}}.dump(), "application/json", close};
}

const nlohmann::json* member(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string string_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const auto* v = member(j, path);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

std::optional<IncomingRecord::Check> check_of(const nlohmann::json& ev) {
  IncomingRecord::Check c;
  c.check_id = string_at(ev, {"rule", "id"});
  c.title = string_at(ev, {"rule", "name"});
  c.policy = string_at(ev, {"vigil", "policy", "id"});
  c.result = string_at(ev, {"vigil", "check", "result"});
  c.evidence = string_at(ev, {"vigil", "check", "evidence"});
  c.remediation = string_at(ev, {"vigil", "check", "remediation"});
  c.policy_version = string_at(ev, {"vigil", "policy", "version"});
  if (c.remediation.size() > 4096) c.remediation.resize(4096);
  if (c.policy_version.size() > 64) c.policy_version.clear();
  if (const auto* l = member(ev, {"vigil", "check", "level"}); l && l->is_number_integer()) {
    c.level = std::clamp(l->get<int>(), 1, 5);
  }
  const auto* controls = member(ev, {"vigil", "compliance"});
  c.controls = controls && controls->is_object() ? controls->dump() : "{}";
  static const char* results[] = {"pass", "fail", "error", "not_applicable"};
  bool known = std::find_if(std::begin(results), std::end(results), [&](const char* r) { return c.result == r; }) !=
               std::end(results);
  if (c.check_id.empty() || c.policy.empty() || !known || c.check_id.size() > 200 || c.policy.size() > 200) {
    return std::nullopt;
  }
  return c;
}

std::string new_agent_id() { return "agt-" + pki::sha256_hex(pki::random_token()).substr(0, 20); }

}  // namespace

AgentsApi::AgentsApi(Store& store, pki::Cert ca, pki::Key ca_key, std::string ca_pem, AgentsApiOptions options)
    : store_(store),
      ca_(std::move(ca)),
      ca_key_(std::move(ca_key)),
      ca_pem_(std::move(ca_pem)),
      options_(std::move(options)),
      log_(logging::get("agents")) {}

net::HttpResponse AgentsApi::handle(const net::HttpRequest& r) {
  if (r.method == "GET" && r.target == "/v1/ca") return {200, ca_pem_, "application/x-pem-file", false};
  if (r.method == "POST" && r.target == "/v1/enroll") return enroll(r);
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
  if (r.method == "POST" && r.target == "/v1/batches") return batches(r, r.peer->common_name);
  if (r.method == "POST" && r.target == "/v1/renew") return renew(r, r.peer->common_name, r.peer->serial_hex);
  return json_error(404, "no such endpoint");
}

// Certificate renewal: an agent holding a valid, current certificate trades a new CSR for a new
// certificate; from then on only the new one is accepted.
net::HttpResponse AgentsApi::renew(const net::HttpRequest& r, const std::string& agent_id,
                                   const std::string& serial) {
  auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("csr") || !body["csr"].is_string()) {
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
  return {200, nlohmann::json{{"certificate", *pem}, {"ca", ca_pem_}}.dump(), "application/json", false};
}

net::HttpResponse AgentsApi::enroll(const net::HttpRequest& r) {
  auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("token") || !body["token"].is_string() ||
      !body.contains("csr") || !body["csr"].is_string()) {
    ++stats_.malformed;
    return json_error(400, "expected {\"token\": ..., \"csr\": ..., \"host\": ..., \"version\": ...}", true);
  }
  std::string host = body.value("host", "");
  std::string version = body.value("version", "");
  if (host.size() > 255 || version.size() > 64) return json_error(400, "host or version too long", true);
  auto token = store_.consume_token(pki::sha256_hex(body["token"].get<std::string>()), Timestamp::now());
  if (!token) {
    ++stats_.enroll_refused;
    log_->warn("{}: enrollment of '{}' refused: {}", r.remote, host, token.error());
    return json_error(403, token.error(), true);
  }
  auto csr = pki::csr_from_pem(body["csr"].get<std::string>());
  if (!csr) {
    ++stats_.enroll_refused;
    return json_error(400, "the CSR is not valid PEM", true);
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
  a.enrolled = Timestamp::now();
  a.last_seen = a.enrolled;
  auto added = store_.add_agent(a);
  if (!added) return json_error(503, "store unavailable", true);
  auto pem = pki::to_pem(*cert);
  if (!pem) return json_error(500, "cannot encode the certificate", true);
  ++stats_.enrolled;
  log_->info("enrolled agent {} ({}) for agency '{}' at level {}", id, host, a.agency, a.level);
  return {200, nlohmann::json{{"agent_id", id}, {"certificate", *pem}, {"ca", ca_pem_}}.dump(), "application/json",
          false};
}

net::HttpResponse AgentsApi::batches(const net::HttpRequest& r, const std::string& agent_id) {
  std::vector<IncomingRecord> records;
  std::string epoch;
  uint64_t last_seq = 0;
  size_t start = 0;
  size_t line_no = 0;
  while (start < r.body.size()) {
    size_t end = r.body.find('\n', start);
    if (end == std::string::npos) end = r.body.size();
    std::string_view line(r.body.data() + start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty()) continue;
    if (records.size() >= options_.max_records_per_batch) {
      ++stats_.malformed;
      log_->warn("{}: agent {}: batch over {} records refused", r.remote, agent_id, options_.max_records_per_batch);
      return json_error(413, "too many records in one batch", true);
    }
    auto j = nlohmann::json::parse(line, nullptr, false);
    auto bad = [&](const char* why) {
      ++stats_.malformed;
      log_->warn("{}: agent {}: malformed batch line {}: {}", r.remote, agent_id, line_no, why);
      return json_error(400, fmt::format("line {}: {}", line_no, why), true);
    };
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    if (!j.contains("epoch") || !j["epoch"].is_string() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
        !j.contains("event") || !j["event"].is_object()) {
      return bad("expected {\"epoch\": string, \"seq\": integer, \"event\": object}");
    }
    const std::string& e = j["epoch"].get_ref<const std::string&>();
    if (epoch.empty()) {
      epoch = e;
    } else if (e != epoch) {
      return bad("one batch carries one epoch");
    }
    IncomingRecord rec;
    rec.seq = j["seq"].get<uint64_t>();
    if (rec.seq <= last_seq && !records.empty()) return bad("seq must increase within a batch");
    last_seq = rec.seq;
    const auto& ev = j["event"];
    auto kind = ev.find("event");
    if (kind != ev.end() && kind->is_object()) {
      rec.kind = kind->value("kind", "event");
      rec.dataset = kind->value("dataset", "");
    } else {
      rec.kind = "event";
    }
    if (auto ts = ev.find("@timestamp"); ts != ev.end() && ts->is_string()) {
      if (auto t = Timestamp::parse(ts->get<std::string>())) rec.time = *t;
    }
    if (rec.kind == "alert") {
      if (auto rule = ev.find("rule"); rule != ev.end() && rule->is_object()) {
        if (auto v = rule->find("id"); v != rule->end() && v->is_string()) rec.rule_id = v->get<std::string>();
        if (auto v = rule->find("name"); v != rule->end() && v->is_string()) rec.rule_name = v->get<std::string>();
      }
      if (kind != ev.end() && kind->is_object()) {
        if (auto v = kind->find("severity"); v != kind->end() && v->is_number_integer()) {
          rec.severity = std::clamp(v->get<int>(), 1, 5);
        }
      }
      if (rec.rule_id.empty()) return bad("an alert needs rule.id");
    }
    if (rec.dataset == "compliance.check") {
      if (auto c = check_of(ev)) {
        rec.check = std::move(*c);
      } else {
        return bad("a compliance.check event needs rule.id, vigil.policy.id and vigil.check.result");
      }
    }
    rec.json = ev.dump();
    records.push_back(std::move(rec));
  }
  if (records.empty()) return {200, R"({"acked":0})", "application/json", false};
  auto stored = store_.store_batch(agent_id, epoch, records);
  if (!stored) {
    log_->error("agent {}: storing a batch failed: {}", agent_id, stored.error());
    return json_error(503, "store unavailable");
  }
  (void)store_.touch_agent(agent_id, Timestamp::now());
  ++stats_.batches;
  stats_.records_new += *stored;
  stats_.records_duplicate += records.size() - *stored;
  return {200, nlohmann::json{{"acked", last_seq}, {"stored", *stored}}.dump(), "application/json", false};
}

}  // namespace vigil::collector
