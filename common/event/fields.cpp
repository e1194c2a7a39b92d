#include "common/event/fields.h"

#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace vigil {

struct FieldRegistry::Impl {
  mutable std::shared_mutex mutex;
  std::deque<std::string> names;  // deque: references stay valid as it grows
  std::unordered_map<std::string_view, uint32_t> by_name;
};

namespace {
struct Known {
  std::string_view name;
  Value::Type type;
};
// Known fields are read without a lock: this table never changes.
constexpr Known kKnown[] = {
#define VIGIL_FIELD_ENTRY(id, name, type) {name, Value::Type::type},
    VIGIL_KNOWN_FIELDS(VIGIL_FIELD_ENTRY)
#undef VIGIL_FIELD_ENTRY
};
}  // namespace

FieldRegistry::FieldRegistry() : impl_(new Impl) {
  for (const auto& k : kKnown) {
    impl_->names.emplace_back(k.name);
    impl_->by_name.emplace(impl_->names.back(), static_cast<uint32_t>(impl_->names.size() - 1));
  }
}

FieldRegistry& FieldRegistry::instance() {
  static FieldRegistry* registry = new FieldRegistry();  // never destroyed: used until exit
  return *registry;
}

FieldId FieldRegistry::intern(std::string_view name) {
  {
    std::shared_lock lock(impl_->mutex);
    auto it = impl_->by_name.find(name);
    if (it != impl_->by_name.end()) return FieldId{it->second};
  }
  std::unique_lock lock(impl_->mutex);
  auto it = impl_->by_name.find(name);
  if (it != impl_->by_name.end()) return FieldId{it->second};
  impl_->names.emplace_back(name);
  auto id = static_cast<uint32_t>(impl_->names.size() - 1);
  impl_->by_name.emplace(impl_->names.back(), id);
  return FieldId{id};
}

std::optional<FieldId> FieldRegistry::find(std::string_view name) const {
  std::shared_lock lock(impl_->mutex);
  auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end()) return std::nullopt;
  return FieldId{it->second};
}

std::string_view FieldRegistry::name(FieldId id) const {
  if (id.v < fields::known_count) return kKnown[id.v].name;
  std::shared_lock lock(impl_->mutex);
  if (id.v >= impl_->names.size()) return "?";
  return impl_->names[id.v];
}

Value::Type FieldRegistry::declared_type(FieldId id) const {
  if (id.v < fields::known_count) return kKnown[id.v].type;
  return Value::Type::null;
}

size_t FieldRegistry::size() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->names.size();
}

}  // namespace vigil
