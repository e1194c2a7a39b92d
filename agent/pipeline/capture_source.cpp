#include "agent/pipeline/capture_source.h"

#include <utility>

#include "agent/pipeline/pipeline.h"
#include "common/log/logging.h"

namespace vigil::agent::pipeline {

CaptureSource::CaptureSource(std::unique_ptr<capture::PacketSource> source, bool recorded, size_t slice)
    : source_(std::move(source)), recorded_(recorded), slice_(slice) {
  if (recorded_) fetch();
}

void CaptureSource::fetch() {
  for (;;) {
    auto status = source_->next(packet_);
    if (status == capture::NextStatus::packet) {
      has_packet_ = true;
      return;
    }
    if (status == capture::NextStatus::timeout) continue;
    if (status == capture::NextStatus::error) {
      ++read_errors_;
      error_ = source_->error();
    }
    has_packet_ = false;
    return;
  }
}

size_t CaptureSource::poll(Pipeline& out) {
  if (recorded_) {
    if (!has_packet_) return 0;
    ++packets_;
    bytes_ += packet_.wire_len;
    // The packet's number in its source: what this source has handed out (stats() of a live
    // source asks the kernel, a system call per packet).
    out.packet(packet_, source_->name(), packets_);
    fetch();
    return 1;
  }
  size_t n = 0;
  capture::Packet packet;
  while (n < slice_) {
    auto st = source_->next(packet);
    if (st == capture::NextStatus::packet) {
      ++n;
      ++packets_;
      bytes_ += packet.wire_len;
      out.packet(packet, source_->name(), packets_);
      continue;
    }
    if (st == capture::NextStatus::error) {
      ++read_errors_;
      error_ = source_->error();
      if (read_errors_ <= 10) logging::get("agent")->error("capture {}: {}", source_->name(), source_->error());
    }
    break;
  }
  return n;
}

size_t CaptureSource::poll_while(Pipeline& out, Timestamp limit, bool at_limit) {
  if (!recorded_) return poll(out);
  size_t n = 0;
  while (has_packet_ && (packet_.ts < limit || (at_limit && packet_.ts == limit))) {
    ++packets_;
    bytes_ += packet_.wire_len;
    out.packet(packet_, source_->name(), packets_);
    fetch();
    ++n;
  }
  return n;
}

std::optional<Timestamp> CaptureSource::next_time() const {
  if (!recorded_ || !has_packet_) return std::nullopt;
  return packet_.ts;
}

void CaptureSource::wake_fds(std::vector<pollfd>& fds) const {
  if (source_->fd() >= 0) fds.push_back({source_->fd(), POLLIN, 0});
}

void CaptureSource::put_health(Event& h) const {
  add_counter(h, "vigil.health.capture.packets_read", packets_);
  add_counter(h, "vigil.health.capture.bytes_read", bytes_);
  add_counter(h, "vigil.health.capture.read_errors", read_errors_);
  if (recorded_) return;
  auto st = source_->stats();
  add_counter(h, "vigil.health.capture.kernel_received", st.kernel_received);
  add_counter(h, "vigil.health.capture.kernel_dropped", st.kernel_dropped);
  add_counter(h, "vigil.health.capture.interface_dropped", st.interface_dropped);
  if (st.kernel_dropped > dropped_reported_) {
    logging::get("agent")->warn("capture {}: the kernel dropped {} packets since the last report", source_->name(),
                                st.kernel_dropped - dropped_reported_);
  }
  dropped_reported_ = st.kernel_dropped;
}

}  // namespace vigil::agent::pipeline
