#include "agent/capture/pcap_file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/capture/pcap_api.h"

namespace vigil::agent::capture {

namespace {

// The classic format (pcap-savefile(5)): a 24-byte file header, then per packet a 16-byte record
// header (seconds, microseconds or nanoseconds, captured length, length on the wire) and the
// captured bytes.
constexpr size_t kFileHeader = 24;
constexpr size_t kRecordHeader = 16;
constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
// libpcap's largest captured length for the link types read here (MAXIMUM_SNAPLEN): a larger one
// is a damaged file.
constexpr uint32_t kMaxCaplen = 262144;
constexpr size_t kPrefetchAhead = 1024;

// Link types (as libpcap maps them) whose records libpcap hands out as they are in the file, in
// either byte order: no pseudo-header to swap or length to fix up (pcap_post_process). Linux
// cooked captures only in the host's byte order (libpcap swaps CAN ids inside them otherwise).
bool direct_link_type(int dlt, bool swapped) {
  switch (dlt) {
    case DLT_NULL:
    case DLT_EN10MB:
    case DLT_RAW:
    case DLT_C_HDLC:
    case DLT_LOOP:
    case DLT_IPV4:
    case DLT_IPV6:
      return true;
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
      return !swapped;
    default:
      return false;
  }
}

uint32_t load32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped ? __builtin_bswap32(v) : v;
}

uint16_t load16(const uint8_t* p, bool swapped) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped ? __builtin_bswap16(v) : v;
}

std::string printf_string(const char* format, auto... args) {
  char buf[PCAP_ERRBUF_SIZE];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

}  // namespace

Result<std::unique_ptr<PcapFileSource>> PcapFileSource::open(const std::string& path, bool direct, size_t window) {
  if (const auto& missing = load_pcap(); !missing.empty()) {
    return make_error("cannot read capture file '" + path + "': " + missing);
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle = libpcap().open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!handle) return make_error("cannot read capture file '" + path + "': " + errbuf);
  std::unique_ptr<PcapFileSource> source(new PcapFileSource(path, handle));
  source->window_bytes_ = std::max<size_t>(window, 64);
  if (direct) source->read_directly();
  return source;
}

PcapFileSource::PcapFileSource(std::string path, pcap* handle)
    : path_(std::move(path)), handle_(handle), link_type_(libpcap().datalink(handle)) {}

PcapFileSource::~PcapFileSource() {
  if (handle_) libpcap().close(handle_);
  if (fd_ >= 0) ::close(fd_);
}

void PcapFileSource::read_directly() {
  if (path_ == "-") return;  // libpcap's name for the standard input
  const bool pcap_swapped = libpcap().is_swapped(handle_) != 0;
  const int snapshot = libpcap().snapshot(handle_);
  if (libpcap().major_version(handle_) != 2 || libpcap().minor_version(handle_) != 4 || snapshot <= 0 ||
      !direct_link_type(link_type_, pcap_swapped)) {
    return;
  }
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {}, theirs {};
  uint8_t header[kFileHeader];
  // The file libpcap opened, not one put in its place since (a rotation between the two opens).
  FILE* pcap_stream = libpcap().file(handle_);
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pcap_stream &&
            ::fstat(::fileno(pcap_stream), &theirs) == 0 && theirs.st_dev == st.st_dev && theirs.st_ino == st.st_ino &&
            ::pread(fd, header, sizeof header, 0) == static_cast<ssize_t>(sizeof header);
  uint32_t magic = ok ? load32(header, false) : 0;
  const bool swapped = magic == __builtin_bswap32(kMagicMicro) || magic == __builtin_bswap32(kMagicNano);
  if (swapped) magic = __builtin_bswap32(magic);
  // As libpcap read it: classic, same order and version.
  ok = ok && (magic == kMagicMicro || magic == kMagicNano) && swapped == pcap_swapped &&
       load16(header + 4, swapped) == 2 && load16(header + 6, swapped) == 4;
  if (!ok) {
    ::close(fd);
    return;
  }
  fd_ = fd;
  swapped_ = swapped;
  nanoseconds_ = magic == kMagicNano;
  snapshot_ = static_cast<uint32_t>(snapshot);
  file_size_ = static_cast<uint64_t>(st.st_size);
  map_offset_ = kFileHeader;  // nothing mapped yet: the first window starts at the first record
  fill(kRecordHeader);
  if (read_error_) {
    // Not readable so: libpcap reads it.
    ::close(fd_);
    fd_ = -1;
    read_error_ = false;
    error_.clear();
    return;
  }
  libpcap().close(handle_);
  handle_ = nullptr;
}

NextStatus PcapFileSource::fail(const std::string& message) {
  error_ = path_ + ": " + message;
  return NextStatus::error;
}

