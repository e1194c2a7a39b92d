// The reference the replay benchmark compares against: a bare libpcap read loop over a file,
// touching each packet's first byte (so the data is really read). Prints packets, bytes and
// seconds as one line: "packets bytes seconds".
#include <pcap/pcap.h>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
    return 1;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(argv[1], err);
  if (!p) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  unsigned long long packets = 0, bytes = 0;
  unsigned sum = 0;
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) {
    ++packets;
    bytes += h->len;
    if (h->caplen > 0) sum += data[0];
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pcap_close(p);
  std::printf("%llu %llu %.6f %u\n", packets, bytes, secs, sum & 1);
  return 0;
}
