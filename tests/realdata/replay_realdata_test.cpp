// Replay over the shared real captures (../shared/data/pcap), checked against tshark's own
// conversation statistics and against the expected outputs shipped with the captures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/capture/pcap_file_source.h"
#include "agent/decode/decoder.h"
#include "agent/flow/tcp_reassembly.h"
#include "agent/replay/replay.h"
#include "tests/support/test_support.h"

namespace vigil::agent::replay {
namespace {

std::filesystem::path pcap_path(const std::string& rel) { return vigil::test::shared_data_dir() / "pcap" / rel; }

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''"; else out += c;
  }
  return out + "'";
}

// Runs a shell command and returns its standard output.
std::string run_command(const std::string& command) {
  std::string out;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

bool have_tshark() { return std::system("command -v tshark >/dev/null 2>&1") == 0; }

#define VIGIL_REQUIRE_TSHARK()                                     \
  do {                                                             \
    if (!have_tshark()) GTEST_SKIP() << "tshark is not installed"; \
  } while (0)

struct Endpoint {
  std::string ip;
  uint16_t port = 0;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};
// A conversation as tshark keys it: transport and the two endpoints in a fixed order.
struct ConvKey {
  std::string transport;
  Endpoint a;
  Endpoint b;
  friend auto operator<=>(const ConvKey&, const ConvKey&) = default;
};
ConvKey make_key(std::string transport, Endpoint x, Endpoint y) {
  if (y < x) std::swap(x, y);
  return {std::move(transport), x, y};
}

// What one endpoint sent: frames exact; bytes with the unit tshark printed (it rounds large
// counts to kB/MB), `bytes_unit` 1 when exact.
struct Sent {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t bytes_unit = 1;
};
using Conversations = std::map<ConvKey, std::map<Endpoint, Sent>>;

Endpoint parse_endpoint(const std::string& token) {
  auto colon = token.rfind(':');
  return {token.substr(0, colon), static_cast<uint16_t>(std::stoul(token.substr(colon + 1)))};
}

uint64_t unit_of(const std::string& unit) {
  if (unit == "bytes") return 1;
  if (unit == "kB") return 1000;
  if (unit == "MB") return 1000 * 1000;
  if (unit == "GB") return 1000ULL * 1000 * 1000;
  ADD_FAILURE() << "unknown tshark unit " << unit;
  return 1;
}

// Parses `tshark -q -z conv,tcp -z conv,udp`: "A:pa <-> B:pb  F B unit  F B unit  ..." where the
// first pair is B -> A ("<-") and the second A -> B ("->").
Conversations tshark_conversations(const std::filesystem::path& file) {
  std::string text = run_command("tshark -r " + shell_quote(file.string()) + " -q -z conv,tcp -z conv,udp 2>/dev/null");
  Conversations convs;
  std::istringstream lines(text);
  std::string line, transport;
  while (std::getline(lines, line)) {
    if (line.find("TCP Conversations") != std::string::npos) transport = "tcp";
    if (line.find("UDP Conversations") != std::string::npos) transport = "udp";
    std::istringstream in(line);
    std::vector<std::string> t;
    for (std::string tok; in >> tok;) t.push_back(tok);
    if (t.size() < 9 || t[1] != "<->") continue;
    Endpoint a = parse_endpoint(t[0]);
    Endpoint b = parse_endpoint(t[2]);
    auto& c = convs[make_key(transport, a, b)];
    c[b] = {std::stoull(t[3]), std::stoull(t[4]), unit_of(t[5])};
    c[a] = {std::stoull(t[6]), std::stoull(t[7]), unit_of(t[8])};
  }
  return convs;
}

struct Run {
  ReplayStats stats;
  std::vector<Event> events;
};

Run replay_file(const std::filesystem::path& file, uint16_t community_id_seed = 0) {
  Run run;
  ReplayOptions options;
  options.community_id_seed = community_id_seed;
  options.pcaps = {file.string()};
  options.host_name = "realdata";
  auto stats = run_replay(options, [&](const Event& e) { run.events.push_back(e); });
  EXPECT_TRUE(stats.ok()) << (stats.ok() ? "" : stats.error());
  if (stats.ok()) run.stats = stats.value();
  return run;
}

std::vector<const Event*> flows_of(const Run& run, const std::string& transport = "") {
  std::vector<const Event*> out;
  for (const auto& e : run.events) {
    if (*e.get_string(fields::event_dataset) != "network.flow") continue;
    if (!transport.empty() && *e.get_string(fields::network_transport) != transport) continue;
    out.push_back(&e);
  }
  return out;
}

// Our TCP and UDP flows folded into tshark's conversations (tshark does not split a tuple by time).
Conversations our_conversations(const Run& run) {
  Conversations convs;
  for (const auto* e : flows_of(run)) {
    const auto& transport = *e->get_string(fields::network_transport);
    if (transport != "tcp" && transport != "udp") continue;
    Endpoint s{e->get_ip(fields::source_ip)->to_string(), static_cast<uint16_t>(*e->get_int(fields::source_port))};
    Endpoint d{e->get_ip(fields::destination_ip)->to_string(),
               static_cast<uint16_t>(*e->get_int(fields::destination_port))};
    auto& c = convs[make_key(transport, s, d)];
    c[s].frames += static_cast<uint64_t>(*e->get_int(fields::source_packets));
    c[s].bytes += static_cast<uint64_t>(*e->get_int(fields::source_bytes));
    c[d].frames += static_cast<uint64_t>(*e->get_int(fields::destination_packets));
    c[d].bytes += static_cast<uint64_t>(*e->get_int(fields::destination_bytes));
  }
  return convs;
}

std::string describe(const ConvKey& k) {
  return k.transport + " " + k.a.ip + ":" + std::to_string(k.a.port) + " <-> " + k.b.ip + ":" + std::to_string(k.b.port);
}

// A frame tshark leaves out of its conversations but we count, with the reason.
struct KnownDifference {
  std::string ip;
  uint16_t port;
  uint64_t frames;
  uint64_t bytes;
};

struct ConvCase {
  const char* file;
  std::vector<KnownDifference> differences;
};

void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.file; }

