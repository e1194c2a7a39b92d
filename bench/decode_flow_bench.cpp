// Decoder and flow-table throughput: items/s is packets/s.
#include <benchmark/benchmark.h>

#include <vector>

#include "agent/decode/decoder.h"
#include "agent/flow/community_id.h"
#include "agent/flow/flow_table.h"
#include "tests/unit/agent/packet_builder.h"

namespace {

using namespace vigil::test::pkt;
using vigil::agent::decode::DecodedPacket;
using vigil::agent::decode::Decoder;

// `flows` distinct client ports to one server, VLAN-tagged SYNs like a port scan.
std::vector<Bytes> make_frames(int flows) {
  std::vector<Bytes> frames;
  frames.reserve(static_cast<size_t>(flows));
  for (int i = 0; i < flows; ++i) {
    frames.push_back(eth4(ipv4("172.31.15.102", "198.124.152.15", 6,
                               tcp(static_cast<uint16_t>(1024 + i % 60000), 80, 0x02)),
                          {943}));
  }
  return frames;
}

void BM_Decode(benchmark::State& state) {
  auto frames = make_frames(1);
  Decoder decoder;
  DecodedPacket out;
  auto packet = vigil::test::pkt::packet(frames[0]);
  for (auto _ : state) {
    benchmark::DoNotOptimize(decoder.decode(packet, out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decode);

void BM_DecodeAndFlow(benchmark::State& state) {
  auto frames = make_frames(static_cast<int>(state.range(0)));
  Decoder decoder;
  uint64_t ended = 0;
  vigil::agent::flow::FlowTable table({}, [&ended](const vigil::agent::flow::FlowRecord&) { ++ended; });
  DecodedPacket out;
  int64_t ts = 1'000'000'000;
  size_t i = 0;
  for (auto _ : state) {
    auto packet = vigil::test::pkt::packet(frames[i], DLT_EN10MB, ts);
    if (decoder.decode(packet, out).status == vigil::agent::decode::DecodeStatus::ok) {
      table.add(out, packet.ts, packet.wire_len);
    }
    if (++i == frames.size()) i = 0;
    ts += 1000;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["flows"] = static_cast<double>(table.size());
}
BENCHMARK(BM_DecodeAndFlow)->Arg(1000)->Arg(100000);

void BM_CommunityId(benchmark::State& state) {
  auto a = vigil::IpAddress::parse("172.26.0.39").value();
  auto b = vigil::IpAddress::parse("172.217.14.206").value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(vigil::agent::flow::community_id_v1(a, b, 6, 35958, 443));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CommunityId);

}  // namespace
