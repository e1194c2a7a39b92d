// What the flow table and the TCP stream table share: seeded hashing of a connection (seeds drawn
// per process, so tuples an attacker picks do not collide by construction) and an open-addressing
// index of pool entries (linear probing; entries carry their hash; backward-shift deletion keeps
// every probe sequence unbroken without tombstones).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace vigil::agent::flow {

struct HashSeeds {
  uint64_t k[6];
  HashSeeds() {
    std::random_device rd;
    for (auto& x : k) x = (uint64_t{rd()} << 32) | rd() | 1;
  }
};

// The 128-bit product folded to 64 bits (wyhash's mixing step).
inline uint64_t mum(uint64_t a, uint64_t b) {
  const auto r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline constexpr uint32_t kNoEntry = 0xffffffffu;

// `entry`, whose hash is `hash`, into the first free slot of its probe sequence.
inline void open_index_insert(std::vector<uint32_t>& index, uint32_t mask, uint32_t entry, uint32_t hash) {
  uint32_t i = hash & mask;
  while (index[i] != kNoEntry) i = (i + 1) & mask;
  index[i] = entry;
}

// `entry` (in the index, hash `hash`) out; `hash_of(e)` gives any entry's hash.
template <typename HashOf>
void open_index_erase(std::vector<uint32_t>& index, uint32_t mask, uint32_t entry, uint32_t hash, HashOf hash_of) {
  uint32_t i = hash & mask;
  while (index[i] != entry) i = (i + 1) & mask;
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (index[j] == kNoEntry) break;
    const uint32_t home = hash_of(index[j]) & mask;
    const bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      index[i] = index[j];
      i = j;
    }
  }
  index[i] = kNoEntry;
}

}  // namespace vigil::agent::flow