class TsharkConversations : public ::testing::TestWithParam<ConvCase> {};

TEST_P(TsharkConversations, FlowsPacketsAndBytesAgree) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  auto file = pcap_path(GetParam().file);
  auto expected = tshark_conversations(file);
  auto run = replay_file(file);
  auto ours = our_conversations(run);
  for (const auto& d : GetParam().differences) {
    for (auto& [key, sides] : expected) {
      for (auto& [ep, sent] : sides) {
        if (ep.ip == d.ip && ep.port == d.port) {
          sent.frames += d.frames;
          sent.bytes += d.bytes;  // only used where tshark printed exact bytes
        }
      }
    }
  }
  EXPECT_EQ(ours.size(), expected.size()) << "conversations";
  for (const auto& [key, sides] : expected) {
    auto it = ours.find(key);
    if (it == ours.end()) {
      ADD_FAILURE() << "missing conversation " << describe(key);
      continue;
    }
    for (const auto& [ep, sent] : sides) {
      const Sent& got = it->second[ep];
      EXPECT_EQ(got.frames, sent.frames) << describe(key) << " frames from " << ep.ip << ":" << ep.port;
      if (sent.bytes_unit == 1) {
        EXPECT_EQ(got.bytes, sent.bytes) << describe(key) << " bytes from " << ep.ip << ":" << ep.port;
      } else {
        // tshark printed e.g. "11 kB": our exact count must round to the same figure.
        EXPECT_LT(got.bytes, (sent.bytes + 1) * sent.bytes_unit) << describe(key);
        EXPECT_GE(got.bytes + sent.bytes_unit, sent.bytes * sent.bytes_unit) << describe(key);
      }
    }
  }
  for (const auto& [key, sides] : ours) {
    if (!expected.count(key)) ADD_FAILURE() << "conversation tshark does not have: " << describe(key);
  }
  EXPECT_EQ(run.stats.read_errors.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    SharedCaptures, TsharkConversations,
    ::testing::Values(
        ConvCase{"esnet-curated-pcaps/masscan/tcp_0_1000_20190821.pcap", {}},
        ConvCase{"suricata-verify/tests/community-id-ipv4/input.pcap", {}},
        ConvCase{"suricata-verify/tests/ssh-hassh/input.pcap", {}},
        ConvCase{"tcpdump/dns_udp.pcap", {}},
        ConvCase{"zeek/communityid/ipv6.pcap", {}},
        ConvCase{"zeek/dns/dns-invalid-names.pcap", {}},
        ConvCase{"zeek/http/cooper-grill-dvwa.pcapng", {}},
        ConvCase{"zeek/http/get.pcap", {}},
        ConvCase{"zeek/icmp/5-pings.pcap", {}},
        ConvCase{"zeek/icmp_dot1q.pcap", {}},
        // tshark reassembles the datagram and counts it once, with the frame that completed it.
        ConvCase{"zeek/ipv4/fragmented-1.pcap", {}},
        ConvCase{"zeek/nmap-vsn.pcap", {}},
        ConvCase{"zeek/pcapng-multi-interface.pcapng", {}},
        ConvCase{"zeek/ssh/single-conn.pcap", {}},
        // Frame 1, the client's SYN (74 bytes on the wire), was captured with 68 bytes: its TCP
        // options are cut. tshark's TCP dissector stops on the cut option before its conversation
        // tap; we keep the packet because ports and flags are intact.
        ConvCase{"zeek/tcp/truncated-header.pcap", {{"201.186.157.67", 60827, 1, 74}}},
        ConvCase{"zeek/tls/chrome-1250-tls-x25519-kyber.pcap", {}},
        ConvCase{"zeek/tls/chrome-34-google.pcap", {}},
        ConvCase{"zeek/trunc/ip4-trunc.pcap", {}}),
    [](const auto& param_info) {
      std::string name = param_info.param.file;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// Frames and bytes of the packets a tshark display filter selects.
std::pair<uint64_t, uint64_t> tshark_frames_bytes(const std::filesystem::path& file, const std::string& filter) {
  std::string text = run_command("tshark -r " + shell_quote(file.string()) + " -Y " + shell_quote(filter) +
                                 " -T fields -e frame.len 2>/dev/null");
  std::istringstream in(text);
  uint64_t frames = 0, bytes = 0;
  for (uint64_t len; in >> len;) {
    ++frames;
    bytes += len;
  }
  return {frames, bytes};
}

std::set<std::string> tshark_values(const std::filesystem::path& file, const std::string& field) {
  std::string text =
      run_command("tshark -r " + shell_quote(file.string()) + " -T fields -e " + field + " 2>/dev/null");
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string v; in >> v;) out.insert(v);
  return out;
}

class IcmpCaptures : public ::testing::TestWithParam<const char*> {};

TEST_P(IcmpCaptures, IcmpFlowsCarryEveryIcmpPacketAndTheVlan) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  auto file = pcap_path(GetParam());
  auto [frames, bytes] = tshark_frames_bytes(file, "icmp");
  ASSERT_GT(frames, 0u);
  auto run = replay_file(file);
  uint64_t our_frames = 0, our_bytes = 0;
  auto vlans = tshark_values(file, "vlan.id");
  for (const auto* e : flows_of(run, "icmp")) {
    our_frames += static_cast<uint64_t>(*e->get_int(fields::network_packets));
    our_bytes += static_cast<uint64_t>(*e->get_int(fields::network_bytes));
    const int64_t* vlan = e->get_int(fields::network_vlan_id);
    if (vlans.empty()) {
      EXPECT_EQ(vlan, nullptr);
    } else {
      ASSERT_NE(vlan, nullptr);
      EXPECT_TRUE(vlans.count(std::to_string(*vlan)));
    }
    EXPECT_FALSE(e->has(fields::source_port));
  }
  EXPECT_EQ(our_frames, frames);
  EXPECT_EQ(our_bytes, bytes);
  // Echo requests and replies pair up into one flow per host pair.
  EXPECT_EQ(flows_of(run, "icmp").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(SharedCaptures, IcmpCaptures,
                         ::testing::Values("zeek/icmp/5-pings.pcap", "zeek/icmp_dot1q.pcap"));

TEST(RealData, MasscanFlowsCarryTheCaptureVlan) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  auto file = pcap_path("esnet-curated-pcaps/masscan/tcp_0_1000_20190821.pcap");
  auto vlans = tshark_values(file, "vlan.id");
  ASSERT_EQ(vlans.size(), 1u);
  auto run = replay_file(file);
  auto flows = flows_of(run, "tcp");
  ASSERT_FALSE(flows.empty());
  for (const auto* e : flows) {
    ASSERT_TRUE(e->get_int(fields::network_vlan_id));
    EXPECT_EQ(std::to_string(*e->get_int(fields::network_vlan_id)), *vlans.begin());
    EXPECT_EQ(e->get_ip(fields::source_ip)->to_string(), "172.31.15.102");  // the scanner started them
  }
  EXPECT_EQ(run.stats.decode.malformed, 0u);
}

TEST(RealData, CommunityIdMatchesSuricataVerify) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto dir = vigil::test::shared_data_dir() / "pcap" / "suricata-verify" / "tests" / "community-id-ipv4";
  std::ifstream yaml(dir / "test.yaml");
  ASSERT_TRUE(yaml) << "test.yaml missing";
  std::string expected;
  for (std::string line; std::getline(yaml, line);) {
    auto pos = line.find("community_id:");
    if (pos == std::string::npos) continue;
    expected = line.substr(pos + 13);
    expected.erase(0, expected.find_first_not_of(" \"'"));
    expected.erase(expected.find_last_not_of(" \"'\r") + 1);
    break;
  }
  ASSERT_FALSE(expected.empty()) << "no community_id in test.yaml";
  // The test's suricata.yaml sets the seed.
  std::ifstream config(dir / "suricata.yaml");
  int seed = -1;
  for (std::string line; std::getline(config, line);) {
    auto pos = line.find("community-id-seed:");
    if (pos != std::string::npos) seed = std::stoi(line.substr(pos + 18));
  }
  ASSERT_GE(seed, 0) << "no community-id-seed in suricata.yaml";
  auto run = replay_file(dir / "input.pcap", static_cast<uint16_t>(seed));
  auto flows = flows_of(run, "tcp");
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(*flows[0]->get_string(fields::network_community_id), expected);
  // Suricata's flow record names the same initiator.
  std::ifstream again(dir / "test.yaml");
  std::string src_ip, src_port;
  for (std::string line; std::getline(again, line);) {
    auto value = [&line](const char* key) {
      auto pos = line.find(key);
      if (pos == std::string::npos) return std::string();
      std::string v = line.substr(pos + std::strlen(key));
      v.erase(0, v.find_first_not_of(" \"'"));
      v.erase(v.find_last_not_of(" \"'\r") + 1);
      return v;
    };
    if (src_ip.empty()) src_ip = value("src_ip:");
    if (src_port.empty()) src_port = value("src_port:");
  }
  ASSERT_FALSE(src_ip.empty());
  EXPECT_EQ(flows[0]->get_ip(fields::source_ip)->to_string(), src_ip);
  EXPECT_EQ(std::to_string(*flows[0]->get_int(fields::source_port)), src_port);
}

