#include "agent/rules/engine.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "common/event/json.h"

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

std::optional<Cidr> parse_cidr(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int bits = ip->is_v4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
    if (ec != std::errc() || ptr != p.data() + p.size() || bits < 0 || bits > (ip->is_v4() ? 32 : 128)) {
      return std::nullopt;
    }
  }
  Cidr c;
  c.network = *ip;
  c.prefix = ip->is_v4() ? bits + 96 : bits;
  return c;
}

namespace {

// Lower case as std::tolower has it in the "C" locale, the only one the agent runs in: A-Z only.
inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// The text of a value as rules compare it, lower-cased when `lower`; `buf` is reused. A string
// already in lower case and an integer's digits are not copied nor formatted through a new string.
std::string_view value_text(const Value& v, bool lower, std::string& buf) {
  if (const std::string* s = v.as_string()) {
    if (!lower || !has_upper(*s)) return *s;
    buf = *s;
  } else if (const int64_t* i = v.as_int()) {
    buf.resize(24);
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), *i);
    (void)ec;
    buf.resize(static_cast<size_t>(end - buf.data()));
    return buf;  // digits and a sign: nothing to lower
  } else {
    buf = v.to_string();
  }
  if (lower) {
    for (auto& c : buf) c = ascii_lower(c);
  }
  return buf;
}

// The text of a value as rules compare it, lower-cased unless `cased`. `buf` is reused.
std::string_view text_of(const Value& v, bool cased, std::string& buf) { return value_text(v, !cased, buf); }

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

// Calls f with each value of the nested field: the leaf of every object of the list (a leaf that
// is itself a list gives each of its elements).
template <class F>
void for_each_nested(const Event& event, const NestedField& n, F&& f) {
  const Value* list = event.get(n.list);
  if (!list || !list->as_list()) return;
  for (const Value& item : *list->as_list()) {
    const EventPtr* obj = item.as_event();
    if (!obj || !*obj) continue;
    const Value* leaf = (*obj)->get(n.leaf);
    if (!leaf || leaf->is_null()) continue;
    if (const auto* values = leaf->as_list()) {
      for (const Value& x : *values) f(x);
    } else {
      f(*leaf);
    }
  }
}

bool matches_nested(const Condition& c, const Event& event, const NestedField& n) {
  bool present = false;
  bool hit = false;
  for_each_nested(event, n, [&](const Value& v) {
    present = true;
    if (!hit && c.op != Condition::Op::exists) hit = match_scalar(c, v);
  });
  return c.op == Condition::Op::exists ? present == c.exists : hit;
}

struct NestedTable {
  struct Entry {
    std::string path;
    FieldId id;
    NestedField nested;
  };
  std::vector<Entry> fields;
  NestedTable() {
    // ECS's lists of objects that rules look inside.
    static constexpr std::pair<std::string_view, std::string_view> kLists[] = {{"dns.answers", "name"},
                                                                              {"dns.answers", "type"},
                                                                              {"dns.answers", "class"},
                                                                              {"dns.answers", "ttl"},
                                                                              {"dns.answers", "data"}};
    for (const auto& [list, leaf] : kLists) {
      std::string path = std::string(list) + "." + std::string(leaf);
      const FieldId id = field(path);
      fields.push_back({std::move(path), id, NestedField{field(list), field(leaf)}});
    }
  }
};

const NestedTable& nested_table() {
  static const NestedTable table;
  return table;
}

}  // namespace

const NestedField* nested_field(FieldId id) {
  if (id.v < fields::known_count) return nullptr;  // the common case, without the table's guard
  for (const auto& e : nested_table().fields) {
    if (e.id == id) return &e.nested;
  }
  return nullptr;
}

bool is_nested_field(std::string_view name) {
  const auto& t = nested_table().fields;
  return std::any_of(t.begin(), t.end(), [&](const auto& x) { return x.path == name; });
}

