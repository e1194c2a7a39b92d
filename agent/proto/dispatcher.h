// Chooses each TCP stream's protocol parser by content (the first bytes either side sends), not
// by port, and feeds it the reassembled payload; DNS over UDP by port 53/5353 with a content
// check. Plain-text starts that may turn into TLS (SMTP, FTP, IMAP, POP3, LDAP, PostgreSQL) go
// to the STARTTLS watcher. While undecided, each side's first bytes are held (up to a cap) and
// replayed to the parser chosen, so a side that speaks in small pieces, or a server that sends
// lines before its SSH banner, loses nothing. Streams no parser recognises are counted and
// ignored from then on.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "agent/decode/decoder.h"
#include "agent/flow/tcp_reassembly.h"
#include "agent/proto/proto.h"

namespace vigil::agent::proto {

class Dispatcher {
 public:
  Dispatcher(ProtoOptions options, std::string host_name, EventSink sink);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Callbacks for the TCP reassembler; set_time() before each packet gives events their time.
  flow::StreamCallbacks stream_callbacks();
  void set_time(Timestamp ts) { now_ = ts; }
  // A decoded UDP datagram.
  void udp(const decode::DecodedPacket& p, Timestamp ts);

  const ProtoCounters& counters() const { return counters_; }
  size_t open_parsers() const { return parsers_.size(); }

 private:
  struct Entry {
    std::unique_ptr<StreamParser> parser;  // null: undecided, or not recognised
    std::string head[2];                   // first bytes while undecided
    uint64_t dropped[2] = {0, 0};          // bytes past the hold cap while undecided
    bool unknown = false;                  // decided: nothing we know (ignored)
    ParserContext ctx;
  };

  void data(const flow::StreamKey& key, flow::StreamDir dir, std::span<const uint8_t> bytes);
  void gap(const flow::StreamKey& key, flow::StreamDir dir, uint64_t bytes);
  void end(const flow::StreamKey& key);
  bool detect(Entry& e, const flow::StreamKey& key);
  // Runs a callback of `key`'s stream; an exception from its parser is counted and ends the
  // parsing of that stream only.
  template <typename F>
  void guarded(const flow::StreamKey& key, bool ending, F&& f);
  void dns_datagram(const decode::DecodedPacket& p, Timestamp ts);

  ProtoOptions options_;
  std::string host_name_;
  EventSink sink_;
  ProtoCounters counters_;
  Timestamp now_{};
  std::unordered_map<flow::StreamKey, Entry, flow::StreamKeyHash> parsers_;
};

}  // namespace vigil::agent::proto
