// Where packets come from: a capture file or a live interface behind one interface, so replay and
// live capture drive the same decode and flow code (cf. Zeek's PktSrc).
#pragma once

#include <cstdint>
#include <string>

#include "common/event/value.h"

namespace vigil::agent::capture {

// One captured packet. `data` stays valid until the next call to PacketSource::next().
struct Packet {
  Timestamp ts;
  uint32_t caplen = 0;    // bytes captured (what `data` holds)
  uint32_t wire_len = 0;  // bytes on the wire
  int link_type = 0;      // libpcap DLT_* value
  const uint8_t* data = nullptr;
};

enum class NextStatus : uint8_t {
  packet,   // `packet` was filled
  timeout,  // live source: nothing available right now
  end,      // end of file (never for a live source)
  error,    // read error; see error()
};

// Counters a source keeps (for live sources, from pcap_stats).
struct SourceStats {
  uint64_t packets = 0;       // packets handed out by next()
  uint64_t bytes = 0;         // wire bytes of those packets
  uint64_t kernel_received = 0;
  uint64_t kernel_dropped = 0;
  uint64_t interface_dropped = 0;
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  PacketSource() = default;
  PacketSource(const PacketSource&) = delete;
  PacketSource& operator=(const PacketSource&) = delete;

  virtual NextStatus next(Packet& packet) = 0;
  // The file path or interface name.
  virtual const std::string& name() const = 0;
  // The last error (set when next() returned NextStatus::error).
  virtual const std::string& error() const = 0;
  virtual SourceStats stats() = 0;
  // Selectable descriptor for live sources (-1 for files).
  virtual int fd() const { return -1; }
};

}  // namespace vigil::agent::capture