TEST(RealData, TruncatedIpv4PacketIsCountedAndReported) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto run = replay_file(pcap_path("zeek/trunc/ip4-trunc.pcap"));
  EXPECT_EQ(run.stats.packets_read, 1u);
  EXPECT_EQ(run.stats.decode.anomaly(decode::Anomaly::truncated_ipv4), 1u);
  EXPECT_EQ(run.stats.decode.malformed, 1u);
  EXPECT_TRUE(flows_of(run).empty());
  int anomalies = 0;
  for (const auto& e : run.events) {
    if (*e.get_string(fields::event_dataset) == "network.anomaly") {
      ++anomalies;
      EXPECT_EQ(*e.get_string(fields::anomaly_type), "truncated_ipv4");
    }
  }
  EXPECT_EQ(anomalies, 1);
  EXPECT_EQ(*run.events.back().get_string(fields::event_dataset), "agent.health");
}

TEST(RealData, SmallSnaplenCaptureDecodesHeadersAndCountsCutPayloads) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto run = replay_file(pcap_path("zeek/tcp/truncated-header.pcap"));
  EXPECT_EQ(run.stats.packets_read, 24u);
  EXPECT_EQ(run.stats.decode.decoded, 24u);
  EXPECT_EQ(run.stats.decode.malformed, 0u);
  EXPECT_GT(run.stats.decode.truncated_payload, 0u);
  auto flows = flows_of(run, "tcp");
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(*flows[0]->get_int(fields::destination_port), 25);
  EXPECT_EQ(*flows[0]->get_string(fields::flow_end_reason), "fin");
}

