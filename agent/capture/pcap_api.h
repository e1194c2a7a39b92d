// libpcap, opened (dlopen) the first time a capture, a capture file or a capture filter needs it:
// an agent that captures nothing never maps libpcap nor what it pulls in (libdbus, and through it
// libsystemd; issue 22). Debian's package: libpcap0.8. The types and constants still come from
// <pcap/pcap.h>.
#pragma once

#include <pcap/pcap.h>

#include <string>

namespace vigil::agent::capture {

struct PcapApi {
  decltype(&::pcap_activate) activate = nullptr;
  decltype(&::pcap_close) close = nullptr;
  decltype(&::pcap_compile) compile = nullptr;
  decltype(&::pcap_create) create = nullptr;
  decltype(&::pcap_datalink) datalink = nullptr;
  decltype(&::pcap_file) file = nullptr;
  decltype(&::pcap_freecode) freecode = nullptr;
  decltype(&::pcap_get_selectable_fd) get_selectable_fd = nullptr;
  decltype(&::pcap_get_tstamp_precision) get_tstamp_precision = nullptr;
  decltype(&::pcap_geterr) geterr = nullptr;
  decltype(&::pcap_is_swapped) is_swapped = nullptr;
  decltype(&::pcap_major_version) major_version = nullptr;
  decltype(&::pcap_minor_version) minor_version = nullptr;
  decltype(&::pcap_next_ex) next_ex = nullptr;
  decltype(&::pcap_open_dead) open_dead = nullptr;
  decltype(&::pcap_open_offline_with_tstamp_precision) open_offline_with_tstamp_precision = nullptr;
  decltype(&::pcap_set_buffer_size) set_buffer_size = nullptr;
  decltype(&::pcap_set_immediate_mode) set_immediate_mode = nullptr;
  decltype(&::pcap_set_promisc) set_promisc = nullptr;
  decltype(&::pcap_set_snaplen) set_snaplen = nullptr;
  decltype(&::pcap_set_timeout) set_timeout = nullptr;
  decltype(&::pcap_set_tstamp_precision) set_tstamp_precision = nullptr;
  decltype(&::pcap_setfilter) setfilter = nullptr;
  decltype(&::pcap_setnonblock) setnonblock = nullptr;
  decltype(&::pcap_snapshot) snapshot = nullptr;
  decltype(&::pcap_stats) stats = nullptr;
  decltype(&::pcap_statustostr) statustostr = nullptr;
};

// Loads libpcap once; the reason when it cannot (not installed, or a symbol missing), else empty.
const std::string& load_pcap();
// The functions; only once load_pcap() returned no error.
const PcapApi& libpcap();

}  // namespace vigil::agent::capture
