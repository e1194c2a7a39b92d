#include "agent/capture/pcap_file_source.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"
#include "tests/unit/agent/packet_builder.h"

namespace vigil::agent::capture {
namespace {

using namespace vigil::test::pkt;

TEST(PcapFileSource, ReadsPacketsWithNanosecondTimesLengthsAndLinkType) {
  vigil::test::TempDir dir;
  auto path = dir.path() / "sll2.pcap";
  Bytes a(60, 0xaa);
  Bytes b(120, 0xbb);
  write_pcap(path, {{1'500'000'000'123'456'789, a}, {1'500'000'001'000'000'001, b, 64}}, DLT_LINUX_SLL2);

  auto source = PcapFileSource::open(path.string());
  ASSERT_TRUE(source.ok()) << source.error();
  EXPECT_EQ((*source)->link_type(), DLT_LINUX_SLL2);
  EXPECT_EQ((*source)->name(), path.string());

  Packet p;
  ASSERT_EQ((*source)->next(p), NextStatus::packet);
  EXPECT_EQ(p.ts, Timestamp{1'500'000'000'123'456'789});
  EXPECT_EQ(p.caplen, 60u);
  EXPECT_EQ(p.wire_len, 60u);
  EXPECT_EQ(p.link_type, DLT_LINUX_SLL2);
  EXPECT_EQ(p.data[0], 0xaa);

  ASSERT_EQ((*source)->next(p), NextStatus::packet);
  EXPECT_EQ(p.ts, Timestamp{1'500'000'001'000'000'001});
  EXPECT_EQ(p.caplen, 64u);  // cut by the snapshot length
  EXPECT_EQ(p.wire_len, 120u);
  EXPECT_EQ(p.data[63], 0xbb);

  EXPECT_EQ((*source)->next(p), NextStatus::end);
  auto stats = (*source)->stats();
  EXPECT_EQ(stats.packets, 2u);
  EXPECT_EQ(stats.bytes, 180u);
}

TEST(PcapFileSource, ReportsAFileThatIsNotACapture) {
  vigil::test::TempDir dir;
  auto path = dir.write("notes.txt", "this is not a capture file at all");
  auto source = PcapFileSource::open(path.string());
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().find("notes.txt"), std::string::npos) << source.error();
}

TEST(PcapFileSource, ReportsATruncatedRecordAsAnError) {
  vigil::test::TempDir dir;
  auto path = dir.path() / "cut.pcap";
  write_pcap(path, {{1'000'000'000, Bytes(100, 1)}, {2'000'000'000, Bytes(100, 2)}});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 50);  // cut the last record
  auto source = PcapFileSource::open(path.string());
  ASSERT_TRUE(source.ok()) << source.error();
  Packet p;
  EXPECT_EQ((*source)->next(p), NextStatus::packet);
  EXPECT_EQ((*source)->next(p), NextStatus::error);
  EXPECT_NE((*source)->error().find("cut.pcap"), std::string::npos) << (*source)->error();
}

}  // namespace
}  // namespace vigil::agent::capture
