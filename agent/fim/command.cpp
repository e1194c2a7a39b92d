#include "agent/fim/command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <unordered_set>

#include <fmt/format.h>

#include "agent/fim/baseline.h"
#include "agent/fim/content.h"
#include "agent/fim/diff.h"
#include "agent/fim/events.h"
#include "common/config/yaml_reader.h"
#include "common/event/json.h"
#include "common/util/host.h"

namespace vigil::agent::fim {

namespace {

constexpr size_t kMaxWarnings = 20;

Result<uint64_t> read_rate(const std::string& text) {
  if (text.empty()) return uint64_t{0};
  auto n = parse_read_rate(text);
  if (!n) return make_error(fmt::format("--max-read-rate {}: expected 64KiB/s to 64GiB/s, such as 50MiB", text));
  return *n;
}

Result<ScanOptions> scan_options(const CommandArgs& a, const std::vector<Root>& default_roots) {
  ScanOptions o;
  for (const auto& p : a.paths) {
    Root r;
    r.path = normalize_root(p);
    r.recursive = !a.no_recursive;
    r.ignore = a.ignore;
    o.roots.push_back(std::move(r));
  }
  if (o.roots.empty()) o.roots = default_roots;
  if (o.roots.empty()) return make_error("no --path given");
  auto rate = read_rate(a.max_read_rate);
  if (!rate) return make_error(rate.error());
  o.max_read_rate = *rate;
  o.max_files = a.max_files;
  o.full = a.full;
  return o;
}

// Unreadable entries, the first few named on stderr.
struct Warnings {
  const char* command{nullptr};
  size_t count{0};
  void entry(const FileInfo& f) {
    if (f.error.empty()) return;
    if (++count <= kMaxWarnings)
      std::fprintf(stderr, "vigil-agent fim %s: warning: %s: %s\n", command, f.path.c_str(), f.error.c_str());
  }
  void done() const {
    if (count > kMaxWarnings) {
      std::fprintf(stderr, "vigil-agent fim %s: warning: %zu more entries could not be read\n", command,
                   count - kMaxWarnings);
    }
  }
};

void report_cap(const char* command, const ScanOptions& o, const ScanStats& s) {
  if (!s.capped) return;
  std::fprintf(stderr, "vigil-agent fim %s: warning: max_files (%llu) reached: %llu more entries were not recorded\n",
               command, static_cast<unsigned long long>(o.max_files), static_cast<unsigned long long>(s.over_cap));
}

std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

}  // namespace

int baseline_command(const CommandArgs& a) {
  if (a.out.empty() || a.out == "-") {
    std::fprintf(stderr,
                 "vigil-agent fim baseline: error: --out FILE is required (a baseline is not written to stdout)\n");
    return 1;
  }
  auto opts = scan_options(a, {});
  if (!opts) {
    std::fprintf(stderr, "vigil-agent fim baseline: error: %s\n", opts.error().c_str());
    return 1;
  }
  Scanner scanner(std::move(*opts));
  Baseline b;
  b.roots = scanner.roots();
  Warnings warn{"baseline"};
  auto ran = scanner.run([&](const FileInfo& f) {
    warn.entry(f);
    b.add(f);
  });
  if (!ran) {
    std::fprintf(stderr, "vigil-agent fim baseline: error: %s\n", ran.error().c_str());
    return 1;
  }
  warn.done();
  report_cap("baseline", scanner.options(), scanner.stats());
  b.finish();
  if (a.diff) {
    ContentStore store(a.out + ".content");
    uint64_t kept = 0;
    std::unordered_set<std::string> keep;
    for (size_t i = 0; i < b.size(); ++i) {
      const auto v = b.view(i);
      if (v.type != EntryType::file || !v.has_hash || diff_denied(v.path, {})) continue;
      auto text = ContentStore::read_text(std::string(v.path), *v.sha256);
      if (text && store.put(*v.sha256, *text)) {
        keep.insert(to_hex(*v.sha256));
        ++kept;
      }
    }
    store.retain(keep);
    std::fprintf(stderr, "vigil-agent fim baseline: %llu text files kept for diffs in %s.content%s\n",
                 static_cast<unsigned long long>(kept), a.out.c_str(),
                 store.refused() ? fmt::format(" ({} past its cap)", store.refused()).c_str() : "");
  }
  auto written = write_baseline(b, a.out);
  if (!written) {
    std::fprintf(stderr, "vigil-agent fim baseline: error: %s\n", written.error().c_str());
    return 1;
  }
  const auto& s = scanner.stats();
  std::fprintf(stderr,
               "vigil-agent fim baseline: %zu entries (%llu files, %llu directories, %llu symlinks, %llu special), "
               "%s hashed, %llu unreadable; written to %s\n",
               b.size(), static_cast<unsigned long long>(s.files), static_cast<unsigned long long>(s.dirs),
               static_cast<unsigned long long>(s.symlinks), static_cast<unsigned long long>(s.special),
               mib(s.bytes_read).c_str(), static_cast<unsigned long long>(s.errors), a.out.c_str());
  return 0;
}

int check_command(const CommandArgs& a) {
  auto baseline = read_baseline(a.baseline);
  if (!baseline) {
    std::fprintf(stderr, "vigil-agent fim check: error: %s\n", baseline.error().c_str());
    return 1;
  }
  auto opts = scan_options(a, baseline->roots);
  if (!opts) {
    std::fprintf(stderr, "vigil-agent fim check: error: %s\n", opts.error().c_str());
    return 1;
  }
  opts->missing_root_is_error = false;  // a root deleted since the baseline is a change
  std::FILE* out = stdout;
  if (!a.out.empty() && a.out != "-") {
    out = std::fopen(a.out.c_str(), "w");
    if (!out) {
      std::fprintf(stderr, "vigil-agent fim check: error: %s: cannot write: %s\n", a.out.c_str(), std::strerror(errno));
      return 1;
    }
  }
  std::string host = a.host_name.empty() ? local_host_name() : a.host_name;
  Scanner scanner(std::move(*opts));
  Comparer cmp(*baseline);
  Warnings warn{"check"};
  uint64_t real_changes = 0;
  std::string line;
  Timestamp at = Timestamp::now();
  std::error_code ec;
  std::optional<ContentStore> kept;
  if (std::filesystem::is_directory(a.baseline + ".content", ec)) kept.emplace(a.baseline + ".content");
  auto emit = [&](const Change& c) {
    if (c.type != ChangeType::change || c.changed != 0) ++real_changes;
    line.clear();
    Event e = to_event(c, host, at);
    if (kept && c.type == ChangeType::change && c.now.type == EntryType::file && c.now.has_hash &&
        c.before.type == EntryType::file && c.before.has_hash && c.before.sha256 != c.now.sha256 &&
        !diff_denied(c.now.path, {})) {
      auto prev = kept->get(c.before.sha256);
      auto text = prev ? ContentStore::read_text(c.now.path, c.now.sha256) : std::nullopt;
      if (text) {
        if (auto d = unified_diff(*prev, *text, c.now.path); !d.empty()) e.add(field("vigil.fim.diff"), d);
      }
    }
    append_json_line(line, e);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
  };
  Change change;
  auto ran = scanner.run(
      [&](const FileInfo& f) {
        warn.entry(f);
        if (cmp.observe(f, change)) emit(change);
      },
      &*baseline);
  if (!ran) {
    std::fprintf(stderr, "vigil-agent fim check: error: %s\n", ran.error().c_str());
    if (out != stdout) std::fclose(out);
    return 1;
  }
  warn.done();
  const auto& s = scanner.stats();
  report_cap("check", scanner.options(), s);
  if (s.capped) {
    std::fprintf(stderr, "vigil-agent fim check: warning: deletions are not reported when the walk was capped\n");
  } else {
    cmp.deletions([&](std::string_view p) { return scanner.in_scope(p); }, emit);
  }
  bool write_failed = std::ferror(out) != 0;
  if (out == stdout) {
    write_failed = std::fflush(out) != 0 || write_failed;
  } else {
    write_failed = std::fclose(out) != 0 || write_failed;
  }
  if (write_failed) {
    std::fprintf(stderr, "vigil-agent fim check: error: %s: write failed\n", a.out.empty() ? "-" : a.out.c_str());
    return 1;
  }
  const auto& c = cmp.counts();
  std::fprintf(stderr,
               "vigil-agent fim check: %llu entries; %llu creations, %llu changes, %llu deletions, %llu unreadable; "
               "%llu files hashed (%s), %llu hashes reused\n",
               static_cast<unsigned long long>(s.entries), static_cast<unsigned long long>(c.creations),
               static_cast<unsigned long long>(c.changes), static_cast<unsigned long long>(c.deletions),
               static_cast<unsigned long long>(c.unreadable), static_cast<unsigned long long>(s.hashed),
               mib(s.bytes_read).c_str(), static_cast<unsigned long long>(s.reused));
  if (real_changes > 0) return 2;
  if (c.unreadable > 0) return 1;
  return 0;
}

}  // namespace vigil::agent::fim
