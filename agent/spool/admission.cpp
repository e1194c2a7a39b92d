#include "agent/spool/admission.h"

#include "common/event/fields.h"

namespace vigil::agent {

namespace {

std::string_view text_of(const Event& e, FieldId id) {
  const std::string* s = e.get_string(id);
  return s ? std::string_view(*s) : std::string_view();
}

}  // namespace

ingest::RecordFacts record_facts(const Event& e) {
  ingest::RecordFacts f;
  f.kind = text_of(e, fields::event_kind);
  if (f.kind.empty()) f.kind = "event";  // as the collector reads a record without event.kind
  f.dataset = text_of(e, fields::event_dataset);
  f.rule_id = text_of(e, fields::rule_id);
  f.policy_id = text_of(e, fields::policy_id);
  f.check_result = text_of(e, fields::check_result);
  return f;
}

std::optional<std::string> spool_refuse_reason(const Event& e) { return ingest::refuse_reason(record_facts(e)); }

}  // namespace vigil::agent
