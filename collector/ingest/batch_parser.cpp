// One pass per line with simdjson's On-Demand reader (the only file that includes simdjson.h):
// every value of the line is visited, so the whole line is validated (structure, strings and
// their escapes, numbers, UTF-8, no key twice in one object, nesting bounded by kMaxJsonDepth),
// while the columns the store needs are taken on the way. The event is stored as the bytes it
// arrived as, with its agent.* replaced by the collector's (collector/ingest/agent_identity.h).
#include "collector/ingest/batch_parser.h"

#include <algorithm>
#include <array>
#include <limits>
#include <span>

#include <fmt/format.h>
#include <simdjson.h>

#include "collector/ingest/agent_identity.h"
#include "common/ingest/record_rules.h"
#include "common/pki/pki.h"

namespace vigil::collector {

namespace {

namespace od = simdjson::ondemand;

// The values of an event the store indexes or checks, each found by its path.
enum class Slot : uint8_t {
  none,
  timestamp,
  message,
  kind,
  dataset,
  severity,
  action,
  outcome,
  original,
  rule_id,
  rule_name,
  rule_name_vi,
  policy_id,
  policy_version,
  check_result,
  check_evidence,
  check_remediation,
  check_remediation_vi,
  check_level,
  compliance,
  source_ip,
  source_port,
  destination_ip,
  destination_port,
  user_name,
  host_name,
  count,
};

// A key of an object on the way to a slot: what it fills, or the keys below it.
struct PathNode {
  std::string_view key;
  Slot slot = Slot::none;
  std::span<const PathNode> children{};
};

constexpr PathNode kEventPaths[] = {{"kind", Slot::kind},         {"dataset", Slot::dataset},
                                    {"severity", Slot::severity}, {"action", Slot::action},
                                    {"outcome", Slot::outcome},   {"original", Slot::original}};
constexpr PathNode kRulePaths[] = {{"id", Slot::rule_id}, {"name", Slot::rule_name}};
constexpr PathNode kPolicyPaths[] = {{"id", Slot::policy_id}, {"version", Slot::policy_version}};
constexpr PathNode kCheckPaths[] = {{"result", Slot::check_result},
                                    {"evidence", Slot::check_evidence},
                                    {"remediation", Slot::check_remediation},
                                    {"remediation_vi", Slot::check_remediation_vi},
                                    {"level", Slot::check_level}};
constexpr PathNode kVigilRulePaths[] = {{"name_vi", Slot::rule_name_vi}};
constexpr PathNode kVigilPaths[] = {{"policy", Slot::none, kPolicyPaths},
                                    {"check", Slot::none, kCheckPaths},
                                    {"rule", Slot::none, kVigilRulePaths},
                                    {"compliance", Slot::compliance}};
constexpr PathNode kSourcePaths[] = {{"ip", Slot::source_ip}, {"port", Slot::source_port}};
constexpr PathNode kDestinationPaths[] = {{"ip", Slot::destination_ip}, {"port", Slot::destination_port}};
constexpr PathNode kUserPaths[] = {{"name", Slot::user_name}};
constexpr PathNode kHostPaths[] = {{"name", Slot::host_name}};
// From the event object: shared/DESIGN.md "Events".
constexpr PathNode kTopPaths[] = {{"@timestamp", Slot::timestamp},
                                  {"message", Slot::message},
                                  {"event", Slot::none, kEventPaths},
                                  {"rule", Slot::none, kRulePaths},
                                  {"vigil", Slot::none, kVigilPaths},
                                  {"source", Slot::none, kSourcePaths},
                                  {"destination", Slot::none, kDestinationPaths},
                                  {"user", Slot::none, kUserPaths},
                                  {"host", Slot::none, kHostPaths}};

// What a slot received: a string (unescaped), an integer, or an object's text as received.
struct Captured {
  std::string_view text;
  int64_t integer = 0;
  bool is_string = false;
  bool is_integer = false;
  bool is_object = false;
};

const PathNode* child_of(std::span<const PathNode> nodes, std::string_view key) {
  for (const auto& n : nodes) {
    if (n.key == key) return &n;
  }
  return nullptr;
}

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// [begin, end) with the whitespace before `end` left out.
std::string_view trimmed(const char* begin, const char* end) {
  while (end > begin && json_space(end[-1])) --end;
  return {begin, static_cast<size_t>(end - begin)};
}

// Why a line is not taken as JSON; the message is made by the caller.
enum class Failure : uint8_t { invalid, duplicate_key };

// Walks one line's document: validates every value, fills the slots of the event's paths, and
// notes where the envelope's event and the event's own members lie in the line.
class LineWalker {
 public:
  struct Member {
    const char* begin = nullptr;  // the key's opening quote
    const char* end = nullptr;    // just past the value
    bool is_agent = false;
  };
  // What the line says at its top level.
  struct Envelope {
    bool root_object = false;
    bool epoch_ok = false;
    std::string_view epoch;
    std::optional<uint64_t> seq;
    bool has_event = false;
    bool event_object = false;
    std::string_view event;  // the event object's bytes
  };

