// TCP stream reassembly: per connection and direction, the payload in sequence order for the
// protocol parsers, whatever order the segments arrived in. Retransmitted bytes are delivered
// once; out-of-order segments are held within a window
// per direction and a memory cap over all streams; when either is full, or the connection ends
// with holes, the missing bytes are reported as a gap and delivery goes on after it.
//
// A connection ended by FIN or RST keeps a small closed entry for a linger time (Suricata's
// closed timeout): late packets (retransmissions, data in flight when the RST went out) stay
// with it instead of starting a new stream picked up mid-connection, often the wrong way round.
// A SYN with another initial sequence number on that tuple is a new connection (port reuse).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <vector>

#include "agent/decode/decoder.h"
#include "agent/flow/open_index.h"
#include "common/event/value.h"

namespace vigil::agent::flow {

// After FIN from both sides or a RST, how long a connection's last packets (final ACK,
// retransmissions, data in flight) are still taken as its own. Flow table and streams share it.
inline constexpr int64_t kCloseLingerNs = 5LL * 1'000'000'000;

struct StreamOptions {
  uint32_t window = 256 << 10;          // out-of-order bytes held per direction
  uint64_t memory_cap = 64ULL << 20;    // bytes held over all streams, state included
  int64_t idle_timeout_ns = 120LL * 1'000'000'000;
  int64_t close_linger_ns = kCloseLingerNs;
};

// Ports servers listen on: the well-known range and common registered services (databases,
// alternative HTTP, message brokers, remote desktop).
bool likely_server_port(uint16_t port);

// For the first packet of a connection whose handshake was not seen: whether its sender, from
// `src_port` to `dst_port`, is the server. The likely server port is the server's; of two, the
// lower; of none, the first sender is taken as the client (as Zeek does).
bool sender_looks_like_server(uint16_t src_port, uint16_t dst_port);

// The initial sequence numbers a connection's two sides (0 and 1, as the caller numbers them)
// gave in their SYN or SYN-ACK. Tells a retransmitted handshake packet from the first packet of
// a new connection on the same tuple once the old one has closed.
struct TcpHandshake {
  uint32_t isn[2] = {0, 0};
  uint8_t known = 0;  // bit per side

  // Records the ISNs a packet from `side` carries (a SYN its own; a SYN-ACK also the other's,
  // from its acknowledgement, if that SYN was not seen).
  void note(int side, uint8_t flags, uint32_t seq, uint32_t ack) {
    if (!(flags & decode::tcp_flag::syn)) return;
    isn[side] = seq;
    known |= static_cast<uint8_t>(1u << side);
    if ((flags & decode::tcp_flag::ack) && !(known & (1u << (1 - side)))) {
      isn[1 - side] = ack - 1;
      known |= static_cast<uint8_t>(1u << (1 - side));
    }
  }
  // Whether a packet from `side` on the tuple of a closed connection opens a new one: a SYN or
  // SYN-ACK whose ISN differs from the one this side gave, or, unknown, that answers no SYN seen.
  bool starts_new(int side, uint8_t flags, uint32_t seq, uint32_t ack) const {
    if (!(flags & decode::tcp_flag::syn) || (flags & decode::tcp_flag::rst)) return false;
    if (known & (1u << side)) return seq != isn[side];
    // A SYN-ACK answering the other side's SYN (Fast Open data acknowledged with it) belongs to it.
    if ((flags & decode::tcp_flag::ack) && (known & (1u << (1 - side)))) return ack - isn[1 - side] - 1 > 0xffffu;
    return true;
  }
};

// The client is the side the SYN went from and the SYN-ACK to (or, picked up mid-connection, as
// sender_looks_like_server() judges). A stream starts at a SYN with data (TCP Fast Open), at a
// SYN-ACK or at the first payload; a bare SYN makes no state.
struct StreamKey {
  IpAddress client_ip;
  IpAddress server_ip;
  uint16_t client_port = 0;
  uint16_t server_port = 0;
  uint16_t vlan = 0;
  uint32_t tunnel = 0;  // inner streams: the identity of the tunnel they came through (decode::TunnelOrigin)
  friend bool operator==(const StreamKey&, const StreamKey&) = default;
};

// The key with its two endpoints in a fixed order (lower address, then port, first): the same for
// both directions of a connection.
StreamKey canonical(const StreamKey& k);
// Whether `k` is already canonical.
bool canonical_order(const StreamKey& k);

// Seeded per process, so keys an attacker chooses cannot be made to collide.
struct StreamKeyHash {
  size_t operator()(const StreamKey& k) const;
};
// The same hash of canonical(k) (either direction of a connection alike), without building it.
uint64_t connection_hash(const StreamKey& k);

enum class StreamDir : uint8_t { to_server = 0, to_client = 1 };
enum class StreamEnd : uint8_t { fin, rst, idle_timeout, evicted, flush };

struct StreamCallbacks {
  // Bytes in order; `offset` is where they start in this direction's stream (0: first byte).
  std::function<void(const StreamKey&, StreamDir, uint64_t offset, std::span<const uint8_t>)> data;
  // `bytes` that were never seen (lost, or given up to keep within the caps).
  std::function<void(const StreamKey&, StreamDir, uint64_t offset, uint64_t bytes)> gap;
  std::function<void(const StreamKey&, StreamEnd)> end;
};

struct StreamCounters {
  uint64_t streams_created = 0;
  uint64_t streams_ended = 0;
  uint64_t streams_evicted = 0;      // ended early because the memory cap left no room for state
  uint64_t midstream = 0;            // directions picked up without their SYN
  uint64_t bytes_delivered = 0;
  uint64_t bytes_retransmitted = 0;  // payload already delivered or held, not delivered again
  uint64_t gaps = 0;
  uint64_t gap_bytes = 0;
  uint64_t window_overflows = 0;     // gaps forced by the per-direction window
  uint64_t memory_overflows = 0;     // gaps forced by the memory cap
  uint64_t segments_cut = 0;         // segments cut by the snapshot length (payload not used)
  uint64_t late_packets = 0;         // packets of a connection that had ended, kept from new streams
  uint64_t reused = 0;               // new connections on the tuple of one that had ended
  uint64_t rst_ignored = 0;          // RSTs outside the sender's window (forged or stale): not an end
  uint64_t held_bytes = 0;           // now
  uint64_t memory = 0;               // now: held bytes plus per-stream state, closed entries included
  uint64_t active = 0;               // now: open streams
  uint64_t closed = 0;               // now: ended streams kept for their late packets
};

class TcpReassembler {
 public:
  TcpReassembler(StreamOptions options, StreamCallbacks callbacks);
  ~TcpReassembler();
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  // One decoded TCP packet (others are ignored). Calls advance().
  void add(const decode::DecodedPacket& packet, Timestamp ts);
  // Ends streams idle past the timeout at packet time `now`.
  void advance(Timestamp now);
  // Ends every stream: what is held is delivered, with gaps for the holes. Closed entries go too.
  void flush();

