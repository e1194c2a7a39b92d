#include "agent/fim/content.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "agent/checks/host.h"
#include "agent/fim/scanner.h"
#include "common/pki/pki.h"

namespace vigil::agent::fim {

namespace {

enum class Op : uint8_t { keep, del, add };

// The edit script turning a[lo..a_hi) into b[lo..b_hi) (both starting at index `lo`): a longest
// common subsequence by dynamic programming when the table fits kMaxCells, else all deleted then
// all added.
constexpr size_t kMaxCells = 1 << 20;
void edit_script(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b, size_t a_lo,
                 size_t a_hi, size_t b_lo, size_t b_hi, std::vector<Op>& ops) {
  const size_t n = a_hi - a_lo, m = b_hi - b_lo;
  if (n == 0 || m == 0 || n * m > kMaxCells) {
    ops.insert(ops.end(), n, Op::del);
    ops.insert(ops.end(), m, Op::add);
    return;
  }
  // len[i][j]: the LCS of a[i..n) and b[j..m) (suffixes), so the script reads forwards.
  std::vector<uint32_t> len((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return len[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      at(i, j) = a[a_lo + i] == b[b_lo + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  size_t i = 0, j = 0;
  while (i < n && j < m) {
    if (a[a_lo + i] == b[b_lo + j]) {
      ops.push_back(Op::keep);
      ++i, ++j;
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      ops.push_back(Op::del);
      ++i;
    } else {
      ops.push_back(Op::add);
      ++j;
    }
  }
  ops.insert(ops.end(), n - i, Op::del);
  ops.insert(ops.end(), m - j, Op::add);
}

// "start,count" of a hunk side as unified diffs write it (start 0 for an empty side).
std::string range(size_t start, size_t count) {
  if (count == 1) return std::to_string(start + 1);
  return fmt::format("{},{}", count == 0 ? start : start + 1, count);
}

}  // namespace

const std::vector<std::string>& default_nodiff() {
  static const std::vector<std::string> globs = {
      "shadow",  "shadow-",   "gshadow",   "gshadow-", "*.key",        "*.pem",       "*.p12",
      "*.pfx",   "*.keytab",  "*_key",     "*_key.*",  "*secret*",     "*password*",  "*passwd-*",
      "*token*", "*.kdb",     "*.jks",     "*.gpg",    "**/private/**", "**/ssl/private", "opasswd"};
  return globs;
}

bool diff_denied(std::string_view path, const std::vector<std::string>& extra) {
  std::string_view rel = path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  const size_t slash = rel.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  for (const auto* list : {&default_nodiff(), &extra}) {
    for (const auto& g : *list) {
      // As ignore globs: one without '/' matches a name at any depth.
      if (glob_match(g, g.find('/') == std::string::npos ? name : rel)) return true;
    }
  }
  return false;
}

bool diff_by_default(std::string_view root) { return root == "/etc" || path_under(root, "/etc"); }

std::string unified_diff(std::string_view before, std::string_view after, std::string_view path) {
  if (before == after) return {};
  const auto a = checks::split_lines(before), b = checks::split_lines(after);
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  std::vector<Op> ops(pre, Op::keep);
  edit_script(a, b, pre, a.size() - suf, pre, b.size() - suf, ops);
  ops.insert(ops.end(), suf, Op::keep);

  std::string out = fmt::format("--- a{}\n+++ b{}\n", path, path);
  constexpr size_t kContext = 3;
  // Each op's position in a and b.
  std::vector<std::pair<size_t, size_t>> pos(ops.size() + 1);
  for (size_t k = 0, i = 0, j = 0; k <= ops.size(); ++k) {
    pos[k] = {i, j};
    if (k == ops.size()) break;
    if (ops[k] != Op::add) ++i;
    if (ops[k] != Op::del) ++j;
  }
  size_t k = 0;
  while (k < ops.size()) {
    while (k < ops.size() && ops[k] == Op::keep) ++k;
    if (k == ops.size()) break;
    // A hunk: from kContext lines before this change to kContext after the last change that
    // follows within 2 * kContext unchanged lines.
    size_t first = k >= kContext ? k - kContext : 0;
    size_t last = k;  // one past the last change
    size_t scan = k;
    while (scan < ops.size()) {
      if (ops[scan] != Op::keep) {
        last = scan + 1;
        ++scan;
        continue;
      }
      size_t run = scan;
      while (run < ops.size() && ops[run] == Op::keep) ++run;
      if (run == ops.size() || run - scan > 2 * kContext) break;
      scan = run;
    }
    size_t end = std::min(ops.size(), last + kContext);
    const auto [a0, b0] = pos[first];
    const auto [a1, b1] = pos[end];
    out += fmt::format("@@ -{} +{} @@\n", range(a0, a1 - a0), range(b0, b1 - b0));
    for (size_t x = first; x < end; ++x) {
      const char mark = ops[x] == Op::keep ? ' ' : ops[x] == Op::del ? '-' : '+';
      const std::string_view text = ops[x] == Op::add ? b[pos[x].second] : a[pos[x].first];
      out += mark;
      out += text;
      out += '\n';
      if (out.size() > kMaxDiffText) {
        // Cut at the last whole line within the limit.
        size_t keep = out.rfind('\n', kMaxDiffText - 1);
        out.resize(keep == std::string::npos ? 0 : keep + 1);
        out += fmt::format("... (diff cut at {} bytes)\n", kMaxDiffText);
        return out;
      }
    }
    k = end;
  }
  return out;
}

ContentStore::ContentStore(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

std::string ContentStore::path_of(const Sha256& hash) const { return dir_ + "/" + to_hex(hash); }

std::optional<std::string> ContentStore::read_text(const std::string& path, const Sha256& expect) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > kMaxDiffFile) {
    ::close(fd);
    return std::nullopt;
  }
  std::string text(kMaxDiffFile + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got > kMaxDiffFile) return std::nullopt;
  text.resize(got);
  if (text.find('\0') != std::string::npos) return std::nullopt;
  if (pki::sha256_hex(text) != to_hex(expect)) return std::nullopt;
  return text;
}

void ContentStore::count_existing() {
  if (counted_) return;
  counted_ = true;
  bytes_ = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::error_code size_ec;
    auto size = e.file_size(size_ec);
    if (!size_ec) bytes_ += size;
  }
}

bool ContentStore::has(const Sha256& hash) const {
  struct stat st{};
  return ::stat(path_of(hash).c_str(), &st) == 0;
}

bool ContentStore::put(const Sha256& hash, std::string_view text) {
  count_existing();
  if (has(hash)) return true;
  if (bytes_ + text.size() > max_bytes_) {
    ++refused_;
    return false;
  }
  ::mkdir(dir_.c_str(), 0700);
  const std::string final_path = path_of(hash), tmp = final_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = ::close(fd) == 0 && done == text.size() && ::rename(tmp.c_str(), final_path.c_str()) == 0;
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  bytes_ += text.size();
  return true;
}

std::optional<std::string> ContentStore::get(const Sha256& hash) const {
  auto text = read_text(path_of(hash), hash);
  return text;
}

void ContentStore::retain(const std::unordered_set<std::string>& keep) {
  std::error_code ec;
  std::vector<std::filesystem::path> drop;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    if (!keep.count(e.path().filename().string())) drop.push_back(e.path());
  }
  for (const auto& p : drop) std::filesystem::remove(p, ec);
  counted_ = false;
  count_existing();
}

}  // namespace vigil::agent::fim
