#include "agent/flow/tcp_reassembly.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <random>

namespace vigil::agent::flow {

namespace {

using decode::tcp_flag::ack;
using decode::tcp_flag::fin;
using decode::tcp_flag::rst;
using decode::tcp_flag::syn;

constexpr int64_t kSweepNs = 1'000'000'000;
constexpr uint64_t kSegmentOverhead = 96;  // map node and vector header of a held segment

const uint64_t kHashSeed = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);

}  // namespace

namespace {
constexpr uint64_t kStreamOverhead = 320;  // state, table node, LRU node

const HashSeeds kSeeds;  // of the hash, per process

// Whether `a` is the connection of canonical key `k`, either way round.
inline bool same_connection(const StreamKey& a, const StreamKey& k) {
  if (a.vlan != k.vlan || a.tunnel != k.tunnel) return false;
  if (a.client_port == k.client_port && a.server_port == k.server_port && a.client_ip == k.client_ip &&
      a.server_ip == k.server_ip) {
    return true;
  }
  return a.client_port == k.server_port && a.server_port == k.client_port && a.client_ip == k.server_ip &&
         a.server_ip == k.client_ip;
}
}  // namespace

bool likely_server_port(uint16_t port) {
  // Registered services above the well-known range, sorted.
  static constexpr uint16_t kServices[] = {1433, 1521, 1883, 2049, 2375, 2376, 3128, 3306, 3389, 5060, 5061, 5222,
                                           5432, 5671, 5672, 5900, 5985, 5986, 6379, 6443, 8000, 8008, 8080, 8081,
                                           8443, 8883, 8888, 9000, 9090, 9092, 9200, 9300, 11211, 27017};
  return port < 1024 || std::binary_search(std::begin(kServices), std::end(kServices), port);
}

bool sender_looks_like_server(uint16_t src_port, uint16_t dst_port) {
  const bool src = likely_server_port(src_port);
  const bool dst = likely_server_port(dst_port);
  if (src != dst) return src;
  return src && src_port < dst_port;
}

bool canonical_order(const StreamKey& k) {
  // Any fixed total order will do: the addresses as two native words each, then the ports.
  uint64_t a[2];
  uint64_t b[2];
  std::memcpy(a, k.client_ip.bytes().data(), 16);
  std::memcpy(b, k.server_ip.bytes().data(), 16);
  if (a[0] != b[0]) return a[0] < b[0];
  if (a[1] != b[1]) return a[1] < b[1];
  return k.client_port <= k.server_port;
}

StreamKey canonical(const StreamKey& k) {
  if (canonical_order(k)) return k;
  return {k.server_ip, k.client_ip, k.server_port, k.client_port, k.vlan, k.tunnel};
}

size_t StreamKeyHash::operator()(const StreamKey& k) const {
  uint64_t h = kHashSeed;
  auto feed = [&h](uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
  };
  uint64_t w[4];
  std::memcpy(w, k.client_ip.bytes().data(), 16);
  std::memcpy(w + 2, k.server_ip.bytes().data(), 16);
  for (uint64_t v : w) feed(v);
  feed((uint64_t{k.client_port} << 32) | (uint64_t{k.server_port} << 16) | k.vlan);
  feed(k.tunnel);
  return static_cast<size_t>(h);
}

uint64_t connection_hash(const StreamKey& k) {
  uint64_t a[2];
  uint64_t b[2];
  std::memcpy(a, k.client_ip.bytes().data(), 16);
  std::memcpy(b, k.server_ip.bytes().data(), 16);
  // canonical_order()'s order: the lower end first.
  const bool in_order = a[0] != b[0] ? a[0] < b[0] : a[1] != b[1] ? a[1] < b[1] : k.client_port <= k.server_port;
  const uint64_t* lo = in_order ? a : b;
  const uint64_t* hi = in_order ? b : a;
  const uint64_t ports = in_order ? (uint64_t{k.client_port} << 16) | k.server_port
                                  : (uint64_t{k.server_port} << 16) | k.client_port;
  uint64_t h = mum(lo[0] ^ kSeeds.k[0], lo[1] ^ kSeeds.k[1]);
  h ^= mum(hi[0] ^ kSeeds.k[2], hi[1] ^ kSeeds.k[3]);
  h ^= mum(((ports << 16) | k.vlan) ^ kSeeds.k[4], k.tunnel ^ kSeeds.k[5]);
  return h;
}

