#include "agent/ship/shipper.h"

#include <ctime>
#include <random>
#include <system_error>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log/logging.h"
#include "common/net/https_client.h"
#include "common/pki/pki.h"
#include "common/util/compress.h"

namespace vigil::agent {

class ShipperConnection {
 public:
  ShipperConnection(const config::Endpoint& ep, const Identity& id, std::chrono::milliseconds timeout)
      : client_(make_options(ep, id, timeout)), endpoint_(ep) {}
  net::HttpsClient& client() { return client_; }
  const config::Endpoint& endpoint() const { return endpoint_; }

 private:
  static net::HttpsClientOptions make_options(const config::Endpoint& ep, const Identity& id,
                                              std::chrono::milliseconds timeout) {
    net::HttpsClientOptions o;
    o.host = ep.host;
    o.port = ep.port;
    o.tls = id.tls;
    o.timeout = timeout;
    return o;
  }
  net::HttpsClient client_;
  config::Endpoint endpoint_;
};

Shipper::Shipper(Spool& spool, Identity identity, ShipperOptions options)
    : spool_(spool), identity_(std::move(identity)), options_(std::move(options)), log_(logging::get("shipper")) {
  if (auto cert = pki::cert_from_pem(identity_.tls.cert_pem)) {
    if (auto v = pki::validity(*cert)) std::tie(cert_not_before_, cert_not_after_) = *v;
  }
}

void Shipper::connect_if_needed() {
  if (!conn_) {
    conn_ = std::make_unique<ShipperConnection>(options_.addresses[address_index_ % options_.addresses.size()],
                                                identity_, options_.connect_timeout);
  }
}

void Shipper::maybe_renew() {
  if (options_.state_dir.empty() || options_.addresses.empty() || cert_not_after_ <= cert_not_before_) return;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (now < cert_not_after_ - (cert_not_after_ - cert_not_before_) / 3) return;
  if (std::chrono::steady_clock::now() < next_renew_try_) return;
  next_renew_try_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  auto fail = [&](const std::string& why) {
    ++stats_.renewal_failures;
    log_->warn("certificate renewal failed (expires in {} s; trying again in a minute): {}", cert_not_after_ - now,
               why);
  };
  auto key = pki::generate_key();
  if (!key) return fail(key.error());
  auto csr = pki::make_csr(*key, identity_.agent_id);
  if (!csr) return fail(csr.error());
  auto csr_pem = pki::to_pem(*csr);
  auto key_pem = pki::to_pem(*key);
  if (!csr_pem || !key_pem) return fail("cannot encode the new key or CSR");
  connect_if_needed();
  auto r = conn_->client().request("POST", "/v1/renew", nlohmann::json{{"csr", *csr_pem}}.dump(),
                                   {{"Content-Type", "application/json"}});
  if (!r) {
    conn_.reset();
    return fail(r.error());
  }
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !j.is_object() || !j.contains("certificate") || !j["certificate"].is_string()) {
    conn_.reset();
    return fail(fmt::format("the collector answered {}: {}", r->status, r->body.substr(0, 200)));
  }
  std::string cert_pem = j["certificate"].get<std::string>();
  auto cert = pki::cert_from_pem(cert_pem);
  if (!cert) return fail("the new certificate is not valid PEM");
  auto v = pki::validity(*cert);
  if (!v) return fail(v.error());
  // The CAs the collector trusts now (during a CA rotation: the new one first, then the old one),
  // so this agent follows when the old CA retires.
  if (j.contains("ca") && j["ca"].is_string() && pki::split_certs(j["ca"].get<std::string>())) {
    std::string ca_pem = j["ca"].get<std::string>();
    if (ca_pem != identity_.tls.ca_pem) {
      if (auto stored = store_ca_bundle(options_.state_dir, ca_pem); !stored) return fail(stored.error());
      identity_.tls.ca_pem = ca_pem;
      log_->info("the collector's CA bundle changed: {} CA(s) trusted now", pki::split_certs(ca_pem)->size());
    }
  }
  if (auto stored = store_renewed_identity(options_.state_dir, *key_pem, cert_pem); !stored) return fail(stored.error());
  identity_.tls.key_pem = *key_pem;
  identity_.tls.cert_pem = cert_pem;
  std::tie(cert_not_before_, cert_not_after_) = *v;
  conn_.reset();  // the next request presents the new certificate
  next_renew_try_ = {};
  ++stats_.renewals;
  log_->info("certificate renewed (serial {}), valid for {} s more", pki::serial_hex(*cert), cert_not_after_ - now);
}

Shipper::~Shipper() { stop(); }

void Shipper::start() {
  std::lock_guard lock(mutex_);
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void Shipper::stop(std::chrono::milliseconds drain_for) {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    woken_ = true;
    if (drain_for.count() > 0) {
      draining_ = true;
      drain_deadline_ = std::chrono::steady_clock::now() + drain_for;
    } else {
      stop_ = true;
    }
  }
  cv_.notify_all();
  thread_.join();
}

void Shipper::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

