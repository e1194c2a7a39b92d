#include "collector/ingest/batch_parser.h"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/ingest/agent_identity.h"
#include "common/ingest/bounded_json.h"
#include "common/ingest/record_rules.h"
#include "common/pki/pki.h"

namespace vigil::collector {

namespace {

const nlohmann::json* member(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string_view string_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const auto* v = member(j, path);
  return v && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

int64_t integer_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const auto* v = member(j, path);
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;
}

// Who the event is about and what search indexes of it (shared/DESIGN.md "Events").
SearchFields search_fields_of(const nlohmann::json& ev) {
  SearchFields f;
  f.entity.source_ip = string_at(ev, {"source", "ip"});
  f.entity.source_port = integer_at(ev, {"source", "port"});
  f.entity.destination_ip = string_at(ev, {"destination", "ip"});
  f.entity.destination_port = integer_at(ev, {"destination", "port"});
  f.entity.user_name = string_at(ev, {"user", "name"});
  f.host_name = string_at(ev, {"host", "name"});
  f.event_action = string_at(ev, {"event", "action"});
  f.event_outcome = string_at(ev, {"event", "outcome"});
  f.rule_id = string_at(ev, {"rule", "id"});
  f.severity = integer_at(ev, {"event", "severity"});
  f.text = string_at(ev, {"event", "original"});
  if (f.text.empty()) f.text = string_at(ev, {"message"});
  return f;
}

IncomingRecord::Check check_of(const nlohmann::json& ev) {
  IncomingRecord::Check c;
  c.check_id = string_at(ev, {"rule", "id"});
  c.title = string_at(ev, {"rule", "name"});
  c.policy = string_at(ev, {"vigil", "policy", "id"});
  c.result = string_at(ev, {"vigil", "check", "result"});
  c.evidence = string_at(ev, {"vigil", "check", "evidence"});
  c.remediation = string_at(ev, {"vigil", "check", "remediation"});
  c.policy_version = string_at(ev, {"vigil", "policy", "version"});
  if (c.remediation.size() > 4096) c.remediation.resize(4096);
  if (c.policy_version.size() > 64) c.policy_version.clear();
  if (const auto* l = member(ev, {"vigil", "check", "level"}); l && l->is_number_integer()) {
    c.level = std::clamp(l->get<int>(), 1, 5);
  }
  const auto* controls = member(ev, {"vigil", "compliance"});
  c.controls = controls && controls->is_object() ? controls->dump() : "{}";
  return c;
}

// The epoch and seq of a line that did not parse, from its prefix before "event".
void envelope_of(std::string_view line, std::string& epoch, std::optional<uint64_t>& seq) {
  const size_t at = line.find(",\"event\":");
  if (at == std::string_view::npos || at > 512) return;
  std::string head(line.substr(0, at));
  head += '}';
  auto j = nlohmann::json::parse(head, nullptr, false);
  if (!j.is_object()) return;
  auto e = j.find("epoch");
  auto s = j.find("seq");
  if (e == j.end() || !e->is_string() || s == j.end() || !s->is_number_unsigned()) return;
  epoch = e->get<std::string>();
  seq = s->get<uint64_t>();
}

}  // namespace

ParsedBatch parse_batch(std::string_view body, size_t max_records, const std::string& agent_id,
                        const std::string& host) {
  ParsedBatch out;
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
    auto parsed = ingest::parse_bounded_json(line);
    if (!parsed) {
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
      set_aside(parsed.error());
      continue;
    }
    auto& j = *parsed;
    if (!j.is_object()) {
      set_aside("not a JSON object");
      continue;
    }
    auto e = j.find("epoch");
    auto s = j.find("seq");
    if (e == j.end() || !e->is_string() || e->get_ref<const std::string&>().empty() || s == j.end() ||
        !s->is_number_unsigned()) {
      set_aside("expected {\"epoch\": string, \"seq\": integer, \"event\": object}");
      continue;
    }
    const std::string& epoch = e->get_ref<const std::string&>();
    line_epoch = epoch;
    seq = s->get<uint64_t>();
    if (out.epoch.empty()) out.epoch = epoch;
    if (epoch != out.epoch) {
      set_aside("one batch carries one epoch");
      continue;
    }
    if (any_seq && *seq <= out.last_seq) {
      set_aside("seq must increase within a batch");
      continue;
    }
    any_seq = true;
    out.last_seq = *seq;
    auto evi = j.find("event");
    if (evi == j.end() || !evi->is_object()) {
      set_aside("expected {\"epoch\": string, \"seq\": integer, \"event\": object}");
      continue;
    }
    auto& ev = *evi;
    IncomingRecord rec;
    rec.seq = *seq;
    const auto* kind = member(ev, {"event"});
    std::string_view kind_text = string_at(ev, {"event", "kind"});
    rec.kind = kind_text.empty() ? "event" : std::string(kind_text);
    rec.dataset = string_at(ev, {"event", "dataset"});
    ingest::RecordFacts facts{rec.kind, rec.dataset, string_at(ev, {"rule", "id"}),
                              string_at(ev, {"vigil", "policy", "id"}), string_at(ev, {"vigil", "check", "result"})};
    if (auto why = ingest::refuse_reason(facts)) {
      set_aside(*why);
      continue;
    }
    if (auto ts = ev.find("@timestamp"); ts != ev.end() && ts->is_string()) {
      if (auto t = Timestamp::parse(ts->get_ref<const std::string&>())) rec.time = *t;
    }
    if (rec.kind == "alert") {
      rec.rule_id = facts.rule_id;
      rec.rule_name = string_at(ev, {"rule", "name"});
      if (const auto* sev = kind ? member(*kind, {"severity"}) : nullptr; sev && sev->is_number_integer()) {
        rec.severity = std::clamp(sev->get<int>(), 1, 5);
      }
    }
    if (rec.dataset == "compliance.check") rec.check = check_of(ev);
    impose_agent_identity(ev, agent_id, host);
    rec.search = search_fields_of(ev);
    // Nesting is bounded, so serialising back recurses at most kMaxJsonDepth levels.
    rec.json = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.records.push_back(std::move(rec));
  }
  return out;
}

}  // namespace vigil::collector
