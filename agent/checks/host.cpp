#include "agent/checks/host.h"

#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>

#include <fmt/format.h>

extern char** environ;

namespace vigil::agent::checks {

HostRoot::HostRoot(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_.empty()) root_.assign(1, '/');
  live_ = root_ == "/";
}

std::string HostRoot::path(std::string_view absolute) const {
  if (live_) return std::string(absolute);
  return resolve(absolute, true);
}

std::string HostRoot::path_nofollow(std::string_view absolute) const {
  if (live_) return std::string(absolute);
  return resolve(absolute, false);
}

std::string HostRoot::resolve(std::string_view absolute, bool follow_last) const {
  std::deque<std::string> todo;
  for (auto c : split_fields(absolute, '/')) {
    if (!c.empty()) todo.emplace_back(c);
  }
  std::string resolved;  // below root_, "" is the root itself
  int hops = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      auto slash = resolved.rfind('/');
      resolved.erase(slash == std::string::npos ? 0 : slash);  // never above the root
      continue;
    }
    std::string candidate = resolved + "/" + c;
    bool last = todo.empty();
    struct stat st {};
    if ((follow_last || !last) && hops < 40 && ::lstat((root_ + candidate).c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink((root_ + candidate).c_str(), target, sizeof target - 1);
      if (n > 0) {
        ++hops;
        std::string_view t(target, static_cast<size_t>(n));
        if (t.front() == '/') resolved.clear();
        auto parts = split_fields(t, '/');
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
          if (!it->empty()) todo.emplace_front(*it);
        }
        continue;
      }
    }
    resolved = std::move(candidate);
  }
  return root_ + (resolved.empty() ? "/" : resolved);
}

FileRead HostRoot::read(std::string_view absolute, size_t max_bytes) const {
  FileRead r;
  std::string p = path(absolute);
  struct stat lst {};
  if (!live_) {  // the link itself, resolved inside the root: a dangling one is an error, not a missing file
    std::string link = path_nofollow(absolute);
    if (::lstat(link.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) && ::access(p.c_str(), F_OK) != 0) {
      r.status = FileRead::Status::error;
      r.reason = fmt::format("cannot read {}: dangling symbolic link", absolute);
      return r;
    }
  }
  if (::lstat(p.c_str(), &lst) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      r.status = FileRead::Status::missing;
      r.reason = fmt::format("{} does not exist", absolute);
    } else {
      r.status = FileRead::Status::error;
      r.reason = fmt::format("cannot stat {}: {}", absolute, std::strerror(errno));
    }
    return r;
  }
  r.status = FileRead::Status::error;
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (S_ISLNK(lst.st_mode) && errno == ENOENT) {
      r.reason = fmt::format("cannot read {}: dangling symbolic link", absolute);
    } else {
      r.reason = fmt::format("cannot read {}: {}", absolute, std::strerror(errno));
    }
    return r;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    r.reason = S_ISDIR(st.st_mode) ? fmt::format("cannot read {}: is a directory", absolute)
                                   : fmt::format("cannot read {}: not a regular file", absolute);
    return r;
  }
  // /proc files report size 0: read up to the bound whatever stat says.
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    r.reason = fmt::format("cannot read {}: larger than {} bytes", absolute, max_bytes);
    return r;
  }
  std::string buf;
  buf.resize(st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 65536);
  size_t used = 0;
  for (;;) {
    if (used == buf.size()) {
      if (buf.size() >= max_bytes) {
        ::close(fd);
        r.reason = fmt::format("cannot read {}: larger than {} bytes", absolute, max_bytes);
        return r;
      }
      buf.resize(std::min(max_bytes + 1, buf.size() * 2));
    }
    ssize_t n = ::read(fd, buf.data() + used, buf.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.reason = fmt::format("cannot read {}: {}", absolute, std::strerror(errno));
      ::close(fd);
      return r;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  buf.resize(used);
  r.status = FileRead::Status::ok;
  r.content = std::move(buf);
  return r;
}

std::vector<std::string> HostRoot::glob(std::string_view pattern) const {
  if (pattern.find_first_of("*?[") == std::string_view::npos) return {std::string(pattern)};
  std::string full = path(pattern);
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(full.c_str(), 0, nullptr, &g) == 0) {
    size_t strip = live_ ? 0 : root_.size();
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(std::string(g.gl_pathv[i]).substr(strip));
  }
  ::globfree(&g);
  return out;
}

// ---- Debian versions ---------------------------------------------------------------------------

namespace {

int order(char c) {
  if (std::isdigit(static_cast<unsigned char>(c))) return 0;
  if (std::isalpha(static_cast<unsigned char>(c))) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

int verrevcmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !std::isdigit(static_cast<unsigned char>(a[i]))) ||
           (j < b.size() && !std::isdigit(static_cast<unsigned char>(b[j])))) {
      int ac = i < a.size() ? order(a[i]) : 0;
      int bc = j < b.size() ? order(b[j]) : 0;
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && j < b.size() && std::isdigit(static_cast<unsigned char>(a[i])) &&
           std::isdigit(static_cast<unsigned char>(b[j]))) {
      if (!first_diff) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]))) return 1;
    if (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j]))) return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

struct DebVersion {
  long long epoch = 0;
  std::string_view upstream;
  std::string_view revision;
};

DebVersion split_version(std::string_view v) {
  DebVersion d;
  v = trim(v);
  if (auto colon = v.find(':'); colon != std::string_view::npos) {
    d.epoch = parse_int(v.substr(0, colon)).value_or(0);
    v = v.substr(colon + 1);
  }
  if (auto dash = v.rfind('-'); dash != std::string_view::npos) {
    d.upstream = v.substr(0, dash);
    d.revision = v.substr(dash + 1);
  } else {
    d.upstream = v;
  }
  return d;
}

}  // namespace

int compare_debian_versions(std::string_view a, std::string_view b) {
  DebVersion x = split_version(a), y = split_version(b);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  int r = verrevcmp(x.upstream, y.upstream);
  if (r == 0) r = verrevcmp(x.revision, y.revision);
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

// ---- commands ----------------------------------------------------------------------------------

namespace {
std::atomic<pid_t> g_command_group{0};
static_assert(std::atomic<pid_t>::is_always_lock_free);
}  // namespace

int running_command_group() { return g_command_group.load(); }

Result<CommandOutput> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) return make_error("empty command");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return make_error(fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  // A probe holds nothing else of the agent's (files libraries opened without close-on-exec).
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return make_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  g_command_group.store(pid);
  CommandOutput out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.timed_out = true;
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) {
      out.timed_out = true;
      break;
    }
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.out.size() < 65536) out.out.append(buf, std::min<size_t>(static_cast<size_t>(n), 65536 - out.out.size()));
  }
  ::close(pipefd[0]);
  if (out.timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_command_group.store(0);
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

// ---- text helpers ------------------------------------------------------------------------------

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::vector<std::string_view> split_fields(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = line.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(line.substr(start));
      return out;
    }
    out.push_back(line.substr(start, p - start));
    start = p + 1;
  }
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t s = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > s) out.push_back(line.substr(s, i - s));
  }
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::optional<long long> parse_int(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace vigil::agent::checks
