// Alert exports: RFC 5424 syslog over TCP (TLS optional), JSON lines appended to a file, and
// webhooks (HTTPS JSON POST). Each export keeps a durable cursor (the id of the last alert it
// delivered) in <data_dir>/exports/<name>.cursor, written after every delivery, so a receiver's
// outage delays alerts and loses none; on restart the export goes on after its cursor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/config/collector_config.h"
#include "collector/store/triage_store.h"
#include "common/util/worker_loop.h"

namespace vigil::collector {

struct ExportStats {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<int64_t> cursor{0};  // the last alert id delivered
};

// One destination (exposed for tests): delivers one alert or fails with a reason.
class ExportSink {
 public:
  virtual ~ExportSink() = default;
  virtual Result<void> deliver(const AlertRecord& alert) = 0;
  virtual void close() {}
};

// RFC 5424 message of an alert (the line a syslog receiver gets, without framing).
std::string syslog_message(const AlertRecord& alert, const std::string& host_name);
// The JSON document of an alert that jsonl and webhook exports write.
std::string alert_json(const AlertRecord& alert);

class Exporter {
 public:
  Exporter(TriageStore& store, const std::vector<ExportSection>& exports, std::string data_dir);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  void start();
  void stop();
  // Looks for new alerts now (after a batch that held alerts).
  void wake();

  const ExportStats& stats(size_t i) const { return *exports_[i].stats; }
  size_t size() const { return exports_.size(); }
  const std::string& name(size_t i) const { return exports_[i].config.name; }

 private:
  struct Export {
    ExportSection config;
    std::unique_ptr<ExportSink> sink;
    std::unique_ptr<ExportStats> stats;
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
  };
  void run_export(Export& e);
  bool save_cursor(const Export& e, int64_t id);

  TriageStore& store_;
  std::string dir_;
  std::vector<Export> exports_;
  util::WorkerLoop loop_;  // its last member: stopped first
};

}  // namespace vigil::collector
