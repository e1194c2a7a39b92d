// The daemon's sink: events and alerts into the spool, by priority (alerts and state before
// events when space runs short). What the collector would refuse (common/ingest/record_rules.h) is
// counted and logged instead, so one bad record never blocks delivery.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "agent/spool/spool.h"
#include "common/event/event.h"

namespace vigil::agent::pipeline {

class SpoolSink {
 public:
  explicit SpoolSink(Spool& spool) : spool_(spool) {}

  // `json`: the event's JSON line when already written (Pipeline::Sink), spooled as it is.
  void operator()(const Event& e, std::string_view origin, const std::string* json = nullptr);
  // Records appended since the last call.
  size_t take_appended() { return std::exchange(appended_, 0); }
  // vigil.spool.* into an agent.health event.
  void put_health(Event& health) const;

 private:
  Spool& spool_;
  size_t appended_ = 0;
  uint64_t errors_ = 0;
  uint64_t refused_ = 0;
  std::string line_;  // the record being appended, reused
};

}  // namespace vigil::agent::pipeline