  // Reads the whole document; false (with failure() and duplicate()) when it is not valid JSON
  // by this reader's rules. `with_slots`: fill the event's slots (the envelope's "event" member).
  bool read(od::document& doc, bool with_slots) {
    reset();
    doc_ = &doc;
    with_slots_ = with_slots;
    od::json_type type;
    if (doc.type().get(type)) return false;
    bool ok = false;
    switch (type) {
      case od::json_type::object: {
        env_.root_object = true;
        od::object root;
        ok = !doc.get_object().get(root) && envelope(root);
        break;
      }
      case od::json_type::array: {
        od::array a;
        ok = !doc.get_array().get(a) && elements(a, 2);
        break;
      }
      case od::json_type::string: {
        std::string_view s;
        ok = !doc.get_string().get(s);
        break;
      }
      case od::json_type::number: {
        double d;
        ok = !doc.get_double().get(d);
        break;
      }
      case od::json_type::boolean: {
        bool b;
        ok = !doc.get_bool().get(b);
        break;
      }
      case od::json_type::null: {
        bool n = false;
        ok = !doc.is_null().get(n) && n;
        break;
      }
    }
    // Nothing may follow the document's value.
    return ok && doc.current_location().error() != simdjson::SUCCESS;
  }

  // Forgets the last line (its failure above all: its duplicate key lay in the parser's buffer).
  void reset() {
    env_ = Envelope{};
    slots_.fill(Captured{});
    members_.clear();
    keys_.clear();
    failure_ = Failure::invalid;
    duplicate_ = {};
  }

  const Envelope& envelope_read() const { return env_; }
  const Captured& slot(Slot s) const { return slots_[static_cast<size_t>(s)]; }
  const std::vector<Member>& members() const { return members_; }
  Failure failure() const { return failure_; }
  std::string_view duplicate() const { return duplicate_; }

 private:
  // Where the iterator is: the first byte of the token after the value just read.
  const char* here() {
    const char* at = nullptr;
    return doc_->current_location().get(at) ? nullptr : at;
  }

  bool envelope(od::object& root) {
    const size_t mark = keys_.size();
    for (auto item : root) {
      od::field field;
      if (std::move(item).get(field)) return false;
      std::string_view key;
      if (field.unescaped_key().get(key)) return false;
      keys_.push_back(key);
      od::value v = field.value();
      if (key == "epoch") {
        od::json_type t;
        if (v.type().get(t)) return false;
        if (t == od::json_type::string) {
          if (v.get_string().get(env_.epoch)) return false;
          env_.epoch_ok = true;
          continue;
        }
        env_.epoch_ok = false;
      } else if (key == "seq") {
        od::json_type t;
        if (v.type().get(t)) return false;
        if (t == od::json_type::number) {
          std::string_view token = v.raw_json_token();
          uint64_t seq = 0;
          // A non-negative integer: no sign, fraction or exponent, and within 64 bits.
          const bool plain = !token.empty() && token.front() != '-' &&
                             trimmed(token.data(), token.data() + token.size()).find_first_of(".eE") ==
                                 std::string_view::npos;
          if (plain && !v.get_uint64().get(seq)) {
            env_.seq = seq;
            continue;
          }
        }
        env_.seq.reset();
      } else if (key == "event") {
        od::json_type t;
        if (v.type().get(t)) return false;
        env_.has_event = true;
        env_.event_object = t == od::json_type::object;
        if (env_.event_object && with_slots_) {
          const char* begin = v.raw_json_token().data();
          members_.clear();
          slots_.fill(Captured{});
          od::object ev;
          if (v.get_object().get(ev) || !event_members(ev)) return false;
          const char* end = here();
          if (!end) return false;
          env_.event = trimmed(begin, end);
          continue;
        }
      }
      if (!value(v, 2, Slot::none, {})) return false;
    }
    return unique_keys(mark);
  }

