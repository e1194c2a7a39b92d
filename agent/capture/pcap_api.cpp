#include "agent/capture/pcap_api.h"

#include "common/util/shared_library.h"

namespace vigil::agent::capture {

namespace {

struct Loaded {
  PcapApi api;
  std::string error;
};

const Loaded& loaded() {
  static const Loaded once = [] {
    Loaded l;
    // libpcap.so.0.8 is Debian's name for libpcap 1.x (its soname since 0.8).
    util::SharedLibrary lib({"libpcap.so.0.8", "libpcap.so.1"}, "libpcap0.8");
    auto load = [&](auto& fn, const char* name) { return lib.get(fn, name); };
    if (!(
        load(l.api.activate, "pcap_activate") &&
        load(l.api.close, "pcap_close") &&
        load(l.api.compile, "pcap_compile") &&
        load(l.api.create, "pcap_create") &&
        load(l.api.datalink, "pcap_datalink") &&
        load(l.api.file, "pcap_file") &&
        load(l.api.freecode, "pcap_freecode") &&
        load(l.api.get_selectable_fd, "pcap_get_selectable_fd") &&
        load(l.api.get_tstamp_precision, "pcap_get_tstamp_precision") &&
        load(l.api.geterr, "pcap_geterr") &&
        load(l.api.is_swapped, "pcap_is_swapped") &&
        load(l.api.major_version, "pcap_major_version") &&
        load(l.api.minor_version, "pcap_minor_version") &&
        load(l.api.next_ex, "pcap_next_ex") &&
        load(l.api.open_dead, "pcap_open_dead") &&
        load(l.api.open_offline_with_tstamp_precision, "pcap_open_offline_with_tstamp_precision") &&
        load(l.api.set_buffer_size, "pcap_set_buffer_size") &&
        load(l.api.set_immediate_mode, "pcap_set_immediate_mode") &&
        load(l.api.set_promisc, "pcap_set_promisc") &&
        load(l.api.set_snaplen, "pcap_set_snaplen") &&
        load(l.api.set_timeout, "pcap_set_timeout") &&
        load(l.api.set_tstamp_precision, "pcap_set_tstamp_precision") &&
        load(l.api.setfilter, "pcap_setfilter") &&
        load(l.api.setnonblock, "pcap_setnonblock") &&
        load(l.api.snapshot, "pcap_snapshot") &&
        load(l.api.stats, "pcap_stats") &&
        load(l.api.statustostr, "pcap_statustostr") &&
        true)) {
      l.error = lib.error();
    }
    return l;
  }();
  return once;
}

}  // namespace

const std::string& load_pcap() { return loaded().error; }

const PcapApi& libpcap() { return loaded().api; }

}  // namespace vigil::agent::capture
