// libFuzzer target for the capture file reader (agent/capture/pcap_file_source): the first input
// byte picks the reader's window (64 B to 128 KiB, so records cross windows and windows are read
// again), the rest is the file. It is read twice, by Vigil's own reader of classic pcap records
// and by libpcap (tests/support/pcap_read_all.h), and the two must hand out the same packets
// (times, lengths, bytes, link type), stop the same way with the same message and count the same:
// a difference aborts, as a crash would.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/pcap_read_all.h"

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
  auto ours = vigil::test::pcap_read_all(path, true, window);
  auto theirs = vigil::test::pcap_read_all(path, false, window);
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
