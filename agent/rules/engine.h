// The rule engine: matches events against a compiled rule set, keeps bounded aggregation state
// on event time, and builds alerts as shared/DESIGN.md describes.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/rules/rule.h"
#include "agent/rules/rule_loader.h"

namespace vigil::agent::rules {

struct EngineLimits {
  size_t max_groups = 100'000;  // aggregation groups across all rules; oldest evicted beyond it
  size_t evidence_events = 10;  // events embedded in an alert
};

struct EngineStats {
  uint64_t events = 0;
  uint64_t matches = 0;
  uint64_t alerts = 0;
  uint64_t suppressed = 0;
  uint64_t groups_evicted = 0;
};

// True when the event satisfies the condition tree (exposed for tests and `rules test`).
bool matches(const Condition& c, const Event& event);

class Engine {
 public:
  explicit Engine(std::shared_ptr<const RuleSet> set, EngineLimits limits = {});

  // Evaluates one event. Alerts are appended to `alerts`. `on_match`, when set, sees every
  // (rule, event) match before aggregation.
  void process(const Event& event, std::vector<Event>& alerts);
  void set_match_callback(std::function<void(const Rule&, const Event&)> cb) { on_match_ = std::move(cb); }

  const EngineStats& stats() const { return stats_; }
  size_t group_count() const { return groups_.size(); }
  const RuleSet& rule_set() const { return *set_; }

 private:
  struct Hit {
    Timestamp time;
    std::string event_id;
    EventPtr event;
  };
  struct Group {
    std::vector<Hit> hits;                 // threshold: at most `count`, oldest first
    std::vector<std::pair<std::string, Hit>> distinct;  // distinct: value -> latest hit
    std::vector<Hit> slots;                // temporal: the latest hit of each input (time 0: none)
    std::vector<int64_t> chain;            // temporal_ordered: start of the latest chain through input k
    Timestamp suppressed_until{};
    std::list<std::string>::iterator lru;
  };

  // Counts one hit of `rule` (a match, or for a correlation the firing of its input `input`);
  // when the rule fires, emits its alert and feeds the correlations built on it.
  void aggregate(const Rule& rule, const Event& event, const std::string& key,
                 const Value* distinct_value, size_t input, std::vector<Event>& alerts, int depth);
  void fired(const Rule& rule, const Event& event, std::vector<Event>& alerts, int depth);
  Event make_alert(const Rule& rule, const Event& last, const std::vector<const Hit*>& hits, size_t total) const;
  static std::string group_key(size_t rule_index, const std::vector<FieldId>& group_by, const Event& event);

  std::shared_ptr<const RuleSet> set_;
  EngineLimits limits_;
  EngineStats stats_;
  std::unordered_map<std::string, std::vector<size_t>> by_dataset_;
  std::vector<size_t> unindexed_;
  std::unordered_map<std::string, Group> groups_;
  std::list<std::string> lru_;  // group keys, least recently used first
  std::function<void(const Rule&, const Event&)> on_match_;
  FieldId tags_field_;
  FieldId count_field_;
};

}  // namespace vigil::agent::rules