TcpReassembler::TcpReassembler(StreamOptions options, StreamCallbacks callbacks)
    : options_(options), cb_(std::move(callbacks)) {
  index_.assign(64, kNone);
  index_mask_ = 63;
}

TcpReassembler::~TcpReassembler() = default;

uint32_t TcpReassembler::find(const StreamKey& key, uint32_t hash) const {
  for (uint32_t i = hash & index_mask_;; i = (i + 1) & index_mask_) {
    const uint32_t e = index_[i];
    if (e == kNone) return kNone;
    if (pool_[e].hash == hash && same_connection(pool_[e].key, key)) return e;
  }
}

void TcpReassembler::index_insert(uint32_t s) {
  open_index_insert(index_, index_mask_, s, pool_[s].hash);
  ++indexed_;
}

void TcpReassembler::index_erase(uint32_t s) {
  open_index_erase(index_, index_mask_, s, pool_[s].hash, [this](uint32_t e) { return pool_[e].hash; });
  --indexed_;
}

void TcpReassembler::grow_index() {
  std::vector<uint32_t> bigger(index_.size() * 2, kNone);
  index_.swap(bigger);
  index_mask_ = static_cast<uint32_t>(index_.size() - 1);
  indexed_ = 0;
  for (uint32_t e : bigger) {
    if (e != kNone) index_insert(e);
  }
}

void TcpReassembler::list_push_back(List& l, uint32_t s) {
  Stream& e = pool_[s];
  e.prev = l.tail;
  e.next = kNone;
  if (l.tail != kNone) pool_[l.tail].next = s;
  l.tail = s;
  if (l.head == kNone) l.head = s;
}

void TcpReassembler::list_unlink(List& l, uint32_t s) {
  Stream& e = pool_[s];
  if (e.prev != kNone) pool_[e.prev].next = e.next; else l.head = e.next;
  if (e.next != kNone) pool_[e.next].prev = e.prev; else l.tail = e.prev;
  e.prev = e.next = kNone;
}

uint32_t TcpReassembler::find_or_create(const decode::DecodedPacket& p, Timestamp ts, StreamDir& dir) {
  const uint32_t tunnel = p.origin.identity;
  const StreamKey forward{p.src, p.dst, p.src_port, p.dst_port, p.vlan_id, tunnel};
  // One lookup for either direction: the index is keyed by the connection.
  const auto hash = static_cast<uint32_t>(connection_hash(forward));
  uint32_t found = find(forward, hash);
  if (found != kNone) {
    Stream& s = pool_[found];
    // The packet goes the stream's way when it comes from the stream's client end.
    dir = s.key.client_port == p.src_port && s.key.client_ip == p.src ? StreamDir::to_server : StreamDir::to_client;
    if (!s.closed) return found;
    if (!s.handshake.starts_new(static_cast<int>(dir), p.tcp_flags, p.tcp_seq, p.tcp_ack)) {
      // A late packet of the ended connection: nothing more to deliver, and no new stream. The
      // linger runs from the end, not from the last late packet: a connection that carries on
      // after its RST is picked up again as a new stream once the linger is over.
      ++counters_.late_packets;
      return kNone;
    }
    ++counters_.reused;
    end(found, StreamEnd::fin);  // the closed entry makes way for the new connection
  }
  // A stream starts with a SYN carrying data (Fast Open), a SYN-ACK, or data (picked up
  // mid-connection); a bare ACK or a RST of an unknown connection has nothing to reassemble.
  // A bare SYN makes no state either: half-open connections (scans, SYN floods) would otherwise
  // fill the table; the SYN-ACK carries both initial sequence numbers.
  const bool is_syn = (p.tcp_flags & syn) != 0;
  const bool syn_ack = is_syn && (p.tcp_flags & ack) != 0;
  if (!is_syn && p.payload.empty()) return kNone;
  if (p.tcp_flags & rst) return kNone;
  if (is_syn && !syn_ack && p.payload.empty()) return kNone;
  const bool sender_is_client = is_syn ? !syn_ack : !sender_looks_like_server(p.src_port, p.dst_port);
  if (!make_room(kStreamOverhead)) return kNone;
  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    idx = static_cast<uint32_t>(pool_.size());
    pool_.emplace_back();
  }
  Stream& s = pool_[idx];
  s.key = sender_is_client ? forward : StreamKey{p.dst, p.src, p.dst_port, p.src_port, p.vlan_id, tunnel};
  s.hash = hash;
  s.last_ns = ts.ns;
  list_push_back(lru_, idx);
  if ((size_t{indexed_} + 1) * 2 > index_.size()) grow_index();
  index_insert(idx);
  counters_.memory += kStreamOverhead;
  ++counters_.streams_created;
  ++counters_.active;
  dir = sender_is_client ? StreamDir::to_server : StreamDir::to_client;
  return idx;
}

