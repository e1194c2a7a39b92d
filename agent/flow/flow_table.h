// Bidirectional flows keyed by the canonical 5-tuple and VLAN id. Entries live in one pool with
// an open-addressing index and two least-recently-seen lists (open, closing), so expiry and
// eviction are O(1) and nothing is allocated per packet once the pool has grown.
//
// Accounting (as tshark's conversation statistics do): a packet counts in a flow when its
// transport header was decoded; bytes are frame bytes on the wire (pcap `len`, link header
// included). A fragmented datagram counts once, with the frame that completed it.
//
// Inner packets of tunnels make flows of their own, keyed by their tuple and the tunnel they came
// through (type, depth, id and outer endpoints), and their records name that tunnel.
//
// TCP (as Zeek and Suricata keep connections): a flow's initiator is the SYN's sender, else the
// SYN-ACK's receiver, else the side sender_looks_like_server() does not name. After FIN from
// both sides or a RST the flow lingers: late packets (final ACK, retransmissions, even of the SYN)
// stay in it; a SYN or SYN-ACK with an initial sequence number the connection did not use starts
// a new flow on the tuple (port reuse).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/decode/decoder.h"
#include "agent/flow/open_index.h"
#include "agent/flow/tcp_reassembly.h"
#include "common/event/value.h"

namespace vigil::agent::flow {

enum class EndReason : uint8_t { fin, rst, idle_timeout, active_timeout, evicted, end_of_input, shutdown };
std::string_view end_reason_name(EndReason r);

// "SYN,ACK,FIN,RST,PSH,URG,ECE,CWR" order, only the flags set; empty for none.
std::string tcp_flags_string(uint8_t flags);

struct FlowOptions {
  int64_t idle_timeout_ns = 120LL * 1'000'000'000;
  int64_t active_timeout_ns = 1800LL * 1'000'000'000;
  // After FIN from both sides or a RST, how long to wait for the last packets (final ACK,
  // retransmissions) before the flow ends.
  int64_t close_linger_ns = kCloseLingerNs;
  uint64_t memory_cap = 128ULL << 20;  // bytes of flow state (pool + index)
  StreamOptions streams;               // TCP stream reassembly beside the table
};

// An ended flow, oriented: source is the side that started it.
struct FlowRecord {
  IpAddress src_ip;
  IpAddress dst_ip;
  uint16_t src_port = 0;  // ICMP: type, and the counterpart type or the code
  uint16_t dst_port = 0;
  uint8_t ip_proto = 0;
  bool icmp_one_way = false;
  decode::Transport transport = decode::Transport::other;
  uint16_t vlan_id = 0;
  uint64_t src_bytes = 0;
  uint64_t dst_bytes = 0;
  uint64_t src_packets = 0;
  uint64_t dst_packets = 0;
  Timestamp start;
  Timestamp end;
  uint8_t tcp_flags = 0;  // union of both directions
  EndReason reason = EndReason::end_of_input;
  decode::TunnelOrigin tunnel;  // an inner flow: the tunnel it came through (outer ends oriented as src/dst)
};

struct FlowCounters {
  uint64_t packets = 0;      // packets accounted to flows
  uint64_t flows_created = 0;
  uint64_t flows_ended = 0;
  uint64_t evicted = 0;      // flows ended early because the table was full
  uint64_t late_packets = 0;  // TCP packets accounted to a flow after its FINs or RST
  uint64_t reused = 0;        // TCP flows ended early by a new connection on their tuple
  uint64_t active = 0;       // flows open now
  uint64_t max_flows = 0;    // capacity derived from the memory cap
};

class FlowTable {
 public:
  // Receives every ended flow, from add(), advance() and flush(); it must not call back into
  // the table.
  using Sink = std::function<void(const FlowRecord&)>;

  FlowTable(FlowOptions options, Sink sink);

  // Ends flows whose timeouts passed at packet time `now`.
  void advance(Timestamp now);
  // Accounts one decoded packet (status ok) of `wire_len` bytes seen at `ts`. Calls advance().
  void add(const decode::DecodedPacket& packet, Timestamp ts, uint32_t wire_len);
  // Ends every open flow with `reason` (end_of_input at the end of a replay).
  void flush(EndReason reason);

  const FlowCounters& counters() const { return counters_; }
  size_t size() const { return static_cast<size_t>(counters_.active); }

 private:
  static constexpr uint32_t kNone = kNoEntry;  // an empty slot of the index (open_index.h)

  struct Key {
    IpAddress lo_ip;
    IpAddress hi_ip;
    uint16_t lo_port = 0;
    uint16_t hi_port = 0;
    uint16_t vlan = 0;
    uint8_t proto = 0;
    uint32_t tunnel = 0;  // inner flows: the tunnel's identity (0 for packets on the wire)
    friend bool operator==(const Key&, const Key&) = default;
  };
  // The tunnel of an inner flow, and which side (as Entry::bytes) sent its first packet.
  struct Origin {
    decode::TunnelOrigin tunnel;
    uint8_t from = 0;
  };
  struct Entry {
    Key key;
    uint32_t hash = 0;
    uint32_t prev = kNone;
    uint32_t next = kNone;
    int64_t start_ns = 0;
    int64_t last_ns = 0;
    uint64_t bytes[2] = {0, 0};    // [0]: lo side sent, [1]: hi side sent
    uint32_t packets[2] = {0, 0};
    uint8_t flags[2] = {0, 0};
    TcpHandshake handshake;        // sides as `bytes`
    uint8_t initiator = 0;         // 0: lo side, 1: hi side
    uint8_t list = 0;              // 0 free, 1 open, 2 closing
    uint8_t decided_by = 0;        // what set the initiator: first packet or ports, SYN-ACK, SYN
    bool icmp_one_way = false;
    EndReason close_reason = EndReason::fin;
  };
  struct List {
    uint32_t head = kNone;  // least recently seen
    uint32_t tail = kNone;
  };

  static uint32_t hash_key(const Key& key);
  uint32_t find(const Key& key, uint32_t hash) const;
  uint32_t insert(const Key& key, uint32_t hash, Timestamp ts);
  void index_insert(uint32_t entry);
  void index_erase(uint32_t entry);
  void grow_index();
  void list_push_back(uint8_t list, uint32_t entry);
  void list_unlink(uint32_t entry);
  void end_flow(uint32_t entry, EndReason reason);
  void emit(const Entry& e, EndReason reason, int64_t end_ns);

  FlowOptions options_;
  Sink sink_;
  std::vector<Entry> pool_;
  // Beside pool_, grown to its size only once a tunnel's inner packet is seen, so that traffic
  // without tunnels pays nothing for them.
  std::vector<Origin> origins_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> index_;  // open addressing, linear probing; pool indices or kNone
  uint32_t index_mask_ = 0;
  uint32_t max_flows_ = 0;
  List lists_[3];
  FlowCounters counters_;
};

}  // namespace vigil::agent::flow
