#include "agent/fim/scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "common/config/yaml_reader.h"

namespace vigil::agent::fim {

namespace {

constexpr size_t kReadBuffer = 128 * 1024;

std::vector<std::string_view> split_components(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) slash = s.size();
    if (slash > start) out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool component_match(std::string_view glob, std::string_view name) {
  // fnmatch wants NUL-terminated strings; components are short.
  char g[NAME_MAX + 1], n[NAME_MAX + 1];
  if (glob.size() > NAME_MAX || name.size() > NAME_MAX) return glob == name;
  std::memcpy(g, glob.data(), glob.size());
  g[glob.size()] = '\0';
  std::memcpy(n, name.data(), name.size());
  n[name.size()] = '\0';
  return ::fnmatch(g, n, 0) == 0;
}

bool match_from(const std::vector<std::string_view>& g, size_t i, const std::vector<std::string_view>& p, size_t j) {
  if (i == g.size()) return j == p.size();
  if (g[i] == "**") {
    // A trailing "**" needs at least one component ("cache/**" is what is inside cache/).
    size_t first = (i + 1 == g.size()) ? j + 1 : j;
    for (size_t k = first; k <= p.size(); ++k) {
      if (match_from(g, i + 1, p, k)) return true;
    }
    return false;
  }
  if (j == p.size()) return false;
  return component_match(g[i], p[j]) && match_from(g, i + 1, p, j + 1);
}

EntryType type_of(mode_t m) {
  if (S_ISREG(m)) return EntryType::file;
  if (S_ISDIR(m)) return EntryType::dir;
  if (S_ISLNK(m)) return EntryType::symlink;
  if (S_ISFIFO(m)) return EntryType::fifo;
  if (S_ISSOCK(m)) return EntryType::socket;
  if (S_ISCHR(m)) return EntryType::char_device;
  if (S_ISBLK(m)) return EntryType::block_device;
  return EntryType::other;
}

void fill(FileInfo& info, const struct stat& st) {
  info.type = type_of(st.st_mode);
  info.size = info.type == EntryType::dir ? 0 : static_cast<uint64_t>(st.st_size);
  info.mode = static_cast<uint32_t>(st.st_mode & 07777);
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  info.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  info.inode = st.st_ino;
  info.has_hash = false;
  info.target.clear();
  info.error.clear();
}

bool under(std::string_view path, std::string_view root) { return path_under(path, root); }

std::string_view relative_to(std::string_view path, std::string_view root) {
  return path.substr(root == "/" ? 1 : root.size() + 1);
}

}  // namespace

bool path_under(std::string_view path, std::string_view dir) {
  if (dir == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

std::chrono::nanoseconds ReadRate::take(size_t bytes) {
  if (rate_ == 0) return std::chrono::nanoseconds{0};
  const double rate = static_cast<double>(rate_);
  const double burst = std::max(rate / 10, 128.0 * 1024);
  std::chrono::nanoseconds wait{0};
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (tokens_ < 0 && refilled_ == std::chrono::steady_clock::time_point{}) {
      tokens_ = burst;
    } else {
      tokens_ = std::min(burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate);
    }
    refilled_ = now;
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ < 0) {
      wait = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(-tokens_ / rate));
    }
  }
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
  return wait;
}

bool glob_match(std::string_view glob, std::string_view relative) {
  auto g = split_components(glob);
  auto p = split_components(relative);
  if (g.empty()) return false;
  return match_from(g, 0, p, 0);
}