bool Shipper::post(const Batch& batch, uint64_t& acked) {
  if (options_.addresses.empty()) return false;
  connect_if_needed();
  std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/x-ndjson"}};
  if (batch.packed) headers.emplace_back("Content-Encoding", std::string(compress::content_encoding(options_.compression)));
  stats_.bytes_raw += batch.raw_size;
  stats_.bytes_sent += batch.body.size();
  auto r = conn_->client().request("POST", "/v1/batches", batch.body, headers);
  if (!r) {
    log_->warn("delivery to {} failed: {}", conn_->endpoint().to_string(), r.error());
    conn_.reset();
    ++address_index_;  // fail over to the next address
    return false;
  }
  if (r->status != 200) {
    ++stats_.refused;
    log_->warn("the collector at {} refused a batch ({}): {}", conn_->endpoint().to_string(), r->status, r->body);
    conn_.reset();
    return false;
  }
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("acked") || !j["acked"].is_number_unsigned()) {
    log_->warn("the collector's answer is malformed: {}", r->body.substr(0, 200));
    conn_.reset();
    return false;
  }
  acked = j["acked"].get<uint64_t>();
  if (options_.on_answer) {
    options_.on_answer(r->body, [this](const std::string& target) -> Result<std::pair<int, std::string>> {
      if (!conn_) connect_if_needed();
      auto got = conn_->client().request("GET", target, "", {});
      if (!got) {
        conn_.reset();
        return make_error(got.error());
      }
      return std::pair<int, std::string>{got->status, std::move(got->body)};
    });
  }
  return true;
}

Shipper::Batch Shipper::prepare(uint64_t after) {
  Batch out;
  out.after = after;
  auto records = spool_.read(after, options_.batch_max_records, options_.batch_max_bytes);
  if (!records) {
    out.error = records.error();
    return out;
  }
  if (records->empty()) return out;
  std::string body;
  body.reserve(options_.batch_max_bytes + records->size() * 64);
  const std::string prefix = fmt::format("{{\"epoch\":\"{}\",\"seq\":", spool_.epoch());
  for (const auto& rec : *records) {
    body += prefix;
    body += std::to_string(rec.seq);
    body += ",\"event\":";
    body += rec.payload;
    body += "}\n";
  }
  out.last_seq = records->back().seq;
  out.records = records->size();
  std::vector<SpoolRecord>().swap(*records);  // in the body now: not kept while it is sent
  out.raw_size = body.size();
  // Batches of JSON lines shrink 5-10x with the fastest levels of gzip and zstd; below 1 KiB the
  // headers cost more than compression saves.
  if (options_.compression != compress::Codec::none && body.size() >= 1024) {
    std::string packed = compress::encode(options_.compression, body);
    if (!packed.empty()) {
      out.body = std::move(packed);
      out.packed = true;
      return out;
    }
  }
  out.body = std::move(body);
  return out;
}

bool Shipper::ship_once() {
  const uint64_t from = spool_.acked();
  auto usable = [&](const Batch& b) {
    return b.records > 0 && b.error.empty() && b.after == from;
  };
  Batch batch;
  if (next_.valid()) {
    Batch ready = next_.get();
    if (usable(ready)) batch = std::move(ready);
  }
  if (batch.records == 0 && usable(retry_)) batch = std::move(retry_);  // a failed post's, sent again
  retry_ = Batch{};
  if (batch.records == 0) batch = prepare(from);
  if (!batch.error.empty()) {
    log_->error("reading the spool failed: {}", batch.error);
    return false;
  }
  if (batch.records == 0) return true;
  // Read ahead only while deliveries succeed (a retry would throw it away), and never at the
  // price of the delivery: without a thread or memory for it, there is simply no read-ahead.
  if (last_post_ok_ && spool_.last_seq() > batch.last_seq) {
    try {
      next_ = std::async(std::launch::async, [this, after = batch.last_seq]() noexcept {
        try {
          return prepare(after);
        } catch (const std::exception& e) {
          Batch failed;
          failed.error = e.what();
          return failed;
        }
      });
    } catch (const std::system_error&) {
    }
  }
  uint64_t acked = 0;
  last_post_ok_ = post(batch, acked);
  if (!last_post_ok_) {
    ++stats_.failures;
    retry_ = std::move(batch);
    return false;
  }
  if (acked < batch.last_seq) {
    log_->warn("the collector acknowledged {} of a batch ending at {}", acked, batch.last_seq);
  }
  auto a = spool_.ack(acked);
  if (!a) {
    log_->error("recording the acknowledgement failed: {}", a.error());
    return false;
  }
  ++stats_.batches;
  stats_.records += batch.records;
  stats_.acked = acked;
  return true;
}

void Shipper::run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(250);
  bool failed_before = false;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      if (draining_ && (std::chrono::steady_clock::now() >= drain_deadline_ || spool_.acked() >= spool_.last_seq())) {
        return;
      }
    }
    maybe_renew();
    bool pending = spool_.acked() < spool_.last_seq();
    std::chrono::milliseconds wait = options_.idle_poll;
    if (pending) {
      if (ship_once()) {
        if (failed_before) log_->info("delivering again (acknowledged up to {})", spool_.acked());
        failed_before = false;
        backoff = std::chrono::milliseconds(250);
        continue;
      }
      failed_before = true;
      // Exponential backoff with full jitter, capped.
      std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
      wait = std::chrono::milliseconds(jitter(rng));
      backoff = std::min(backoff * 2, options_.retry_max_backoff);
    }
    std::unique_lock lock(mutex_);
    if (draining_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline_ - std::chrono::steady_clock::now());
      wait = std::max(std::chrono::milliseconds(0), std::min(wait, left));
    }
    cv_.wait_for(lock, wait, [this] { return stop_ || woken_; });
    woken_ = false;
  }
}

}  // namespace vigil::agent
