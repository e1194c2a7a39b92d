#include "agent/fim/baseline.h"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "agent/pipeline/line_reader.h"

namespace vigil::agent::fim {

namespace {

constexpr std::string_view kMagic = "vigil-fim-baseline";
constexpr int kVersion = 1;
constexpr size_t kEntryFields = 12;

char type_code(EntryType t) {
  switch (t) {
    case EntryType::file:
      return 'f';
    case EntryType::dir:
      return 'd';
    case EntryType::symlink:
      return 'l';
    case EntryType::fifo:
      return 'p';
    case EntryType::socket:
      return 's';
    case EntryType::char_device:
      return 'c';
    case EntryType::block_device:
      return 'b';
    case EntryType::other:
      return 'o';
  }
  return 'o';
}

std::optional<EntryType> type_from_code(std::string_view s) {
  if (s.size() != 1) return std::nullopt;
  switch (s[0]) {
    case 'f':
      return EntryType::file;
    case 'd':
      return EntryType::dir;
    case 'l':
      return EntryType::symlink;
    case 'p':
      return EntryType::fifo;
    case 's':
      return EntryType::socket;
    case 'c':
      return EntryType::char_device;
    case 'b':
      return EntryType::block_device;
    case 'o':
      return EntryType::other;
    default:
      return std::nullopt;
  }
}

constexpr char kHex[] = "0123456789abcdef";

void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '%') {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unescape(std::string_view s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

template <typename T>
bool parse_num(std::string_view s, T& out, int base = 10) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_sha(std::string_view s, Sha256& out) {
  if (s.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

// Splits on tabs into at most `max` fields; false when there are more.
bool split_tabs(std::string_view line, std::vector<std::string_view>& out, size_t max) {
  out.clear();
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    if (out.size() == max) return false;
    if (tab == std::string_view::npos) {
      out.push_back(line.substr(start));
      return true;
    }
    out.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

struct Digest {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  Digest() {
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("SHA-256 unavailable");
  }
  void update(std::string_view s) { EVP_DigestUpdate(ctx.get(), s.data(), s.size()); }
  Sha256 final() {
    Sha256 h{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx.get(), h.data(), &n);
    return h;
  }
};

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

std::string_view type_name(EntryType t) {
  switch (t) {
    case EntryType::file:
      return "file";
    case EntryType::dir:
      return "dir";
    case EntryType::symlink:
      return "symlink";
    case EntryType::fifo:
      return "fifo";
    case EntryType::socket:
      return "socket";
    case EntryType::char_device:
      return "char_device";
    case EntryType::block_device:
      return "block_device";
    case EntryType::other:
      return "other";
  }
  return "other";
}

std::string to_hex(const Sha256& h) {
  std::string s(64, '0');
  for (size_t i = 0; i < h.size(); ++i) {
    s[2 * i] = kHex[h[i] >> 4];
    s[2 * i + 1] = kHex[h[i] & 0xf];
  }
  return s;
}

bool path_less(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    auto ca = a[i] == '/' ? 0u : static_cast<unsigned char>(a[i]) + 1u;
    auto cb = b[i] == '/' ? 0u : static_cast<unsigned char>(b[i]) + 1u;
    return ca < cb;
  }
  return a.size() < b.size();
}

// --- Baseline ---------------------------------------------------------------------------------

void Baseline::reserve(size_t entries, size_t pool_bytes) {
  records_.reserve(entries);
  pool_.reserve(pool_bytes);
}

uint32_t Baseline::intern(std::string_view s) {
  if (pool_.size() + s.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::length_error("file integrity baseline: more than 4 GiB of paths");
  }
  auto off = static_cast<uint32_t>(pool_.size());
  pool_.append(s);
  return off;
}

void Baseline::add(const FileInfo& in) {
  Record r;
  std::string_view path = std::string_view(in.path).substr(0, kMaxPath);
  std::string_view target = std::string_view(in.target).substr(0, kMaxPath);
  std::string_view error = std::string_view(in.error).substr(0, kMaxError);
  r.path_off = intern(path);
  r.path_len = static_cast<uint16_t>(path.size());
  r.aux_off = intern(target);
  intern(error);
  r.target_len = static_cast<uint16_t>(target.size());
  r.error_len = static_cast<uint16_t>(error.size());
  r.size = in.size;
  r.mtime_ns = in.mtime_ns;
  r.ctime_ns = in.ctime_ns;
  r.inode = in.inode;
  r.mode = in.mode;
  r.uid = in.uid;
  r.gid = in.gid;
  r.type = in.type;
  r.has_hash = in.has_hash;
  r.sha256 = in.sha256;
  records_.push_back(r);
}

void Baseline::finish() {
  auto less = [this](const Record& a, const Record& b) {
    return path_less(str(a.path_off, a.path_len), str(b.path_off, b.path_len));
  };
  std::stable_sort(records_.begin(), records_.end(), less);
  auto same = [this](const Record& a, const Record& b) {
    return str(a.path_off, a.path_len) == str(b.path_off, b.path_len);
  };
  records_.erase(std::unique(records_.begin(), records_.end(), same), records_.end());
}

Baseline::View Baseline::view(size_t i) const {
  const Record& r = records_[i];
  View v;
  v.path = str(r.path_off, r.path_len);
  v.type = r.type;
  v.size = r.size;
  v.mode = r.mode;
  v.uid = r.uid;
  v.gid = r.gid;
  v.mtime_ns = r.mtime_ns;
  v.ctime_ns = r.ctime_ns;
  v.inode = r.inode;
  v.has_hash = r.has_hash;
  v.sha256 = &r.sha256;
  v.target = str(r.aux_off, r.target_len);
  v.error = str(r.aux_off + r.target_len, r.error_len);
  return v;
}

FileInfo Baseline::info(size_t i) const {
  View v = view(i);
  FileInfo f;
  f.path = v.path;
  f.type = v.type;
  f.size = v.size;
  f.mode = v.mode;
  f.uid = v.uid;
  f.gid = v.gid;
  f.mtime_ns = v.mtime_ns;
  f.ctime_ns = v.ctime_ns;
  f.inode = v.inode;
  f.has_hash = v.has_hash;
  f.sha256 = *v.sha256;
  f.target = v.target;
  f.error = v.error;
  return f;
}

std::optional<size_t> Baseline::find(std::string_view path) const {
  auto it = std::lower_bound(records_.begin(), records_.end(), path, [this](const Record& r, std::string_view p) {
    return path_less(str(r.path_off, r.path_len), p);
  });
  if (it == records_.end() || str(it->path_off, it->path_len) != path) return std::nullopt;
  return static_cast<size_t>(it - records_.begin());
}

size_t Baseline::lower_bound(std::string_view path) const {
  auto it = std::lower_bound(records_.begin(), records_.end(), path, [this](const Record& r, std::string_view p) {
    return path_less(str(r.path_off, r.path_len), p);
  });
  return static_cast<size_t>(it - records_.begin());
}

// --- Writing ----------------------------------------------------------------------------------

Result<void> write_baseline(const Baseline& baseline, const std::string& file) {
  namespace fs = std::filesystem;
  fs::path target(file);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()))).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(fmt::format("{}: cannot write: {}", tmp, errno_text(errno)));
  bool ok = true;
  int err = 0;
  std::string buf;
  buf.reserve(1 << 20);
  auto flush = [&]() {
    size_t done = 0;
    while (ok && done < buf.size()) {
      ssize_t n = ::write(fd, buf.data() + done, buf.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        ok = false;
        err = errno;
        break;
      }
      done += static_cast<size_t>(n);
    }
    buf.clear();
  };
  Digest digest;
  buf += fmt::format("{}\t{}\t{}\n", kMagic, kVersion, baseline.size());
  for (const auto& root : baseline.roots) {
    buf += "root\t";
    append_escaped(buf, root.path);
    buf += root.recursive ? "\trecursive" : "\tflat";
    for (const auto& g : root.ignore) {
      buf += '\t';
      append_escaped(buf, g);
    }
    buf += '\n';
  }
  digest.update(buf);
  flush();
  for (size_t i = 0; i < baseline.size() && ok; ++i) {
    auto v = baseline.view(i);
    size_t start = buf.size();
    buf += type_code(v.type);
    buf += '\t';
    append_escaped(buf, v.path);
    fmt::format_to(std::back_inserter(buf), "\t{}\t{:o}\t{}\t{}\t{}\t{}\t{}\t", v.size, v.mode, v.uid, v.gid,
                   v.mtime_ns, v.ctime_ns, v.inode);
    if (v.has_hash) buf += to_hex(*v.sha256);
    buf += '\t';
    append_escaped(buf, v.target);
    buf += '\t';
    append_escaped(buf, v.error);
    buf += '\n';
    digest.update(std::string_view(buf).substr(start));
    if (buf.size() >= (1 << 20) - kMaxLine) flush();
  }
  buf += fmt::format("end\t{}\t{}\n", baseline.size(), to_hex(digest.final()));
  flush();
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(tmp.c_str(), file.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return make_error(fmt::format("{}: cannot write: {}", file, errno_text(err)));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

// --- Reading ----------------------------------------------------------------------------------

Result<Baseline> read_baseline(const std::string& file) {
  auto reader = pipeline::LineReader::open(file, kMaxLine);
  if (!reader) return make_error(reader.error());
  Baseline b;
  std::string line;
  std::vector<std::string_view> f;
  std::string path, target, error, prev;
  size_t lineno = 0;
  uint64_t declared = 0;
  bool ended = false;
  Digest digest;
  auto fail = [&](const std::string& why) { return make_error(fmt::format("{}:{}: {}", file, lineno, why)); };
  while (reader->next(line)) {
    ++lineno;
    if (reader->last_cut()) return fail(fmt::format("line longer than {} bytes", kMaxLine));
    if (ended) return fail("text after the end line");
    if (lineno == 1) {
      if (!split_tabs(line, f, 3) || f.size() != 3 || f[0] != kMagic) {
        return fail("not a Vigil file integrity baseline (no 'vigil-fim-baseline' header)");
      }
      int version = 0;
      if (!parse_num(f[1], version) || version != kVersion) {
        return fail(fmt::format("baseline format version '{}' is not supported (this agent reads {})", f[1], kVersion));
      }
      if (!parse_num(f[2], declared)) return fail("bad entry count in the header");
      // Reserve what the header promises, within reason (the count is checked at the end).
      b.reserve(static_cast<size_t>(std::min<uint64_t>(declared, 1'000'000)), 0);
      digest.update(line);
      digest.update("\n");
      continue;
    }
    if (line.starts_with("end\t")) {
      if (!split_tabs(line, f, 3) || f.size() != 3) return fail("malformed end line");
      uint64_t count = 0;
      if (!parse_num(f[1], count) || count != b.size() || count != declared) {
        return fail(fmt::format("end line counts {} entries, header {}, read {}", f[1], declared, b.size()));
      }
      if (f[2] != to_hex(digest.final())) return fail("checksum does not match the content (the file was altered)");
      ended = true;
      continue;
    }
    digest.update(line);
    digest.update("\n");
    if (line.starts_with("root\t")) {
      if (b.size() > 0) return fail("root line after the entries");
      split_tabs(line, f, 2 + 1024);
      if (f.size() < 3) return fail("malformed root line");
      Root r;
      if (!unescape(f[1], r.path) || r.path.empty() || r.path[0] != '/') return fail("bad root path");
      if (f[2] == "recursive") {
        r.recursive = true;
      } else if (f[2] == "flat") {
        r.recursive = false;
      } else {
        return fail(fmt::format("bad root mode '{}' (recursive or flat)", f[2]));
      }
      for (size_t i = 3; i < f.size(); ++i) {
        std::string g;
        if (!unescape(f[i], g)) return fail("bad ignore glob");
        r.ignore.push_back(std::move(g));
      }
      b.roots.push_back(std::move(r));
      continue;
    }
    if (!split_tabs(line, f, kEntryFields) || f.size() != kEntryFields) {
      return fail(fmt::format("expected {} tab-separated fields", kEntryFields));
    }
    FileInfo e;
    auto type = type_from_code(f[0]);
    if (!type) return fail(fmt::format("unknown entry type '{}'", f[0]));
    e.type = *type;
    if (!unescape(f[1], path) || path.empty() || path[0] != '/' || path.size() > kMaxPath) return fail("bad path");
    if (!parse_num(f[2], e.size)) return fail("bad size");
    if (!parse_num(f[3], e.mode, 8) || e.mode > 07777) return fail("bad mode");
    if (!parse_num(f[4], e.uid)) return fail("bad uid");
    if (!parse_num(f[5], e.gid)) return fail("bad gid");
    if (!parse_num(f[6], e.mtime_ns)) return fail("bad mtime");
    if (!parse_num(f[7], e.ctime_ns)) return fail("bad ctime");
    if (!parse_num(f[8], e.inode)) return fail("bad inode");
    if (!f[9].empty()) {
      if (!parse_sha(f[9], e.sha256)) return fail("bad sha256");
      e.has_hash = true;
    }
    if (!unescape(f[10], target) || target.size() > kMaxPath) return fail("bad symlink target");
    if (!unescape(f[11], error) || error.size() > kMaxError) return fail("bad error text");
    if (!prev.empty() && !path_less(prev, path)) return fail("entries out of order or repeated");
    e.path = path;
    e.target = target;
    e.error = error;
    b.add(e);
    prev.swap(path);
  }
  if (!reader->error().empty()) return make_error(reader->error());
  if (lineno == 0) return make_error(fmt::format("{}:1: empty file, not a baseline", file));
  if (!ended) return fail(fmt::format("truncated: no end line after {} entries", b.size()));
  return b;
}

}  // namespace vigil::agent::fim
