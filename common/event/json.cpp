#include "common/event/json.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <nlohmann/json.hpp>

#include "common/ingest/bounded_json.h"

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
    case Value::Type::json: {
      const auto& text = value.as_json()->text;
      if (!text) return nullptr;
      auto parsed = nlohmann::json::parse(*text, nullptr, false);
      return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
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

namespace {

// The direct writer: the same text nlohmann's dump gives for to_json(event) (keys of each object
// in byte order, strings escaped alike, invalid UTF-8 replaced), without building the tree.

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

// Text gathered on the stack and appended to a string a few kilobytes at a time: an event's line
// is tens of small pieces (names, values, quotes), and appending each to the string cost a call
// and a capacity check apiece (issue 22).
class Gather {
 public:
  explicit Gather(std::string& out) : out_(out) {}
  ~Gather() { flush(); }
  Gather(const Gather&) = delete;
  Gather& operator=(const Gather&) = delete;

  void put(const char* s, size_t n) {
    if (n > kSize - len_) {
      flush();
      if (n > kSize) {
        out_.append(s, n);
        return;
      }
    }
    std::memcpy(buf_ + len_, s, n);
    len_ += n;
  }
  void put(char c) {
    if (len_ == kSize) flush();
    buf_[len_++] = c;
  }
  // `n` bytes of room (n <= kSize) to write into, then commit() what was written.
  char* room(size_t n) {
    if (n > kSize - len_) flush();
    return buf_ + len_;
  }
  void commit(size_t n) { len_ += n; }
  // The string itself, everything gathered so far appended (for what is written there directly).
  std::string& out() {
    flush();
    return out_;
  }

 private:
  void flush() {
    out_.append(buf_, len_);
    len_ = 0;
  }
  static constexpr size_t kSize = 4096;
  std::string& out_;
  size_t len_ = 0;
  char buf_[kSize];
};

inline void put(std::string& out, const char* s, size_t n) { out.append(s, n); }
inline void put(std::string& out, char c) { out += c; }
inline std::string& string_of(std::string& out) { return out; }
inline void put(Gather& out, const char* s, size_t n) { out.put(s, n); }
inline void put(Gather& out, char c) { out.put(c); }
inline std::string& string_of(Gather& out) { return out.out(); }

// The length of the start of `s` that is printable ASCII other than '"' and '\\' (copied into
// JSON as it is), sixteen bytes a step.
size_t plain_prefix(std::string_view s) {
  size_t i = 0;
#if defined(__SSE2__)
  // As signed bytes, both the control characters and every byte from 0x80 are below 0x20.
  const __m128i low = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i bad =
        _mm_or_si128(_mm_cmplt_epi8(v, low), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    if (const int mask = _mm_movemask_epi8(bad)) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
  }
  return i;
}

template <typename Out>
void write_string(Out& out, std::string_view s) {
  // The common case first: printable ASCII with nothing to escape, copied as it is.
  if (plain_prefix(s) == s.size()) {
    put(out, '"');
    put(out, s.data(), s.size());
    put(out, '"');
    return;
  }
  bool ascii = true;
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (!ascii && !valid_utf8(s)) {
    string_of(out) += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  static const char* kHex = "0123456789abcdef";
  put(out, '"');
  size_t run = 0;  // start of the pending run of bytes copied as they are
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(out, s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': put(out, "\\\"", 2); break;
      case '\\': put(out, "\\\\", 2); break;
      case '\b': put(out, "\\b", 2); break;
      case '\f': put(out, "\\f", 2); break;
      case '\n': put(out, "\\n", 2); break;
      case '\r': put(out, "\\r", 2); break;
      case '\t': put(out, "\\t", 2); break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        put(out, u, 6);
      }
    }
  }
  put(out, s.data() + run, s.size() - run);
  put(out, '"');
}

void write_line(std::string& out, const Event& event);

// An address or a time between quotes: digits, dots, colons, dashes and letters, nothing to escape.
template <typename T>
void write_unescaped(std::string& out, const T& v) {
  char buf[T::kTextMax];
  out += '"';
  out.append(buf, v.format(buf));
  out += '"';
}
template <typename T>
void write_unescaped(Gather& out, const T& v) {
  char* p = out.room(T::kTextMax + 2);
  p[0] = '"';
  const size_t n = v.format(p + 1);
  p[n + 1] = '"';
  out.commit(n + 2);
}

template <typename Out>
void write_value(Out& out, const Value& value) {
  switch (value.type()) {
    case Value::Type::null: put(out, "null", 4); return;
    case Value::Type::boolean:
      if (*value.as_bool()) {
        put(out, "true", 4);
      } else {
        put(out, "false", 5);
      }
      return;
    case Value::Type::integer: {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *value.as_int());
      put(out, buf, static_cast<size_t>(end - buf));
      return;
    }
    case Value::Type::real: string_of(out) += nlohmann::json(*value.as_real()).dump(); return;
    case Value::Type::string: write_string(out, *value.as_string()); return;
    case Value::Type::ip: write_unescaped(out, *value.as_ip()); return;
    case Value::Type::timestamp: write_unescaped(out, *value.as_timestamp()); return;
    case Value::Type::list: {
      put(out, '[');
      bool first = true;
      for (const auto& item : *value.as_list()) {
        if (!first) put(out, ',');
        first = false;
        write_value(out, item);
      }
      put(out, ']');
      return;
    }
    case Value::Type::event: {
      const auto& e = *value.as_event();
      if (e) {
        write_line(string_of(out), *e);
      } else {
        put(out, "null", 4);
      }
      return;
    }
    case Value::Type::json: {
      const auto& text = value.as_json()->text;
      if (text && !text->empty()) {
        put(out, text->data(), text->size());
      } else {
        put(out, "null", 4);
      }
      return;
    }
  }
  put(out, "null", 4);
}

