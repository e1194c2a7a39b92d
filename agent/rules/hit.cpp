#include "agent/rules/hit.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/event/event.h"

namespace vigil::agent::rules {

KeptPtr KeptEvent::make(std::string_view json, std::string_view id) {
  auto k = std::make_shared<KeptEvent>();
  k->json.assign(json.data(), json.size());
  k->id_packed = !id.empty() && pack_event_id(id, k->packed_id);
  if (!k->id_packed) k->id = id;
  return k;
}

std::string Hit::id() const {
  switch (kind_) {
    case Kind::event: {
      const KeptEvent& k = **ev();
      return k.id_packed ? unpack_event_id(k.packed_id) : k.id;
    }
    case Kind::packed:
      return unpack_event_id(store_);
    case Kind::long_id:
      return *long_id();
    case Kind::none:
      break;
  }
  return {};
}

bool Hit::drop_event() noexcept {
  if (kind_ != Kind::event) return false;
  const KeptEvent& k = **ev();
  if (k.id_packed) {
    unsigned char packed[16];
    std::memcpy(packed, k.packed_id, 16);
    reset();
    std::memcpy(store_, packed, 16);
    kind_ = Kind::packed;
  } else if (k.id.empty()) {
    reset();
  } else {
    // The copy first: without memory for it the event stays held (counted so) and nothing changes.
    std::string* copy = nullptr;
    try {
      copy = new std::string(k.id);
    } catch (const std::bad_alloc&) {
      return false;
    }
    reset();
    ::new (static_cast<void*>(store_)) std::string*(copy);
    kind_ = Kind::long_id;
  }
  return true;
}

void Hit::take(Hit& o) noexcept {
  switch (o.kind_) {
    case Kind::event:
      new (store_) KeptPtr(std::move(*o.ev()));
      o.ev()->~KeptPtr();
      break;
    case Kind::packed:
    case Kind::long_id:
      std::memcpy(store_, o.store_, 16);
      break;
    case Kind::none:
      break;
  }
  kind_ = o.kind_;
  o.kind_ = Kind::none;
}

void Hit::reset() noexcept {
  if (kind_ == Kind::event) ev()->~KeptPtr();
  if (kind_ == Kind::long_id) delete long_id();
  kind_ = Kind::none;
}

HitList::HitList(HitList&& o) noexcept { *this = std::move(o); }

HitList& HitList::operator=(HitList&& o) noexcept {
  if (this == &o) return *this;
  release();
  if (o.cap_ == 1) {
    if (o.size_ == 1) new (inline_) Hit(std::move(o[0]));
    size_ = o.size_;
    o.clear();
  } else {
    heap_ = o.heap_;
    cap_ = o.cap_;
    size_ = o.size_;
    o.cap_ = 1;
    o.size_ = 0;
  }
  return *this;
}

void HitList::release() noexcept {
  clear();
  if (cap_ != 1) {
    std::allocator<Hit>().deallocate(heap_, cap_);
    cap_ = 1;
  }
}

void HitList::reserve(size_t n) {
  if (n <= cap_) return;
  const size_t cap = std::max<size_t>(n, 2 * static_cast<size_t>(cap_));
  Hit* fresh = std::allocator<Hit>().allocate(cap);
  Hit* old = data();
  for (uint32_t i = 0; i < size_; ++i) {
    new (fresh + i) Hit(std::move(old[i]));
    old[i].~Hit();
  }
  if (cap_ != 1) std::allocator<Hit>().deallocate(heap_, cap_);
  heap_ = fresh;
  cap_ = static_cast<uint32_t>(cap);
}

void HitList::push_back(Hit&& h) {
  reserve(size_ + 1);
  new (data() + size_) Hit(std::move(h));
  ++size_;
}

void HitList::truncate(Hit* first) {
  for (Hit* h = first; h != end(); ++h) h->~Hit();
  size_ = static_cast<uint32_t>(first - begin());
}

void HitList::erase_front() {
  if (size_ == 0) return;
  std::move(begin() + 1, end(), begin());
  truncate(end() - 1);
}

void HitList::resize(size_t n) {
  if (n <= size_) {
    truncate(begin() + n);
    return;
  }
  reserve(n);
  for (size_t i = size_; i < n; ++i) new (data() + i) Hit();
  size_ = static_cast<uint32_t>(n);
}

size_t HitList::held() const {
  size_t n = 0;
  for (const Hit& h : *this) n += h.holds_event();
  return n;
}

}  // namespace vigil::agent::rules