bool PcapFileSource::fill(size_t need) {
  if (end_ - pos_ >= need) return true;
  if (read_error_) return false;
  static const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t at = map_offset_ + pos_;  // the next record's place in the file
  if (map_offset_ + end_ >= file_size_) {
    struct stat st {};
    if (::fstat(fd_, &st) == 0) file_size_ = static_cast<uint64_t>(st.st_size);  // it may have grown
  }
  const uint64_t left = file_size_ > at ? file_size_ - at : 0;
  if (!have_window_ || end_ - pos_ < std::min<uint64_t>(need, left)) {
    // A window from the page of the next record, as long as that record at least.
    const uint64_t offset = at & ~(page - 1);
    const uint64_t len = std::min<uint64_t>(std::max<uint64_t>(window_bytes_, at - offset + need), file_size_ - offset);
    have_window_ = false;
    data_ = nullptr;
    pos_ = end_ = 0;
    map_offset_ = at;
    if (at >= file_size_) return false;  // nothing left to read
    if (window_.size() < len) window_.resize(static_cast<size_t>(len));
    size_t got = 0;
    while (got < len) {
      const ssize_t n = ::pread(fd_, window_.data() + got, static_cast<size_t>(len) - got,
                                static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        read_error_ = true;
        error_ = path_ + ": error reading dump file: " + std::strerror(errno);
        return false;
      }
      if (n == 0) break;  // cut shorter since its size was read
      got += static_cast<size_t>(n);
    }
    have_window_ = true;
    map_offset_ = offset;
    data_ = window_.data();
    pos_ = static_cast<size_t>(at - offset);
    end_ = std::max(got, pos_);
  }
  // A file cut shorter than the window: only what it still holds counts.
  if (end_ - pos_ > left) end_ = pos_ + static_cast<size_t>(left);
  return end_ - pos_ >= need;
}

NextStatus PcapFileSource::next_record(Packet& packet) {
  // What libpcap's pcap_next_packet does, with its messages for a damaged file.
  if (!fill(kRecordHeader)) {
    if (read_error_) return NextStatus::error;
    if (end_ == pos_) return NextStatus::end;
    return fail(printf_string("truncated dump file; tried to read %zu header bytes, only got %zu", kRecordHeader,
                              end_ - pos_));
  }
  const uint8_t* h = data_ + pos_;
  // As libpcap 1.10 has them: signed 32-bit fields in the host's byte order, unsigned once its
  // SWAPLONG has turned them round; microseconds scaled in 64 bits.
  int64_t seconds = load32(h, swapped_);
  int64_t fraction = load32(h + 4, swapped_);
  if (!swapped_) {
    seconds = static_cast<int32_t>(seconds);
    fraction = static_cast<int32_t>(fraction);
  }
  if (!nanoseconds_) fraction *= 1000;
  const uint32_t caplen = load32(h + 8, swapped_);
  const uint32_t len = load32(h + 12, swapped_);
  if (caplen > kMaxCaplen) {
    if (caplen > snapshot_) {
      return fail(printf_string("invalid packet capture length %u, bigger than snaplen of %d", caplen,
                                static_cast<int>(snapshot_)));
    }
    return fail(printf_string("invalid packet capture length %u, bigger than maximum of %u", caplen, kMaxCaplen));
  }
  if (!fill(kRecordHeader + caplen)) {
    if (read_error_) return NextStatus::error;
    const size_t got = end_ - pos_ > kRecordHeader ? end_ - pos_ - kRecordHeader : 0;
    if (caplen > snapshot_ && got < snapshot_) {
      return fail(printf_string("truncated dump file; tried to read %d captured bytes, only got %zu",
                                static_cast<int>(snapshot_), got));
    }
    return fail(printf_string("truncated dump file; tried to read %u captured bytes, only got %zu", caplen, got));
  }
  packet.ts = Timestamp::from_seconds(seconds, fraction);
  // A record longer than the snapshot length: libpcap hands out the snapshot length of it.
  packet.caplen = caplen > snapshot_ ? snapshot_ : caplen;
  packet.wire_len = len;
  packet.link_type = link_type_;
  packet.data = data_ + pos_ + kRecordHeader;
  pos_ += kRecordHeader + caplen;
  // The records ahead, from the page cache into the CPU's cache while this one is decoded: their
  // headers were the first read of memory not yet cached (4% of replay). Two lines per record
  // keep ahead of the average record (some 110 bytes); none past the window.
  if (end_ - pos_ >= kPrefetchAhead + 128) {
    __builtin_prefetch(data_ + pos_ + kPrefetchAhead);
    __builtin_prefetch(data_ + pos_ + kPrefetchAhead + 64);
  }
  ++stats_.packets;
  stats_.bytes += len;
  return NextStatus::packet;
}

NextStatus PcapFileSource::next(Packet& packet) {
  if (fd_ >= 0) return next_record(packet);
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = libpcap().next_ex(handle_, &header, &data);
  if (rc == 1) {
    packet.ts = Timestamp::from_seconds(header->ts.tv_sec, header->ts.tv_usec);  // nanoseconds
    packet.caplen = header->caplen;
    packet.wire_len = header->len;
    packet.link_type = link_type_;
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
