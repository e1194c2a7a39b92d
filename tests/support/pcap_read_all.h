// What a capture file reader hands out, packet by packet, then how it stopped and its counts: one
// line each, for comparing Vigil's own reader with libpcap's (the capture tests and the capture
// file fuzz target). Header-only, so the fuzz target needs no test library.
#pragma once

#include <string>
#include <vector>

#include "agent/capture/pcap_file_source.h"

namespace vigil::test {

inline std::vector<std::string> pcap_read_all(const std::string& path, bool direct,
                                              size_t window = agent::capture::PcapFileSource::kDefaultWindow,
                                              bool* read_directly = nullptr, size_t max_packets = 100'000) {
  using agent::capture::NextStatus;
  std::vector<std::string> out;
  auto source = agent::capture::PcapFileSource::open(path, direct, window);
  if (!source.ok()) return {"open error: " + source.error()};
  if (read_directly) *read_directly = (*source)->reads_directly();
  agent::capture::Packet p;
  for (size_t n = 0;; ++n) {
    const auto st = n < max_packets ? (*source)->next(p) : NextStatus::end;
    if (st != NextStatus::packet) {
      out.push_back(st == NextStatus::end ? "end" : "error: " + (*source)->error());
      break;
    }
    out.push_back(std::to_string(p.ts.ns) + " " + std::to_string(p.caplen) + "/" + std::to_string(p.wire_len) + " " +
                  std::to_string(p.link_type) + " " + std::string(reinterpret_cast<const char*>(p.data), p.caplen));
  }
  const auto stats = (*source)->stats();
  out.push_back(std::to_string(stats.packets) + " packets, " + std::to_string(stats.bytes) + " bytes");
  return out;
}

}  // namespace vigil::test