bool TcpReassembler::make_room(uint64_t bytes) {
  // Closed entries go first: they only hold back late packets.
  while (counters_.memory + bytes > options_.memory_cap && closed_.head != kNone) {
    end(closed_.head, StreamEnd::evicted);
  }
  while (counters_.memory + bytes > options_.memory_cap && lru_.head != kNone) {
    ++counters_.streams_evicted;
    end(lru_.head, StreamEnd::evicted);
  }
  return counters_.memory + bytes <= options_.memory_cap;
}

void TcpReassembler::add(const decode::DecodedPacket& p, Timestamp ts) {
  if (p.transport != decode::Transport::tcp) return;
  advance(ts);
  StreamDir which = StreamDir::to_server;
  const uint32_t idx = find_or_create(p, ts, which);
  if (idx == kNone) return;
  Stream* s = &pool_[idx];  // the pool does not grow before this packet is done
  s->last_ns = ts.ns;
  if (lru_.tail != idx) {
    list_unlink(lru_, idx);
    list_push_back(lru_, idx);
  }
  Direction& d = s->dir[static_cast<int>(which)];

  if (p.tcp_flags & rst) {
    // RFC 5961 3.2: a RST ends the connection only when its sequence number is where the
    // sender's stream is (within the window either way); anyone can forge the others.
    const auto ahead = static_cast<uint32_t>(p.tcp_seq - d.next_seq);
    const auto behind = static_cast<uint32_t>(d.next_seq - p.tcp_seq);
    if (d.synced && ahead > options_.window && behind > options_.window) {
      ++counters_.rst_ignored;
      return;
    }
    close(idx, StreamEnd::rst);
    return;
  }
  s->handshake.note(static_cast<int>(which), p.tcp_flags, p.tcp_seq, p.tcp_ack);
  uint32_t seq = p.tcp_seq;
  if (p.tcp_flags & syn) {
    if (!d.synced) {
      d.synced = true;
      d.next_seq = seq + 1;
    }
    // A SYN-ACK acknowledges the client's SYN: the client's stream starts at its ack number.
    Direction& other = s->dir[1 - static_cast<int>(which)];
    if ((p.tcp_flags & ack) && !other.synced) {
      other.synced = true;
      other.next_seq = p.tcp_ack;
    }
    seq += 1;  // data on a SYN starts after it
  }
  if (p.payload_cut) {
    if (!p.payload.empty() || (p.tcp_flags & fin)) ++counters_.segments_cut;
    return;  // the payload is incomplete: its bytes become a gap when delivery passes them
  }
  if (!p.payload.empty()) {
    if (!d.synced) {
      d.synced = true;
      d.next_seq = seq;
      ++counters_.midstream;
    }
    segment(*s, which, seq, p.payload);
  }
  if ((p.tcp_flags & fin) && d.synced && !d.fin) {
    d.fin = true;
    int64_t at = static_cast<int64_t>(d.offset) +
                 static_cast<int32_t>(seq + static_cast<uint32_t>(p.payload.size()) - d.next_seq);
    d.fin_offset = at > 0 ? static_cast<uint64_t>(at) : 0;
  }
  for (auto& x : s->dir) {
    if (x.fin && x.offset >= x.fin_offset) x.done = true;
  }
  if (s->dir[0].done && s->dir[1].done) close(idx, StreamEnd::fin);
}

