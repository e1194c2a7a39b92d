// libFuzzer target for TCP stream reassembly. An input is a run of segments of a few
// connections, each record: [flags][connection|direction][seq: 4 bytes][length][payload...].
// Small window and memory caps make every overflow path run; the checks abort on a broken
// promise: delivery contiguous per direction, memory within the cap, nothing left after flush.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <tuple>

#include "agent/flow/tcp_reassembly.h"

namespace {

using vigil::agent::flow::StreamDir;
using vigil::agent::flow::StreamKey;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vigil::agent::flow::StreamOptions o;
  o.window = 64;
  o.memory_cap = 4096;
  o.idle_timeout_ns = 5'000'000'000;
  std::map<std::tuple<uint16_t, uint16_t, int>, uint64_t> next;  // where each direction must go on
  auto at = [&](const StreamKey& k, StreamDir d) -> uint64_t& {
    return next[{k.client_port, k.server_port, static_cast<int>(d)}];
  };
  vigil::agent::flow::TcpReassembler r(
      o, {[&](const StreamKey& k, StreamDir d, uint64_t off, std::span<const uint8_t> b) {
            check(!b.empty());
            check(off == at(k, d));
            at(k, d) += b.size();
          },
          [&](const StreamKey& k, StreamDir d, uint64_t off, uint64_t n) {
            check(n > 0);
            check(off == at(k, d));
            at(k, d) += n;
          },
          [&](const StreamKey& k, vigil::agent::flow::StreamEnd) {
            next.erase({k.client_port, k.server_port, 0});
            next.erase({k.client_port, k.server_port, 1});
          }});
  auto a = vigil::IpAddress::parse("10.0.0.1").value();
  auto b = vigil::IpAddress::parse("10.0.0.2").value();
  int64_t clock = 1'000'000'000;
  size_t i = 0;
  while (i + 7 <= size) {
    vigil::agent::decode::DecodedPacket p;
    p.transport = vigil::agent::decode::Transport::tcp;
    p.ip_proto = 6;
    p.tcp_flags = data[i];
    uint8_t who = data[i + 1];
    uint16_t client_port = static_cast<uint16_t>(40000 + (who & 7));
    bool to_server = (who & 8) == 0;
    p.src = to_server ? a : b;
    p.dst = to_server ? b : a;
    p.src_port = to_server ? client_port : 80;
    p.dst_port = to_server ? 80 : client_port;
    p.payload_cut = (who & 0x10) != 0;
    p.tcp_seq = static_cast<uint32_t>(data[i + 2]) << 24 | static_cast<uint32_t>(data[i + 3]) << 16 |
                static_cast<uint32_t>(data[i + 4]) << 8 | data[i + 5];
    size_t len = data[i + 6];
    i += 7;
    len = std::min(len, size - i);
    p.payload = std::span<const uint8_t>(data + i, len);
    i += len;
    if (who & 0x20) clock += 3'000'000'000;  // some inputs let streams go idle
    r.add(p, vigil::Timestamp{clock});
    check(r.counters().memory <= o.memory_cap);
  }
  r.flush();
  check(r.counters().memory == 0 && r.counters().held_bytes == 0 && r.counters().active == 0);
  return 0;
}