  // The event object's members: each one's bytes noted, so agent.* can be replaced.
  bool event_members(od::object& ev) {
    const size_t mark = keys_.size();
    for (auto item : ev) {
      od::field field;
      if (std::move(item).get(field)) return false;
      Member m;
      m.begin = field.key().raw() - 1;  // before unescaped_key(), which consumes the key
      std::string_view key;
      if (field.unescaped_key().get(key)) return false;
      keys_.push_back(key);
      m.is_agent = key == "agent";
      const PathNode* node = child_of(kTopPaths, key);
      od::value v = field.value();
      od::json_type type;
      if (v.type().get(type)) return false;
      // A scalar ends where its token does (the iterator need not have moved past it); an object
      // or array where the token after it begins.
      const char* end = nullptr;
      if (type != od::json_type::object && type != od::json_type::array) {
        const std::string_view token = v.raw_json_token();
        end = trimmed(token.data(), token.data() + token.size()).end();
      }
      if (!value(v, 3, node ? node->slot : Slot::none, node ? node->children : std::span<const PathNode>{})) {
        return false;
      }
      if (!end) {
        const char* next = here();
        if (!next) return false;
        end = trimmed(m.begin, next).end();
      }
      m.end = end;
      members_.push_back(m);
    }
    return unique_keys(mark);
  }

  // One value at `depth` (the depth of its own members if it has any; the line's object is 1).
  bool value(od::value& v, size_t depth, Slot slot, std::span<const PathNode> children) {
    od::json_type type;
    if (v.type().get(type)) return false;
    switch (type) {
      case od::json_type::object: {
        if (depth > ingest::kMaxJsonDepth) return false;
        const char* begin = slot == Slot::compliance ? v.raw_json_token().data() : nullptr;
        od::object o;
        if (v.get_object().get(o)) return false;
        const size_t mark = keys_.size();
        for (auto item : o) {
          od::field field;
          if (std::move(item).get(field)) return false;
          std::string_view key;
          if (field.unescaped_key().get(key)) return false;
          keys_.push_back(key);
          const PathNode* node = children.empty() ? nullptr : child_of(children, key);
          od::value child = field.value();
          if (!value(child, depth + 1, node ? node->slot : Slot::none,
                     node ? node->children : std::span<const PathNode>{})) {
            return false;
          }
        }
        if (!unique_keys(mark)) return false;
        if (begin) {
          const char* end = here();
          if (!end) return false;
          capture(slot).text = trimmed(begin, end);
          capture(slot).is_object = true;
        }
        return true;
      }
      case od::json_type::array: {
        if (depth > ingest::kMaxJsonDepth) return false;
        od::array a;
        return !v.get_array().get(a) && elements(a, depth + 1);
      }
      case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s)) return false;
        if (slot != Slot::none) {
          capture(slot).text = s;
          capture(slot).is_string = true;
        }
        return true;
      }
      case od::json_type::number:
        return number(v, slot);
      case od::json_type::boolean: {
        bool b;
        return !v.get_bool().get(b);
      }
      case od::json_type::null: {
        bool n = false;
        return !v.is_null().get(n) && n;
      }
    }
    return false;
  }

  bool elements(od::array& a, size_t depth) {
    for (auto item : a) {
      od::value v;
      if (std::move(item).get(v)) return false;
      if (!value(v, depth, Slot::none, {})) return false;
    }
    return true;
  }

  // Integers as 64 bits (saturated past them); beyond, any number a double holds, as a double.
  bool number(od::value& v, Slot slot) {
    od::number n;
    if (v.get_number().get(n)) {
      double d;
      return !v.get_double().get(d);  // a longer integer than 64 bits; 1e400 stays an error
    }
    if (slot == Slot::none) return true;
    if (n.is_int64()) {
      capture(slot).integer = n.get_int64();
      capture(slot).is_integer = true;
    } else if (n.is_uint64()) {
      capture(slot).integer = std::numeric_limits<int64_t>::max();
      capture(slot).is_integer = true;
    }
    return true;
  }

  Captured& capture(Slot s) { return slots_[static_cast<size_t>(s)]; }

  // Whether the keys since `mark` (one object's) are all different; they are dropped either way.
  // A key given twice reads differently to different readers (SQLite's json_extract takes the
  // first, PostgreSQL and nlohmann the last), so such a line is refused.
  bool unique_keys(size_t mark) {
    const size_t n = keys_.size() - mark;
    auto first = keys_.begin() + static_cast<std::ptrdiff_t>(mark);
    std::string_view dup;
    if (n <= 16) {
      for (auto i = first; i != keys_.end() && dup.empty(); ++i) {
        for (auto j = i + 1; j != keys_.end(); ++j) {
          if (*i == *j) {
            dup = *i;
            failure_ = Failure::duplicate_key;
            break;
          }
        }
      }
    } else {
      sorted_.assign(first, keys_.end());
      std::sort(sorted_.begin(), sorted_.end());
      if (auto at = std::adjacent_find(sorted_.begin(), sorted_.end()); at != sorted_.end()) {
        dup = *at;
        failure_ = Failure::duplicate_key;
      }
    }
    keys_.resize(mark);
    if (failure_ == Failure::duplicate_key) {
      duplicate_ = dup;
      return false;
    }
    return true;
  }

  od::document* doc_ = nullptr;
  bool with_slots_ = true;
  Envelope env_;
  std::array<Captured, static_cast<size_t>(Slot::count)> slots_{};
  std::vector<Member> members_;
  std::vector<std::string_view> keys_;  // of the objects being read, outermost first
  std::vector<std::string_view> sorted_;
  Failure failure_ = Failure::invalid;
  std::string_view duplicate_;
};