void TcpReassembler::segment(Stream& s, StreamDir which, uint32_t seq, std::span<const uint8_t> data) {
  Direction& d = s.dir[static_cast<int>(which)];
  int64_t start = static_cast<int64_t>(d.offset) + static_cast<int32_t>(seq - d.next_seq);
  int64_t stop = start + static_cast<int64_t>(data.size());
  const auto here = static_cast<int64_t>(d.offset);
  if (stop <= here) {
    counters_.bytes_retransmitted += data.size();
    return;
  }
  if (start < here) {
    counters_.bytes_retransmitted += static_cast<uint64_t>(here - start);
    data = data.subspan(static_cast<size_t>(here - start));
    start = here;
  }
  if (start == here) {
    if (cb_.data) cb_.data(s.key, which, d.offset, data);
    counters_.bytes_delivered += data.size();
    d.offset += data.size();
    d.next_seq += static_cast<uint32_t>(data.size());
    deliver_held(s, which);
    return;
  }
  // Ahead of what was delivered: hold the parts no held segment covers yet.
  const auto ustart = static_cast<uint64_t>(start), ustop = static_cast<uint64_t>(stop);
  std::vector<std::pair<uint64_t, uint64_t>> pieces;  // [from, to)
  uint64_t at = ustart;
  auto it = d.segments.upper_bound(ustart);
  if (it != d.segments.begin()) {
    auto prev = std::prev(it);
    uint64_t prev_end = prev->first + prev->second.bytes.size();
    if (prev_end > at) at = std::min(prev_end, ustop);
  }
  for (; at < ustop; ++it) {
    uint64_t next = (it == d.segments.end()) ? ustop : std::min<uint64_t>(it->first, ustop);
    if (next > at) pieces.emplace_back(at, next);
    if (it == d.segments.end()) break;
    at = std::max(at, it->first + it->second.bytes.size());
  }
  uint64_t new_bytes = 0;
  for (const auto& [a, b] : pieces) new_bytes += b - a;
  counters_.bytes_retransmitted += data.size() - new_bytes;
  if (new_bytes == 0) return;
  uint64_t need = new_bytes + pieces.size() * kSegmentOverhead;
  bool window_full = d.held + new_bytes > options_.window;
  // Closed entries only hold back late packets: they make way before live data is given up.
  while (counters_.memory + need > options_.memory_cap && closed_.head != kNone) {
    end(closed_.head, StreamEnd::evicted);
  }
  bool memory_full = counters_.memory + need > options_.memory_cap;
  if (window_full || memory_full) {
    // Give up on the oldest hole, then try again with the delivery point moved.
    if (!d.segments.empty()) {
      skip_to_held(s, which, window_full ? Skip::window : Skip::memory);
      segment(s, which, seq, data);
      return;
    }
    // Nothing held, and this segment alone does not fit: skip to it.
    uint64_t gap = ustart - d.offset;
    ++(window_full ? counters_.window_overflows : counters_.memory_overflows);
    ++counters_.gaps;
    counters_.gap_bytes += gap;
    if (cb_.gap) cb_.gap(s.key, which, d.offset, gap);
    d.offset = ustart;
    d.next_seq += static_cast<uint32_t>(gap);
    segment(s, which, seq, data);
    return;
  }
  for (const auto& [a, b] : pieces) {
    auto from = data.begin() + static_cast<std::ptrdiff_t>(a - ustart);
    Segment seg;
    seg.bytes.assign(from, from + static_cast<std::ptrdiff_t>(b - a));
    d.segments.emplace(a, std::move(seg));
  }
  d.held += new_bytes;
  counters_.held_bytes += new_bytes;
  counters_.memory += need;
}

