#include "common/event/json.h"

#include <nlohmann/json.hpp>

namespace vigil {

namespace {

nlohmann::json value_to_json(const Value& value) {
  switch (value.type()) {
    case Value::Type::null: return nullptr;
    case Value::Type::boolean: return *value.as_bool();
    case Value::Type::integer: return *value.as_int();
    case Value::Type::real: return *value.as_real();
    case Value::Type::string: return *value.as_string();
    case Value::Type::ip: return value.as_ip()->to_string();
    case Value::Type::timestamp: return value.as_timestamp()->to_string();
    case Value::Type::list: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : *value.as_list()) arr.push_back(value_to_json(item));
      return arr;
    }
    case Value::Type::event: {
      const auto& e = *value.as_event();
      return e ? to_json(*e) : nlohmann::json(nullptr);
    }
  }
  return nullptr;
}

// Puts value at the dotted path inside obj. When a prefix already holds a non-object value (a
// field "a" and a field "a.b" in one event), the dotted name is kept whole at that level.
void insert_path(nlohmann::json& obj, std::string_view path, nlohmann::json value) {
  nlohmann::json* cur = &obj;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) break;
    std::string key(path.substr(start, dot - start));
    auto it = cur->find(key);
    if (it == cur->end()) {
      cur = &((*cur)[key] = nlohmann::json::object());
    } else if (it->is_object()) {
      cur = &*it;
    } else {
      (*cur)[std::string(path.substr(start))] = std::move(value);
      return;
    }
    start = dot + 1;
  }
  std::string leaf(path.substr(start));
  auto it = cur->find(leaf);
  if (it != cur->end() && it->is_object()) {
    // "a.b" was set before "a": keep "a" beside its children under its dotted name.
    (*cur)[leaf + "."] = std::move(value);
    return;
  }
  (*cur)[leaf] = std::move(value);
}

constexpr int kMaxDepth = 32;

Result<void> flatten(const nlohmann::json& obj, std::string& prefix, Event& out, int depth);

Result<Event> event_from_json_at(const nlohmann::json& json, int depth) {
  if (!json.is_object()) return make_error("an event must be a JSON object");
  Event event;
  std::string prefix;
  auto r = flatten(json, prefix, event, depth);
  if (!r) return make_error(r.error());
  return event;
}

Result<Value> convert_string(const std::string& s, Value::Type declared) {
  switch (declared) {
    case Value::Type::ip:
      if (auto ip = IpAddress::parse(s)) return Value(*ip);
      return Value(s);
    case Value::Type::timestamp:
      if (auto t = Timestamp::parse(s)) return Value(*t);
      return Value(s);
    case Value::Type::integer: {
      // Numeric strings for integer fields (e.g. "200" from a text source).
      int64_t v = 0;
      size_t i = 0;
      bool neg = !s.empty() && s[0] == '-';
      if (neg) i = 1;
      if (i == s.size()) return Value(s);
      for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10) return Value(s);
        v = v * 10 + (s[i] - '0');
      }
      return Value(neg ? -v : v);
    }
    default: return Value(s);
  }
}

Result<Value> value_from_json(const nlohmann::json& j, Value::Type declared, const std::string& name,
                              int depth) {
  if (depth > kMaxDepth) return make_error("JSON nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value();
    case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return make_error("field " + name + ": integer out of range");
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: {
      double d = j.get<double>();
      if (declared == Value::Type::integer && d == static_cast<double>(static_cast<int64_t>(d))) {
        return Value(static_cast<int64_t>(d));
      }
      return Value(d);
    }
    case nlohmann::json::value_t::string: return convert_string(j.get_ref<const std::string&>(), declared);
    case nlohmann::json::value_t::array: {
      ValueList list;
      list.reserve(j.size());
      for (const auto& item : j) {
        if (item.is_object()) {
          auto sub = event_from_json_at(item, depth + 1);
          if (!sub) return make_error(sub.error());
          list.emplace_back(std::make_shared<const Event>(std::move(sub.value())));
        } else {
          auto v = value_from_json(item, Value::Type::null, name, depth + 1);
          if (!v) return make_error(v.error());
          list.push_back(std::move(v.value()));
        }
      }
      return Value(std::move(list));
    }
    default: return make_error("field " + name + ": unsupported JSON value");
  }
}

Result<void> flatten(const nlohmann::json& obj, std::string& prefix, Event& out, int depth) {
  if (depth > kMaxDepth) return make_error("JSON nested too deeply");
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    size_t keep = prefix.size();
    if (!prefix.empty()) prefix += '.';
    const std::string& key = it.key();
    // A trailing dot marks a field whose name is also a prefix of others (see insert_path).
    prefix.append(key, 0, !key.empty() && key.back() == '.' ? key.size() - 1 : key.size());
    if (it->is_object()) {
      auto r = flatten(*it, prefix, out, depth + 1);
      if (!r) return r;
    } else {
      FieldId id = field(prefix);
      auto v = value_from_json(*it, FieldRegistry::instance().declared_type(id), prefix, depth + 1);
      if (!v) return make_error(v.error());
      out.set(id, std::move(v.value()));
    }
    prefix.resize(keep);
  }
  return {};
}

}  // namespace

nlohmann::json to_json(const Event& event) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [id, value] : event) insert_path(obj, field_name(id), value_to_json(value));
  return obj;
}

std::string to_json_line(const Event& event) {
  return to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Event> event_from_json(const nlohmann::json& json) { return event_from_json_at(json, 0); }

Result<Event> event_from_json_line(std::string_view line) {
  auto json = nlohmann::json::parse(line, nullptr, false);
  if (json.is_discarded()) return make_error("not valid JSON");
  return event_from_json(json);
}

}  // namespace vigil