std::string normalize_root(std::string_view path) {
  std::error_code ec;
  std::filesystem::path p(path);
  auto abs = std::filesystem::absolute(p, ec);
  std::string s = (ec ? p : abs).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

struct Scanner::Walk {
  const Sink* sink{nullptr};
  const Sink* on_dir{nullptr};
  const Baseline* baseline{nullptr};
  FileInfo info{};
  std::string path{};
  size_t depth{0};  // directories entered below the root
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

Scanner::Scanner(ScanOptions options) : options_(std::move(options)), buf_(kReadBuffer) {
  for (auto& r : options_.roots) r.path = normalize_root(r.path);
  std::stable_sort(options_.roots.begin(), options_.roots.end(),
                   [](const Root& a, const Root& b) { return path_less(a.path, b.path); });
  std::vector<Root> kept;
  for (auto& r : options_.roots) {
    bool covered = std::any_of(kept.begin(), kept.end(), [&](const Root& k) {
      return k.path == r.path || (k.recursive && under(r.path, k.path));
    });
    if (!covered) kept.push_back(std::move(r));
  }
  options_.roots = std::move(kept);
}

Scanner::~Scanner() = default;

bool Scanner::ignored(const Root& root, std::string_view relative, std::string_view name) const {
  for (const auto& g : root.ignore) {
    if (g.find('/') == std::string::npos) {
      if (component_match(g, name)) return true;
    } else if (glob_match(g, relative)) {
      return true;
    }
  }
  return false;
}

bool Scanner::in_scope(std::string_view path) const {
  for (const auto& root : options_.roots) {
    if (path == root.path) return true;
    if (!under(path, root.path)) continue;
    std::string_view rel = relative_to(path, root.path);
    if (!root.recursive && rel.find('/') != std::string_view::npos) continue;
    bool out = false;
    // Every ancestor up to the path itself: an ignored directory hides what is inside it.
    for (size_t end = 0; end != std::string_view::npos && !out;) {
      end = rel.find('/', end + 1);
      std::string_view prefix = rel.substr(0, end);
      size_t slash = prefix.rfind('/');
      std::string_view name = slash == std::string_view::npos ? prefix : prefix.substr(slash + 1);
      out = ignored(root, prefix, name);
    }
    if (!out) return true;
  }
  return false;
}

void Scanner::pace(size_t bytes) {
  if (options_.shared_rate) {
    stats_.throttled += options_.shared_rate->take(bytes);
    return;
  }
  if (options_.max_read_rate == 0) return;
  const double rate = static_cast<double>(options_.max_read_rate);
  const double burst = std::max(rate / 10, static_cast<double>(kReadBuffer));
  auto now = std::chrono::steady_clock::now();
  tokens_ = std::min(burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate);
  refilled_ = now;
  tokens_ -= static_cast<double>(bytes);
  if (tokens_ < 0) {
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(-tokens_ / rate));
    std::this_thread::sleep_for(wait);
    stats_.throttled += wait;
  }
}

Result<void> Scanner::run(const Sink& sink, const Baseline* baseline) {
  stats_ = {};
  tokens_ = std::max(static_cast<double>(options_.max_read_rate) / 10, static_cast<double>(kReadBuffer));
  refilled_ = std::chrono::steady_clock::now();
  Walk w;
  if (!w.md) return make_error("SHA-256: cannot allocate a digest context");
  w.sink = &sink;
  w.baseline = baseline;
  for (size_t i = 0; i < options_.roots.size() && !cancelled(); ++i) {
    const Root& root = options_.roots[i];
    struct stat st {};
    if (::lstat(root.path.c_str(), &st) != 0) {
      if (errno == ENOENT && !options_.missing_root_is_error) continue;
      return make_error(fmt::format("{}: {}", root.path, std::strerror(errno)));
    }
    // A root directly inside a flat root is that root's entry already.
    bool emit_self = true;
    for (size_t k = 0; k < i; ++k) {
      const Root& o = options_.roots[k];
      if (!under(root.path, o.path)) continue;
      std::string_view rel = relative_to(root.path, o.path);
      if (rel.find('/') == std::string_view::npos && !ignored(o, rel, rel)) emit_self = false;
    }
    w.path = root.path;
    visit(w, AT_FDCWD, root.path.c_str(), root, true, emit_self);
  }
  return {};
}

void Scanner::visit(Walk& w, int dirfd, const char* name, const Root& root, bool list_children, bool emit_self) {
  FileInfo& info = w.info;
  struct stat st {};
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      ++stats_.vanished;
      return;
    }
    if (!emit_self) return;
    if (stats_.capped || (options_.max_files && stats_.entries >= options_.max_files)) {
      stats_.capped = true;
      ++stats_.over_cap;
      return;
    }
    int e = errno;
    info = FileInfo{};
    info.path = w.path;
    info.error = fmt::format("stat: {}", std::strerror(e));
    ++stats_.errors;
    ++stats_.entries;
    (*w.sink)(info);
    return;
  }
  const bool is_dir = S_ISDIR(st.st_mode);
  int subfd = -1;
  if (is_dir && list_children) {
    subfd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (subfd < 0 && errno == ENOENT) {
      ++stats_.vanished;
      return;
    }
  }
  const int open_errno = subfd < 0 ? errno : 0;
  if (emit_self) {
    if (stats_.capped || (options_.max_files && stats_.entries >= options_.max_files)) {
      stats_.capped = true;
      ++stats_.over_cap;
    } else {
      info.path = w.path;
      fill(info, st);
      bool keep = true;
      switch (info.type) {
        case EntryType::file: {
          bool reused = false;
          if (w.baseline && !options_.full) {
            if (auto idx = w.baseline->find(info.path)) {
              auto v = w.baseline->view(*idx);
              if (v.type == EntryType::file && v.has_hash && v.error.empty() && v.size == info.size &&
                  v.mtime_ns == info.mtime_ns && v.ctime_ns == info.ctime_ns && v.inode == info.inode &&
                  v.mode == info.mode && v.uid == info.uid && v.gid == info.gid) {
                info.has_hash = true;
                info.sha256 = *v.sha256;
                ++stats_.reused;
                reused = true;
              }
            }
          }
          if (!reused) keep = hash_file(w, dirfd, name);
          break;
        }
        case EntryType::symlink: {
          char target[PATH_MAX + 1];
          ssize_t n = ::readlinkat(dirfd, name, target, sizeof(target));
          if (n < 0) {
            if (errno == ENOENT)
              keep = false;
            else
              info.error = fmt::format("readlink: {}", std::strerror(errno));
          } else {
            info.target.assign(target, static_cast<size_t>(std::min<ssize_t>(n, PATH_MAX)));
          }
          break;
        }
        case EntryType::dir:
          if (list_children && subfd < 0) info.error = fmt::format("cannot list: {}", std::strerror(open_errno));
          break;
        default:
          break;
      }
      if (!keep) {
        ++stats_.vanished;
        if (subfd >= 0) ::close(subfd);
        return;
      }
      switch (info.type) {
        case EntryType::file:
          ++stats_.files;
          break;
        case EntryType::dir:
          ++stats_.dirs;
          break;
        case EntryType::symlink:
          ++stats_.symlinks;
          break;
        default:
          ++stats_.special;
          break;
      }
      if (!info.error.empty()) ++stats_.errors;
      ++stats_.entries;
      (*w.sink)(info);
    }
  }
  if (subfd >= 0 && (w.depth >= kMaxDepth || w.path.size() + NAME_MAX + 1 >= kMaxPath)) {
    ::close(subfd);
    subfd = -1;
    ++stats_.too_deep;
  }
  if (subfd >= 0) {
    if (w.on_dir) {
      info.path = w.path;
      (*w.on_dir)(info);
    }
    ++w.depth;
    walk_dir(w, subfd, root);
    --w.depth;
  }
}