// Dotted names compared segment by segment (the order of the nested objects' keys): a dot sorts
// below every other byte, so "a" < "a.b" < "a-b" as "a" < "a-b" among keys.
bool segment_less(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i] == '.' ? '\x01' : a[i]);
    const auto y = static_cast<unsigned char>(b[i] == '.' ? '\x01' : b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

// A field's name split at its dots (when a layout is worked out).
struct FieldPath {
  static constexpr size_t kMaxSegments = 16;
  std::string_view name;
  std::string_view segs[kMaxSegments];
  size_t count = 0;  // 0: more segments than kMaxSegments (the tree writer takes it)
};

FieldPath path_of(FieldId id) {
  FieldPath p;
  p.name = field_name(id);
  for (size_t start = 0;;) {
    size_t dot = p.name.find('.', start);
    if (p.count == FieldPath::kMaxSegments) {
      p.count = 0;
      break;
    }
    p.segs[p.count++] = p.name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return p;
}

// An event's layout: the JSON text between its values, for one sequence of field ids. Events
// made by one code path carry the same fields in the same order (every flow, every sshd failure),
// so the layout is worked out once (sorting the names into nested objects) and then each event is
// its values written between the layout's pieces.
struct Shape {
  std::vector<FieldId> ids;         // the event's fields in its own order
  std::vector<uint32_t> order;      // for the i-th value written: its index in the event
  std::vector<std::string> before;  // the text before the i-th value
  std::string after;                // the closing braces
  bool tree = false;                // one name is another's parent ("a" and "a.b"): the tree writer
  bool built = false;
};

// Works out `shape` for shape.ids (false when the tree writer must take such events).
bool build_shape(Shape& shape) {
  struct Item {
    FieldPath path;
    uint32_t index;
  };
  std::vector<Item> items;
  items.reserve(shape.ids.size());
  for (uint32_t i = 0; i < shape.ids.size(); ++i) {
    items.push_back({path_of(shape.ids[i]), i});
    if (items.back().path.count == 0) return false;
  }
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return segment_less(a.path.name, b.path.name); });
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    std::string_view a = items[i].path.name, b = items[i + 1].path.name;
    if (b.size() > a.size() && b.starts_with(a) && b[a.size()] == '.') return false;
    if (a == b) return false;  // a field twice: not from Event::set
  }
  std::string_view open[FieldPath::kMaxSegments];  // segments of the objects open now
  size_t depth = 0;
  std::string text = "{";
  bool need_comma = false;
  for (const Item& it : items) {
    const FieldPath& p = it.path;
    size_t common = 0;
    while (common < depth && common + 1 < p.count && open[common] == p.segs[common]) ++common;
    while (depth > common) {
      text += '}';
      --depth;
    }
    for (size_t k = common; k + 1 < p.count; ++k) {
      if (need_comma) text += ',';
      write_string(text, p.segs[k]);
      text += ":{";
      open[depth++] = p.segs[k];
      need_comma = false;
    }
    if (need_comma) text += ',';
    write_string(text, p.segs[p.count - 1]);
    text += ':';
    shape.before.push_back(std::move(text));
    text.clear();
    shape.order.push_back(it.index);
    need_comma = true;
  }
  while (depth > 0) {
    text += '}';
    --depth;
  }
  text += '}';
  shape.after = std::move(text);
  return true;
}

