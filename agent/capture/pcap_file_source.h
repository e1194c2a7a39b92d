// A pcap or pcapng file. libpcap opens every file (it checks the header and maps the link type);
// a classic pcap file of a link type the decoder reads is then read here, a window of 256 KiB at
// a time with one pread (records handed out where they lie in it), instead of two
// stdio reads per packet (a quarter of replay's time went to libpcap's freads). The packets, their
// lengths and times, and the errors for a damaged file are libpcap's own (sf-pcap.c's
// pcap_next_packet); pcapng and the rare classic variants stay with libpcap. A file that grows
// while it is read is read on; one cut shorter while read ends as a truncated file. (A mapped
// window saved 5 % of replay's CPU, but a file cut under it would end the process with SIGBUS.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#include <string>

#include "agent/capture/packet_source.h"
#include "common/result.h"

struct pcap;

namespace vigil::agent::capture {

class PcapFileSource final : public PacketSource {
 public:
  // Opens `path`; the error names the file and libpcap's reason. `direct`: read the records here
  // when the file allows it (false: libpcap reads them all; tests compare the two).
  // `window`: the bytes read at a time (tests and the fuzz target make it small; a record longer
  // than it is read whole).
  static constexpr size_t kDefaultWindow = 256 << 10;
  static Result<std::unique_ptr<PcapFileSource>> open(const std::string& path, bool direct = true,
                                                      size_t window = kDefaultWindow);
  ~PcapFileSource() override;

  NextStatus next(Packet& packet) override;
  const std::string& name() const override { return path_; }
  const std::string& error() const override { return error_; }
  SourceStats stats() override { return stats_; }
  // The file's link type (for pcapng with several interfaces libpcap reports the first one).
  int link_type() const { return link_type_; }
  // Whether the records are read here rather than by libpcap (tests).
  bool reads_directly() const { return fd_ >= 0; }

 private:
  PcapFileSource(std::string path, pcap* handle);

  // Switches to reading the records here when the file allows it (closes the libpcap handle).
  void read_directly();
  NextStatus next_record(Packet& packet);
  // At least `need` bytes from pos_ in data_, reading the next window; false at the end of the
  // file (what is left of it is there) or on an error (error_ set).
  bool fill(size_t need);
  NextStatus fail(const std::string& message);

  std::string path_;
  std::string error_;
  pcap* handle_ = nullptr;
  int link_type_ = 0;
  SourceStats stats_;

  // Reading directly: the file, its byte order and time unit, libpcap's snapshot length.
  int fd_ = -1;
  bool swapped_ = false;
  bool nanoseconds_ = false;
  bool read_error_ = false;
  uint32_t snapshot_ = 0;
  // The window read: its bytes and where they are in the file, the next record in it, and the
  // file's size as last seen.
  std::vector<uint8_t> window_;
  size_t window_bytes_ = kDefaultWindow;
  bool have_window_ = false;
  uint64_t map_offset_ = 0;
  const uint8_t* data_ = nullptr;
  size_t pos_ = 0;
  size_t end_ = 0;
  uint64_t file_size_ = 0;
};

}  // namespace vigil::agent::capture
