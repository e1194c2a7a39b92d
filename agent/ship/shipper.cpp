#include "agent/ship/shipper.h"

#include <algorithm>
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
  options_.batches_in_flight = std::max<size_t>(1, options_.batches_in_flight);
  conns_.resize(options_.batches_in_flight);
  if (auto cert = pki::cert_from_pem(identity_.tls.cert_pem)) {
    if (auto v = pki::validity(*cert)) std::tie(cert_not_before_, cert_not_after_) = *v;
  }
}

ShipperConnection& Shipper::connection(size_t slot) {
  if (!conns_[slot]) {
    conns_[slot] = std::make_unique<ShipperConnection>(options_.addresses[address_index_ % options_.addresses.size()],
                                                       identity_, options_.connect_timeout);
  }
  return *conns_[slot];
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
  settle();  // the batches in flight land first: every connection is closed after renewal
  if (!last_post_ok_) return;  // the collector failed a post just now: delivery backs off first
  auto r = connection(0).client().request("POST", "/v1/renew", nlohmann::json{{"csr", *csr_pem}}.dump(),
                                   {{"Content-Type", "application/json"}});
  if (!r) {
    conns_[0].reset();
    return fail(r.error());
  }
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !j.is_object() || !j.contains("certificate") || !j["certificate"].is_string()) {
    conns_[0].reset();
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
  for (auto& c : conns_) c.reset();  // the next requests present the new certificate
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

// Any thread: touches only its connection and atomic counters.
Shipper::Posted Shipper::send(ShipperConnection& conn, const Batch& batch) {
  std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/x-ndjson"}};
  if (batch.packed) {
    headers.emplace_back("Content-Encoding", std::string(compress::content_encoding(options_.compression)));
  }
  Posted out;
  const uint64_t now = ++posting_;
  uint64_t peak = stats_.in_flight_peak.load();
  while (now > peak && !stats_.in_flight_peak.compare_exchange_weak(peak, now)) {
  }
  auto r = conn.client().request("POST", "/v1/batches", batch.body, headers);
  --posting_;
  if (!r) {
    out.transport_failed = true;
    out.error = r.error();
    return out;
  }
  out.status = r->status;
  out.body = std::move(r->body);
  return out;
}

bool Shipper::landed(const Flight& f, Posted& p, uint64_t& acked) {
  // Named only when something went wrong.
  auto where = [&] { return conns_[f.slot] ? conns_[f.slot]->endpoint().to_string() : std::string("the collector"); };
  auto drop = [&] {
    conns_[f.slot].reset();
    return false;
  };
  if (p.transport_failed) {
    log_->warn("delivery to {} failed: {}", where(), p.error);
    if (f.slot == 0) {
      ++address_index_;  // fail over to the next address
    } else {
      // An extra connection: the collector may be at its connection bound, which is no reason to
      // leave it; one batch at a time for a minute.
      one_at_a_time_until_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }
    return drop();
  }
  if (p.status != 200) {
    ++stats_.refused;
    log_->warn("the collector at {} refused a batch ({}): {}", where(), p.status, p.body);
    return drop();
  }
  auto j = nlohmann::json::parse(p.body, nullptr, false);
  if (j.is_discarded() || !j.contains("acked") || !j["acked"].is_number_unsigned()) {
    log_->warn("the collector's answer is malformed: {}", p.body.substr(0, 200));
    return drop();
  }
  acked = j["acked"].get<uint64_t>();
  if (options_.on_answer) {
    // Over the connection that brought the answer: no post of this shipper is using it now.
    const size_t slot = f.slot;
    options_.on_answer(p.body, [this, slot](const std::string& target) -> Result<std::pair<int, std::string>> {
      auto got = connection(slot).client().request("GET", target, "", {});
      if (!got) {
        conns_[slot].reset();
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

std::shared_ptr<const Shipper::Batch> Shipper::next_batch(uint64_t after) {
  auto usable = [&](const Batch& b) { return b.records > 0 && b.error.empty() && b.after == after; };
  std::shared_ptr<const Batch> batch;
  if (next_.valid()) {
    Batch ready = next_.get();
    if (usable(ready)) batch = std::make_shared<const Batch>(std::move(ready));
  }
  if (!batch && retry_ && usable(*retry_)) batch = retry_;  // a failed post's, sent again
  retry_.reset();
  if (!batch) batch = std::make_shared<const Batch>(prepare(after));
  return batch;
}

bool Shipper::fill(uint64_t from) {
  // After a failure one batch goes alone until the collector answers again.
  const size_t depth =
      last_post_ok_ && std::chrono::steady_clock::now() >= one_at_a_time_until_ ? options_.batches_in_flight : 1;
  while (flights_.size() < depth) {
    const uint64_t after = flights_.empty() ? from : flights_.back().batch->last_seq;
    if (!flights_.empty() && spool_.last_seq() <= after) break;
    auto batch = next_batch(after);
    if (!batch->error.empty()) {
      log_->error("reading the spool failed: {}", batch->error);
      if (flights_.empty()) return false;
      break;
    }
    if (batch->records == 0) break;
    std::vector<bool> used(conns_.size());
    for (const auto& f : flights_) used[f.slot] = true;
    const size_t slot = static_cast<size_t>(std::find(used.begin(), used.end(), false) - used.begin());
    Flight f{std::move(batch), slot, {}};
    stats_.bytes_raw += f.batch->raw_size;
    stats_.bytes_sent += f.batch->body.size();
    auto post = [this, &conn = connection(slot), batch = f.batch] { return send(conn, *batch); };
    // One at a time the post runs here when it is landed; several each on a thread of its own
    // (here too when no thread can be had).
    if (options_.batches_in_flight > 1) {
      try {
        f.posted = std::async(std::launch::async, post);
      } catch (const std::system_error&) {
      }
    }
    if (!f.posted.valid()) f.posted = std::async(std::launch::deferred, post);
    flights_.push_back(std::move(f));
  }
  // While they are posted, the batch after them is read and encoded. Only while deliveries
  // succeed (a retry would throw it away), and never at the price of the delivery: without a
  // thread or memory for it, there is simply no read-ahead.
  if (last_post_ok_ && !flights_.empty() && !next_.valid() && spool_.last_seq() > flights_.back().batch->last_seq) {
    try {
      next_ = std::async(std::launch::async, [this, after = flights_.back().batch->last_seq]() noexcept {
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
  return true;
}

bool Shipper::land_oldest() {
  Flight f = std::move(flights_.front());
  flights_.pop_front();
  Posted p = f.posted.get();
  uint64_t acked = 0;
  const size_t address = address_index_;
  last_post_ok_ = landed(f, p, acked);
  if (!last_post_ok_) {
    ++stats_.failures;
    retry_ = f.batch;
    let_go();
    // Failed over: every connection goes to the next address.
    if (address_index_ != address) {
      for (auto& c : conns_) c.reset();
    }
    return false;
  }
  const Batch& batch = *f.batch;
  if (acked < batch.last_seq) {
    log_->warn("the collector acknowledged {} of a batch ending at {}", acked, batch.last_seq);
  }
  auto a = spool_.ack(acked);
  if (!a) {
    log_->error("recording the acknowledgement failed: {}", a.error());
    let_go();
    return false;
  }
  ++stats_.batches;
  stats_.records += batch.records;
  stats_.acked = acked;
  // Acknowledged short of the batch's end: the posts behind it no longer follow.
  if (!flights_.empty() && flights_.front().batch->after != spool_.acked()) let_go();
  return true;
}

void Shipper::let_go() {
  for (auto& f : flights_) {
    // Not begun (no thread could be had): it is not sent at all.
    if (f.posted.wait_for(std::chrono::seconds(0)) == std::future_status::deferred) continue;
    Posted p = f.posted.get();
    if (p.transport_failed || p.status != 200) conns_[f.slot].reset();
  }
  flights_.clear();
}

void Shipper::settle() {
  while (!flights_.empty() && land_oldest()) {
  }
}

bool Shipper::ship_once() {
  if (options_.addresses.empty() || !fill(spool_.acked())) return false;
  if (flights_.empty()) return true;
  return land_oldest();
}

void Shipper::run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(250);
  bool failed_before = false;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) break;
      if (draining_ && (std::chrono::steady_clock::now() >= drain_deadline_ || spool_.acked() >= spool_.last_seq())) {
        break;
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
  settle();  // what the collector stored of the batches in flight is not sent again
}

}  // namespace vigil::agent