// The layouts of this thread, direct-mapped by a hash of the id sequence: at most kShapes, a new
// shape replacing the one in its slot (bounded by construction; a miss only costs the working out).
constexpr size_t kShapes = 1024;

const Shape& shape_of(const Event& event) {
  thread_local std::vector<Shape> slots(kShapes);
  uint64_t h = 1469598103934665603ULL;
  for (const auto& entry : event) h = (h ^ entry.first.v) * 1099511628211ULL;
  h ^= event.size();
  Shape& s = slots[(h ^ (h >> 29)) & (kShapes - 1)];
  bool same = s.built && s.ids.size() == event.size();
  if (same) {
    size_t i = 0;
    for (const auto& entry : event) {
      if (s.ids[i++] != entry.first) {
        same = false;
        break;
      }
    }
  }
  if (same) return s;
  s.ids.clear();
  for (const auto& entry : event) s.ids.push_back(entry.first);
  s.order.clear();
  s.before.clear();
  s.after.clear();
  s.tree = !build_shape(s);
  s.built = true;
  return s;
}

// False when the event needs the tree writer (a field named like another's parent object).
bool write_fields(std::string& out, const Event& event) {
  const Shape& shape = shape_of(event);
  if (shape.tree) return false;
  const Value* values[256];
  std::vector<const Value*> more;
  const Value** v = values;
  if (event.size() > std::size(values)) {
    more.resize(event.size());
    v = more.data();
  }
  size_t n = 0;
  for (const auto& entry : event) v[n++] = &entry.second;
  Gather g(out);
  for (size_t i = 0; i < shape.order.size(); ++i) {
    g.put(shape.before[i].data(), shape.before[i].size());
    write_value(g, *v[shape.order[i]]);
  }
  g.put(shape.after.data(), shape.after.size());
  return true;
}

void write_line(std::string& out, const Event& event) {
  const size_t mark = out.size();
  if (!write_fields(out, event)) {
    out.resize(mark);
    out += to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

}  // namespace

std::string to_json_line(const Event& event) {
  std::string out;
  out.reserve(512);
  write_line(out, event);
  return out;
}

void append_json_line(std::string& out, const Event& event) { write_line(out, event); }

Result<Event> event_from_json(const nlohmann::json& json) { return event_from_json_at(json, 0); }

Result<Event> event_from_json_line(std::string_view line) {
  auto json = ingest::parse_bounded_json(line);
  if (!json) return make_error(json.error());
  return event_from_json(*json);
}

}  // namespace vigil