void Scanner::run_path(std::string_view path, bool subtree, const Sink& sink, const Baseline* baseline,
                       const Sink& on_dir) {
  stats_ = {};
  const Root* root = nullptr;
  for (const auto& r : options_.roots) {
    if (path == r.path || under(path, r.path)) root = &r;
  }
  if (!root || !in_scope(path)) return;
  // Beneath a flat root only its own entries are recorded: one of them is never entered.
  const bool enter = subtree && (root->recursive || path == root->path);
  Walk w;
  if (!w.md) return;
  w.sink = &sink;
  w.on_dir = on_dir ? &on_dir : nullptr;
  w.baseline = baseline;
  w.path = std::string(path);
  const std::string name(path);
  visit(w, AT_FDCWD, name.c_str(), *root, enter, true);
}

void Scanner::walk_dir(Walk& w, int fd, const Root& root) {
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return;
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* de = ::readdir(d)) {
    if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
    names.emplace_back(de->d_name);
  }
  std::sort(names.begin(), names.end());
  const size_t base = w.path.size();
  for (const auto& n : names) {
    if (cancelled()) break;
    if (w.path != "/") w.path += '/';
    w.path += n;
    if (ignored(root, relative_to(w.path, root.path), n)) {
      ++stats_.ignored;
    } else {
      visit(w, ::dirfd(d), n.c_str(), root, root.recursive, true);
    }
    w.path.resize(base);
  }
  ::closedir(d);
}

bool Scanner::hash_file(Walk& w, int dirfd, const char* name) {
  FileInfo& info = w.info;
  int fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    info.error = fmt::format("open: {}", std::strerror(errno));
    return true;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    info.error = "changed while being read";
    ::close(fd);
    return true;
  }
  // What was hashed is what fstat describes (the name may have been replaced since lstat): its
  // size and no more, so a file written faster than it is read does not hold the scan forever.
  fill(info, st);
  EVP_DigestInit_ex(w.md.get(), EVP_sha256(), nullptr);
  uint64_t left = static_cast<uint64_t>(st.st_size);
  for (;;) {
    if (left == 0) break;  // what grew since is seen by the next look (its size differs)
    ssize_t n = ::read(fd, buf_.data(), static_cast<size_t>(std::min<uint64_t>(buf_.size(), left)));
    if (n < 0) {
      if (errno == EINTR) continue;
      info.error = fmt::format("read: {}", std::strerror(errno));
      ::close(fd);
      return true;
    }
    ++stats_.read_calls;
    if (n == 0) {
      info.error = "changed while being read";  // shorter than fstat said: truncated meanwhile
      ::close(fd);
      return true;
    }
    left -= static_cast<uint64_t>(n);
    if (cancelled()) {
      info.error = "scan cancelled";
      ::close(fd);
      return true;
    }
    stats_.bytes_read += static_cast<uint64_t>(n);
    EVP_DigestUpdate(w.md.get(), buf_.data(), static_cast<size_t>(n));
    pace(static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned int len = 0;
  EVP_DigestFinal_ex(w.md.get(), info.sha256.data(), &len);
  info.has_hash = true;
  ++stats_.hashed;
  return true;
}

std::optional<uint64_t> parse_read_rate(std::string_view text) {
  if (text.ends_with("/s")) text.remove_suffix(2);
  auto rate = config::parse_size(text);
  if (!rate || *rate < 64 * 1024 || *rate > (64ULL << 30)) return std::nullopt;
  return rate;
}

}  // namespace vigil::agent::fim
