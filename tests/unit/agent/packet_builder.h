// Builds packets with known field values for decoder and flow tests, and writes them to pcap
// files with libpcap's own pcap_dump (so the file reader is exercised too).
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "agent/capture/packet_source.h"
#include "common/event/value.h"

namespace vigil::test::pkt {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
inline void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, size_t payload = 0, size_t options = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 1000);  // seq
  put32(b, 0);     // ack
  b.push_back(static_cast<uint8_t>(((20 + options) / 4) << 4));
  b.push_back(flags);
  put16(b, 65535);  // window
  put16(b, 0);      // checksum (not checked)
  put16(b, 0);      // urgent
  b.insert(b.end(), options, 1);  // NOP options
  b.insert(b.end(), payload, 'x');
  return b;
}

// A TCP segment with its sequence and acknowledgement numbers and payload.
inline Bytes tcp_seg(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack_no,
                     std::string_view payload = {}) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, ack_no);
  b.push_back(static_cast<uint8_t>(5 << 4));
  b.push_back(flags);
  put16(b, 65535);
  put16(b, 0);
  put16(b, 0);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

inline Bytes udp(uint16_t sport, uint16_t dport, size_t payload = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload));
  put16(b, 0);
  b.insert(b.end(), payload, 'u');
  return b;
}

inline Bytes icmp(uint8_t type, uint8_t code, size_t payload = 4) {
  Bytes b{type, code, 0, 0};
  b.insert(b.end(), payload, 'i');
  return b;
}

// IPv4 header (20 bytes, no options) + payload. `frag` is the flags/offset field.
inline Bytes ipv4(const char* src, const char* dst, uint8_t proto, const Bytes& payload, uint16_t id = 1,
                  uint16_t frag = 0) {
  Bytes b;
  b.push_back(0x45);
  b.push_back(0);
  put16(b, static_cast<uint16_t>(20 + payload.size()));
  put16(b, id);
  put16(b, frag);
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  auto s = IpAddress::parse(src).value();
  auto d = IpAddress::parse(dst).value();
  b.insert(b.end(), s.v4_data(), s.v4_data() + 4);
  b.insert(b.end(), d.v4_data(), d.v4_data() + 4);
  append(b, payload);
  return b;
}

// IPv6 header + `ext` (already chained extension headers) + payload; `next` is the first next header.
inline Bytes ipv6(const char* src, const char* dst, uint8_t next, const Bytes& rest) {
  Bytes b{0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(rest.size()));
  b.push_back(next);
  b.push_back(64);
  auto s = IpAddress::parse(src).value();
  auto d = IpAddress::parse(dst).value();
  b.insert(b.end(), s.bytes().begin(), s.bytes().end());
  b.insert(b.end(), d.bytes().begin(), d.bytes().end());
  append(b, rest);
  return b;
}

// An 8-byte extension header (hop-by-hop, routing, destination options) with padding.
inline Bytes ext8(uint8_t next) { return Bytes{next, 0, 1, 4, 0, 0, 0, 0}; }
inline Bytes frag6(uint8_t next, uint16_t offset, bool more, uint32_t id) {
  Bytes b{next, 0};
  put16(b, static_cast<uint16_t>(offset | (more ? 1 : 0)));
  put32(b, id);
  return b;
}

// Ethernet with optional VLAN tags (outer first); `tpids` gives each tag's TPID.
inline Bytes ethernet(uint16_t ethertype, const Bytes& payload, std::initializer_list<uint16_t> vlans = {},
                      uint16_t outer_tpid = 0x8100) {
  Bytes b{0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10};
  bool first = true;
  for (uint16_t vid : vlans) {
    put16(b, first ? outer_tpid : 0x8100);
    put16(b, vid);
    first = false;
  }
  put16(b, ethertype);
  append(b, payload);
  return b;
}
inline Bytes eth4(const Bytes& ip, std::initializer_list<uint16_t> vlans = {}) { return ethernet(0x0800, ip, vlans); }
inline Bytes eth6(const Bytes& ip, std::initializer_list<uint16_t> vlans = {}) { return ethernet(0x86dd, ip, vlans); }

inline agent::capture::Packet packet(const Bytes& frame, int link_type = DLT_EN10MB, int64_t ts_ns = 1'000'000'000,
                              size_t caplen = SIZE_MAX) {
  agent::capture::Packet p;
  p.ts = Timestamp{ts_ns};
  p.data = frame.data();
  p.caplen = static_cast<uint32_t>(std::min(caplen, frame.size()));
  p.wire_len = static_cast<uint32_t>(frame.size());
  p.link_type = link_type;
  return p;
}

struct Frame {
  int64_t ts_ns;
  Bytes data;
  size_t caplen = SIZE_MAX;
};

// Writes frames to a pcap file (nanosecond timestamps) with libpcap.
inline void write_pcap(const std::filesystem::path& path, const std::vector<Frame>& frames, int link_type = DLT_EN10MB) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(link_type, 65535, PCAP_TSTAMP_PRECISION_NANO);
  if (!dead) throw std::runtime_error("pcap_open_dead failed");
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (!dumper) {
    pcap_close(dead);
    throw std::runtime_error("pcap_dump_open failed");
  }
  for (const auto& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = f.ts_ns / 1'000'000'000;
    h.ts.tv_usec = static_cast<suseconds_t>(f.ts_ns % 1'000'000'000);
    h.caplen = static_cast<uint32_t>(std::min(f.caplen, f.data.size()));
    h.len = static_cast<uint32_t>(f.data.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper), &h, f.data.data());
  }
  pcap_dump_close(dumper);
  pcap_close(dead);
}

}  // namespace vigil::test::pkt
