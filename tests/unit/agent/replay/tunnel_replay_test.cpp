// The tunnel captures of tests/fixtures/pcap/tunnels (written by make_tunnels.py; tshark decodes
// each through to the inner HTTP) replayed through the whole pipeline: the outer flow as it is on
// the wire, the inner flow with its own endpoints, counts and vigil.tunnel.* naming the tunnel,
// and the inner HTTP transaction seen by the parsers.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "agent/replay/replay.h"
#include "tests/support/test_support.h"
#include "tests/unit/agent/packet_builder.h"

namespace vigil::agent::replay {
namespace {

struct Case {
  const char* file;
  const char* outer_transport;  // empty: a link encapsulation, no outer flow
  const char* tunnel_type;      // empty: no vigil.tunnel.*
  int64_t tunnel_id;            // -1: none
  bool inner_v6;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.file; }

std::string str(const Event& e, const char* name) {
  const std::string* s = e.get_string(field(name));
  return s ? *s : std::string();
}
int64_t num(const Event& e, const char* name) {
  const int64_t* v = e.get_int(field(name));
  return v ? *v : -1;
}
std::string ip(const Event& e, const char* name) {
  const IpAddress* v = e.get_ip(field(name));
  return v ? v->to_string() : std::string();
}

class TunnelReplay : public ::testing::TestWithParam<Case> {};

TEST_P(TunnelReplay, OuterAndInnerFlowsAndTheInnerHttp) {
  const Case& c = GetParam();
  ReplayOptions options;
  options.pcaps = {(vigil::test::source_dir() / "tests/fixtures/pcap/tunnels" / c.file).string()};
  options.host_name = "h";
  std::vector<Event> events;
  auto stats = run_replay(options, [&](const Event& e) { events.push_back(e); });
  ASSERT_TRUE(stats.ok()) << stats.error();

  std::vector<const Event*> flows, http, dns, anomalies;
  for (const auto& e : events) {
    const std::string ds = str(e, "event.dataset");
    if (ds == "network.flow") flows.push_back(&e);
    if (ds == "network.http") http.push_back(&e);
    if (ds == "network.dns") dns.push_back(&e);
    if (ds == "network.anomaly") anomalies.push_back(&e);
  }
  EXPECT_TRUE(anomalies.empty());
  const std::string client = c.inner_v6 ? "fd00::5" : "192.168.10.5";
  const std::string server = c.inner_v6 ? "fd00::9" : "192.168.20.9";
  const Event* inner = nullptr;
  std::vector<const Event*> outer;  // VXLAN and Geneve: one UDP flow each way (the source port is a hash)
  for (const Event* f : flows) {
    if (ip(*f, "source.ip") == client && num(*f, "destination.port") == 80) inner = f;
    const std::string s = ip(*f, "source.ip");
    if (s == "10.0.0.1" || s == "10.0.0.2" || s == "2001:db8::1") outer.push_back(f);
  }
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(ip(*inner, "destination.ip"), server);
  EXPECT_EQ(num(*inner, "source.port"), 51000);
  EXPECT_EQ(str(*inner, "network.transport"), "tcp");
  EXPECT_EQ(num(*inner, "source.packets"), 5);  // SYN, ACK, GET, FIN, last ACK
  EXPECT_EQ(num(*inner, "destination.packets"), 3);
  if (*c.tunnel_type) {
    // An inner flow's bytes are what the tunnel carried: the inner packets (an inner Ethernet
    // header included), never the outer headers. The client sent 5 packets, one with the request.
    const std::string file = c.file;
    const bool inner_ethernet = file == "erspan2.pcap" || file == "erspan3.pcap" || file == "vxlan.pcap" ||
                                file == "geneve.pcap";
    const int64_t header = (c.inner_v6 ? 60 : 40) + (inner_ethernet ? 14 : 0);
    EXPECT_EQ(num(*inner, "source.bytes"), 5 * header + 74);
    EXPECT_EQ(num(*inner, "destination.bytes"), 3 * header + 43);
    EXPECT_EQ(str(*inner, "vigil.tunnel.type"), c.tunnel_type);
    EXPECT_EQ(num(*inner, "vigil.tunnel.depth"), 1);
    EXPECT_EQ(num(*inner, "vigil.tunnel.id"), c.tunnel_id);
    EXPECT_EQ(ip(*inner, "vigil.tunnel.outer.source.ip"), "10.0.0.1");
    EXPECT_EQ(ip(*inner, "vigil.tunnel.outer.destination.ip"), "10.0.0.2");
  } else {
    EXPECT_EQ(str(*inner, "vigil.tunnel.type"), "");
  }
  if (*c.outer_transport) {
    ASSERT_FALSE(outer.empty());
    int64_t packets = 0;
    for (const Event* f : outer) {
      EXPECT_EQ(str(*f, "network.transport"), c.outer_transport);
      EXPECT_EQ(str(*f, "vigil.tunnel.type"), "");  // the outer flow is on the wire
      packets += num(*f, "source.packets") + std::max<int64_t>(num(*f, "destination.packets"), 0);
    }
    EXPECT_EQ(packets, std::string(c.file) == "vxlan.pcap" ? 10 : 8);  // every frame, once
  } else {
    EXPECT_TRUE(outer.empty());
    EXPECT_EQ(flows.size(), 1u);
  }
  ASSERT_EQ(http.size(), 1u);
  EXPECT_EQ(str(*http[0], "url.original"), "/index.html");
  EXPECT_EQ(num(*http[0], "http.response.status_code"), 200);
  EXPECT_EQ(ip(*http[0], "source.ip"), client);
  if (std::string(c.file) == "vxlan.pcap") {
    ASSERT_EQ(dns.size(), 2u);
    EXPECT_EQ(str(*dns[1], "dns.question.name"), "portal.example.gov.vn");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Captures, TunnelReplay,
    ::testing::Values(Case{"gre.pcap", "gre", "gre", 77, false}, Case{"erspan2.pcap", "gre", "erspan_ii", 0x155, false},
                      Case{"erspan3.pcap", "gre", "erspan_iii", 42, false},
                      Case{"vxlan.pcap", "udp", "vxlan", 12345, false}, Case{"geneve.pcap", "udp", "geneve", 7, false},
                      Case{"teredo.pcap", "udp", "teredo", -1, true}, Case{"ipip.pcap", "ipv4", "ipip", -1, false},
                      Case{"sixin4.pcap", "ipv6", "ipv6_in_ipv4", -1, true}, Case{"mpls.pcap", "", "", -1, false},
                      Case{"pppoe.pcap", "", "", -1, false}, Case{"hdlc.pcap", "", "", -1, false},
                      Case{"nsh.pcap", "", "", -1, false}),
    [](const ::testing::TestParamInfo<Case>& p) {
      std::string n = p.param.file;
      return n.substr(0, n.find('.'));
    });

// The same inner conversation through two tunnels (two pairs of outer ends): two inner flows and
// two inner streams, each named by its own tunnel, never one flow mixing both.
TEST(TunnelReplayKeys, TheSameInnerTupleInTwoTunnelsIsTwoFlows) {
  using namespace vigil::test::pkt;
  using decode::tcp_flag::ack;
  using decode::tcp_flag::psh;
  using decode::tcp_flag::syn;
  vigil::test::TempDir dir;
  auto wrap = [](const char* outer_src, const char* outer_dst, const Bytes& inner) {
    Bytes gre{0x00, 0x00, 0x08, 0x00};
    append(gre, inner);
    return eth4(ipv4(outer_src, outer_dst, 47, gre));
  };
  auto c = [](uint8_t flags, uint32_t seq, uint32_t ack_no, std::string_view data = {}) {
    return ipv4("192.168.10.5", "192.168.20.9", 6, tcp_seg(51000, 80, flags, seq, ack_no, data));
  };
  auto s = [](uint8_t flags, uint32_t seq, uint32_t ack_no, std::string_view data = {}) {
    return ipv4("192.168.20.9", "192.168.10.5", 6, tcp_seg(80, 51000, flags, seq, ack_no, data));
  };
  const std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<Frame> frames;
  int64_t t = 1'780'000'000'000'000'000;
  for (const auto& [a, b] : {std::pair{"10.0.0.1", "10.0.0.2"}, std::pair{"10.0.1.1", "10.0.1.2"}}) {
    frames.push_back({t += 1000, wrap(a, b, c(syn, 100, 0))});
    frames.push_back({t += 1000, wrap(b, a, s(syn | ack, 900, 101))});
    frames.push_back({t += 1000, wrap(a, b, c(ack, 101, 901))});
    frames.push_back({t += 1000, wrap(a, b, c(psh | ack, 101, 901, req))});
  }
  const auto path = dir.path() / "two.pcap";
  write_pcap(path, frames);
  ReplayOptions options;
  options.pcaps = {path.string()};
  options.host_name = "h";
  std::vector<Event> events;
  ASSERT_TRUE(run_replay(options, [&](const Event& e) { events.push_back(e); }).ok());
  std::vector<std::string> inner;
  size_t http = 0;
  for (const auto& e : events) {
    if (str(e, "event.dataset") == "network.http") ++http;
    if (str(e, "event.dataset") != "network.flow" || str(e, "vigil.tunnel.type").empty()) continue;
    inner.push_back(ip(e, "vigil.tunnel.outer.source.ip") + " " + std::to_string(num(e, "source.packets")) + "/" +
                    std::to_string(num(e, "destination.packets")));
  }
  std::sort(inner.begin(), inner.end());
  EXPECT_EQ(inner, (std::vector<std::string>{"10.0.0.1 3/1", "10.0.1.1 3/1"}));
  EXPECT_EQ(http, 2u);  // each tunnel's stream reassembled on its own
}

// ESP: one flow per security association (each way has its own SPI), the SPI in vigil.esp.spi;
// SCTP: flows by ports.
TEST(TunnelReplayKeys, EspFlowsBySpiAndSctpFlowsByPorts) {
  using namespace vigil::test::pkt;
  vigil::test::TempDir dir;
  auto esp = [](const char* src, const char* dst, uint32_t spi) {
    Bytes b;
    put32(b, spi);
    put32(b, 1);
    append(b, Bytes(24, 0xee));
    return eth4(ipv4(src, dst, 50, b));
  };
  Bytes sctp;
  put16(sctp, 2905);
  put16(sctp, 38412);
  put32(sctp, 1);
  put32(sctp, 0);
  const auto path = dir.path() / "esp.pcap";
  write_pcap(path, {{1'000'000'000, esp("10.0.0.1", "10.0.0.2", 0x1001)},
                    {1'000'001'000, esp("10.0.0.2", "10.0.0.1", 0x2002)},
                    {1'000'002'000, esp("10.0.0.1", "10.0.0.2", 0x1001)},
                    {1'000'003'000, eth4(ipv4("10.0.0.1", "10.0.0.2", 132, sctp))}});
  ReplayOptions options;
  options.pcaps = {path.string()};
  options.host_name = "h";
  std::vector<std::string> flows;
  ASSERT_TRUE(run_replay(options, [&](const Event& e) {
                if (str(e, "event.dataset") != "network.flow") return;
                flows.push_back(str(e, "network.transport") + " " + ip(e, "source.ip") + " spi=" +
                                std::to_string(num(e, "vigil.esp.spi")) + " ports=" + std::to_string(num(e, "source.port")) +
                                "/" + std::to_string(num(e, "destination.port")) + " packets=" +
                                std::to_string(num(e, "source.packets")));
              }).ok());
  std::sort(flows.begin(), flows.end());
  EXPECT_EQ(flows, (std::vector<std::string>{"esp 10.0.0.1 spi=4097 ports=-1/-1 packets=2",
                                             "esp 10.0.0.2 spi=8194 ports=-1/-1 packets=1",
                                             "sctp 10.0.0.1 spi=-1 ports=2905/38412 packets=1"}));
}

// Tunnels inside tunnels past the depth cap: the fifth inner packet is the tunnel_too_deep
// anomaly, the four before it are accounted.
TEST(TunnelReplayKeys, TunnelsPastTheDepthCapAreAnAnomaly) {
  using namespace vigil::test::pkt;
  vigil::test::TempDir dir;
  Bytes ip = ipv4("192.168.10.5", "192.168.20.9", 17, udp(5000, 6000, 4));
  for (int i = 0; i <= decode::kMaxTunnelDepth; ++i) ip = ipv4("10.9.0.1", "10.9.0.2", 4, ip);
  const auto path = dir.path() / "deep.pcap";
  write_pcap(path, {{1'000'000'000, eth4(ip)}});
  ReplayOptions options;
  options.pcaps = {path.string()};
  options.host_name = "h";
  std::vector<std::string> anomalies;
  size_t flows = 0;
  ASSERT_TRUE(run_replay(options, [&](const Event& e) {
                if (str(e, "event.dataset") == "network.anomaly") anomalies.push_back(str(e, "vigil.anomaly.type"));
                if (str(e, "event.dataset") == "network.flow") ++flows;
              }).ok());
  EXPECT_EQ(anomalies, std::vector<std::string>{"tunnel_too_deep"});
  EXPECT_EQ(flows, 1u + decode::kMaxTunnelDepth);  // the wire's and one per level decoded
}

}  // namespace
}  // namespace vigil::agent::replay
