#include "agent/decode/ip_reassembly.h"

#include <algorithm>
#include <cstring>

namespace vigil::agent::decode {

namespace {
constexpr size_t kBlocks = (IpReassembler::kMaxDatagram + 7) / 8;  // 8-byte blocks
constexpr size_t kBlockWords = (kBlocks + 63) / 64;
}  // namespace

IpReassembler::IpReassembler(ReassemblyOptions options)
    : options_(options),
      max_slots_(std::max<uint64_t>(1, options.memory_cap / (kMaxDatagram + kBlockWords * 8))) {}

size_t IpReassembler::slots_in_use() const {
  return static_cast<size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.used; }));
}

void IpReassembler::expire(Timestamp ts) {
  for (auto& slot : slots_) {
    if (slot.used && ts.ns - slot.first_ns > options_.timeout_ns) {
      slot.used = false;
      ++counters_.timed_out;
    }
  }
}

IpReassembler::Slot* IpReassembler::find_or_claim(const FragmentKey& key, Timestamp ts) {
  Slot* free_slot = nullptr;
  Slot* oldest = nullptr;
  for (auto& slot : slots_) {
    if (!slot.used) {
      if (!free_slot) free_slot = &slot;
      continue;
    }
    if (slot.key == key) return &slot;
    if (!oldest || slot.first_ns < oldest->first_ns) oldest = &slot;
  }
  if (!free_slot) {
    if (slots_.size() < max_slots_) {
      slots_.emplace_back();
      free_slot = &slots_.back();
      free_slot->blocks.resize(kBlockWords);
      free_slot->buffer.resize(kMaxDatagram);
    } else {
      free_slot = oldest;  // every slot busy: drop the oldest datagram
      ++counters_.evicted;
    }
  }
  free_slot->key = key;
  free_slot->first_ns = ts.ns;
  free_slot->total = 0;
  free_slot->used = true;
  free_slot->have_last = false;
  std::fill(free_slot->blocks.begin(), free_slot->blocks.end(), 0);
  return free_slot;
}

bool IpReassembler::complete(const Slot& slot) {
  if (!slot.have_last) return false;
  size_t needed = (slot.total + 7) / 8;
  for (size_t b = 0; b < needed; ++b) {
    if (!(slot.blocks[b / 64] & (1ULL << (b % 64)))) return false;
  }
  return true;
}

std::optional<std::span<const uint8_t>> IpReassembler::add(const FragmentKey& key, uint32_t offset,
                                                           bool more_fragments, std::span<const uint8_t> data,
                                                           Timestamp ts) {
  ++counters_.fragments;
  expire(ts);
  uint64_t end = uint64_t{offset} + data.size();
  if (end > kMaxDatagram) {
    ++counters_.too_large;
    return std::nullopt;
  }
  Slot* slot = find_or_claim(key, ts);
  if (!more_fragments && !slot->have_last) {
    slot->have_last = true;  // the first final fragment fixes the length ("first" policy)
    slot->total = static_cast<uint32_t>(end);
  }
  // Copy the 8-byte blocks not yet held, in runs; blocks already held keep their first data. The
  // final fragment's last block may be partial; a non-final fragment's partial tail is ignored.
  size_t first_block = offset / 8;
  size_t end_block = more_fragments ? end / 8 : (end + 7) / 8;
  bool overlap = false;
  size_t run_start = first_block;
  auto copy_run = [&](size_t run_end) {
    if (run_end <= run_start) return;
    size_t from = std::max<size_t>(run_start * 8, offset);
    size_t to = std::min<size_t>(run_end * 8, end);
    std::memcpy(slot->buffer.data() + from, data.data() + (from - offset), to - from);
  };
  for (size_t b = first_block; b < end_block; ++b) {
    uint64_t bit = 1ULL << (b % 64);
    if (slot->blocks[b / 64] & bit) {
      overlap = true;
      copy_run(b);
      run_start = b + 1;
      continue;
    }
    slot->blocks[b / 64] |= bit;
  }
  copy_run(end_block);
  if (overlap) ++counters_.overlaps;
  if (!complete(*slot)) return std::nullopt;
  slot->used = false;
  ++counters_.reassembled;
  return std::span<const uint8_t>(slot->buffer.data(), slot->total);
}

}  // namespace vigil::agent::decode