bool matches(const Condition& c, const Event& event) {
  switch (c.kind) {
    case Condition::Kind::all:
      return std::all_of(c.children.begin(), c.children.end(), [&](const Condition& x) { return matches(x, event); });
    case Condition::Kind::any:
      return std::any_of(c.children.begin(), c.children.end(), [&](const Condition& x) { return matches(x, event); });
    case Condition::Kind::not_: return !c.children.empty() && !matches(c.children[0], event);
    case Condition::Kind::field: {
      const Value* v = event.get(c.field);
      if (!v) {
        if (const NestedField* n = nested_field(c.field)) return matches_nested(c, event, *n);
      }
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

size_t Engine::Group::drop_events() {
  size_t n = 0;
  for (auto& h : hits) n += h.drop_event();
  return n;
}

void Engine::shed_evidence(uint32_t keep) {
  while (held_events_ > limits_.max_held_events && shed_from_ != groups_.kNone) {
    if (shed_from_ == keep) break;  // the newest group: nothing older holds an event
    const size_t dropped = groups_[shed_from_].drop_events();
    held_events_ -= dropped;
    stats_.evidence_shed += dropped;
    shed_from_ = groups_.next(shed_from_);
  }
}

namespace {

// a + b, or INT64_MAX / INT64_MIN where it would overflow (a forged timestamp near the end of
// time plus a window).
int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return sum;
}

}  // namespace

void Engine::expire_groups(uint32_t rule_index, int64_t horizon) {
  for (int n = 0; n < 8; ++n) {
    const uint32_t id = groups_.class_front(rule_index);
    if (id == groups_.kNone || groups_[id].expires_ns >= horizon) return;
    drop_group(id);
    ++stats_.groups_expired;
  }
}

void Engine::drop_group(uint32_t id) {
  if (shed_from_ == id) shed_from_ = groups_.next(id);
  held_events_ -= groups_[id].hits.held();
  groups_.erase(id);
}

namespace {

// The condition that gates a rule: a necessary condition (a child of the top-level `all`, or of
// an `all` inside it) on one field that an index can answer. Equality first, then patterns.
const Condition* find_gate(const Condition& c, bool want_equals) {
  if (c.kind != Condition::Kind::all) return nullptr;
  for (const auto& child : c.children) {
    if (child.kind == Condition::Kind::field && child.field != fields::event_dataset) {
      bool equals = child.op == Condition::Op::equals && !child.cased && !child.strings.empty();
      bool pattern = (child.op == Condition::Op::contains || child.op == Condition::Op::startswith ||
                      child.op == Condition::Op::endswith) && !child.strings.empty();
      pattern = pattern || (child.op == Condition::Op::regex && !child.regexes.empty());
      if (want_equals ? equals : pattern) return &child;
    }
  }
  for (const auto& child : c.children) {
    if (const Condition* g = find_gate(child, want_equals)) return g;
  }
  return nullptr;
}

// The patterns of a gating condition, as RE2::Set patterns over the field's raw text.
std::vector<std::string> gate_patterns(const Condition& c) {
  std::vector<std::string> out;
  if (c.op == Condition::Op::regex) {
    for (const auto& re : c.regexes) {
      std::string flags;
      if (!re->options().case_sensitive()) flags += 'i';
      if (re->options().dot_nl()) flags += 's';
      out.push_back((flags.empty() ? "" : "(?" + flags + ")") + re->pattern());
    }
    return out;
  }
  for (const auto& s : c.strings) {
    std::string p = c.cased ? "" : "(?i)";
    if (c.op == Condition::Op::startswith) p += '^';
    p += RE2::QuoteMeta(s);
    if (c.op == Condition::Op::endswith) p += '$';
    out.push_back(std::move(p));
  }
  return out;
}

// The text of a value as an index sees it (lower-cased for the equality map).
std::string_view gate_text(const Value& v, bool lower, std::string& buf) { return value_text(v, lower, buf); }

// Appends a value's identity to an aggregation key without formatting it: strings as they
// are, integers as digits, addresses as their 16 bytes (a tag byte keeps kinds apart).
void append_key(std::string& key, const Value& v) {
  if (const std::string* s = v.as_string()) {
    key += 's';
    key += *s;
  } else if (const IpAddress* ip = v.as_ip()) {
    key += ip->is_v4() ? '4' : '6';
    key.append(reinterpret_cast<const char*>(ip->bytes().data()), ip->bytes().size());
  } else if (const int64_t* i = v.as_int()) {
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, *i);
    (void)ec;
    key += 'i';
    key.append(num, end);
  } else {
    key += 'v';
    key += v.to_string();
  }
}

}  // namespace

Engine::Engine(std::shared_ptr<const RuleSet> set, EngineLimits limits)
    : set_(std::move(set)), limits_(limits), tags_field_(field("tags")), count_field_(field("vigil.alert.count")) {
  for (uint32_t i = 0; i < set_->rules.size(); ++i) {
    const Rule& r = *set_->rules[i];
    if (r.is_correlation) continue;  // fed by its rules, never by events
    if (r.datasets.empty()) {
      index_rule(unindexed_, i);
    } else {
      for (const auto& d : r.datasets) index_rule(by_dataset_[d], i);
    }
  }
  auto compile = [](Bucket& b) {
    for (auto& g : b.gates) {
      if (!g.set) continue;
      if (!g.set->Compile()) {  // too large for RE2's budget: those rules are checked one by one
        g.set.reset();
        for (uint32_t r : g.pattern_rule) b.always.push_back(r);
        g.pattern_rule.clear();
      }
    }
    std::sort(b.always.begin(), b.always.end());
    b.always.erase(std::unique(b.always.begin(), b.always.end()), b.always.end());
  };
  for (auto& [ds, b] : by_dataset_) compile(b);
  compile(unindexed_);
}

Engine::~Engine() = default;

void Engine::index_rule(Bucket& bucket, uint32_t rule_index) {
  const Rule& r = *set_->rules[rule_index];
  const Condition* gate = find_gate(r.when, true);
  if (!gate) gate = find_gate(r.when, false);
  if (!gate) {
    bucket.always.push_back(rule_index);
    return;
  }
  auto it = std::find_if(bucket.gates.begin(), bucket.gates.end(), [&](const Gate& g) { return g.field == gate->field; });
  if (it == bucket.gates.end()) {
    bucket.gates.emplace_back();
    it = std::prev(bucket.gates.end());
    it->field = gate->field;
  }
  Gate& g = *it;
  g.rules.push_back(rule_index);
  if (gate->op == Condition::Op::equals) {
    for (const auto& s : gate->strings) {
      auto& rules = g.equals[s];
      if (rules.empty() || rules.back() != rule_index) rules.push_back(rule_index);
    }
    return;
  }
  if (!g.set) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(64 << 20);
    g.set = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
  }
  for (const auto& p : gate_patterns(*gate)) {
    if (g.set->Add(p, nullptr) < 0) {  // cannot happen for patterns that compiled alone; stay safe
      bucket.always.push_back(rule_index);
      return;
    }
    g.pattern_rule.push_back(rule_index);
  }
}

