// The shipper: the only path from the spool to the network. Reads unacknowledged records, posts
// them as NDJSON batches over mutual TLS, and acknowledges in the spool what the collector
// acknowledged. Reconnects with exponential backoff and jitter, trying each collector address.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "agent/ship/identity.h"
#include "agent/spool/spool.h"
#include "common/config/yaml_reader.h"
#include "common/util/compress.h"

namespace spdlog {
class logger;
}

namespace vigil::agent {

// A GET over the shipper's connection: {status, body}, or why it failed.
using Fetch = std::function<Result<std::pair<int, std::string>>(const std::string& target)>;

struct ShipperOptions {
  std::vector<config::Endpoint> addresses;
  size_t batch_max_records = 1000;
  size_t batch_max_bytes = 1 << 20;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds retry_max_backoff{60'000};
  std::chrono::milliseconds idle_poll{200};  // how often to look for new records when idle
  compress::Codec compression = compress::Codec::zstd;  // batch bodies of 1 KiB and more
  // Batches posted at once while a backlog is delivered, each on its own connection; they are
  // acknowledged in the spool in order (1: one batch at a time).
  size_t batches_in_flight = 2;
  // Where the identity lives; the certificate is renewed there when a third of its life is left
  // (empty: no renewal).
  std::string state_dir;
  // Called on the shipper's thread with each acknowledgement's body, and a way to GET more over the
  // same connection (agent/fleet/bundle_client.h fetches its group's bundle this way).
  std::function<void(std::string_view answer, const Fetch& fetch)> on_answer;
};

struct ShipperStats {
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> refused{0};  // 4xx answers
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> bytes_raw{0};   // batch bodies before compression
  std::atomic<uint64_t> bytes_sent{0};  // as posted
  std::atomic<uint64_t> renewals{0};
  std::atomic<uint64_t> renewal_failures{0};
  std::atomic<uint64_t> in_flight_peak{0};  // most posts under way at the same moment
};

class Shipper {
 public:
  Shipper(Spool& spool, Identity identity, ShipperOptions options);
  ~Shipper();
  void start();
  // Stops after the batches in flight; with `drain_for` > 0, first keeps delivering until the
  // spool is empty or the time is up.
  void stop(std::chrono::milliseconds drain_for = std::chrono::milliseconds(0));
  void wake();
  const ShipperStats& stats() const { return stats_; }

  // Posts what the spool holds, up to batches_in_flight batches, and lands the oldest one; true
  // when the collector acknowledged it (or there was nothing to send). Used by the thread.
  bool ship_once();

 private:
  // One batch read from the spool and encoded, ready to post.
  struct Batch {
    uint64_t after = 0;  // the seq it was read after
    uint64_t last_seq = 0;
    size_t records = 0;
    size_t raw_size = 0;  // the body's before compression
    std::string body;     // as posted: compressed when `packed`
    bool packed = false;
    std::string error;  // reading the spool failed
  };
  // What a post got back.
  struct Posted {
    bool transport_failed = false;  // no answer: `error` says why
    int status = 0;
    std::string body;  // the answer
    std::string error;
  };
  // A batch posted and not yet landed. The post runs on its own thread while more are posted;
  // only the shipper's thread touches the connections' slots, logs the outcome and acknowledges.
  struct Flight {
    std::shared_ptr<const Batch> batch;
    size_t slot = 0;  // its connection
    std::future<Posted> posted;
  };
  Batch prepare(uint64_t after);
  // The batch after `after`: read ahead, the failed one again, or read now.
  std::shared_ptr<const Batch> next_batch(uint64_t after);
  void run();
  // Posts batches until batches_in_flight are in flight (one alone after a failure) or the spool
  // has no more; false when reading it failed with nothing in flight.
  bool fill(uint64_t from);
  // Waits for the oldest post and acknowledges what the collector acknowledged. On failure the
  // batch is kept to be sent again and the posts behind it are let go (what they stored comes
  // again and is recognised by its seq).
  bool land_oldest();
  // The outcome of one post (the shipper's thread): false when it failed.
  bool landed(const Flight& f, Posted& p, uint64_t& acked);
  // Waits for every post in flight and forgets them.
  void let_go();
  // Lands every post in flight, in order, until one fails.
  void settle();
  Posted send(class ShipperConnection& conn, const Batch& batch);  // any thread
  class ShipperConnection& connection(size_t slot);
  // Renews the certificate when its time has come; on failure tries again a minute later.
  void maybe_renew();

  Spool& spool_;
  Identity identity_;
  ShipperOptions options_;
  ShipperStats stats_;
  std::shared_ptr<spdlog::logger> log_;
  size_t address_index_ = 0;
  // One connection per batch in flight; slot 0 also renews the certificate.
  std::vector<std::unique_ptr<class ShipperConnection>> conns_;
  // While a batch is posted, the next one is read and encoded here when the spool holds more (a
  // backlog is then bound by the slower of the two, not their sum). Used only if it starts where
  // the collector's acknowledgement left the spool (a spool keeps its epoch while open).
  std::future<Batch> next_;
  // The batch whose post failed, sent again while it still starts at the acknowledged seq.
  std::shared_ptr<const Batch> retry_;
  bool last_post_ok_ = true;
  // Oldest first. Declared after conns_: destroyed first, each future waiting for its post,
  // which uses a connection, to end.
  std::deque<Flight> flights_;
  // After a post on an extra connection failed to get through (the collector at its connection
  // bound, say), one batch at a time until then.
  std::chrono::steady_clock::time_point one_at_a_time_until_{};
  std::atomic<uint64_t> posting_{0};  // posts under way now
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  bool draining_ = false;
  int64_t cert_not_before_ = 0;
  int64_t cert_not_after_ = 0;
  std::chrono::steady_clock::time_point next_renew_try_{};
};

}  // namespace vigil::agent
