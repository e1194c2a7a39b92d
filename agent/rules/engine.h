// The rule engine: matches events against a compiled rule set, keeps bounded aggregation state
// on event time, and builds alerts as shared/DESIGN.md describes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <re2/set.h>

#include "agent/rules/group_table.h"
#include "agent/rules/hit.h"
#include "agent/rules/rule.h"
#include "agent/rules/rule_loader.h"

namespace vigil::agent::rules {

struct EngineLimits {
  size_t max_groups = 100'000;  // aggregation groups across all rules; oldest evicted beyond it
  size_t evidence_events = 10;  // events embedded in an alert
  // Events that aggregation groups hold as future evidence, across all groups (about 1 KiB
  // each). Beyond it the least recently used groups keep only the ids and times of their hits,
  // so a flood of distinct sources bounds memory, not only the number of groups.
  size_t max_held_events = 8'192;
};

struct EngineStats {
  uint64_t events = 0;
  uint64_t matches = 0;
  uint64_t alerts = 0;
  uint64_t suppressed = 0;
  uint64_t groups_evicted = 0;
  uint64_t groups_expired = 0;  // dropped once nothing in them could count again (window and suppression past)
  uint64_t evidence_shed = 0;  // held events dropped (ids kept) to stay within max_held_events
  uint64_t gate_fallbacks = 0;  // a pattern index could not decide (RE2 out of memory): every rule checked
};

// True when the event satisfies the condition tree (exposed for tests and `rules test`).
bool matches(const Condition& c, const Event& event);

class Engine {
 public:
  explicit Engine(std::shared_ptr<const RuleSet> set, EngineLimits limits = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Evaluates one event. Alerts are appended to `alerts`. `on_match`, when set, sees every
  // (rule, event) match before aggregation.
  void process(const Event& event, std::vector<Event>& alerts);
  // The JSON line (append_json_line's) of the event last processed, when a rule kept it as
  // evidence: written once, for the hits and alerts citing it and for the caller to write as it
  // is; null when no rule kept it.
  const std::string* kept_json() const { return kept_ ? &kept_->json : nullptr; }
  void set_match_callback(std::function<void(const Rule&, const Event&)> cb) { on_match_ = std::move(cb); }

  const EngineStats& stats() const { return stats_; }
  size_t group_count() const { return groups_.size(); }
  size_t held_events() const { return held_events_; }
  const RuleSet& rule_set() const { return *set_; }

 private:
  // Candidate rules by one field: equal values through a hash map, contains / startswith /
  // endswith / regex conditions through one RE2::Set over the field's text.
  struct Gate {
    FieldId field{};
    std::unordered_map<std::string, std::vector<uint32_t>> equals;
    std::unique_ptr<RE2::Set> set;
    std::vector<uint32_t> pattern_rule;
    std::vector<uint32_t> rules;  // every rule behind this gate (when the set cannot decide)
  };
  struct Bucket {
    std::vector<uint32_t> always;  // rules without a usable gate
    std::vector<Gate> gates;
  };
  void index_rule(Bucket& bucket, uint32_t rule_index);
  void candidates(const Bucket& bucket, const Event& event, std::vector<uint32_t>& out);
  // What only distinct and temporal_ordered groups, and groups that fired under a suppression,
  // need.
  struct GroupExtra {
    std::vector<std::string> values;  // distinct: the value of each hit, beside it
    std::vector<int64_t> chain;  // temporal_ordered: start of the latest chain through input k
    Timestamp suppressed_until{};
  };
  struct Group {
    // threshold: at most `count`, oldest first; distinct: the latest hit of each value;
    // temporal: the latest hit of each input (time 0: none).
    HitList hits;
    std::unique_ptr<GroupExtra> extra;
    // Event time after which the group can neither fire nor suppress: its newest hit out of the
    // rule's window and its suppression over. Such a group is state for nothing.
    int64_t expires_ns = 0;
    int64_t suppressed_until() const { return extra ? extra->suppressed_until.ns : 0; }
    // Drops the held events (ids kept); returns how many.
    size_t drop_events();
  };

  // Counts one hit of `rule` (a match, or for a correlation the firing of its input `input`);
  // when the rule fires, emits its alert and feeds the correlations built on it.
  void aggregate(const Rule& rule, uint32_t rule_index, const Event& event, const std::string& key,
                 const Value* distinct_value, size_t input, std::vector<Event>& alerts, int depth);
  void fired(const Rule& rule, const Event& event, std::vector<Event>& alerts, int depth);
  // The event as evidence, written at its first match (kept_).
  const KeptPtr& keep(const Event& event);
  Event make_alert(const Rule& rule, const Event& last, const std::vector<const Hit*>& hits, size_t total) const;
  // The group key of an event (its group_by values; the rule is the group's class), built in
  // key_buf_ (no allocation per event).
  const std::string& group_key(const std::vector<FieldId>& group_by, const Event& event);
  // Drops the held events of the least recently used groups (not `keep`) until within
  // max_held_events.
  void shed_evidence(uint32_t keep);
  // Drops the least recently used groups of one rule while they have expired by `horizon` (a
  // few per call: each new group pays for at most that many).
  void expire_groups(uint32_t rule_index, int64_t horizon);
  // Removes a group, moving where shedding resumes past it first.
  void drop_group(uint32_t id);

  std::shared_ptr<const RuleSet> set_;
  EngineLimits limits_;
  EngineStats stats_;
  std::unordered_map<std::string, Bucket> by_dataset_;
  Bucket unindexed_;
  std::vector<uint32_t> candidates_;  // reused per event
  std::vector<int> set_hits_;         // reused per event
  std::string key_buf_;
  std::string text_buf_;
  KeptPtr kept_;           // the event being processed, once a rule kept it
  std::string json_buf_;  // where keep() writes it
  // Expiry's horizon (process()): the oldest event time among the last kHorizonEvents events,
  // never past the wall clock then (horizon_ns_, none before), and among those since
  // (recent_min_ns_).
  static constexpr uint32_t kHorizonEvents = 1024;
  int64_t horizon_ns_ = std::numeric_limits<int64_t>::min();
  int64_t recent_min_ns_ = std::numeric_limits<int64_t>::max();
  uint32_t recent_events_ = 0;
  // Hits holding an event, over every group: counted where groups change (aggregate, shedding,
  // removal).
  size_t held_events_ = 0;
  GroupTable<Group> groups_;  // least recently used first
  // Where shedding resumes: no group before it in the list holds an event (kNone: none may).
  uint32_t shed_from_ = GroupTable<Group>::kNone;
  std::function<void(const Rule&, const Event&)> on_match_;
  FieldId tags_field_;
  FieldId count_field_;
};

}  // namespace vigil::agent::rules