void Engine::candidates(const Bucket& bucket, const Event& event, std::vector<uint32_t>& out) {
  out.insert(out.end(), bucket.always.begin(), bucket.always.end());
  for (const Gate& g : bucket.gates) {
    const Value* v = event.get(g.field);
    const NestedField* nested = v ? nullptr : nested_field(g.field);
    if ((!v || v->is_null()) && !nested) continue;  // every gated condition needs its field
    auto visit = [&](const Value& item) {
      if (!g.equals.empty()) {
        auto found = g.equals.find(std::string(gate_text(item, true, text_buf_)));
        if (found != g.equals.end()) out.insert(out.end(), found->second.begin(), found->second.end());
      }
      if (g.set) {
        auto text = gate_text(item, false, text_buf_);
        set_hits_.clear();
        RE2::Set::ErrorInfo error{};
        if (g.set->Match(re2::StringPiece(text.data(), text.size()), &set_hits_, &error)) {
          for (int h : set_hits_) out.push_back(g.pattern_rule[static_cast<size_t>(h)]);
        } else if (error.kind != RE2::Set::kNoError) {
          ++stats_.gate_fallbacks;
          out.insert(out.end(), g.rules.begin(), g.rules.end());
        }
      }
    };
    if (nested) {
      for_each_nested(event, *nested, visit);
    } else if (const auto* list = v->as_list()) {
      for (const auto& item : *list) visit(item);
    } else {
      visit(*v);
    }
  }
}

