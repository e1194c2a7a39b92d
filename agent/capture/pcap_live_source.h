// A live interface captured with libpcap: pcap_create, snaplen, promiscuous mode, kernel buffer
// size, immediate mode, a BPF filter, a non-blocking selectable descriptor, and pcap_stats.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/capture/packet_source.h"
#include "common/result.h"

struct pcap;

namespace vigil::agent::capture {

struct LiveOptions {
  std::string interface;
  std::string bpf;  // empty: no filter
  uint32_t snaplen = 65535;
  uint64_t buffer_size = 16ULL << 20;
  bool promiscuous = true;
  bool immediate = true;  // deliver packets as they arrive, not when the buffer fills
};

class PcapLiveSource final : public PacketSource {
 public:
  // Opens and activates the interface; the error names the interface (or the filter) and why.
  static Result<std::unique_ptr<PcapLiveSource>> open(const LiveOptions& options);
  ~PcapLiveSource() override;

  // Never blocks: NextStatus::timeout when no packet is waiting (wait on fd() before retrying).
  NextStatus next(Packet& packet) override;
  const std::string& name() const override { return name_; }
  const std::string& error() const override { return error_; }
  SourceStats stats() override;
  int fd() const override { return fd_; }
  // Warning from activation (e.g. promiscuous mode not supported), empty when none.
  const std::string& warning() const { return warning_; }

 private:
  PcapLiveSource(std::string name, pcap* handle, bool nano);

  std::string name_;
  std::string error_;
  std::string warning_;
  pcap* handle_ = nullptr;
  bool nano_ = false;
  int fd_ = -1;
  SourceStats stats_;
};

}  // namespace vigil::agent::capture