TEST(RealData, FragmentsAreReassembled) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto run = replay_file(pcap_path("zeek/ipv4/fragmented-1.pcap"));
  EXPECT_EQ(run.stats.decode.ipv4_fragments, 3u);
  EXPECT_EQ(run.stats.decode.datagrams_reassembled, 1u);
  EXPECT_GE(run.stats.reassembly.overlaps, 1u);  // the second offset-0 fragment overlaps
}

TEST(RealData, PcapngWithTwoInterfacesMatchesZeekConnLog) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto run = replay_file(pcap_path("zeek/pcapng-multi-interface.pcapng"));
  EXPECT_EQ(run.stats.packets_read, 6u);
  EXPECT_EQ(run.stats.decode.decoded, 6u);
  // Zeek's baseline conn.log for this trace: originator and responder of each connection, with
  // packets and IP-level bytes per side.
  std::ifstream baseline(pcap_path("zeek/pcapng-multi-interface.pcapng.zeek-baseline.conn.log"));
  ASSERT_TRUE(baseline);
  std::vector<std::string> names;
  size_t conns = 0;
  auto flows = flows_of(run, "udp");
  for (std::string line; std::getline(baseline, line);) {
    std::vector<std::string> cols;
    std::istringstream in(line);
    for (std::string col; std::getline(in, col, '\t');) cols.push_back(col);
    if (!cols.empty() && cols[0] == "#fields") {
      names.assign(cols.begin() + 1, cols.end());
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    ASSERT_EQ(cols.size(), names.size());
    auto col = [&](const std::string& name) {
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return cols[i];
      }
      ADD_FAILURE() << "no column " << name;
      return std::string();
    };
    ++conns;
    const Event* match = nullptr;
    for (const auto* e : flows) {
      if (e->get_ip(fields::source_ip)->to_string() == col("id.orig_h") &&
          std::to_string(*e->get_int(fields::source_port)) == col("id.orig_p") &&
          e->get_ip(fields::destination_ip)->to_string() == col("id.resp_h") &&
          std::to_string(*e->get_int(fields::destination_port)) == col("id.resp_p")) {
        match = e;
      }
    }
    ASSERT_NE(match, nullptr) << "no flow oriented as Zeek's " << col("id.orig_h") << ":" << col("id.orig_p");
    EXPECT_EQ(std::to_string(*match->get_int(fields::source_packets)), col("orig_pkts"));
    EXPECT_EQ(std::to_string(*match->get_int(fields::destination_packets)), col("resp_pkts"));
    // Our bytes are frame bytes: Zeek's IP bytes plus a 14-byte Ethernet header per packet
    // (these frames are untagged and longer than the 60-byte minimum, so carry no padding).
    EXPECT_EQ(*match->get_int(fields::source_bytes),
              std::stoll(col("orig_ip_bytes")) + 14 * std::stoll(col("orig_pkts")));
    EXPECT_EQ(*match->get_int(fields::destination_bytes),
              std::stoll(col("resp_ip_bytes")) + 14 * std::stoll(col("resp_pkts")));
  }
  EXPECT_EQ(conns, 3u);
  EXPECT_EQ(flows.size(), conns);
}

