// A pcap or pcapng file read with libpcap (pcap_open_offline reads both formats).
#pragma once

#include <memory>
#include <string>

#include "agent/capture/packet_source.h"
#include "common/result.h"

struct pcap;

namespace vigil::agent::capture {

class PcapFileSource final : public PacketSource {
 public:
  // Opens `path`; the error names the file and libpcap's reason.
  static Result<std::unique_ptr<PcapFileSource>> open(const std::string& path);
  ~PcapFileSource() override;

  NextStatus next(Packet& packet) override;
  const std::string& name() const override { return path_; }
  const std::string& error() const override { return error_; }
  SourceStats stats() override { return stats_; }
  // The file's link type (for pcapng with several interfaces libpcap reports the first one).
  int link_type() const { return link_type_; }

 private:
  PcapFileSource(std::string path, pcap* handle);

  std::string path_;
  std::string error_;
  pcap* handle_ = nullptr;
  int link_type_ = 0;
  SourceStats stats_;
};

}  // namespace vigil::agent::capture