void TcpReassembler::deliver_held(Stream& s, StreamDir which) {
  Direction& d = s.dir[static_cast<int>(which)];
  while (!d.segments.empty() && d.segments.begin()->first <= d.offset) {
    auto node = d.segments.extract(d.segments.begin());
    const uint64_t at = node.key();
    const auto& bytes = node.mapped().bytes;
    const uint64_t size = bytes.size();
    d.held -= size;
    counters_.held_bytes -= size;
    counters_.memory -= size + kSegmentOverhead;
    uint64_t end = at + size;
    if (end <= d.offset) {
      counters_.bytes_retransmitted += size;
      continue;
    }
    auto part = std::span<const uint8_t>(bytes).subspan(static_cast<size_t>(d.offset - at));
    if (cb_.data) cb_.data(s.key, which, d.offset, part);
    counters_.bytes_delivered += part.size();
    d.offset += part.size();
    d.next_seq += static_cast<uint32_t>(part.size());
  }
}

bool TcpReassembler::skip_to_held(Stream& s, StreamDir which, Skip why) {
  Direction& d = s.dir[static_cast<int>(which)];
  if (d.segments.empty()) return false;
  uint64_t first = d.segments.begin()->first;
  uint64_t gap = first - d.offset;
  if (why == Skip::window) ++counters_.window_overflows;
  if (why == Skip::memory) ++counters_.memory_overflows;
  ++counters_.gaps;
  counters_.gap_bytes += gap;
  if (cb_.gap) cb_.gap(s.key, which, d.offset, gap);
  d.offset = first;
  d.next_seq += static_cast<uint32_t>(gap);
  deliver_held(s, which);
  return true;
}

void TcpReassembler::close(uint32_t idx, StreamEnd why) {
  Stream& s = pool_[idx];
  for (auto which : {StreamDir::to_server, StreamDir::to_client}) {
    while (skip_to_held(s, which, Skip::end)) {
    }
  }
  if (cb_.end) cb_.end(s.key, why);
  ++counters_.streams_ended;
  --counters_.active;
  // Nothing is held now: what stays is the entry, counted in memory as before.
  s.closed = true;
  list_unlink(lru_, idx);
  list_push_back(closed_, idx);
  ++counters_.closed;
}

void TcpReassembler::end(uint32_t idx, StreamEnd why) {
  if (!pool_[idx].closed) close(idx, why);
  list_unlink(closed_, idx);
  --counters_.closed;
  counters_.memory -= kStreamOverhead;
  index_erase(idx);
  pool_[idx] = Stream{};
  free_.push_back(idx);
}

void TcpReassembler::advance(Timestamp now) {
  if (now.ns - last_sweep_ns_ < kSweepNs) return;
  last_sweep_ns_ = now.ns;
  while (closed_.head != kNone && pool_[closed_.head].last_ns + options_.close_linger_ns < now.ns) {
    end(closed_.head, StreamEnd::fin);
  }
  while (lru_.head != kNone && pool_[lru_.head].last_ns + options_.idle_timeout_ns < now.ns) {
    end(lru_.head, StreamEnd::idle_timeout);
  }
}

void TcpReassembler::flush() {
  while (lru_.head != kNone) end(lru_.head, StreamEnd::flush);
  while (closed_.head != kNone) end(closed_.head, StreamEnd::flush);
}

}  // namespace vigil::agent::flow
