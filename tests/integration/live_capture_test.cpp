// Live capture on the loopback interface (needs root or CAP_NET_RAW; skipped without them).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "agent/capture/pcap_live_source.h"
#include "agent/decode/decoder.h"

namespace vigil::agent::capture {
namespace {

bool lacks_privilege(const std::string& error) {
  return error.find("CAP_NET_RAW") != std::string::npos || error.find("ermission") != std::string::npos ||
         error.find("not permitted") != std::string::npos;
}

TEST(PcapLiveSource, RejectsUnknownInterfaceByName) {
  LiveOptions options;
  options.interface = "vigil-nosuch0";
  auto source = PcapLiveSource::open(options);
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().find("vigil-nosuch0"), std::string::npos) << source.error();
}

TEST(PcapLiveSource, RejectsBadFilterWithItsText) {
  LiveOptions options;
  options.interface = "lo";
  options.bpf = "port and and";
  auto source = PcapLiveSource::open(options);
  ASSERT_FALSE(source.ok());
  if (lacks_privilege(source.error())) GTEST_SKIP() << source.error();
  EXPECT_NE(source.error().find("bad BPF filter 'port and and'"), std::string::npos) << source.error();
}

TEST(PcapLiveSource, CapturesLoopbackUdpThroughTheFilter) {
  // A UDP socket on an ephemeral port gives a port nobody else uses for the filter.
  int rx = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(rx, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  uint16_t port = ntohs(addr.sin_port);

  LiveOptions options;
  options.interface = "lo";
  options.bpf = "udp and dst port " + std::to_string(port);
  options.promiscuous = false;
  auto source = PcapLiveSource::open(options);
  if (!source.ok()) {
    ::close(rx);
    if (lacks_privilege(source.error())) GTEST_SKIP() << source.error();
    FAIL() << source.error();
  }
  ASSERT_GE((*source)->fd(), 0);

  const char message[] = "vigil-live";
  int tx = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(tx, 0);
  ASSERT_EQ(::sendto(tx, message, sizeof message - 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
            static_cast<ssize_t>(sizeof message - 1));

  Packet packet;
  bool got = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!got && std::chrono::steady_clock::now() < deadline) {
    auto status = (*source)->next(packet);
    if (status == NextStatus::packet) {
      got = true;
    } else {
      ASSERT_EQ(status, NextStatus::timeout) << (*source)->error();
      pollfd pfd{(*source)->fd(), POLLIN, 0};
      ::poll(&pfd, 1, 100);
    }
  }
  ::close(tx);
  ::close(rx);
  ASSERT_TRUE(got) << "no packet captured on lo within 5 s";

  decode::Decoder decoder;
  decode::DecodedPacket decoded;
  ASSERT_EQ(decoder.decode(packet, decoded).status, decode::DecodeStatus::ok);
  EXPECT_EQ(decoded.transport, decode::Transport::udp);
  EXPECT_EQ(decoded.dst_port, port);
  EXPECT_EQ(decoded.dst.to_string(), "127.0.0.1");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(decoded.payload.data()), decoded.payload.size()), "vigil-live");
  auto stats = (*source)->stats();
  EXPECT_GE(stats.packets, 1u);
  EXPECT_GE(stats.kernel_received, 1u);
}

}  // namespace
}  // namespace vigil::agent::capture
