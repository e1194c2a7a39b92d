#include "agent/capture/pcap_live_source.h"

#include <pcap/pcap.h>

#include <climits>

namespace vigil::agent::capture {

namespace {

struct HandleCloser {
  void operator()(pcap_t* p) const {
    if (p) pcap_close(p);
  }
};

std::string activation_error(pcap_t* handle, int rc) {
  std::string reason = pcap_statustostr(rc);
  std::string detail = pcap_geterr(handle);
  if (!detail.empty()) reason += " (" + detail + ")";
  if (rc == PCAP_ERROR_PERM_DENIED) reason += "; capture needs root or CAP_NET_RAW";
  return reason;
}

}  // namespace

Result<std::unique_ptr<PcapLiveSource>> PcapLiveSource::open(const LiveOptions& options) {
  const std::string& iface = options.interface;
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, HandleCloser> handle(pcap_create(iface.c_str(), errbuf));
  if (!handle) return make_error("cannot capture on '" + iface + "': " + errbuf);
  pcap_t* h = handle.get();
  int snaplen = options.snaplen > INT_MAX ? INT_MAX : static_cast<int>(options.snaplen);
  int buffer = options.buffer_size > INT_MAX ? INT_MAX : static_cast<int>(options.buffer_size);
  if (pcap_set_snaplen(h, snaplen) != 0 || pcap_set_promisc(h, options.promiscuous ? 1 : 0) != 0 ||
      pcap_set_buffer_size(h, buffer) != 0 || pcap_set_immediate_mode(h, options.immediate ? 1 : 0) != 0 ||
      pcap_set_timeout(h, 100) != 0) {
    return make_error("cannot configure capture on '" + iface + "': " + pcap_geterr(h));
  }
  bool nano = pcap_set_tstamp_precision(h, PCAP_TSTAMP_PRECISION_NANO) == 0;
  int rc = pcap_activate(h);
  if (rc < 0) return make_error("cannot capture on '" + iface + "': " + activation_error(h, rc));
  std::string warning;
  if (rc > 0) warning = "capture on '" + iface + "': " + activation_error(h, rc);
  nano = nano && pcap_get_tstamp_precision(h) == PCAP_TSTAMP_PRECISION_NANO;

  if (!options.bpf.empty()) {
    bpf_program program{};
    if (pcap_compile(h, &program, options.bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return make_error("capture on '" + iface + "': bad BPF filter '" + options.bpf + "': " + pcap_geterr(h));
    }
    int set = pcap_setfilter(h, &program);
    pcap_freecode(&program);
    if (set != 0) {
      return make_error("capture on '" + iface + "': cannot set filter '" + options.bpf + "': " + pcap_geterr(h));
    }
  }
  if (pcap_setnonblock(h, 1, errbuf) != 0) {
    return make_error("capture on '" + iface + "': cannot set non-blocking mode: " + errbuf);
  }
  auto source = std::unique_ptr<PcapLiveSource>(new PcapLiveSource(iface, handle.release(), nano));
  source->warning_ = std::move(warning);
  return source;
}

PcapLiveSource::PcapLiveSource(std::string name, pcap* handle, bool nano)
    : name_(std::move(name)), handle_(handle), nano_(nano), fd_(pcap_get_selectable_fd(handle)) {}

PcapLiveSource::~PcapLiveSource() {
  if (handle_) pcap_close(handle_);
}

NextStatus PcapLiveSource::next(Packet& packet) {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = pcap_next_ex(handle_, &header, &data);
  if (rc == 1) {
    int64_t frac = header->ts.tv_usec;
    packet.ts = Timestamp::from_seconds(header->ts.tv_sec, nano_ ? frac : frac * 1000);
    packet.caplen = header->caplen;
    packet.wire_len = header->len;
    packet.link_type = pcap_datalink(handle_);
    packet.data = data;
    ++stats_.packets;
    stats_.bytes += header->len;
    return NextStatus::packet;
  }
  if (rc == 0) return NextStatus::timeout;
  if (rc == PCAP_ERROR_BREAK) return NextStatus::end;
  error_ = name_ + ": " + pcap_geterr(handle_);
  return NextStatus::error;
}

SourceStats PcapLiveSource::stats() {
  pcap_stat ps{};
  if (pcap_stats(handle_, &ps) == 0) {
    stats_.kernel_received = ps.ps_recv;
    stats_.kernel_dropped = ps.ps_drop;
    stats_.interface_dropped = ps.ps_ifdrop;
  }
  return stats_;
}

}  // namespace vigil::agent::capture
