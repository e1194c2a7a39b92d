#include "agent/capture/pcap_file_source.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/support/pcap_read_all.h"
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

// A classic pcap file written byte by byte: either byte order, micro- or nanoseconds, records
// whatever their lengths say (damaged files too).
struct RawRecord {
  uint32_t sec = 0;
  uint32_t frac = 0;
  uint32_t caplen = 0;
  uint32_t len = 0;
  size_t data = 0;  // bytes of data actually written (may differ from caplen)
};

void put32(std::string& out, uint32_t v, bool swapped) {
  if (swapped) v = __builtin_bswap32(v);
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

void put16(std::string& out, uint16_t v, bool swapped) {
  if (swapped) v = __builtin_bswap16(v);
  char b[2];
  std::memcpy(b, &v, 2);
  out.append(b, 2);
}

std::string raw_pcap(bool swapped, bool nano, uint32_t snaplen, uint32_t link_type, const std::vector<RawRecord>& records,
                     size_t cut = 0) {
  std::string out;
  put32(out, nano ? 0xa1b23c4d : 0xa1b2c3d4, swapped);
  put16(out, 2, swapped);
  put16(out, 4, swapped);
  put32(out, 0, swapped);
  put32(out, 0, swapped);
  put32(out, snaplen, swapped);
  put32(out, link_type, swapped);
  uint8_t fill = 1;
  for (const auto& r : records) {
    put32(out, r.sec, swapped);
    put32(out, r.frac, swapped);
    put32(out, r.caplen, swapped);
    put32(out, r.len, swapped);
    for (size_t i = 0; i < r.data; ++i) out.push_back(static_cast<char>(fill + i));
    ++fill;
  }
  out.resize(out.size() - std::min(cut, out.size()));
  return out;
}

// Everything a reader hands out, packet by packet, then how it stopped.
std::vector<std::string> read_all(const std::string& path, bool direct, bool* read_directly = nullptr) {
  return vigil::test::pcap_read_all(path, direct, PcapFileSource::kDefaultWindow, read_directly);
}

TEST(PcapFileSource, ReadsClassicFilesAsLibpcapDoesEvenDamagedOnes) {
  vigil::test::TempDir dir;
  const std::vector<RawRecord> good = {
      {1'600'000'000, 999'999, 60, 60, 60},
      {0x80000001u, 0xffffff00u, 10, 1500, 10},  // times past 2038 and negative, as the file holds them
      {1'600'000'001, 5, 0, 0, 0},
      {1'600'000'002, 7, 100, 90, 100},  // captured more than the wire length (damaged, handed out)
      {1'600'000'003, 9, 300, 300, 300},  // past the snapshot length (200): cut to it
  };
  struct Case {
    const char* name;
    std::vector<RawRecord> records;
    size_t cut;
  };
  const std::vector<Case> cases = {
      {"good", good, 0},
      {"header_cut", good, 300 + 16 + 8},   // the last record header half there
      {"data_cut", good, 150},              // within the last record's first 200 bytes
      {"past_snapshot_cut", good, 50},      // within what is past the snapshot length
      {"record_cut_whole", good, 300},      // a header and no data
      {"too_long_past_snapshot", {{1, 1, 300'000, 300'000, 0}}, 0},
      {"many", std::vector<RawRecord>(5000, RawRecord{1'700'000'000, 1, 1400, 1500, 1400}), 0},
  };
  for (bool swapped : {false, true}) {
    for (bool nano : {false, true}) {
      for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.name) + (swapped ? " swapped" : "") + (nano ? " nano" : ""));
        auto path = dir.path() / (std::string(c.name) + (swapped ? "-s" : "") + (nano ? "-n" : "") + ".pcap");
        std::ofstream(path, std::ios::binary) << raw_pcap(swapped, nano, 200, DLT_EN10MB, c.records, c.cut);
        bool direct = false;
        auto ours = read_all(path.string(), true, &direct);
        EXPECT_TRUE(direct);
        auto theirs = read_all(path.string(), false);
        EXPECT_EQ(ours, theirs);
      }
    }
  }
  // A captured length past libpcap's maximum but within a huge snapshot length.
  auto path = dir.path() / "too_long.pcap";
  std::ofstream(path, std::ios::binary) << raw_pcap(false, false, 1'000'000, DLT_EN10MB, {{1, 1, 300'000, 300'000, 0}});
  EXPECT_EQ(read_all(path.string(), true), read_all(path.string(), false));
  // Records as long as libpcap takes, past the reader's buffer.
  auto jumbo = dir.path() / "jumbo.pcap";
  std::ofstream(jumbo, std::ios::binary) << raw_pcap(false, false, 262144, DLT_EN10MB,
                                                     {{1, 1, 100, 100, 100}, {2, 2, 262144, 262144, 262144},
                                                      {3, 3, 262144, 300000, 262144}, {4, 4, 50, 50, 50}});
  EXPECT_EQ(read_all(jumbo.string(), true), read_all(jumbo.string(), false));
}

TEST(PcapFileSource, ReadsOnWhenTheFileGrowsAndAcrossWindows) {
  vigil::test::TempDir dir;
  auto path = dir.path() / "growing.pcap";
  // 3,000 records of 1,400 bytes: past the first window.
  std::vector<RawRecord> first(3000, RawRecord{1'700'000'000, 1, 1400, 1400, 1400});
  std::ofstream(path, std::ios::binary) << raw_pcap(false, false, 65535, DLT_EN10MB, first);
  auto source = PcapFileSource::open(path.string());
  ASSERT_TRUE(source.ok()) << source.error();
  EXPECT_TRUE((*source)->reads_directly());
  Packet p;
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ((*source)->next(p), NextStatus::packet) << i;
    ASSERT_EQ(p.caplen, 1400u);
    ASSERT_EQ(p.data[0], static_cast<uint8_t>(1 + i)) << i;
  }
  EXPECT_EQ((*source)->next(p), NextStatus::end);
  // Records appended after the end was met are read on.
  std::string more = raw_pcap(false, false, 65535, DLT_EN10MB, {{1'700'000'001, 5, 60, 60, 60}, {1'700'000'002, 6, 70, 80, 70}});
  std::ofstream(path, std::ios::binary | std::ios::app) << more.substr(24);
  ASSERT_EQ((*source)->next(p), NextStatus::packet);
  EXPECT_EQ(p.ts, Timestamp{1'700'000'001'000'005'000});
  EXPECT_EQ(p.caplen, 60u);
  ASSERT_EQ((*source)->next(p), NextStatus::packet);
  EXPECT_EQ(p.wire_len, 80u);
  EXPECT_EQ((*source)->next(p), NextStatus::end);
  EXPECT_EQ((*source)->stats().packets, 3002u);
}

// A file cut shorter by someone else while it is read (its window read before the cut, the
// next one after): the records read stay, the cut one is a truncated file's error, the process
// goes on (a mapped window would end it with SIGBUS).
TEST(PcapFileSource, AFileCutWhileReadEndsAsTruncated) {
  vigil::test::TempDir dir;
  auto path = dir.path() / "cut-while-read.pcap";
  std::vector<RawRecord> records(6000, RawRecord{1'700'000'000, 1, 1400, 1400, 1400});
  std::ofstream(path, std::ios::binary) << raw_pcap(false, false, 65535, DLT_EN10MB, records);
  auto source = PcapFileSource::open(path.string());
  ASSERT_TRUE(source.ok()) << source.error();
  ASSERT_TRUE((*source)->reads_directly());
  Packet p;
  ASSERT_EQ((*source)->next(p), NextStatus::packet);
  // Cut mid-record, past the windows read so far (the later ones are read after the cut).
  std::filesystem::resize_file(path, 24 + 4000 * (16 + 1400) + 700);
  size_t read = 1;
  NextStatus st;
  while ((st = (*source)->next(p)) == NextStatus::packet) {
    ASSERT_EQ(p.caplen, 1400u);
    ++read;
  }
  EXPECT_EQ(st, NextStatus::error);
  EXPECT_NE((*source)->error().find("truncated dump file"), std::string::npos) << (*source)->error();
  EXPECT_EQ(read, 4000u);
}

TEST(PcapFileSource, LeavesPcapngAndOtherLinkTypesToLibpcap) {
  vigil::test::TempDir dir;
  auto usb = dir.path() / "usb.pcap";
  std::ofstream(usb, std::ios::binary) << raw_pcap(false, false, 65535, DLT_USB_LINUX, {{1, 1, 64, 64, 64}});
  bool direct = true;
  auto packets = read_all(usb.string(), true, &direct);
  EXPECT_FALSE(direct);
  EXPECT_EQ(packets.size(), 3u);

  auto sll = dir.path() / "sll-swapped.pcap";
  std::ofstream(sll, std::ios::binary) << raw_pcap(true, false, 65535, DLT_LINUX_SLL, {{1, 1, 64, 64, 64}});
  read_all(sll.string(), true, &direct);
  EXPECT_FALSE(direct);  // libpcap swaps CAN ids inside cooked headers of the other byte order

  auto shared = vigil::test::shared_data_dir();
  auto ng = shared / "pcap/zeek/pcapng-multi-interface.pcapng";
  if (!shared.empty() && std::filesystem::exists(ng)) {
    read_all(ng.string(), true, &direct);
    EXPECT_FALSE(direct);
  }
}

}  // namespace
}  // namespace vigil::agent::capture
