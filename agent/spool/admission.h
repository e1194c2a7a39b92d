// What the agent lets into its spool: the records the collector would store. The rules are the
// collector's own (common/ingest/record_rules.h), applied to the facts read from an Event, so a
// record the collector would quarantine is refused here, counted and logged, never shipped.
#pragma once

#include <optional>
#include <string>

#include "common/event/event.h"
#include "common/ingest/record_rules.h"

namespace vigil::agent {

// The facts of `e` as the collector reads them from the shipped JSON: a field that is absent or
// not a string reads as empty; views into `e`, valid while it is unchanged.
ingest::RecordFacts record_facts(const Event& e);

// Why the collector would refuse `e`; nullopt when it may be spooled.
std::optional<std::string> spool_refuse_reason(const Event& e);

}  // namespace vigil::agent
