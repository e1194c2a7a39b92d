#include "agent/flow/flow_table.h"

#include <algorithm>
#include <cstring>

#include "agent/flow/community_id.h"

namespace vigil::agent::flow {

namespace {
constexpr uint8_t kOpen = 1;
constexpr uint8_t kClosing = 2;
// What set a flow's initiator (Entry::decided_by) above 0, its first packet (sender or ports).
constexpr uint8_t kBySynAck = 1;
constexpr uint8_t kBySyn = 2;

const HashSeeds kSeeds;  // of the hash, per process
}  // namespace

std::string_view end_reason_name(EndReason r) {
  switch (r) {
    case EndReason::fin: return "fin";
    case EndReason::rst: return "rst";
    case EndReason::idle_timeout: return "idle_timeout";
    case EndReason::active_timeout: return "active_timeout";
    case EndReason::evicted: return "evicted";
    case EndReason::end_of_input: return "end_of_input";
    case EndReason::shutdown: return "shutdown";
  }
  return "unknown";
}

std::string tcp_flags_string(uint8_t flags) {
  using namespace decode::tcp_flag;
  static constexpr std::pair<uint8_t, std::string_view> kOrder[] = {
      {syn, "SYN"}, {ack, "ACK"}, {fin, "FIN"}, {rst, "RST"}, {psh, "PSH"}, {urg, "URG"}, {ece, "ECE"}, {cwr, "CWR"}};
  std::string out;
  for (const auto& [bit, name] : kOrder) {
    if (!(flags & bit)) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

FlowTable::FlowTable(FlowOptions options, Sink sink) : options_(options), sink_(std::move(sink)) {
  // Per flow: the entry, two index slots (load factor <= 1/2) and a free-list slot.
  uint64_t per_flow = sizeof(Entry) + 3 * sizeof(uint32_t);
  max_flows_ = static_cast<uint32_t>(std::clamp<uint64_t>(options_.memory_cap / per_flow, 1, 1u << 30));
  counters_.max_flows = max_flows_;
  size_t initial = 16;
  while (initial < 2ULL * std::min<uint32_t>(max_flows_, 512)) initial *= 2;
  index_.assign(initial, kNone);
  index_mask_ = static_cast<uint32_t>(initial - 1);
}

uint32_t FlowTable::hash_key(const Key& key) {
  // Three independent 128-bit products folded (wyhash's step), seeded per process so that tuples
  // an attacker chooses cannot be made to collide; the chain of six multiplies it replaces was
  // 5% of replay.
  uint64_t w[4];
  std::memcpy(w, key.lo_ip.bytes().data(), 16);
  std::memcpy(w + 2, key.hi_ip.bytes().data(), 16);
  const uint64_t ports = (uint64_t{key.lo_port} << 32) | (uint64_t{key.hi_port} << 16) | key.vlan;
  const uint64_t rest = (uint64_t{key.tunnel} << 8) | key.proto;
  const uint64_t h = mum(w[0] ^ kSeeds.k[0], w[1] ^ kSeeds.k[1]) ^ mum(w[2] ^ kSeeds.k[2], w[3] ^ kSeeds.k[3]) ^
                     mum(ports ^ kSeeds.k[4], rest ^ kSeeds.k[5]);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

uint32_t FlowTable::find(const Key& key, uint32_t hash) const {
  for (uint32_t i = hash & index_mask_;; i = (i + 1) & index_mask_) {
    uint32_t e = index_[i];
    if (e == kNone) return kNone;
    if (pool_[e].hash == hash && pool_[e].key == key) return e;
  }
}

void FlowTable::index_insert(uint32_t entry) {
  open_index_insert(index_, index_mask_, entry, pool_[entry].hash);
}

void FlowTable::index_erase(uint32_t entry) {
  open_index_erase(index_, index_mask_, entry, pool_[entry].hash, [this](uint32_t e) { return pool_[e].hash; });
}

void FlowTable::grow_index() {
  std::vector<uint32_t> bigger(index_.size() * 2, kNone);
  index_.swap(bigger);
  index_mask_ = static_cast<uint32_t>(index_.size() - 1);
  for (uint32_t e : bigger) {
    if (e != kNone) index_insert(e);
  }
}

void FlowTable::list_push_back(uint8_t list, uint32_t entry) {
  Entry& e = pool_[entry];
  List& l = lists_[list];
  e.list = list;
  e.prev = l.tail;
  e.next = kNone;
  if (l.tail != kNone) pool_[l.tail].next = entry;
  l.tail = entry;
  if (l.head == kNone) l.head = entry;
}

void FlowTable::list_unlink(uint32_t entry) {
  Entry& e = pool_[entry];
  List& l = lists_[e.list];
  if (e.prev != kNone) pool_[e.prev].next = e.next; else l.head = e.next;
  if (e.next != kNone) pool_[e.next].prev = e.prev; else l.tail = e.prev;
  e.prev = e.next = kNone;
}

uint32_t FlowTable::insert(const Key& key, uint32_t hash, Timestamp ts) {
  if ((counters_.active + 1) * 2 > index_.size()) grow_index();
  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
    pool_[idx] = Entry{};
  } else {
    idx = static_cast<uint32_t>(pool_.size());
    pool_.emplace_back();
  }
  Entry& e = pool_[idx];
  e.key = key;
  e.hash = hash;
  e.start_ns = e.last_ns = ts.ns;
  index_insert(idx);
  list_push_back(kOpen, idx);
  ++counters_.active;
  ++counters_.flows_created;
  return idx;
}

void FlowTable::emit(const Entry& e, EndReason reason, int64_t end_ns) {
  FlowRecord r;
  int s = e.initiator;
  int d = 1 - s;
  r.src_ip = s == 0 ? e.key.lo_ip : e.key.hi_ip;
  r.dst_ip = s == 0 ? e.key.hi_ip : e.key.lo_ip;
  r.src_port = s == 0 ? e.key.lo_port : e.key.hi_port;
  r.dst_port = s == 0 ? e.key.hi_port : e.key.lo_port;
  r.ip_proto = e.key.proto;
  r.icmp_one_way = e.icmp_one_way;
  switch (e.key.proto) {
    case 6: r.transport = decode::Transport::tcp; break;
    case 17: r.transport = decode::Transport::udp; break;
    case 1: r.transport = decode::Transport::icmp; break;
    case 58: r.transport = decode::Transport::icmpv6; break;
    default: r.transport = decode::Transport::other; break;
  }
  r.vlan_id = e.key.vlan;
  if (e.key.tunnel != 0) {
    const auto idx = static_cast<size_t>(&e - pool_.data());
    if (idx < origins_.size()) {
      const Origin& o = origins_[idx];
      r.tunnel = o.tunnel;
      if (o.from != s) std::swap(r.tunnel.outer_src, r.tunnel.outer_dst);
    }
  }
  r.src_bytes = e.bytes[s];
  r.dst_bytes = e.bytes[d];
  r.src_packets = e.packets[s];
  r.dst_packets = e.packets[d];
  r.start = Timestamp{e.start_ns};
  r.end = Timestamp{end_ns};
  r.tcp_flags = static_cast<uint8_t>(e.flags[0] | e.flags[1]);
  r.reason = reason;
  if (sink_) sink_(r);
}

void FlowTable::end_flow(uint32_t entry, EndReason reason) {
  Entry& e = pool_[entry];
  emit(e, reason, e.last_ns);
  list_unlink(entry);
  index_erase(entry);
  e.list = 0;
  free_.push_back(entry);
  --counters_.active;
  ++counters_.flows_ended;
}

void FlowTable::advance(Timestamp now) {
  while (lists_[kOpen].head != kNone && now.ns - pool_[lists_[kOpen].head].last_ns > options_.idle_timeout_ns) {
    end_flow(lists_[kOpen].head, EndReason::idle_timeout);
  }
  while (lists_[kClosing].head != kNone &&
         now.ns - pool_[lists_[kClosing].head].last_ns > options_.close_linger_ns) {
    uint32_t head = lists_[kClosing].head;
    end_flow(head, pool_[head].close_reason);
  }
}

void FlowTable::add(const decode::DecodedPacket& packet, Timestamp ts, uint32_t wire_len) {
  using namespace decode::tcp_flag;
  advance(ts);

  uint16_t sport = packet.src_port;
  uint16_t dport = packet.dst_port;
  bool one_way = false;
  if (packet.transport == decode::Transport::icmp || packet.transport == decode::Transport::icmpv6) {
    auto ports = icmp_ports(packet.transport == decode::Transport::icmpv6, packet.icmp_type, packet.icmp_code);
    sport = ports.sport;
    dport = ports.dport;
    one_way = ports.one_way;
  }
  Key key;
  // The addresses in byte order (memcmp's), as two big-endian words each: no call per packet.
  uint64_t a[2];
  uint64_t b[2];
  std::memcpy(a, packet.src.bytes().data(), 16);
  std::memcpy(b, packet.dst.bytes().data(), 16);
  const uint64_t a0 = __builtin_bswap64(a[0]), b0 = __builtin_bswap64(b[0]);
  const uint64_t a1 = __builtin_bswap64(a[1]), b1 = __builtin_bswap64(b[1]);
  const bool lower = a0 != b0 ? a0 < b0 : a1 != b1 ? a1 < b1 : sport <= dport;
  uint8_t from = lower ? 0 : 1;
  key.lo_ip = from == 0 ? packet.src : packet.dst;
  key.hi_ip = from == 0 ? packet.dst : packet.src;
  key.lo_port = from == 0 ? sport : dport;
  key.hi_port = from == 0 ? dport : sport;
  key.vlan = packet.vlan_id;
  key.proto = packet.ip_proto;
  key.tunnel = packet.origin.identity;
  uint32_t hash = hash_key(key);

  const bool is_tcp = packet.transport == decode::Transport::tcp;
  const uint8_t flags = is_tcp ? packet.tcp_flags : 0;
  const bool syn_only = is_tcp && (flags & (syn | ack)) == syn;
  const bool syn_ack = is_tcp && (flags & (syn | ack)) == (syn | ack);

  uint32_t idx = find(key, hash);
  if (idx != kNone) {
    Entry& e = pool_[idx];
    if (e.list == kClosing && e.handshake.starts_new(from, flags, packet.tcp_seq, packet.tcp_ack)) {
      end_flow(idx, e.close_reason);  // a new connection reusing the tuple
      ++counters_.reused;
      idx = kNone;
    } else if (ts.ns - e.start_ns >= options_.active_timeout_ns) {
      emit(e, EndReason::active_timeout, e.last_ns);
      e.start_ns = ts.ns;
      e.bytes[0] = e.bytes[1] = 0;
      e.packets[0] = e.packets[1] = 0;
      e.flags[0] = e.flags[1] = 0;
    }
  }
  if (idx == kNone) {
    while (counters_.active >= max_flows_) {  // the cap may have shrunk (tunnels)
      if (lists_[kClosing].head != kNone) {
        uint32_t head = lists_[kClosing].head;
        end_flow(head, pool_[head].close_reason);
      } else {
        end_flow(lists_[kOpen].head, EndReason::evicted);
        ++counters_.evicted;
      }
    }
    idx = insert(key, hash, ts);
    if (key.tunnel != 0) {
      if (origins_.empty()) {
        // From now on each flow may hold its tunnel's origin: the cap counts it.
        const uint64_t per_flow = sizeof(Entry) + 3 * sizeof(uint32_t) + sizeof(Origin);
        max_flows_ = static_cast<uint32_t>(std::clamp<uint64_t>(options_.memory_cap / per_flow, 1, 1u << 30));
        counters_.max_flows = max_flows_;
      }
      if (origins_.size() < pool_.size()) origins_.resize(pool_.size());
      origins_[idx] = {packet.origin, from};
    }
    Entry& e = pool_[idx];
    e.initiator = from;
    e.icmp_one_way = one_way;
    // TCP picked up without the handshake (a SYN or SYN-ACK decides below): the ports name the
    // server. UDP keeps its first sender, as tshark's conversations do.
    if (is_tcp && !(flags & syn) && sender_looks_like_server(sport, dport)) {
      e.initiator = static_cast<uint8_t>(1 - from);
    }
  }

  Entry& e = pool_[idx];
  e.bytes[from] += wire_len;
  ++e.packets[from];
  e.last_ns = std::max(e.last_ns, ts.ns);
  e.flags[from] |= flags;
  if (syn_only && e.decided_by < kBySyn) {
    e.decided_by = kBySyn;
    e.initiator = from;
  } else if (syn_ack && e.decided_by < kBySynAck) {
    e.decided_by = kBySynAck;  // a SYN-ACK's receiver started the connection
    e.initiator = static_cast<uint8_t>(1 - from);
  }
  uint8_t list = e.list;
  if (is_tcp && list == kClosing) ++counters_.late_packets;
  if (is_tcp && list == kOpen) {
    e.handshake.note(from, flags, packet.tcp_seq, packet.tcp_ack);
    if (flags & rst) {
      e.close_reason = EndReason::rst;
      list = kClosing;
    } else if ((e.flags[0] & fin) && (e.flags[1] & fin)) {
      e.close_reason = EndReason::fin;
      list = kClosing;
    }
  }
  list_unlink(idx);
  list_push_back(list, idx);
  ++counters_.packets;
}

void FlowTable::flush(EndReason reason) {
  while (lists_[kOpen].head != kNone) end_flow(lists_[kOpen].head, reason);
  while (lists_[kClosing].head != kNone) {
    uint32_t head = lists_[kClosing].head;
    end_flow(head, pool_[head].close_reason);
  }
}

}  // namespace vigil::agent::flow