void Engine::process(const Event& event, std::vector<Event>& alerts) {
  ++stats_.events;
  kept_.reset();
  // The expiry horizon: the oldest event time of the last kHorizonEvents events or more, so that
  // a source running behind the others (a backlog read after a restart, one file caught up
  // while another is live) keeps the groups its events still count in.
  const int64_t t = event.time().ns;
  if (t != 0) recent_min_ns_ = std::min(recent_min_ns_, t);
  if (++recent_events_ == kHorizonEvents) {
    // An event dated ahead of the clock (a host's bad clock, a forged line) must not age the
    // groups: the horizon never passes the wall clock (read here, once per kHorizonEvents).
    const int64_t wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
    horizon_ns_ = std::min(recent_min_ns_, wall);
    recent_min_ns_ = std::numeric_limits<int64_t>::max();
    recent_events_ = 0;
  }
  candidates_.clear();
  if (const auto* ds = event.get_string(fields::event_dataset)) {
    text_buf_.assign(*ds);
    for (auto& c : text_buf_) c = ascii_lower(c);
    auto it = by_dataset_.find(text_buf_);
    if (it != by_dataset_.end()) candidates(it->second, event, candidates_);
  }
  candidates(unindexed_, event, candidates_);
  // Rule order, each rule once (a rule may pass several values of a list field).
  std::sort(candidates_.begin(), candidates_.end());
  candidates_.erase(std::unique(candidates_.begin(), candidates_.end()), candidates_.end());
  for (uint32_t i : candidates_) {
    const Rule& rule = *set_->rules[i];
    if (!matches(rule.when, event)) continue;
    ++stats_.matches;
    if (on_match_) on_match_(rule, event);
    const Value* distinct = rule.aggregation.kind == Aggregation::Kind::distinct
                                ? event.get(rule.aggregation.distinct_field)
                                : nullptr;
    aggregate(rule, i, event, group_key(rule.aggregation.group_by, event), distinct, 0, alerts, 0);
  }
}

const KeptPtr& Engine::keep(const Event& event) {
  if (!kept_) {
    // Written into a buffer kept between events, then copied at its exact size: one allocation
    // for the text, and no capacity left over by doubling held as evidence.
    json_buf_.clear();
    append_json_line(json_buf_, event);
    const std::string* id = event.get_string(fields::event_id);
    kept_ = KeptEvent::make(json_buf_, id ? std::string_view(*id) : std::string_view());
  }
  return kept_;
}

const std::string& Engine::group_key(const std::vector<FieldId>& group_by, const Event& event) {
  key_buf_.clear();
  for (FieldId f : group_by) {
    key_buf_ += '\x1f';
    if (const Value* v = event.get(f)) append_key(key_buf_, *v);
  }
  return key_buf_;
}

void Engine::fired(const Rule& rule, const Event& event, std::vector<Event>& alerts, int depth) {
  // Correlations chain at most as deep as the rule set; the bound guards against a cycle.
  if (depth > 16) return;
  for (const Feed& feed : rule.feeds) {
    const Rule& corr = *set_->rules[feed.correlation];
    const CorrelationInput& in = corr.inputs[feed.input];
    const Value* distinct = corr.aggregation.kind == Aggregation::Kind::distinct ? event.get(in.value_field) : nullptr;
    aggregate(corr, feed.correlation, event, group_key(in.group_by, event), distinct,
              feed.input, alerts,
              depth + 1);
  }
}

