// Ingest: the batches agents deliver, stored once, and the records refused with why.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/event/value.h"
#include "common/result.h"
#include "collector/store/records.h"

namespace vigil::collector {

// What the search index keeps of a record besides its time, kind and dataset (collector/search).
struct SearchFields {
  Entity entity;
  std::string host_name;
  std::string event_action;
  std::string event_outcome;
  std::string rule_id;   // of any event that names one (alerts, compliance results)
  int64_t severity = 0;  // event.severity
  std::string text;  // event.original, or message when the event has none: full text
};

// One record of a batch as the agent sent it: its spool position and the event as JSON.
struct IncomingRecord {
  uint64_t seq = 0;
  std::string kind;     // event.kind: event, alert, state, metric
  std::string dataset;  // event.dataset
  Timestamp time{};
  std::string json;     // the whole event
  SearchFields search;
  // Alerts only (kind == "alert"): what triage lists and filters on.
  std::string rule_id;
  std::string rule_name;
  std::string rule_name_vi{};  // the Vietnamese name where the rule gives one
  int severity = 0;  // 1 info .. 5 critical
  // Compliance results only (dataset compliance.check): kept as the latest per agent and check.
  struct Check {
    std::string policy;
    std::string check_id;
    std::string title;
    int level = 1;
    std::string result;    // pass, fail, error, not_applicable
    std::string controls;  // JSON object: framework id -> [control ids]
    std::string evidence;
    std::string remediation;
    std::string policy_version;
    // The Vietnamese texts, when the policy gives them (else empty: the English serves both).
    std::string title_vi{};
    std::string remediation_vi{};
  };
  std::optional<Check> check;
  // What IngestStore::pack prepared for the store's writer, off it (the store's own type; SQLite:
  // the body's compressed block and slot, the search row and its key tokens); null until packed.
  std::shared_ptr<const void> prepared{};
};

// A record the collector did not store, kept with why (shared/DESIGN.md "Hostile input"): the
// records behind it are stored and acknowledged all the same.
struct QuarantinedRecord {
  int64_t id = 0;
  std::string agent_id;
  // Where the line names no seq, `epoch` is "line:" and a hash of the line, so a redelivery is
  // still kept once.
  std::string epoch;
  std::optional<uint64_t> seq;  // absent when the line had none
  size_t line = 0;              // line within its batch
  std::string reason;
  std::string body;  // the line as received, cut at 4 KiB
  Timestamp received{};
};

// One agent's batch as group commit stores it (IngestStore::store_batches).
struct BatchWrite {
  std::string agent_id;
  std::string epoch;
  std::vector<IncomingRecord> records;
  std::vector<QuarantinedRecord> quarantined;
};

// What storing one BatchWrite added: records new (not stored before) and quarantined rows new.
struct StoredBatch {
  uint64_t records = 0;
  uint64_t quarantined = 0;
};

struct StoredCounts {
  uint64_t records = 0;
  uint64_t alerts = 0;
};

// Batches in, one transaction each; redelivery is harmless.
class IngestStore {
 public:
  virtual ~IngestStore() = default;

  // Stores a batch in one transaction; records already stored under (agent, epoch, seq) are
  // skipped, so redelivery is harmless. Returns how many were new.
  virtual Result<uint64_t> store_batch(const std::string& agent_id, const std::string& epoch,
                                       const std::vector<IncomingRecord>& records) = 0;
  // Several batches (of one or many agents) together: each one's quarantined records, then its
  // records, then its agent's last contact (when it carried anything). Stores that can make it one
  // transaction (SQLite: one sync for all) do; the others store them one by one. An error means
  // none of them may be acknowledged (some may be stored: redelivery is harmless).
  virtual Result<std::vector<StoredBatch>> store_batches(const std::vector<BatchWrite>& batches,
                                                         Timestamp received) = 0;
  // What the store may do to a batch's records before its writer stores them, on the caller's
  // thread (ingest calls it where it parses, off the one writer): SQLite compresses the bodies
  // in blocks. Storing records that were not packed is the same, with the work on the writer.
  virtual void pack(std::vector<IncomingRecord>& /*records*/) const {}
  // Runs `then` once everything stored before the call is durable and searchable: at once where
  // both hold when a store call returns; SQLite, once its full-text index (written beside the
  // store's writer) has it too, on that index's thread. Group commit answers agents so.
  virtual void after_durable(std::function<void()> then) { then(); }
  // Returns once every after_durable given before has run.
  virtual void wait_durable() {}
  // The store's own figures for /metrics, in Prometheus' text format ("" when it has none).
  virtual std::string metrics_text() const { return {}; }
  virtual Result<StoredCounts> counts(const std::string& agent_id) = 0;
  // Records refused at ingest, with their reason. One row per (agent, epoch, seq), so redelivery
  // adds none; returns how many were new. Retention drops them with the events.
  virtual Result<uint64_t> quarantine(const std::string& agent_id, const std::vector<QuarantinedRecord>& records,
                                      Timestamp received) = 0;
  virtual Result<uint64_t> count_quarantined() = 0;
  // Newest first; of one agent or all (empty); `before_id` pages (0: from the newest).
  virtual Result<std::vector<QuarantinedRecord>> list_quarantined(const std::string& agent_id, int64_t before_id,
                                                                  int limit) = 0;
};

}  // namespace vigil::collector