  const StreamCounters& counters() const { return counters_; }

 private:
  struct Segment {
    std::vector<uint8_t> bytes;
  };
  struct Direction {
    bool synced = false;
    bool fin = false;           // FIN seen; ends at fin_offset
    bool done = false;          // every byte up to the FIN delivered
    uint32_t next_seq = 0;      // sequence number of the next byte to deliver
    uint64_t offset = 0;        // stream offset of next_seq
    uint64_t fin_offset = 0;
    uint64_t held = 0;          // bytes in `segments`
    std::map<uint64_t, Segment> segments;  // out of order, by stream offset, not overlapping
  };
  static constexpr uint32_t kNone = kNoEntry;  // an empty slot of the index (open_index.h)
  struct Stream {
    StreamKey key;                     // client first
    uint32_t hash = 0;                 // connection_hash(key)
    uint32_t prev = kNone;             // in lru_, or closed_ once closed
    uint32_t next = kNone;
    Direction dir[2];
    TcpHandshake handshake;            // sides: 0 client, 1 server
    int64_t last_ns = 0;
    bool closed = false;               // ended by FIN or RST; kept in closed_ for late packets
  };
  // Streams least recently seen first, linked through the pool.
  struct List {
    uint32_t head = kNone;
    uint32_t tail = kNone;
  };

  // The stream of `p`'s connection (its index), made when `p` may start one; kNone otherwise.
  uint32_t find_or_create(const decode::DecodedPacket& p, Timestamp ts, StreamDir& dir);
  // The stream of `key`'s connection (`key` either way round), or kNone.
  uint32_t find(const StreamKey& key, uint32_t hash) const;
  void index_insert(uint32_t s);
  void index_erase(uint32_t s);
  void grow_index();
  void list_push_back(List& l, uint32_t s);
  void list_unlink(List& l, uint32_t s);
  void segment(Stream& s, StreamDir dir, uint32_t seq, std::span<const uint8_t> data);
  void deliver_held(Stream& s, StreamDir dir);
  // Skips to the first held segment (a gap) and delivers what follows it in order.
  enum class Skip : uint8_t { window, memory, end };
  bool skip_to_held(Stream& s, StreamDir dir, Skip why);
  // Delivers what is held, reports the end, and keeps a closed entry for late packets.
  void close(uint32_t s, StreamEnd why);
  // Removes a stream; an open one is reported ended first.
  void end(uint32_t s, StreamEnd why);
  bool make_room(uint64_t bytes);

  StreamOptions options_;
  StreamCallbacks cb_;
  // Streams in one pool (free entries reused), found through an open-addressing index keyed by
  // the connection (one lookup finds a stream from either direction); nothing allocated per
  // packet, nor per stream once the pool has grown.
  std::vector<Stream> pool_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> index_;  // linear probing; pool indices or kNone
  uint32_t index_mask_ = 0;
  uint32_t indexed_ = 0;
  List lru_;     // open streams
  List closed_;  // closed entries
  StreamCounters counters_;
  int64_t last_sweep_ns_ = 0;
};

}  // namespace vigil::agent::flow