void Engine::aggregate(const Rule& rule, uint32_t rule_index, const Event& event, const std::string& key,
                       const Value* distinct_value, size_t input, std::vector<Event>& alerts, int depth) {
  const Timestamp now = event.time();
  // Every match keeps the event (as a hit, or through an alert's evidence).
  Hit hit{now, keep(event)};

  const bool aggregated = rule.aggregation.kind != Aggregation::Kind::none;
  if (!aggregated && rule.suppress.count() == 0) {
    if (rule.emits) {
      alerts.push_back(make_alert(rule, event, {&hit}, 1));
      ++stats_.alerts;
    }
    fired(rule, event, alerts, depth);
    return;
  }

  const uint32_t hash = groups_.hash(key, rule_index);
  uint32_t id = groups_.find(key, hash, rule_index);
  if (id == groups_.kNone) {
    expire_groups(rule_index, std::min(horizon_ns_, recent_min_ns_));
    if (groups_.size() >= limits_.max_groups && groups_.front() != groups_.kNone) {
      drop_group(groups_.front());
      ++stats_.groups_evicted;
    }
    id = groups_.insert(key, hash, rule_index);
  } else if (groups_.next(id) != groups_.kNone) {
    // To the back, behind where shedding resumes.
    if (shed_from_ == id) shed_from_ = groups_.next(id);
    groups_.touch(id);
  }
  if (shed_from_ == groups_.kNone) shed_from_ = id;
  Group& g = groups_[id];
  // held_events_ follows each change to the group's hits as it is made, so that it stays exact
  // if an allocation fails midway (every step below either completes or changes nothing).
  auto replace = [this](Hit& slot, Hit&& h) {
    held_events_ -= slot.holds_event();
    slot = std::move(h);
    held_events_ += slot.holds_event();
  };
  auto append = [this](HitList& list, Hit&& h) {
    list.push_back(std::move(h));
    held_events_ += list[list.size() - 1].holds_event();
  };
  auto drop = [this](Hit& h) { held_events_ -= h.drop_event(); };
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
      size_t gone_held = 0;  // the predicate sees each hit once, before any is moved
      hits.truncate(std::remove_if(hits.begin(), hits.end(), [&](const Hit& h) {
        const bool gone = now.ns - h.time.ns > window_ns;
        gone_held += gone && h.holds_event();
        return gone;
      }));
      held_events_ -= gone_held;
      append(hits, std::move(hit));
      if (hits.size() > rule.aggregation.count) {
        held_events_ -= hits[0].holds_event();
        hits.erase_front();
      }
      // Only the newest hits' events can become evidence: older ones keep their id and time.
      if (hits.size() > limits_.evidence_events) drop(hits[hits.size() - limits_.evidence_events - 1]);
      if (hits.size() >= rule.aggregation.count) {
        fire = true;
        total = hits.size();
        for (const auto& h : hits) evidence.push_back(&h);
      }
      break;
    }
    case Aggregation::Kind::distinct: {
      auto& hits = g.hits;
      if (!g.extra) g.extra = std::make_unique<GroupExtra>();
      auto& values = g.extra->values;  // values[k] is the value of hits[k]
      size_t kept = 0;
      for (size_t k = 0; k < hits.size(); ++k) {
        if (now.ns - hits[k].time.ns > window_ns) {
          held_events_ -= hits[k].holds_event();
          hits[k] = Hit{};
          continue;
        }
        if (kept != k) {
          hits[kept] = std::move(hits[k]);
          values[kept] = std::move(values[k]);
        }
        ++kept;
      }
      hits.truncate(hits.begin() + kept);
      values.resize(kept);
      if (!distinct_value || distinct_value->is_null()) break;
      std::string value;
      append_key(value, *distinct_value);
      auto found = std::find(values.begin(), values.end(), value);
      if (found != values.end()) {
        replace(hits[static_cast<size_t>(found - values.begin())], std::move(hit));
      } else {
        values.push_back(std::move(value));
        append(hits, std::move(hit));
        // Only the newest entries' events can become evidence: older ones keep their id and time.
        if (hits.size() > limits_.evidence_events) drop(hits[hits.size() - limits_.evidence_events - 1]);
      }
      if (hits.size() >= rule.aggregation.count) {
        fire = true;
        total = hits.size();
        for (const auto& h : hits) evidence.push_back(&h);
      }
      break;
    }
    case Aggregation::Kind::temporal:
    case Aggregation::Kind::temporal_ordered: {
      const size_t n = rule.inputs.size();
      auto& slots = g.hits;  // a temporal group's hits: one slot per input
      slots.resize(n);
      const bool ordered = rule.aggregation.kind == Aggregation::Kind::temporal_ordered;
      if (ordered && !g.extra) g.extra = std::make_unique<GroupExtra>();
      std::vector<int64_t>* chain = ordered ? &g.extra->chain : nullptr;
      if (chain) chain->resize(n, -1);
      for (size_t k = 0; k < n; ++k) {
        if (slots[k].time.ns != 0 && now.ns - slots[k].time.ns > window_ns) replace(slots[k], Hit{});
        if (chain && (*chain)[k] >= 0 && now.ns - (*chain)[k] > window_ns) (*chain)[k] = -1;
      }
      if (rule.aggregation.kind == Aggregation::Kind::temporal) {
        replace(slots[input], std::move(hit));
        fire = std::all_of(slots.begin(), slots.end(), [](const Hit& h) { return h.time.ns != 0; });
      } else {
        // In list order: input k extends the latest-starting chain through input k-1.
        auto& c = *chain;
        if (input == 0) {
          c[0] = now.ns;
          replace(slots[0], std::move(hit));
        } else if (c[input - 1] >= 0) {
          c[input] = std::max(c[input], c[input - 1]);
          replace(slots[input], std::move(hit));
        }
        fire = c[n - 1] >= 0;
      }
      if (fire) {
        total = n;
        for (const auto& h : slots) evidence.push_back(&h);
      }
      break;
    }
  }
  // Only later: an event older than the group's newest hit (sources out of time order) must not
  // shorten what its hits still count for.
  g.expires_ns = std::max(g.expires_ns, saturating_add(now.ns, window_ns));
  if (held_events_ > limits_.max_held_events) shed_evidence(id);
  if (!fire) return;
  const bool suppressed = now.ns < g.suppressed_until();
  if (suppressed) {
    ++stats_.suppressed;
  } else {
    if (rule.emits) {
      alerts.push_back(make_alert(rule, event, evidence, total));
      ++stats_.alerts;
    }
    if (suppress_ns > 0) {
      if (!g.extra) g.extra = std::make_unique<GroupExtra>();
      g.extra->suppressed_until = Timestamp{saturating_add(now.ns, suppress_ns)};
      g.expires_ns = std::max(g.expires_ns, g.extra->suppressed_until.ns);
    }
  }
  // Counting starts again after an alert (or a suppressed one).
  held_events_ -= g.hits.held();
  g.hits.clear();
  if (g.extra) {
    if (g.suppressed_until() != 0) {  // kept: a later line may be older than this one
      g.extra->values = {};
      g.extra->chain = {};
    } else {
      g.extra.reset();
    }
  }
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
  a.set(fields::rule_name, rule.title.en);
  if (rule.title.vi != rule.title.en) a.set(fields::rule_name_vi, rule.title.vi);
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
    std::string id = h->id();
    if (!id.empty()) ids.emplace_back(std::move(id));
  }
  size_t start = hits.size() > limits_.evidence_events ? hits.size() - limits_.evidence_events : 0;
  for (size_t i = start; i < hits.size(); ++i) {
    if (hits[i]->holds_event()) events.emplace_back(RawJson{hits[i]->evidence()});
  }
  a.set(fields::evidence_ids, std::move(ids));
  a.set(fields::evidence_events, std::move(events));
  return a;
}

}  // namespace vigil::agent::rules
