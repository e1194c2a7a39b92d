// IPv4 and IPv6 fragment reassembly within a memory cap, with a timeout on packet time.
// Slots (one datagram each, up to 64 KiB) are allocated once and reused; when all are busy the
// oldest datagram is dropped and counted.
//
// Overlap policy: "first" (Suricata's `defrag.policy: first`, the BSD-right/first-wins family):
// where a fragment covers 8-byte blocks already held, the data received first is kept and the
// later bytes are ignored; the fragment is counted in `overlaps`. The first "last fragment" fixes
// the datagram's length. Data is tracked in 8-byte blocks (fragment offsets are multiples of 8);
// the tail of a non-final fragment that does not fill a whole block is ignored (RFC 8200 requires
// non-final fragments to be multiples of 8 bytes long).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/event/value.h"

namespace vigil::agent::decode {

struct ReassemblyOptions {
  uint64_t memory_cap = 4ULL << 20;               // bytes of datagram buffers in all
  int64_t timeout_ns = 30LL * 1'000'000'000;      // a datagram not complete by then is dropped
};

struct ReassemblyCounters {
  uint64_t fragments = 0;       // fragments offered
  uint64_t reassembled = 0;     // datagrams completed
  uint64_t timed_out = 0;       // datagrams dropped incomplete after the timeout
  uint64_t evicted = 0;         // datagrams dropped incomplete because every slot was busy
  uint64_t too_large = 0;       // fragments reaching past 65535 bytes (dropped)
  uint64_t overlaps = 0;        // fragments overlapping data already held (first data wins)
};

struct FragmentKey {
  IpAddress src;
  IpAddress dst;
  uint32_t id = 0;
  uint8_t proto = 0;
  uint32_t tunnel = 0;  // inner datagrams: the tunnel's identity (fragments of two tunnels never meet)
  friend bool operator==(const FragmentKey&, const FragmentKey&) = default;
};

class IpReassembler {
 public:
  static constexpr uint32_t kMaxDatagram = 65535;

  explicit IpReassembler(ReassemblyOptions options = {});

  // Adds the fragment payload at byte `offset` (of the fragmentable part). When it completes a
  // datagram, returns the datagram's fragmentable part, valid until the next call. `data` must
  // not point into a datagram this reassembler returned: its slot may be reused by this call.
  std::optional<std::span<const uint8_t>> add(const FragmentKey& key, uint32_t offset, bool more_fragments,
                                              std::span<const uint8_t> data, Timestamp ts);
  const ReassemblyCounters& counters() const { return counters_; }
  size_t slots_in_use() const;
  size_t max_slots() const { return max_slots_; }

 private:
  struct Slot {
    FragmentKey key;
    int64_t first_ns = 0;
    uint32_t total = 0;     // known once the last fragment arrived
    bool used = false;
    bool have_last = false;
    std::vector<uint64_t> blocks;  // one bit per 8-byte block received
    std::vector<uint8_t> buffer;   // kMaxDatagram bytes, allocated on first use
  };
  Slot* find_or_claim(const FragmentKey& key, Timestamp ts);
  void expire(Timestamp ts);
  static bool complete(const Slot& slot);

  ReassemblyOptions options_;
  size_t max_slots_;
  std::vector<Slot> slots_;
  ReassemblyCounters counters_;
};

}  // namespace vigil::agent::decode
