// libFuzzer target for the capture file reader (agent/capture/pcap_file_source): the first input
// byte picks the reader's window (64 B to 128 KiB, so records cross windows and windows are read
// again), the rest is the file. It is read twice, by Vigil's own reader of classic pcap records and by libpcap,
// and the two must hand out the same packets (times, lengths, bytes, link type) and stop the same
// way with the same message: a difference aborts, as a crash would.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/capture/pcap_file_source.h"

namespace {

using vigil::agent::capture::NextStatus;
using vigil::agent::capture::Packet;
using vigil::agent::capture::PcapFileSource;

std::vector<std::string> read_all(const std::string& path, bool direct, size_t window) {
  std::vector<std::string> out;
  auto source = PcapFileSource::open(path, direct, window);
  if (!source.ok()) return {"open error: " + source.error()};
  Packet p;
  for (int n = 0; n < 100'000; ++n) {
    auto st = (*source)->next(p);
    if (st != NextStatus::packet) {
      out.push_back(st == NextStatus::end ? "end" : "error: " + (*source)->error());
      return out;
    }
    out.push_back(std::to_string(p.ts.ns) + " " + std::to_string(p.caplen) + "/" + std::to_string(p.wire_len) + " " +
                  std::to_string(p.link_type) + " " + std::string(reinterpret_cast<const char*>(p.data), p.caplen));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  const size_t window = size_t{64} << (data[0] % 12);
  ++data;
  --size;
  static const std::string path = "/tmp/vigil-pcap-fuzz-" + std::to_string(::getpid()) + ".pcap";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto ours = read_all(path, true, window);
  auto theirs = read_all(path, false, window);
  ::unlink(path.c_str());
  if (ours != theirs) {
    std::fprintf(stderr, "pcap_file_fuzzer: the reader and libpcap differ (%zu and %zu results)\n", ours.size(),
                 theirs.size());
    for (size_t i = 0; i < ours.size() || i < theirs.size(); ++i) {
      const std::string a = i < ours.size() ? ours[i].substr(0, 120) : "-";
      const std::string b = i < theirs.size() ? theirs[i].substr(0, 120) : "-";
      if (a != b) {
        std::fprintf(stderr, "  at %zu: ours [%s] libpcap [%s]\n", i, a.c_str(), b.c_str());
        break;
      }
    }
    std::abort();
  }
  return 0;
}
