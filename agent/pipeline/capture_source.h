// Packets into the pipeline, from a live interface or a capture file (one capture::PacketSource
// behind both): the live one read a slice at a time as packets arrive, the file one packet per
// poll in time order so replay can merge it with other recorded inputs.
#pragma once

#include <memory>

#include "agent/capture/packet_source.h"
#include "agent/pipeline/source.h"

namespace vigil::agent::pipeline {

class CaptureSource : public Source {
 public:
  // `recorded`: a capture file (one packet per poll, next_time() its time); otherwise a live
  // interface (up to `slice` packets per poll).
  CaptureSource(std::unique_ptr<capture::PacketSource> source, bool recorded, size_t slice = 20000);

  size_t poll(Pipeline& out) override;
  size_t poll_while(Pipeline& out, Timestamp limit, bool at_limit) override;
  std::optional<Timestamp> next_time() const override;
  void wake_fds(std::vector<pollfd>& fds) const override;
  // vigil.health.capture.* (kernel counters of live sources; read errors of both).
  void put_health(Event& health) const override;
  // The last read error (a file's ends its reading; a live source's is counted and logged).
  const std::string& error() const override { return error_; }

  const std::string& name() const { return source_->name(); }
  capture::SourceStats stats() { return source_->stats(); }
  uint64_t packets() const { return packets_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t read_errors() const { return read_errors_; }

 private:
  // A recorded source: reads ahead to the next packet (held in packet_ until polled).
  void fetch();

  std::unique_ptr<capture::PacketSource> source_;
  bool recorded_;
  size_t slice_;
  capture::Packet packet_;
  bool has_packet_ = false;
  uint64_t packets_ = 0, bytes_ = 0, read_errors_ = 0;
  mutable uint64_t dropped_reported_ = 0;  // kernel drops as of the last health event (logged past it)
  std::string error_;
};

}  // namespace vigil::agent::pipeline