TEST(RealData, EveryCaptureReplaysWithoutReadErrors) {
  VIGIL_REQUIRE_SHARED_DATA();
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(vigil::test::shared_data_dir() / "pcap")) {
    auto ext = entry.path().extension().string();
    if (ext != ".pcap" && ext != ".pcapng") continue;
    ++files;
    auto run = replay_file(entry.path());
    EXPECT_TRUE(run.stats.read_errors.empty()) << entry.path();
    EXPECT_GT(run.stats.packets_read, 0u) << entry.path();
    EXPECT_EQ(run.stats.decode.packets, run.stats.packets_read) << entry.path();
  }
  EXPECT_GE(files, 18u);
}

}  // namespace
}  // namespace vigil::agent::replay

namespace vigil::agent::replay {
namespace {

// What tshark's "Follow TCP Stream" (-z follow,tcp,raw) shows, per sending endpoint pair
// ("ip:port>ip:port"), as lowercase hex.
std::map<std::string, std::string> tshark_follow(const std::filesystem::path& file) {
  std::string streams = run_command("tshark -r " + shell_quote(file.string()) +
                                    " -T fields -e tcp.stream -Y tcp 2>/dev/null | sort -un");
  std::string args;
  std::istringstream ids(streams);
  for (std::string id; std::getline(ids, id);) {
    if (!id.empty()) args += " -z follow,tcp,raw," + id;
  }
  std::map<std::string, std::string> out;
  if (args.empty()) return out;
  std::istringstream text(run_command("tshark -r " + shell_quote(file.string()) + " -q" + args + " 2>/dev/null"));
  std::string node[2];
  auto strip = [](std::string s) {  // "[2001:db8::1]:80" -> "2001:db8::1:80"
    std::erase(s, '[');
    std::erase(s, ']');
    return s;
  };
  for (std::string line; std::getline(text, line);) {
    if (line.starts_with("Node 0: ")) node[0] = strip(line.substr(8));
    else if (line.starts_with("Node 1: ")) node[1] = strip(line.substr(8));
    else if (line.starts_with("=") || line.starts_with("Follow:") || line.starts_with("Filter:") || line.empty()) continue;
    else if (line[0] == '\t') out[node[1] + ">" + node[0]] += line.substr(1);
    else out[node[0] + ">" + node[1]] += line;
  }
  return out;
}

class FollowTcp : public ::testing::TestWithParam<const char*> {};

// The reassembled streams are byte for byte what tshark's Follow TCP Stream shows.
TEST_P(FollowTcp, ReassembledStreamsMatchTshark) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  auto file = pcap_path(GetParam());
  auto expected = tshark_follow(file);
  ASSERT_FALSE(expected.empty()) << "tshark shows no TCP payload in " << file;