// The reason a line that did not read is set aside with (as parse_bounded_json words it).
std::string failure_reason(const LineWalker& walker, std::string_view line) {
  if (walker.failure() == Failure::duplicate_key) {
    std::string_view key = walker.duplicate();
    if (key.size() <= 64 && ingest::printable(key)) {
      return fmt::format("duplicate key \"{}\" in an object", key);
    }
    return "duplicate key in an object";
  }
  if (auto at = ingest::json_depth_exceeded(line)) {
    return fmt::format("JSON nests deeper than {} at byte {}", ingest::kMaxJsonDepth, *at);
  }
  return "not valid JSON";
}

int clamped_level(const Captured& c, int fallback) {
  return c.is_integer ? static_cast<int>(std::clamp<int64_t>(c.integer, 1, 5)) : fallback;
}

}  // namespace

ParsedBatch parse_batch(std::string_view body, size_t max_records, const std::string& agent_id,
                        const std::string& host) {
  ParsedBatch out;
  // simdjson reads up to SIMDJSON_PADDING bytes past a document: one padded copy of the body
  // serves every line (the bytes after a line are the next lines, then the padding).
  const simdjson::padded_string padded(body.data(), body.size());
  od::parser parser;
  LineWalker walker;
  const std::string agent_member = "\"agent\":" + agent_identity_json(agent_id, host);

  auto read_line = [&](std::string_view line, bool with_slots) {
    const size_t offset = static_cast<size_t>(line.data() - body.data());
    simdjson::padded_string_view view(padded.data() + offset, line.size(),
                                      padded.size() - offset + simdjson::SIMDJSON_PADDING);
    walker.reset();
    od::document doc;
    if (parser.iterate(view).get(doc)) return false;
    return walker.read(doc, with_slots);
  };

  // The epoch and seq of a line that did not read, from its prefix before "event".
  auto envelope_of = [&](std::string_view line, std::string& epoch, std::optional<uint64_t>& seq) {
    const size_t at = line.find(",\"event\":");
    if (at == std::string_view::npos || at > 512) return;
    std::string head(line.substr(0, at));
    head += '}';
    const simdjson::padded_string padded_head(head);
    walker.reset();
    od::document doc;
    if (parser.iterate(padded_head).get(doc) || !walker.read(doc, false)) return;
    const auto& env = walker.envelope_read();
    if (!env.root_object || !env.epoch_ok || !env.seq) return;
    epoch = std::string(env.epoch);
    seq = env.seq;
  };

  size_t start = 0;
  size_t line_no = 0;
  bool any_seq = false;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty()) continue;
    if (out.records.size() + out.quarantined.size() >= max_records) {
      out.refused = fmt::format("more than {} records in one batch", max_records);
      return out;
    }
    std::optional<uint64_t> seq;
    std::string line_epoch;  // as far as the line says
    auto set_aside = [&](std::string reason) {
      QuarantinedRecord q;
      q.line = line_no;
      q.seq = seq;
      q.epoch = seq ? ingest::valid_utf8(std::string_view(line_epoch).substr(0, 200))
                    : "line:" + pki::sha256_hex(std::string(line)).substr(0, 32);
      q.reason = std::move(reason);
      q.body = ingest::valid_utf8(line.substr(0, kQuarantineKeepBytes));
      if (line.size() > kQuarantineKeepBytes) q.reason += fmt::format(" (line of {} bytes, cut)", line.size());
      out.quarantined.push_back(std::move(q));
    };
    if (!read_line(line, true)) {
      std::string reason = failure_reason(walker, line);
      // Where the line begins as agents write it ({"epoch":..,"seq":..,"event":...), its epoch and
      // seq still identify it, so a redelivery is not quarantined twice.
      envelope_of(line, line_epoch, seq);
      if (seq && !line_epoch.empty()) {
        if (out.epoch.empty()) out.epoch = line_epoch;
        if (line_epoch == out.epoch && (!any_seq || *seq > out.last_seq)) {
          any_seq = true;
          out.last_seq = *seq;
        }
      }
      set_aside(std::move(reason));
      continue;
    }
    const auto& env = walker.envelope_read();
    if (!env.root_object) {
      set_aside("not a JSON object");
      continue;
    }
    if (!env.epoch_ok || env.epoch.empty() || !env.seq) {
      set_aside("expected {\"epoch\": string, \"seq\": integer, \"event\": object}");
      continue;
    }
    line_epoch = std::string(env.epoch);
    seq = env.seq;
    if (out.epoch.empty()) out.epoch = line_epoch;
    if (line_epoch != out.epoch) {
      set_aside("one batch carries one epoch");
      continue;
    }
    if (any_seq && *seq <= out.last_seq) {
      set_aside("seq must increase within a batch");
      continue;
    }
    any_seq = true;
    out.last_seq = *seq;
    if (!env.has_event || !env.event_object) {
      set_aside("expected {\"epoch\": string, \"seq\": integer, \"event\": object}");
      continue;
    }
    auto text = [&](Slot s) -> std::string_view {
      const auto& c = walker.slot(s);
      return c.is_string ? c.text : std::string_view();
    };
    IncomingRecord rec;
    rec.seq = *seq;
    std::string_view kind_text = text(Slot::kind);
    rec.kind = kind_text.empty() ? "event" : std::string(kind_text);
    rec.dataset = text(Slot::dataset);
    ingest::RecordFacts facts{rec.kind, rec.dataset, text(Slot::rule_id), text(Slot::policy_id),
                              text(Slot::check_result)};
    if (auto why = ingest::refuse_reason(facts)) {
      set_aside(*why);
      continue;
    }
    if (auto ts = text(Slot::timestamp); !ts.empty()) {
      if (auto t = Timestamp::parse(ts)) rec.time = *t;
    }
    if (rec.kind == "alert") {
      rec.rule_id = facts.rule_id;
      rec.rule_name = text(Slot::rule_name);
      rec.rule_name_vi = text(Slot::rule_name_vi);
      if (rec.rule_name_vi.size() > 1024) rec.rule_name_vi.resize(1024);
      rec.severity = clamped_level(walker.slot(Slot::severity), 0);
    }
    if (rec.dataset == "compliance.check") {
      IncomingRecord::Check c;
      c.check_id = text(Slot::rule_id);
      c.title = text(Slot::rule_name);
      c.policy = text(Slot::policy_id);
      c.result = text(Slot::check_result);
      c.evidence = text(Slot::check_evidence);
      c.remediation = text(Slot::check_remediation);
      c.title_vi = text(Slot::rule_name_vi);
      c.remediation_vi = text(Slot::check_remediation_vi);
      c.policy_version = text(Slot::policy_version);
      if (c.remediation.size() > 4096) c.remediation.resize(4096);
      if (c.remediation_vi.size() > 4096) c.remediation_vi.resize(4096);
      if (c.title_vi.size() > 1024) c.title_vi.resize(1024);
      if (c.policy_version.size() > 64) c.policy_version.clear();
      c.level = clamped_level(walker.slot(Slot::check_level), 1);
      const auto& controls = walker.slot(Slot::compliance);
      c.controls = controls.is_object ? std::string(controls.text) : "{}";
      rec.check = std::move(c);
    }
    SearchFields& f = rec.search;
    f.entity.source_ip = text(Slot::source_ip);
    f.entity.source_port = walker.slot(Slot::source_port).integer;
    f.entity.destination_ip = text(Slot::destination_ip);
    f.entity.destination_port = walker.slot(Slot::destination_port).integer;
    f.entity.user_name = text(Slot::user_name);
    f.host_name = text(Slot::host_name);
    f.event_action = text(Slot::action);
    f.event_outcome = text(Slot::outcome);
    f.rule_id = text(Slot::rule_id);
    f.severity = walker.slot(Slot::severity).integer;
    f.text = text(Slot::original);
    if (f.text.empty()) f.text = text(Slot::message);
    // The event as received, its agent member (if any) left out and the collector's added last.
    const auto& members = walker.members();
    std::string& json = rec.json;
    json.reserve(env.event.size() + agent_member.size() + 2);
    json += '{';
    bool first = true;
    for (const auto& m : members) {
      if (m.is_agent) continue;
      if (!first) json += ',';
      json.append(m.begin, m.end);
      first = false;
    }
    if (!first) json += ',';
    json += agent_member;
    json += '}';
    out.records.push_back(std::move(rec));
  }
  return out;
}

}  // namespace vigil::collector
