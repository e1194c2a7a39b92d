#include "agent/pipeline/pipeline.h"

#include <utility>

#include "agent/pipeline/source.h"

namespace vigil::agent::pipeline {

void add_counter(Event& health, std::string_view name, uint64_t v) {
  FieldId id = field(name);
  const int64_t* had = health.get_int(id);
  health.set(id, static_cast<int64_t>(v) + (had ? *had : 0));
}

namespace {

traffic::PipelineOptions traffic_options(const PipelineOptions& o) {
  traffic::PipelineOptions t = o.traffic;
  t.host_name = o.host_name;
  return t;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, Sink sink)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      traffic_(traffic_options(options_), [this](Event& e) {
        // Flows, anomalies and protocol events carry their id, time and host: run as they are
        // unless there is an agent id to add.
        if (options_.agent_id.empty() && e.has(fields::event_id) && e.has(fields::timestamp) &&
            e.has(fields::host_name)) {
          run(e, {});
        } else {
          enrich_and_run(e, {});
        }
      }) {}

void Pipeline::set_rules(std::shared_ptr<const rules::RuleSet> rules) {
  engine_ = rules ? std::make_unique<rules::Engine>(std::move(rules)) : nullptr;
}

void Pipeline::event(Event&& e, std::string_view origin) { enrich_and_run(e, origin); }

void Pipeline::enrich_and_run(Event& e, std::string_view origin) {
  // Room for what is added here, exactly: one allocation at most.
  const bool id = e.has(fields::event_id), time = e.has(fields::timestamp), host = e.has(fields::host_name);
  const bool agent = !options_.agent_id.empty() && !e.has(fields::agent_id);
  e.reserve(e.size() + !id + !time + !host + agent);
  if (!id) e.add(fields::event_id, new_event_id());
  if (!time) e.add(fields::timestamp, Timestamp::now());
  if (!host) e.add(fields::host_name, options_.host_name);
  if (!options_.agent_id.empty()) e.set(fields::agent_id, options_.agent_id);
  run(e, origin);
}

void Pipeline::event(const Event& e, std::string_view origin) {
  if (options_.agent_id.empty() && e.has(fields::event_id) && e.has(fields::timestamp) && e.has(fields::host_name)) {
    run(e, origin);
    return;
  }
  event(Event(e), origin);
}

void Pipeline::run(const Event& e, std::string_view origin) {
  ++counters_.events;
  alerts_.clear();
  if (engine_) engine_->process(e, alerts_);
  sink_(e, origin, engine_ ? engine_->kept_json() : nullptr);
  for (auto& a : alerts_) {
    if (!options_.agent_id.empty()) a.set(fields::agent_id, options_.agent_id);
    sink_(a, origin, nullptr);
  }
  counters_.alerts += alerts_.size();
}

void Pipeline::put_health(Event& h) const {
  if (!engine_) return;
  auto put = [&h](const char* name, uint64_t v) { h.set(field(name), static_cast<int64_t>(v)); };
  put("vigil.rules.alerts", engine_->stats().alerts);
  put("vigil.rules.groups_evicted", engine_->stats().groups_evicted);
  put("vigil.rules.groups_expired", engine_->stats().groups_expired);
  put("vigil.rules.evidence_shed", engine_->stats().evidence_shed);
  put("vigil.rules.loaded", engine_->rule_set().rules.size());
  put("vigil.rules.rejected", engine_->rule_set().rejected);
  h.set(field("vigil.rules.version"), engine_->rule_set().version);
}

}  // namespace vigil::agent::pipeline
