// JSON-lines serialisation of events: nested objects as in ECS ({"source":{"ip":"10.0.0.1"}}).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/event/event.h"
#include "common/result.h"

namespace vigil {

nlohmann::json to_json(const Event& event);
// One line of JSON without the trailing newline.
std::string to_json_line(const Event& event);
// The same appended to `out` (a buffer reused across events allocates nothing once grown).
void append_json_line(std::string& out, const Event& event);

// Nested objects become dotted field names. Values of known fields are converted to their
// declared type (an IP string in source.ip becomes an IP address); other fields keep the JSON
// type. Arrays become lists; objects inside arrays become embedded events.
Result<Event> event_from_json(const nlohmann::json& json);
Result<Event> event_from_json_line(std::string_view line);

}  // namespace vigil
