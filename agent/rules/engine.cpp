#include "agent/rules/engine.h"

#include <algorithm>
#include <cstring>

namespace vigil::agent::rules {

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::low: return "low";
    case Severity::medium: return "medium";
    case Severity::high: return "high";
    case Severity::critical: return "critical";
  }
  return "medium";
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.is_v4() != network.is_v4()) return false;
  const auto& a = ip.bytes();
  const auto& b = network.bytes();
  int bits = prefix;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

namespace {

// The text of a value as rules compare it, lower-cased unless `cased`. `buf` is reused.
std::string_view text_of(const Value& v, bool cased, std::string& buf) {
  const std::string* s = v.as_string();
  if (s && cased) return *s;
  buf = s ? *s : v.to_string();
  if (!cased) {
    for (auto& c : buf) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return buf;
}

std::optional<double> number_of(const Value& v) {
  if (const auto* i = v.as_int()) return static_cast<double>(*i);
  if (const auto* d = v.as_real()) return *d;
  if (const auto* s = v.as_string()) {
    char* end = nullptr;
    double d = std::strtod(s->c_str(), &end);
    if (end && *end == '\0' && !s->empty()) return d;
  }
  return std::nullopt;
}

bool match_scalar(const Condition& c, const Value& v) {
  thread_local std::string buf;
  switch (c.op) {
    case Condition::Op::equals: {
      auto t = text_of(v, c.cased, buf);
      return std::any_of(c.strings.begin(), c.strings.end(), [&](const std::string& s) { return t == s; });
    }
    case Condition::Op::contains: {
      auto t = text_of(v, c.cased, buf);
      return std::any_of(c.strings.begin(), c.strings.end(),
                         [&](const std::string& s) { return t.find(s) != std::string_view::npos; });
    }
    case Condition::Op::startswith: {
      auto t = text_of(v, c.cased, buf);
      return std::any_of(c.strings.begin(), c.strings.end(), [&](const std::string& s) { return t.starts_with(s); });
    }
    case Condition::Op::endswith: {
      auto t = text_of(v, c.cased, buf);
      return std::any_of(c.strings.begin(), c.strings.end(), [&](const std::string& s) { return t.ends_with(s); });
    }
    case Condition::Op::regex: {
      auto t = text_of(v, true, buf);  // a regex is applied as written
      return std::any_of(c.regexes.begin(), c.regexes.end(),
                         [&](const auto& re) { return RE2::PartialMatch(re2::StringPiece(t.data(), t.size()), *re); });
    }
    case Condition::Op::cidr: {
      std::optional<IpAddress> ip;
      if (const auto* p = v.as_ip()) {
        ip = *p;
      } else if (const auto* s = v.as_string()) {
        ip = IpAddress::parse(*s);
      }
      if (!ip) return false;
      return std::any_of(c.cidrs.begin(), c.cidrs.end(), [&](const Cidr& n) { return n.contains(*ip); });
    }
    case Condition::Op::gt:
    case Condition::Op::gte:
    case Condition::Op::lt:
    case Condition::Op::lte: {
      auto n = number_of(v);
      if (!n) return false;
      switch (c.op) {
        case Condition::Op::gt: return *n > c.number;
        case Condition::Op::gte: return *n >= c.number;
        case Condition::Op::lt: return *n < c.number;
        default: return *n <= c.number;
      }
    }
    case Condition::Op::exists: return true;
  }
  return false;
}

}  // namespace

bool matches(const Condition& c, const Event& event) {
  switch (c.kind) {
    case Condition::Kind::all:
      return std::all_of(c.children.begin(), c.children.end(), [&](const Condition& x) { return matches(x, event); });
    case Condition::Kind::any:
      return std::any_of(c.children.begin(), c.children.end(), [&](const Condition& x) { return matches(x, event); });
    case Condition::Kind::not_: return !c.children.empty() && !matches(c.children[0], event);
    case Condition::Kind::field: {
      const Value* v = event.get(c.field);
      bool present = v && !v->is_null();
      if (c.op == Condition::Op::exists) return present == c.exists;
      if (!present) return false;
      // A list matches when any element does (as in Sigma and ECS arrays).
      if (const auto* list = v->as_list()) {
        return std::any_of(list->begin(), list->end(), [&](const Value& item) { return match_scalar(c, item); });
      }
      return match_scalar(c, *v);
    }
  }
  return false;
}

Engine::Engine(std::shared_ptr<const RuleSet> set, EngineLimits limits)
    : set_(std::move(set)), limits_(limits), tags_field_(field("tags")), count_field_(field("vigil.alert.count")) {
  for (size_t i = 0; i < set_->rules.size(); ++i) {
    const Rule& r = *set_->rules[i];
    if (r.is_correlation) continue;  // fed by its rules, never by events
    if (r.datasets.empty()) {
      unindexed_.push_back(i);
    } else {
      for (const auto& d : r.datasets) by_dataset_[d].push_back(i);
    }
  }
}

void Engine::process(const Event& event, std::vector<Event>& alerts) {
  ++stats_.events;
  auto eval = [&](size_t i) {
    const Rule& rule = *set_->rules[i];
    if (!matches(rule.when, event)) return;
    ++stats_.matches;
    if (on_match_) on_match_(rule, event);
    const Value* distinct = rule.aggregation.kind == Aggregation::Kind::distinct
                                ? event.get(rule.aggregation.distinct_field)
                                : nullptr;
    aggregate(rule, event, group_key(i, rule.aggregation.group_by, event), distinct, 0, alerts, 0);
  };
  if (const auto* ds = event.get_string(fields::event_dataset)) {
    std::string lowered(*ds);
    for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = by_dataset_.find(lowered);
    if (it != by_dataset_.end()) {
      for (size_t i : it->second) eval(i);
    }
  }
  for (size_t i : unindexed_) eval(i);
}

std::string Engine::group_key(size_t rule_index, const std::vector<FieldId>& group_by, const Event& event) {
  std::string key = std::to_string(rule_index);
  for (FieldId f : group_by) {
    key += '\x1f';
    if (const Value* v = event.get(f)) key += v->to_string();
  }
  return key;
}

void Engine::fired(const Rule& rule, const Event& event, std::vector<Event>& alerts, int depth) {
  // Correlations chain at most as deep as the rule set; the bound guards against a cycle.
  if (depth > 16) return;
  for (const Feed& feed : rule.feeds) {
    const Rule& corr = *set_->rules[feed.correlation];
    const CorrelationInput& in = corr.inputs[feed.input];
    const Value* distinct = corr.aggregation.kind == Aggregation::Kind::distinct ? event.get(in.value_field) : nullptr;
    aggregate(corr, event, group_key(feed.correlation, in.group_by, event), distinct, feed.input,
              alerts, depth + 1);
  }
}

void Engine::aggregate(const Rule& rule, const Event& event, const std::string& key,
                       const Value* distinct_value, size_t input, std::vector<Event>& alerts, int depth) {
  const Timestamp now = event.time();
  const std::string* id = event.get_string(fields::event_id);
  Hit hit{now, id ? *id : std::string(), std::make_shared<const Event>(event)};

  const bool aggregated = rule.aggregation.kind != Aggregation::Kind::none;
  if (!aggregated && rule.suppress.count() == 0) {
    if (rule.emits) {
      alerts.push_back(make_alert(rule, event, {&hit}, 1));
      ++stats_.alerts;
    }
    fired(rule, event, alerts, depth);
    return;
  }

  auto it = groups_.find(key);
  if (it == groups_.end()) {
    if (groups_.size() >= limits_.max_groups && !lru_.empty()) {
      groups_.erase(lru_.front());
      lru_.pop_front();
      ++stats_.groups_evicted;
    }
    it = groups_.emplace(key, Group{}).first;
    lru_.push_back(key);
    it->second.lru = std::prev(lru_.end());
  } else {
    lru_.splice(lru_.end(), lru_, it->second.lru);
  }
  Group& g = it->second;
  const int64_t window_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(rule.aggregation.within).count();
  const int64_t suppress_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(rule.suppress).count();

  std::vector<const Hit*> evidence;
  size_t total = 1;
  bool fire = false;
  switch (rule.aggregation.kind) {
    case Aggregation::Kind::none:
      evidence.push_back(&hit);
      fire = true;
      break;
    case Aggregation::Kind::threshold: {
      auto& hits = g.hits;
      hits.erase(std::remove_if(hits.begin(), hits.end(), [&](const Hit& h) { return now.ns - h.time.ns > window_ns; }),
                 hits.end());
      hits.push_back(std::move(hit));
      if (hits.size() > rule.aggregation.count) hits.erase(hits.begin());
      // Only the newest hits' events can become evidence: older ones keep their id and time.
      if (hits.size() > limits_.evidence_events) hits[hits.size() - limits_.evidence_events - 1].event.reset();
      if (hits.size() >= rule.aggregation.count) {
        fire = true;
        total = hits.size();
        for (const auto& h : hits) evidence.push_back(&h);
      }
      break;
    }
    case Aggregation::Kind::distinct: {
      auto& d = g.distinct;
      d.erase(std::remove_if(d.begin(), d.end(), [&](const auto& p) { return now.ns - p.second.time.ns > window_ns; }),
              d.end());
      if (!distinct_value || distinct_value->is_null()) break;
      std::string value = distinct_value->to_string();
      auto found = std::find_if(d.begin(), d.end(), [&](const auto& p) { return p.first == value; });
      if (found != d.end()) {
        found->second = std::move(hit);
      } else {
        d.emplace_back(std::move(value), std::move(hit));
        // Only the newest entries' events can become evidence: older ones keep their id and time.
        if (d.size() > limits_.evidence_events) d[d.size() - limits_.evidence_events - 1].second.event.reset();
      }
      if (d.size() >= rule.aggregation.count) {
        fire = true;
        total = d.size();
        for (const auto& p : d) evidence.push_back(&p.second);
      }
      break;
    }
    case Aggregation::Kind::temporal:
    case Aggregation::Kind::temporal_ordered: {
      const size_t n = rule.inputs.size();
      g.slots.resize(n);
      g.chain.resize(n, -1);
      for (size_t k = 0; k < n; ++k) {
        if (g.slots[k].time.ns != 0 && now.ns - g.slots[k].time.ns > window_ns) g.slots[k] = Hit{};
        if (g.chain[k] >= 0 && now.ns - g.chain[k] > window_ns) g.chain[k] = -1;
      }
      if (rule.aggregation.kind == Aggregation::Kind::temporal) {
        g.slots[input] = std::move(hit);
        fire = std::all_of(g.slots.begin(), g.slots.end(), [](const Hit& h) { return h.time.ns != 0; });
      } else {
        // In list order: input k extends the latest-starting chain through input k-1.
        if (input == 0) {
          g.chain[0] = now.ns;
          g.slots[0] = std::move(hit);
        } else if (g.chain[input - 1] >= 0) {
          g.chain[input] = std::max(g.chain[input], g.chain[input - 1]);
          g.slots[input] = std::move(hit);
        }
        fire = g.chain[n - 1] >= 0;
      }
      if (fire) {
        total = n;
        for (const auto& h : g.slots) evidence.push_back(&h);
      }
      break;
    }
  }
  if (!fire) return;
  const bool suppressed = now.ns < g.suppressed_until.ns;
  if (suppressed) {
    ++stats_.suppressed;
  } else {
    if (rule.emits) {
      alerts.push_back(make_alert(rule, event, evidence, total));
      ++stats_.alerts;
    }
    if (suppress_ns > 0) g.suppressed_until = Timestamp{now.ns + suppress_ns};
  }
  // Counting starts again after an alert (or a suppressed one).
  g.hits.clear();
  g.distinct.clear();
  g.slots.clear();
  g.chain.clear();
  // Correlations built on this rule see its alerts, not the ones it suppressed.
  if (!suppressed) fired(rule, event, alerts, depth);
}

Event Engine::make_alert(const Rule& rule, const Event& last, const std::vector<const Hit*>& hits, size_t total) const {
  Event a;
  a.set(fields::timestamp, last.time());
  a.set(fields::event_id, new_event_id());
  a.set(fields::event_kind, "alert");
  if (const Value* ds = last.get(fields::event_dataset)) a.set(fields::event_dataset, *ds);
  a.set(fields::rule_id, rule.id);
  a.set(fields::rule_name, rule.title);
  if (!rule.author.empty()) a.set(fields::rule_author, rule.author);
  if (!rule.license.empty()) a.set(fields::rule_license, rule.license);
  a.set(fields::event_severity, static_cast<int64_t>(rule.severity));
  a.set(fields::vigil_severity, std::string(severity_name(rule.severity)));
  if (!rule.techniques.empty()) {
    ValueList t;
    for (const auto& x : rule.techniques) t.emplace_back(x);
    a.set(fields::threat_technique_id, std::move(t));
  }
  if (!rule.tags.empty()) {
    ValueList t;
    for (const auto& x : rule.tags) t.emplace_back(x);
    a.set(tags_field_, std::move(t));
  }
  // Identity fields of the completing event, then the grouping fields.
  static const FieldId kIdentity[] = {fields::host_name,      fields::agent_id,         fields::source_ip,
                                      fields::source_port,    fields::destination_ip,   fields::destination_port,
                                      fields::user_name,      fields::url_domain,       fields::network_transport};
  for (FieldId f : kIdentity) {
    if (const Value* v = last.get(f)) a.set(f, *v);
  }
  for (FieldId f : rule.aggregation.group_by) {
    if (const Value* v = last.get(f)) a.set(f, *v);
  }
  a.set(count_field_, static_cast<int64_t>(total));
  ValueList ids, events;
  for (const Hit* h : hits) {
    if (!h->event_id.empty()) ids.emplace_back(h->event_id);
  }
  size_t start = hits.size() > limits_.evidence_events ? hits.size() - limits_.evidence_events : 0;
  for (size_t i = start; i < hits.size(); ++i) {
    if (hits[i]->event) events.emplace_back(hits[i]->event);
  }
  a.set(fields::evidence_ids, std::move(ids));
  a.set(fields::evidence_events, std::move(events));
  return a;
}

}  // namespace vigil::agent::rules
