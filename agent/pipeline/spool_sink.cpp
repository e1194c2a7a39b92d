#include "agent/pipeline/spool_sink.h"

#include "agent/spool/admission.h"
#include "common/event/json.h"
#include "common/log/logging.h"

namespace vigil::agent::pipeline {

void SpoolSink::operator()(const Event& e, std::string_view origin, const std::string* json) {
  if (auto why = spool_refuse_reason(e)) {
    ++refused_;
    if (refused_ <= 10) {
      const std::string* dataset = e.get_string(fields::event_dataset);
      logging::get("agent")->warn("{}{}not spooled (the collector would refuse it): {} (event.dataset: {})", origin,
                                  origin.empty() ? "" : ": ", *why, dataset ? *dataset : "none");
    }
    return;
  }
  const std::string* kind = e.get_string(fields::event_kind);
  SpoolPriority prio = SpoolPriority::event;
  if (kind && *kind == "alert") prio = SpoolPriority::alert;
  if (kind && *kind == "state") prio = SpoolPriority::state;
  ++appended_;
  if (!json) {
    line_.clear();
    append_json_line(line_, e);
  }
  auto r = spool_.append(json ? *json : line_, prio);
  if (!r) {
    ++errors_;
    if (errors_ <= 10) logging::get("agent")->error("{}", r.error());
  }
}

void SpoolSink::put_health(Event& h) const {
  auto s = spool_.stats();
  auto put = [&h](const char* name, uint64_t v) { h.set(field(name), static_cast<int64_t>(v)); };
  put("vigil.spool.bytes", s.bytes_on_disk);
  put("vigil.spool.pending", s.pending);
  put("vigil.spool.dropped_events", s.dropped_events);
  put("vigil.spool.dropped_alerts", s.dropped_alerts);
  put("vigil.spool.refused", refused_);
  put("vigil.spool.errors", errors_);
}

}  // namespace vigil::agent::pipeline
