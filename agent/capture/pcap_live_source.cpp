#include "agent/capture/pcap_live_source.h"

#include <climits>

#include "agent/capture/pcap_api.h"

namespace vigil::agent::capture {

namespace {

struct HandleCloser {
  void operator()(pcap_t* p) const {
    if (p) libpcap().close(p);
  }
};

std::string activation_error(pcap_t* handle, int rc) {
  std::string reason = libpcap().statustostr(rc);
  std::string detail = libpcap().geterr(handle);
  if (!detail.empty()) reason += " (" + detail + ")";
  if (rc == PCAP_ERROR_PERM_DENIED) reason += "; capture needs root or CAP_NET_RAW";
  return reason;
}

}  // namespace

Result<std::unique_ptr<PcapLiveSource>> PcapLiveSource::open(const LiveOptions& options) {
  const std::string& iface = options.interface;
  if (const auto& missing = load_pcap(); !missing.empty()) return make_error("cannot capture on '" + iface + "': " + missing);
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, HandleCloser> handle(libpcap().create(iface.c_str(), errbuf));
  if (!handle) return make_error("cannot capture on '" + iface + "': " + errbuf);
  pcap_t* h = handle.get();
  int snaplen = options.snaplen > INT_MAX ? INT_MAX : static_cast<int>(options.snaplen);
  int buffer = options.buffer_size > INT_MAX ? INT_MAX : static_cast<int>(options.buffer_size);
  if (libpcap().set_snaplen(h, snaplen) != 0 || libpcap().set_promisc(h, options.promiscuous ? 1 : 0) != 0 ||
      libpcap().set_buffer_size(h, buffer) != 0 || libpcap().set_immediate_mode(h, options.immediate ? 1 : 0) != 0 ||
      libpcap().set_timeout(h, 100) != 0) {
    return make_error("cannot configure capture on '" + iface + "': " + libpcap().geterr(h));
  }
  bool nano = libpcap().set_tstamp_precision(h, PCAP_TSTAMP_PRECISION_NANO) == 0;
  int rc = libpcap().activate(h);
  if (rc < 0) return make_error("cannot capture on '" + iface + "': " + activation_error(h, rc));
  std::string warning;
  if (rc > 0) warning = "capture on '" + iface + "': " + activation_error(h, rc);
  nano = nano && libpcap().get_tstamp_precision(h) == PCAP_TSTAMP_PRECISION_NANO;

  if (!options.bpf.empty()) {
    bpf_program program{};
    if (libpcap().compile(h, &program, options.bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return make_error("capture on '" + iface + "': bad BPF filter '" + options.bpf + "': " + libpcap().geterr(h));
    }
    int set = libpcap().setfilter(h, &program);
    libpcap().freecode(&program);
    if (set != 0) {
      return make_error("capture on '" + iface + "': cannot set filter '" + options.bpf + "': " + libpcap().geterr(h));
    }
  }
  if (libpcap().setnonblock(h, 1, errbuf) != 0) {
    return make_error("capture on '" + iface + "': cannot set non-blocking mode: " + errbuf);
  }
  auto source = std::unique_ptr<PcapLiveSource>(new PcapLiveSource(iface, handle.release(), nano));
  source->warning_ = std::move(warning);
  return source;
}

PcapLiveSource::PcapLiveSource(std::string name, pcap* handle, bool nano)
    : name_(std::move(name)), handle_(handle), nano_(nano), fd_(libpcap().get_selectable_fd(handle)) {}

PcapLiveSource::~PcapLiveSource() {
  if (handle_) libpcap().close(handle_);
}

NextStatus PcapLiveSource::next(Packet& packet) {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = libpcap().next_ex(handle_, &header, &data);
  if (rc == 1) {
    int64_t frac = header->ts.tv_usec;
    packet.ts = Timestamp::from_seconds(header->ts.tv_sec, nano_ ? frac : frac * 1000);
    packet.caplen = header->caplen;
    packet.wire_len = header->len;
    packet.link_type = libpcap().datalink(handle_);
    packet.data = data;
    ++stats_.packets;
    stats_.bytes += header->len;
    return NextStatus::packet;
  }
  if (rc == 0) return NextStatus::timeout;
  if (rc == PCAP_ERROR_BREAK) return NextStatus::end;
  error_ = name_ + ": " + libpcap().geterr(handle_);
  return NextStatus::error;
}

SourceStats PcapLiveSource::stats() {
  pcap_stat ps{};
  if (libpcap().stats(handle_, &ps) == 0) {
    stats_.kernel_received = ps.ps_recv;
    stats_.kernel_dropped = ps.ps_drop;
    stats_.interface_dropped = ps.ps_ifdrop;
  }
  return stats_;
}

}  // namespace vigil::agent::capture
