// Retention: removing what is older than each kind's period, chunk by chunk.
#pragma once

#include <cstdint>
#include <functional>

#include "common/event/value.h"
#include "common/result.h"

namespace vigil::collector {

// What retention removes: everything stored before each cutoff (a zero cutoff keeps all of its
// kind). Rows go in transactions of `chunk_rows` at most, so ingest waits for one chunk at a
// time, never for a whole purge; `cancelled`, when set, is asked between chunks.
struct PurgeRequest {
  Timestamp events_before{};              // records other than alerts and agent health
  Timestamp alerts_before{};              // alerts with their history and their own record
  Timestamp health_before{};              // agent health records (event.kind metric)
  Timestamp compliance_history_before{};  // changes of result; the latest result always stays
  Timestamp audit_before{};               // audit log entries
  int chunk_rows = 5000;
  std::function<bool()> cancelled;
};

// Rows a purge removed, per kind.
struct PurgeCounts {
  uint64_t events = 0;
  uint64_t alerts = 0;         // alerts, each with its own record
  uint64_t alert_history = 0;  // triage changes of those alerts
  uint64_t health = 0;
  uint64_t compliance_history = 0;
  uint64_t audit = 0;
  uint64_t quarantined = 0;  // records quarantined at ingest (they go with the events' cutoff)
  // Not rows: purged events whose body could not be read back (a damaged block), so their words
  // stay in the full-text index (hits for events that are gone, which searches drop).
  uint64_t unreadable_bodies = 0;
  uint64_t total() const {
    return events + alerts + alert_history + health + compliance_history + audit + quarantined;
  }
};

// The store's side of collector/retention.
class RetentionStore {
 public:
  virtual ~RetentionStore() = default;

  // Retention: deletes what is older than the request's cutoffs, chunk by chunk. An alert keeps
  // its own record (its evidence) for as long as it stays, whatever the events cutoff; the
  // latest compliance result of every check stays however old. Stops early, with what it
  // removed so far, when `cancelled` says so.
  virtual Result<PurgeCounts> purge(const PurgeRequest& request) = 0;
  // Takes this round of retention for the caller: true, and the round recorded at `now`, when no
  // round was recorded after `last_before`; false when another collector sharing the database
  // took it since. One statement, so of several collectors asking together exactly one wins.
  virtual Result<bool> claim_retention_round(Timestamp now, Timestamp last_before) = 0;
};

}  // namespace vigil::collector
