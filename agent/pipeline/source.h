// What feeds the agent's pipeline: file tails and the journal, the inbox of external scans, packet
// captures, scheduled compliance scans, and the recorded inputs `replay` reads (capture files, log
// files). The daemon polls its sources in one loop, a bounded slice of each per pass, then syncs the
// spool and commits the positions what it read came from; replay drains recorded sources merged by
// time. Both hand what they read to the same Pipeline (shared/DESIGN.md, "Agent pipeline").
#pragma once

#include <poll.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/event/event.h"

namespace vigil::agent::pipeline {

class Pipeline;

class Source {
 public:
  virtual ~Source() = default;
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // Reads what is waiting, a bounded slice at most (so one busy source cannot starve the rest),
  // and hands it to `out`. A recorded source (next_time() set) reads one unit (a packet, a line)
  // per call, so replay can merge sources by time. Returns the units read; 0 when none waited.
  virtual size_t poll(Pipeline& out) = 0;

  // A recorded source: when its next unit happened; nullopt at its end. Live sources: nullopt.
  virtual std::optional<Timestamp> next_time() const { return std::nullopt; }

  // A recorded source: reads units while the next one happened before `limit` (or at it, when
  // `at_limit`), as replay's merge by time would hand them out one poll() at a time; returns the
  // units read. A source may read a run of them without being asked each time (capture files).
  virtual size_t poll_while(Pipeline& out, Timestamp limit, bool at_limit) {
    size_t n = 0;
    for (auto t = next_time(); t && (*t < limit || (at_limit && *t == limit)); t = next_time()) {
      const size_t read = poll(out);
      if (read == 0) break;
      n += read;
    }
    return n;
  }

  // Descriptors that become readable when there is something to read (none: read by the timer).
  virtual void wake_fds(std::vector<pollfd>& /*fds*/) const {}

  // What poll() handed out is durable (the spool synced up to `synced_seq`): remember how far
  // this source got, so a restart neither reads it twice nor skips it.
  virtual void commit(uint64_t /*synced_seq*/) {}

  // Its counters into an agent.health event (summed with other sources' by add_counter).
  virtual void put_health(Event& /*health*/) const {}

  // What went wrong reading it for good ("file: reason"); empty when nothing did.
  virtual const std::string& error() const {
    static const std::string none;
    return none;
  }
};

// Adds `v` to the integer counter `name` of `health` (created at 0): several sources of one kind
// report one total.
void add_counter(Event& health, std::string_view name, uint64_t v);

}  // namespace vigil::agent::pipeline
