#include "common/event/event.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

namespace vigil {

void Event::set(FieldId id, Value value) {
  if (present_ & bit(id)) {
    for (auto& entry : fields_) {
      if (entry.first == id) {
        entry.second = std::move(value);
        return;
      }
    }
  }
  fields_.emplace_back(id, std::move(value));
  present_ |= bit(id);
}

const Value* Event::get(FieldId id) const {
  if (!(present_ & bit(id))) return nullptr;
  for (const auto& entry : fields_) {
    if (entry.first == id) return &entry.second;
  }
  return nullptr;
}

bool Event::erase(FieldId id) {
  auto it = std::find_if(fields_.begin(), fields_.end(), [id](const Entry& e) { return e.first == id; });
  if (it == fields_.end()) return false;
  fields_.erase(it);
  present_ = 0;
  for (const auto& e : fields_) present_ |= bit(e.first);
  return true;
}

const std::string* Event::get_string(FieldId id) const {
  const Value* v = get(id);
  return v ? v->as_string() : nullptr;
}

const int64_t* Event::get_int(FieldId id) const {
  const Value* v = get(id);
  return v ? v->as_int() : nullptr;
}

const IpAddress* Event::get_ip(FieldId id) const {
  const Value* v = get(id);
  return v ? v->as_ip() : nullptr;
}

const Timestamp* Event::get_timestamp(FieldId id) const {
  const Value* v = get(id);
  return v ? v->as_timestamp() : nullptr;
}

Timestamp Event::time() const {
  const Timestamp* t = get_timestamp(fields::timestamp);
  return t ? *t : Timestamp{};
}

bool operator==(const Event& a, const Event& b) {
  if (a.fields_.size() != b.fields_.size()) return false;
  for (const auto& [id, value] : a.fields_) {
    const Value* other = b.get(id);
    if (!other || !(*other == value)) return false;
  }
  return true;
}

namespace {

struct IdRandom {
  uint64_t s[2];
  IdRandom() {
    if (getrandom(s, sizeof(s), 0) != static_cast<ssize_t>(sizeof(s))) {
      // getrandom only fails before the kernel's pool is ready; mix in time and address.
      auto t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      s[0] = t ^ reinterpret_cast<uintptr_t>(this);
      s[1] = ~t * 0x9E3779B97F4A7C15ULL;
    }
    if (s[0] == 0 && s[1] == 0) s[1] = 1;
  }
  uint64_t next() {  // xorshift128+
    uint64_t x = s[0];
    const uint64_t y = s[1];
    s[0] = y;
    x ^= x << 23;
    s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s[1] + y;
  }
};

constexpr char kIdAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford base32
constexpr size_t kIdLength = 26;

constexpr std::array<int8_t, 256> make_id_digits() {
  std::array<int8_t, 256> d{};
  for (auto& x : d) x = -1;
  for (int i = 0; i < 32; ++i) d[static_cast<unsigned char>(kIdAlphabet[i])] = static_cast<int8_t>(i);
  return d;
}
constexpr std::array<int8_t, 256> kIdDigits = make_id_digits();

}  // namespace

std::string new_event_id() {
  const auto& kAlphabet = kIdAlphabet;
  thread_local IdRandom rng;
  auto ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  uint64_t r1 = rng.next();
  uint64_t r2 = rng.next();
  std::string out(kIdLength, '0');
  // 10 chars of time (50 bits, top 2 always zero), 16 chars of randomness (80 bits).
  for (int i = 9; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  for (int i = 0; i < 12; ++i) {
    out[static_cast<size_t>(10 + i)] = kAlphabet[r1 & 31];
    r1 >>= 5;
  }
  for (int i = 0; i < 4; ++i) {
    out[static_cast<size_t>(22 + i)] = kAlphabet[r2 & 31];
    r2 >>= 5;
  }
  return out;
}

bool pack_event_id(std::string_view id, unsigned char out[16]) {
  if (id.size() != kIdLength) return false;
  unsigned __int128 v = 0;
  for (size_t i = 0; i < kIdLength; ++i) {
    const int d = kIdDigits[static_cast<unsigned char>(id[i])];
    if (d < 0 || (i == 0 && d > 7)) return false;  // 3 + 25 * 5 bits: 128
    v = (v << 5) | static_cast<unsigned>(d);
  }
  std::memcpy(out, &v, 16);
  return true;
}

std::string unpack_event_id(const unsigned char in[16]) {
  unsigned __int128 v;
  std::memcpy(&v, in, 16);
  std::string out(kIdLength, '0');
  for (size_t i = kIdLength; i-- > 0;) {
    out[i] = kIdAlphabet[static_cast<unsigned>(v & 31)];
    v >>= 5;
  }
  return out;
}

void set_url_target(Event& e, std::string_view target) {
  e.set(fields::url_original, Value(target));
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  e.set(fields::url_path, Value(path));
  if (q != std::string_view::npos) e.set(fields::url_query, Value(target.substr(q + 1)));
  std::string_view last = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  size_t dot = last.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < last.size()) e.set(fields::url_extension, Value(last.substr(dot + 1)));
}

}  // namespace vigil
