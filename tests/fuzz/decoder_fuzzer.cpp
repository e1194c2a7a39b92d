// libFuzzer target for the packet decoder and the flow table. The first input byte picks the
// link type, the rest is the frame; every input runs through decode and, when it decodes, the
// flow table (with a tiny memory cap so eviction paths run too), then each tunnel's inner packet
// as the packet pipeline does.
#include <cstddef>
#include <cstdint>

#include "agent/decode/decoder.h"
#include "agent/flow/community_id.h"
#include "agent/flow/flow_table.h"

namespace {

constexpr int kLinkTypes[] = {1, 113, 276, 12, 228, 229, 0, 108, 14, 101, 9999, 104};

struct State {
  State()
      : decoder([] {
          vigil::agent::decode::DecoderOptions o;
          o.reassembly.memory_cap = 1 << 18;  // a few slots
          return o;
        }()),
        flows(
            [] {
              vigil::agent::flow::FlowOptions o;
              o.memory_cap = 64 * 1024;
              return o;
            }(),
            [](const vigil::agent::flow::FlowRecord& r) {
              // Exercise the record's consumers as replay does.
              (void)vigil::agent::flow::community_id_v1_mapped(r.src_ip, r.dst_ip, r.ip_proto, r.src_port,
                                                                r.dst_port, r.icmp_one_way);
              (void)vigil::agent::flow::tcp_flags_string(r.tcp_flags);
            }) {}
  vigil::agent::decode::Decoder decoder;
  vigil::agent::flow::FlowTable flows;
  int64_t clock_ns = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State state;
  if (size < 1) return 0;
  vigil::agent::capture::Packet packet;
  packet.link_type = kLinkTypes[data[0] % (sizeof kLinkTypes / sizeof kLinkTypes[0])];
  packet.data = data + 1;
  packet.caplen = static_cast<uint32_t>(size - 1);
  // Every fourth input pretends a larger wire length (cut by the snapshot length).
  packet.wire_len = packet.caplen + ((data[0] & 0x30) == 0x30 ? 100 : 0);
  state.clock_ns += 1'000'000'000;  // one second per input: timeouts fire over a run
  packet.ts = vigil::Timestamp{state.clock_ns};
  vigil::agent::decode::DecodedPacket decoded;
  auto result = state.decoder.decode(packet, decoded);
  if (result.status == vigil::agent::decode::DecodeStatus::ok) {
    state.flows.add(decoded, packet.ts, packet.wire_len);
    vigil::agent::decode::DecodedPacket inner[vigil::agent::decode::kMaxTunnelDepth];
    const vigil::agent::decode::DecodedPacket* outer = &decoded;
    for (auto& in : inner) {
      if (outer->tunnel.type == vigil::agent::decode::TunnelType::none) break;
      if (state.decoder.decode_inner(*outer, packet.ts, in).status != vigil::agent::decode::DecodeStatus::ok) break;
      state.flows.add(in, packet.ts, packet.wire_len);
      outer = &in;
    }
  } else {
    state.flows.advance(packet.ts);
  }
  return 0;
}