  std::map<std::string, std::string> got;
  static const char* kHex = "0123456789abcdef";
  auto name = [](const IpAddress& ip, uint16_t port) { return ip.to_string() + ":" + std::to_string(port); };
  flow::TcpReassembler streams({}, {[&](const flow::StreamKey& k, flow::StreamDir d, uint64_t, std::span<const uint8_t> b) {
                                      std::string key = d == flow::StreamDir::to_server
                                                            ? name(k.client_ip, k.client_port) + ">" + name(k.server_ip, k.server_port)
                                                            : name(k.server_ip, k.server_port) + ">" + name(k.client_ip, k.client_port);
                                      auto& s = got[key];
                                      for (uint8_t c : b) {
                                        s += kHex[c >> 4];
                                        s += kHex[c & 15];
                                      }
                                    },
                                    {}, {}});
  auto src = capture::PcapFileSource::open(file.string());
  ASSERT_TRUE(src) << src.error();
  decode::Decoder decoder;
  decode::DecodedPacket p;
  capture::Packet pkt;
  while ((*src)->next(pkt) == capture::NextStatus::packet) {
    if (decoder.decode(pkt, p).status == decode::DecodeStatus::ok) streams.add(p, pkt.ts);
  }
  streams.flush();
  EXPECT_EQ(streams.counters().gaps, 0u);
  for (const auto& [key, hex] : expected) {
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << "no reassembled stream " << key;
    EXPECT_EQ(it->second.size(), hex.size()) << key;
    EXPECT_TRUE(it->second == hex) << key << ": content differs";
  }
  for (const auto& [key, hex] : got) {
    if (!hex.empty()) {
      EXPECT_TRUE(expected.count(key)) << "stream tshark does not show: " << key;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SharedCaptures, FollowTcp,
                         ::testing::Values("zeek/http/get.pcap", "zeek/http/cooper-grill-dvwa.pcapng",
                                           "zeek/ssh/single-conn.pcap", "zeek/tls/chrome-34-google.pcap",
                                           "zeek/tls/chrome-1250-tls-x25519-kyber.pcap",
                                           "suricata-verify/tests/ssh-hassh/input.pcap",
                                           "suricata-verify/tests/community-id-ipv4/input.pcap"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (auto& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace vigil::agent::replay

namespace vigil::agent::replay {
namespace {

// The protocol events replay makes of a shared capture, by dataset.
std::map<std::string, std::vector<Event>> protocol_events(const std::string& rel) {
  ReplayOptions options;
  options.pcaps = {pcap_path(rel).string()};
  options.host_name = "test";
  std::map<std::string, std::vector<Event>> out;
  auto stats = run_replay(options, [&](const Event& e) {
    const std::string* ds = e.get_string(fields::event_dataset);
    if (ds && (ds->starts_with("network.dns") || *ds == "network.tls" || *ds == "network.http" ||
               *ds == "network.ssh")) {
      out[*ds].push_back(e);
    }
  });
  EXPECT_TRUE(stats) << (stats ? "" : stats.error());
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

std::string str(const Event& e, const char* name) {
  const std::string* s = e.get_string(field(name));
  return s ? *s : std::string();
}

std::string tshark_fields(const std::string& rel, const std::string& filter, const std::string& fields_args) {
  return run_command("tshark -r " + shell_quote(pcap_path(rel).string()) + " -Y " + shell_quote(filter) +
                     " -T fields " + fields_args + " 2>/dev/null");
}

TEST(ProtocolMetadata, TlsSniAndJa3MatchTshark) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  for (const char* rel : {"zeek/tls/chrome-34-google.pcap", "zeek/tls/chrome-1250-tls-x25519-kyber.pcap"}) {
    auto ev = protocol_events(rel);
    std::vector<std::string> ours;
    for (const auto& e : ev["network.tls"]) ours.push_back(str(e, "tls.client.server_name") + "\t" + str(e, "tls.client.ja3"));
    auto expected = lines_of(tshark_fields(rel, "tls.handshake.type==1",
                                           "-e tls.handshake.extensions_server_name -e tls.handshake.ja3"));
    ASSERT_FALSE(expected.empty()) << rel;
    EXPECT_EQ(ours, expected) << rel;
    // The server's choice: TLS 1.3 through supported_versions in the Kyber capture.
    if (std::string(rel).find("kyber") != std::string::npos) {
      ASSERT_EQ(ev["network.tls"].size(), 1u);
      EXPECT_EQ(str(ev["network.tls"][0], "tls.version"), "1.3");
    }
  }
}

TEST(ProtocolMetadata, SshBannersMatchTsharkAndHasshMatchesSuricata) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  const std::string rel = "suricata-verify/tests/ssh-hassh/input.pcap";
  auto ev = protocol_events(rel);
  ASSERT_EQ(ev["network.ssh"].size(), 1u);
  const Event& e = ev["network.ssh"][0];
  // tshark's banners with the port they were sent to: to the server's port 22, the client's.
  auto banners_of = [](const std::string& r, const Event& ssh) {
    std::string client, server;
    for (const auto& l : lines_of(tshark_fields(r, "ssh.protocol", "-e tcp.dstport -e ssh.protocol"))) {
      auto tab = l.find('\t');
      (l.substr(0, tab) == "22" ? client : server) = l.substr(tab + 1);
    }
    EXPECT_FALSE(client.empty() || server.empty()) << r;
    EXPECT_EQ(str(ssh, "ssh.client.software"), client) << r;
    EXPECT_EQ(str(ssh, "ssh.server.software"), server) << r;
  };
  banners_of(rel, e);
  // suricata-verify's expected eve.json values, read from its test.yaml.
  std::ifstream yaml(pcap_path("suricata-verify/tests/ssh-hassh/test.yaml"));
  std::string text((std::istreambuf_iterator<char>(yaml)), std::istreambuf_iterator<char>());
  auto value_after = [&](const std::string& key) {
    auto at = text.find(key);
    EXPECT_NE(at, std::string::npos) << key;
    auto q1 = text.find('"', at);
    auto q2 = text.find('"', q1 + 1);
    return text.substr(q1 + 1, q2 - q1 - 1);
  };
  EXPECT_EQ(str(e, "ssh.client.hassh"), value_after("ssh.client.hassh.hash:"));
  EXPECT_EQ(str(e, "ssh.server.hassh"), value_after("ssh.server.hassh.hash:"));

  auto zeek = protocol_events("zeek/ssh/single-conn.pcap");
  ASSERT_EQ(zeek["network.ssh"].size(), 1u);
  banners_of("zeek/ssh/single-conn.pcap", zeek["network.ssh"][0]);
}

TEST(ProtocolMetadata, HttpRequestsMatchTsharkAndZeek) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  for (const char* rel : {"zeek/http/get.pcap", "zeek/http/cooper-grill-dvwa.pcapng"}) {
    auto ev = protocol_events(rel);
    std::vector<std::string> ours;
    for (const auto& e : ev["network.http"]) {
      ours.push_back(str(e, "http.request.method") + "\t" + str(e, "url.domain") + "\t" + str(e, "url.original"));
    }
    auto expected = lines_of(tshark_fields(rel, "http.request", "-e http.request.method -e http.host -e http.request.uri"));
    ASSERT_FALSE(expected.empty()) << rel;
    EXPECT_EQ(ours, expected) << rel;
    for (const auto& e : ev["network.http"]) EXPECT_GT(e.get(fields::http_response_status_code) ? 1 : 0, 0) << rel;
  }
  // Zeek's http.log baseline for the DVWA capture (URIs percent-decoded there).
  auto ev = protocol_events("zeek/http/cooper-grill-dvwa.pcapng");
  auto decode = [](const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  std::ifstream base(pcap_path("zeek/http/cooper-grill-dvwa.pcapng.zeek-baseline.http.log.cut"));
  std::vector<std::string> zeek;
  for (std::string l; std::getline(base, l);) {
    if (l.empty() || l[0] == '#' || l.starts_with("uid")) continue;
    std::istringstream cols(l);
    std::string uid, method, host, uri;
    std::getline(cols, uid, '\t');
    std::getline(cols, method, '\t');
    std::getline(cols, host, '\t');
    std::getline(cols, uri, '\t');
    zeek.push_back(method + " " + host + " " + uri);
  }
  std::vector<std::string> ours;
  for (const auto& e : ev["network.http"]) {
    ours.push_back(str(e, "http.request.method") + " " + str(e, "url.domain") + " " + decode(str(e, "url.original")));
  }
  EXPECT_EQ(ours, zeek);
}

// Every DNS message of the shared captures that carry DNS, field by field beside tshark: id,
// query or answer, op code, question, response code, RD/RA, and each record of the answer section
// (owner, type, TTL and data for A, AAAA, CNAME and PTR).
TEST(ProtocolMetadata, DnsMessagesMatchTsharkFieldByField) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  const std::map<std::string, std::string> kTypes = {{"1", "A"}, {"5", "CNAME"}, {"12", "PTR"}, {"28", "AAAA"}};
  const std::map<std::string, std::string> kRcodes = {{"0", "NOERROR"}, {"2", "SERVFAIL"}, {"3", "NXDOMAIN"}};
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string x; std::getline(in, x, ',');) out.push_back(x);
    return out;
  };
  size_t messages = 0;
  size_t answers_checked = 0;
  for (const char* rel : {"tcpdump/dns_udp.pcap", "zeek/nmap-vsn.pcap", "zeek/pcapng-multi-interface.pcapng",
                          "suricata-verify/tests/ssh-hassh/input.pcap"}) {
    auto ev = protocol_events(rel);
    auto rows = lines_of(tshark_fields(
        rel, "dns",
        "-E separator=/t -E occurrence=a -e dns.id -e dns.flags.response -e dns.flags.opcode -e dns.qry.name "
        "-e dns.qry.type -e dns.flags.rcode -e dns.flags.recdesired -e dns.flags.recavail -e dns.count.answers "
        "-e dns.resp.name -e dns.resp.type -e dns.resp.ttl -e dns.a -e dns.aaaa -e dns.cname -e dns.ptr.domain_name"));
    ASSERT_EQ(ev["network.dns"].size(), rows.size()) << rel;
    for (size_t i = 0; i < rows.size(); ++i) {
      std::vector<std::string> t;
      std::istringstream in(rows[i] + "\t");
      for (std::string x; std::getline(in, x, '\t');) t.push_back(x);
      t.resize(16);
      const Event& e = ev["network.dns"][i];
      const bool response = t[1] == "1";
      EXPECT_EQ(*e.get_int(fields::dns_id), std::stoll(t[0], nullptr, 16)) << rel << " " << i;
      EXPECT_EQ(str(e, "dns.type"), response ? "answer" : "query") << rel << " " << i;
      EXPECT_EQ(str(e, "dns.op_code"), t[2] == "0" ? "QUERY" : t[2]) << rel << " " << i;
      EXPECT_EQ(str(e, "dns.question.name"), t[3]) << rel << " " << i;
      EXPECT_EQ(str(e, "dns.question.type"), kTypes.count(t[4]) ? kTypes.at(t[4]) : t[4]) << rel << " " << i;
      EXPECT_EQ(str(e, "dns.response_code"), response ? kRcodes.at(t[5]) : "") << rel << " " << i;
      std::vector<std::string> flags;
      if (const Value* f = e.get(fields::dns_header_flags)) {
        for (const auto& x : *f->as_list()) flags.push_back(x.to_string());
      }
      auto has = [&](const char* flag) { return std::find(flags.begin(), flags.end(), flag) != flags.end(); };
      EXPECT_EQ(has("RD"), t[6] == "1") << rel << " " << i;
      EXPECT_EQ(has("RA"), t[7] == "1") << rel << " " << i;
      // tshark lists the answer section's records first, then authority and additional ones.
      const size_t count = t[8].empty() ? 0 : std::stoul(t[8]);
      auto names = split(t[9]), types = split(t[10]), ttls = split(t[11]);
      std::map<std::string, std::vector<std::string>> data = {
          {"1", split(t[12])}, {"28", split(t[13])}, {"5", split(t[14])}, {"12", split(t[15])}};
      std::map<std::string, size_t> used;
      std::vector<std::string> expected;
      for (size_t a = 0; a < count; ++a) {
        const std::string& type = types.at(a);
        std::string d = data.count(type) ? data[type].at(used[type]++) : "?";
        expected.push_back(names.at(a) + " " + (kTypes.count(type) ? kTypes.at(type) : type) + " " + ttls.at(a) + " " + d);
      }
      std::vector<std::string> ours;
      if (const Value* list = e.get(fields::dns_answers)) {
        for (const auto& item : *list->as_list()) {
          const Event& o = **item.as_event();
          ours.push_back(*o.get_string(field("name")) + " " + *o.get_string(field("type")) + " " +
                         std::to_string(*o.get_int(field("ttl"))) + " " + *o.get_string(field("data")));
        }
      }
      EXPECT_EQ(ours, expected) << rel << " " << i;
      answers_checked += count;
      ++messages;
    }
  }
  EXPECT_EQ(messages, 22u);
  EXPECT_GE(answers_checked, 15u);
}

TEST(ProtocolMetadata, DnsQuestionsAndAnswersMatchTsharkAndTcpdump) {
  VIGIL_REQUIRE_SHARED_DATA();
  VIGIL_REQUIRE_TSHARK();
  const std::string rel = "tcpdump/dns_udp.pcap";
  auto ev = protocol_events(rel);
  ASSERT_EQ(ev["network.dns"].size(), 2u);
  auto names = lines_of(tshark_fields(rel, "dns", "-e dns.qry.name -e dns.flags.response"));
  ASSERT_EQ(names.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& e = ev["network.dns"][i];
    EXPECT_EQ(str(e, "dns.question.name") + "\t" + (str(e, "dns.type") == "answer" ? "1" : "0"), names[i]);
  }
  // tcpdump -vv's expected output beside the capture: the answer section is two A records.
  std::ifstream out(pcap_path("tcpdump/dns_udp-vv.out"));
  std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  const auto* answers = ev["network.dns"][1].get(fields::dns_answers);
  ASSERT_NE(answers, nullptr);
  const auto& list = std::get<ValueList>(answers->v);
  ASSERT_EQ(list.size(), 2u);
  for (const auto& a : list) {
    ASSERT_NE(a.as_event(), nullptr);
    const Event& answer = **a.as_event();
    EXPECT_EQ(*answer.get_string(field("type")), "A");
    EXPECT_EQ(*answer.get_string(field("class")), "IN");
    EXPECT_NE(text.find(*answer.get_string(field("name")) + ". A " + *answer.get_string(field("data"))),
              std::string::npos);
  }
  const auto* resolved = ev["network.dns"][1].get(fields::dns_resolved_ip);
  ASSERT_NE(resolved, nullptr);
  EXPECT_EQ(resolved->as_list()->size(), 2u);
  EXPECT_EQ(str(ev["network.dns"][1], "dns.response_code"), "NOERROR");

  // Malformed names: each query still an event, marked, never a crash; the looping pointer named.
  auto bad = protocol_events("zeek/dns/dns-invalid-names.pcap");
  ASSERT_EQ(bad["network.dns"].size(), 3u);
  auto loops = tshark_fields("zeek/dns/dns-invalid-names.pcap", "dns", "-e dns.qry.name");
  EXPECT_NE(loops.find("pointer that loops"), std::string::npos);  // tshark agrees on which
  for (size_t i = 0; i < bad["network.dns"].size(); ++i) {
    EXPECT_FALSE(str(bad["network.dns"][i], "vigil.dns.error").empty()) << i;
  }
  EXPECT_EQ(str(bad["network.dns"][1], "vigil.dns.error"), "pointer_loop");
}

}  // namespace
}  // namespace vigil::agent::replay
