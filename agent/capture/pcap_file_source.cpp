#include "agent/capture/pcap_file_source.h"

#include "agent/capture/pcap_api.h"

namespace vigil::agent::capture {

Result<std::unique_ptr<PcapFileSource>> PcapFileSource::open(const std::string& path) {
  if (const auto& missing = load_pcap(); !missing.empty()) {
    return make_error("cannot read capture file '" + path + "': " + missing);
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle = libpcap().open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!handle) return make_error("cannot read capture file '" + path + "': " + errbuf);
  return std::unique_ptr<PcapFileSource>(new PcapFileSource(path, handle));
}

PcapFileSource::PcapFileSource(std::string path, pcap* handle)
    : path_(std::move(path)), handle_(handle), link_type_(libpcap().datalink(handle)) {}

PcapFileSource::~PcapFileSource() {
  if (handle_) libpcap().close(handle_);
}

NextStatus PcapFileSource::next(Packet& packet) {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = libpcap().next_ex(handle_, &header, &data);
  if (rc == 1) {
    packet.ts = Timestamp::from_seconds(header->ts.tv_sec, header->ts.tv_usec);  // nanoseconds
    packet.caplen = header->caplen;
    packet.wire_len = header->len;
    packet.link_type = libpcap().datalink(handle_);
    packet.data = data;
    ++stats_.packets;
    stats_.bytes += header->len;
    return NextStatus::packet;
  }
  if (rc == PCAP_ERROR_BREAK) return NextStatus::end;
  if (rc == 0) return NextStatus::timeout;
  error_ = path_ + ": " + libpcap().geterr(handle_);
  return NextStatus::error;
}

}  // namespace vigil::agent::capture
