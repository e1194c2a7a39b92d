#include "agent/checks/scanner.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <yaml-cpp/yaml.h>

#include "agent/checks/config_tree.h"
#include "agent/checks/host.h"
#include "agent/checks/nftables_config.h"
#include "agent/checks/web_server_config.h"
#include "common/event/json.h"
#include "common/util/host.h"

namespace vigil::agent::checks {

// ---- comparisons -------------------------------------------------------------------------------

bool Comparison::test(std::string_view actual) const {
  using O = Op;
  auto eq = [&](const std::string& want) {
    auto a = parse_int(actual), b = parse_int(want);
    if (a && b) return *a == *b;
    return to_lower(trim(actual)) == to_lower(want);
  };
  auto cmp = [&](const std::string& want, auto pred) {
    auto a = parse_int(actual), b = parse_int(want);
    return a && b && pred(*a, *b);
  };
  switch (op) {
    case O::eq: return !values.empty() && eq(values[0]);
    case O::ne: return !values.empty() && !eq(values[0]);
    case O::lt: return !values.empty() && cmp(values[0], std::less<long long>());
    case O::le: return !values.empty() && cmp(values[0], std::less_equal<long long>());
    case O::gt: return !values.empty() && cmp(values[0], std::greater<long long>());
    case O::ge: return !values.empty() && cmp(values[0], std::greater_equal<long long>());
    case O::in: return std::any_of(values.begin(), values.end(), eq);
    case O::not_in: return std::none_of(values.begin(), values.end(), eq);
    case O::matches: return regex && RE2::PartialMatch(actual, *regex);
    case O::not_matches: return regex && !RE2::PartialMatch(actual, *regex);
  }
  return false;
}

std::string Comparison::describe() const {
  static constexpr std::string_view kNames[] = {"==", "!=", "<", "<=", ">", ">=", "in", "not in", "matches", "does not match"};
  std::string v;
  if (op == Op::in || op == Op::not_in) {
    v = "[";
    for (size_t i = 0; i < values.size(); ++i) v += (i ? ", " : "") + values[i];
    v += "]";
  } else if (!values.empty()) {
    v = values[0];
  }
  return fmt::format("{} {}", kNames[static_cast<int>(op)], v);
}

namespace {

ProbeResult pass(std::string e) { return {Outcome::pass, std::move(e)}; }
ProbeResult fail(std::string e) { return {Outcome::fail, std::move(e)}; }
ProbeResult na(std::string e) { return {Outcome::not_applicable, std::move(e)}; }
ProbeResult err(std::string e) { return {Outcome::error, std::move(e)}; }

ProbeResult missing_result(IfMissing m, std::string what) {
  switch (m) {
    case IfMissing::pass: return pass(std::move(what));
    case IfMissing::fail: return fail(std::move(what));
    case IfMissing::not_applicable: return na(std::move(what));
    case IfMissing::error: return err(std::move(what));
  }
  return err(std::move(what));
}

struct Account {
  std::string name;
  std::vector<std::string> fields;
};

std::string mode_string(uint32_t m) { return fmt::format("{:04o}", m & 07777); }

}  // namespace

// Parsed files shared by the probes of one scan (passwd, dpkg status, sockets, ...).
struct Scanner::State {
  State(const std::string& root, std::optional<std::chrono::system_clock::time_point> at) : host(root), fixed_now(at) {}
  HostRoot host;
  std::optional<std::chrono::system_clock::time_point> fixed_now;
  std::chrono::system_clock::time_point now() const { return fixed_now.value_or(std::chrono::system_clock::now()); }
  std::map<std::string, FileRead> files;

  const FileRead& file(const std::string& path) {
    auto it = files.find(path);
    if (it == files.end()) it = files.emplace(path, host.read(path)).first;
    return it->second;
  }

  // name -> id from a passwd/group style file; nullopt when unreadable.
  std::optional<std::map<std::string, long long>> ids(const std::string& path) {
    const auto& f = file(path);
    if (f.status != FileRead::Status::ok) return std::nullopt;
    std::map<std::string, long long> out;
    for (auto line : split_lines(f.content)) {
      auto fs = split_fields(line, ':');
      if (fs.size() >= 3) {
        if (auto id = parse_int(fs[2])) out.emplace(std::string(fs[0]), *id);
      }
    }
    return out;
  }

  std::optional<std::map<std::string, std::pair<std::string, std::string>>> dpkg;  // name -> (status, version)
  std::string dpkg_error;
  void load_dpkg() {
    if (dpkg || !dpkg_error.empty()) return;
    const auto& f = file("/var/lib/dpkg/status");
    if (f.status != FileRead::Status::ok) {
      dpkg_error = f.status == FileRead::Status::missing ? "no dpkg status file (/var/lib/dpkg/status)" : f.reason;
      return;
    }
    dpkg.emplace();
    std::string name, status, version;
    auto flush = [&] {
      if (!name.empty()) (*dpkg)[name] = {status, version};
      name.clear();
      status.clear();
      version.clear();
    };
    for (auto line : split_lines(f.content)) {
      if (trim(line).empty()) {
        flush();
        continue;
      }
      if (line.rfind("Package:", 0) == 0) name = trim(line.substr(8));
      else if (line.rfind("Status:", 0) == 0) status = trim(line.substr(7));
      else if (line.rfind("Version:", 0) == 0) version = trim(line.substr(8));
    }
    flush();
  }
};

Scanner::Scanner(ScanOptions options) : options_(std::move(options)), state_(std::make_unique<State>(options_.root, options_.now)) {}
Scanner::~Scanner() = default;

namespace {

class Evaluator {
 public:
  explicit Evaluator(Scanner::State& s) : s_(s), host_(s.host) {}

  ProbeResult operator()(const FileProbe& p) {
    std::string full = host_.path(p.path);
    struct stat lst {};
    if (::lstat(host_.path_nofollow(p.path).c_str(), &lst) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) return err(fmt::format("cannot stat {}: {}", p.path, std::strerror(errno)));
      if (p.exists == false) return pass(fmt::format("{} does not exist", p.path));
      return missing_result(p.missing, fmt::format("{} does not exist", p.path));
    }
    struct stat st {};
    if (::stat(full.c_str(), &st) != 0) {
      return err(fmt::format("cannot stat {}: {}", p.path,
                             S_ISLNK(lst.st_mode) && errno == ENOENT ? "dangling symbolic link" : std::strerror(errno)));
    }
    if (p.exists == false) return fail(fmt::format("{} exists (mode {})", p.path, mode_string(st.st_mode)));
    std::string desc = fmt::format("{} mode {} owner {}:{}", p.path, mode_string(st.st_mode), st.st_uid, st.st_gid);
    if (p.max_mode) {
      uint32_t extra = (st.st_mode & 07777) & ~*p.max_mode;
      if (extra) return fail(fmt::format("{} is more permissive than {}", desc, mode_string(*p.max_mode)));
    }
    if (!p.owners.empty()) {
      auto r = match_id(p.owners, st.st_uid, "/etc/passwd", "owner");
      if (r.outcome != Outcome::pass) return {r.outcome, fmt::format("{}: {}", desc, r.evidence)};
    }
    if (!p.groups.empty()) {
      auto r = match_id(p.groups, st.st_gid, "/etc/group", "group");
      if (r.outcome != Outcome::pass) return {r.outcome, fmt::format("{}: {}", desc, r.evidence)};
    }
    return pass(desc);
  }

  ProbeResult operator()(const LinesProbe& p) {
    bool any_file = false;
    std::string first_match;
    for (const auto& pattern : p.paths) {
      for (const auto& path : host_.glob(pattern)) {
        const auto& f = s_.file(path);
        if (f.status == FileRead::Status::missing) continue;
        if (f.status == FileRead::Status::error) return err(f.reason);
        any_file = true;
        size_t n = 0;
        for (auto line : split_lines(f.content)) {
          ++n;
          if (RE2::PartialMatch(line, *p.regex)) {
            first_match = fmt::format("{}:{}: {}", path, n, trim(line));
            break;
          }
        }
        if (!first_match.empty()) break;
      }
      if (!first_match.empty()) break;
    }
    std::string where = join(p.paths);
    if (!any_file) return missing_result(p.missing, fmt::format("{} does not exist", where));
    if (p.expect_present) {
      return first_match.empty() ? fail(fmt::format("no line of {} matches /{}/", where, p.regex->pattern()))
                                 : pass(first_match);
    }
    return first_match.empty() ? pass(fmt::format("no line of {} matches /{}/", where, p.regex->pattern()))
                               : fail(first_match);
  }

  ProbeResult operator()(const SettingProbe& p) {
    if (p.per_file) return per_file(p);
    std::optional<std::string> value;
    std::string at;
    bool any_file = false;
    std::vector<std::string> files;
    for (const auto& pattern : p.paths) {
      for (auto& path : host_.glob(pattern)) files.push_back(std::move(path));
    }
    std::string error;
    bool stop = false;
    std::vector<std::string> keys{to_lower(p.key)};
    for (const auto& a : p.aliases) keys.push_back(to_lower(a));
    std::function<void(const std::string&, int)> scan_file = [&](const std::string& path, int depth) {
      const auto& f = s_.file(path);
      if (f.status == FileRead::Status::missing) return;
      if (f.status == FileRead::Status::error) {
        error = f.reason;
        stop = true;
        return;
      }
      any_file = true;
      size_t n = 0;
      for (auto raw : split_lines(f.content)) {
        ++n;
        if (stop) return;
        auto line = trim(raw);
        if (line.empty() || line.front() == '#') continue;
        std::string_view k, v;
        size_t ws = line.find_first_of(" \t=");
        if (ws == std::string_view::npos) {
          k = line;
        } else {
          k = trim(line.substr(0, ws));
          v = trim(line.substr(ws));
          if (!v.empty() && v.front() == '=') v = trim(v.substr(1));
        }
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
        std::string lk = to_lower(k);
        if (p.format == SettingProbe::Format::sshd) {
          if (lk == "match") {  // what follows is conditional: the global value is decided above
            stop = true;
            return;
          }
          if (lk == "include" && depth < 8) {
            for (auto inc : split_ws(v)) {
              std::string pat(inc);
              if (pat.front() != '/') pat = "/etc/ssh/" + pat;
              for (const auto& ip : host_.glob(pat)) {
                scan_file(ip, depth + 1);
                if (stop) return;
              }
            }
            continue;
          }
        }
        if (std::find(keys.begin(), keys.end(), lk) == keys.end()) continue;
        if (value && p.first_wins) continue;
        value = std::string(v);
        at = fmt::format("{}:{}: {}", path, n, line);
        if (p.first_wins) {
          stop = true;
          return;
        }
      }
    };
    for (const auto& path : files) {
      scan_file(path, 0);
      if (stop) break;
    }
    if (!error.empty()) return err(error);
    std::string where = join(p.paths);
    if (!any_file) return missing_result(p.missing, fmt::format("{} does not exist", where));
    if (!value) {
      if (!p.default_value) return fail(fmt::format("{} is not set in {}", p.key, where));
      value = *p.default_value;
      at = fmt::format("{} not set in {}; default '{}'", p.key, where, *p.default_value);
    }
    if (p.compare.test(*value)) return pass(at);
    return fail(fmt::format("{} (expected {})", at, p.compare.describe()));
  }

  ProbeResult operator()(const DirectoryProbe& p) {
    std::string full = host_.path(p.path);
    DIR* d = ::opendir(full.c_str());
    if (!d) {
      if (errno == ENOENT) return missing_result(p.missing, fmt::format("{} does not exist", p.path));
      return err(fmt::format("cannot list {}: {}", p.path, std::strerror(errno)));
    }
    std::vector<std::string> found;
    while (auto* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      if (p.name_regex && !RE2::PartialMatch(name, *p.name_regex)) continue;
      found.emplace_back(name);
    }
    ::closedir(d);
    std::sort(found.begin(), found.end());
    std::string list;
    for (size_t i = 0; i < found.size() && i < 10; ++i) list += (i ? ", " : "") + found[i];
    if (found.size() > 10) list += ", ...";
    std::string what = p.name_regex ? fmt::format("entries matching /{}/", p.name_regex->pattern()) : "entries";
    if (found.empty()) {
      auto e = fmt::format("{}: no {}", p.path, what);
      return p.expect_none ? pass(e) : fail(e);
    }
    auto e = fmt::format("{}: {} {}: {}", p.path, found.size(), what, list);
    return p.expect_none ? fail(e) : pass(e);
  }

  ProbeResult operator()(const SysctlProbe& p) {
    std::string rel = p.key;
    std::replace(rel.begin(), rel.end(), '.', '/');
    if (!host_.is_live()) {
      struct stat st {};
      if (::stat(host_.path("/proc/sys").c_str(), &st) != 0) {
        return na(fmt::format("{}: no /proc/sys under {} (an image has no running kernel)", p.key, host_.root()));
      }
    }
    const auto& f = s_.file("/proc/sys/" + rel);
    if (f.status == FileRead::Status::missing) return err(fmt::format("sysctl {} does not exist on this kernel", p.key));
    if (f.status == FileRead::Status::error) return err(f.reason);
    std::string value;
    for (auto w : split_ws(trim(f.content))) value += (value.empty() ? "" : " ") + std::string(w);
    std::replace(value.begin(), value.end(), '\t', ' ');
    auto e = fmt::format("{} = {}", p.key, value);
    if (p.compare.test(value)) return pass(e);
    return fail(fmt::format("{} (expected {})", e, p.compare.describe()));
  }

  ProbeResult operator()(const MountProbe& p) {
    std::optional<std::string> options;
    std::string source;
    if (host_.is_live()) {
      const auto& f = s_.file("/proc/self/mountinfo");
      if (f.status != FileRead::Status::ok) return err(f.reason);
      source = "/proc/self/mountinfo";
      for (auto line : split_lines(f.content)) {
        auto fs = split_ws(line);
        if (fs.size() < 6) continue;
        if (unescape(fs[4]) == p.path) options = std::string(fs[5]);  // the last mount on a path wins
      }
    } else {
      const auto& f = s_.file("/etc/fstab");
      if (f.status == FileRead::Status::error) return err(f.reason);
      source = "/etc/fstab";
      if (f.status == FileRead::Status::ok) {
        for (auto line : split_lines(f.content)) {
          auto t = trim(line);
          if (t.empty() || t.front() == '#') continue;
          auto fs = split_ws(t);
          if (fs.size() < 4) continue;
          if (unescape(fs[1]) == p.path) options = std::string(fs[3]);
        }
      }
    }
    if (!options) return missing_result(p.missing, fmt::format("{} is not a separate mount ({})", p.path, source));
    std::vector<std::string> missing;
    auto have = split_fields(*options, ',');
    for (const auto& o : p.options) {
      if (std::find(have.begin(), have.end(), o) == have.end()) missing.push_back(o);
    }
    if (missing.empty()) return pass(fmt::format("{} mounted with {} ({})", p.path, *options, source));
    return fail(fmt::format("{} mounted with {}, missing {} ({})", p.path, *options, join(missing), source));
  }

  ProbeResult operator()(const ListenProbe& p) {
    struct Sock {
      std::string proto;
      std::string addr;
      uint32_t port;
      bool loopback;
    };
    std::vector<Sock> socks;
    bool any_table = false;
    static constexpr std::string_view kTables[] = {"tcp", "tcp6", "udp", "udp6"};
    for (auto table : kTables) {
      bool tcp = table.substr(0, 3) == "tcp";
      if (p.protocol == "tcp" && !tcp) continue;
      if (p.protocol == "udp" && tcp) continue;
      const auto& f = s_.file(fmt::format("/proc/net/{}", table));
      if (f.status == FileRead::Status::missing) continue;
      if (f.status == FileRead::Status::error) return err(f.reason);
      any_table = true;
      bool header = true;
      for (auto line : split_lines(f.content)) {
        if (header) {
          header = false;
          continue;
        }
        auto fs = split_ws(line);
        if (fs.size() < 4) continue;
        if (fs[3] != (tcp ? "0A" : "07")) continue;
        auto colon = fs[1].find(':');
        if (colon == std::string_view::npos) continue;
        unsigned port = 0;
        try {
          port = static_cast<unsigned>(std::stoul(std::string(fs[1].substr(colon + 1)), nullptr, 16));
        } catch (...) {
          continue;
        }
        if (std::find(p.ports.begin(), p.ports.end(), port) == p.ports.end()) continue;
        auto [addr, loop] = decode_address(fs[1].substr(0, colon));
        socks.push_back({std::string(tcp ? "tcp" : "udp"), addr, port, loop});
      }
    }
    if (!any_table) {
      if (!host_.is_live()) return na(fmt::format("no /proc/net under {} (an image has no running sockets)", host_.root()));
      return err("cannot read /proc/net/{tcp,tcp6,udp,udp6}");
    }
    std::string list;
    size_t count = 0;
    for (const auto& s : socks) {
      if (p.except_loopback && s.loopback) continue;
      if (count++ < 10) list += fmt::format("{}{} {}:{}", list.empty() ? "" : ", ", s.proto, s.addr, s.port);
    }
    std::vector<std::string> ports;
    for (auto port : p.ports) ports.push_back(std::to_string(port));
    if (count == 0) {
      auto e = fmt::format("nothing listening on {} port {}{}", p.protocol, join(ports),
                           p.except_loopback ? " (beyond loopback)" : "");
      return p.expect_present ? fail(e) : pass(e);
    }
    auto e = fmt::format("listening: {}", list);
    return p.expect_present ? pass(e) : fail(e);
  }

  ProbeResult operator()(const ServiceProbe& p) {
    std::vector<std::string> parts;
    Outcome outcome = Outcome::pass;
    auto merge = [&](ProbeResult r) {
      if (r.outcome == Outcome::fail || (r.outcome == Outcome::error && outcome != Outcome::fail) ||
          (r.outcome == Outcome::not_applicable && outcome == Outcome::pass)) {
        outcome = r.outcome;
      }
      parts.push_back(std::move(r.evidence));
    };
    if (p.enabled) {
      // Masked (a link to /dev/null in etc/systemd/system) counts as not enabled.
      std::string masked_path = host_.path_nofollow("/etc/systemd/system/" + p.unit);
      char target[256];
      ssize_t tn = ::readlink(masked_path.c_str(), target, sizeof target - 1);
      bool masked = tn > 0 && std::string_view(target, static_cast<size_t>(tn)) == "/dev/null";
      std::string link;
      if (!masked) {
        // Links in etc/systemd/system/*.wants and *.requires (lstat: their targets may live outside the root).
        std::string dir = host_.path("/etc/systemd/system");
        if (DIR* d = ::opendir(dir.c_str())) {
          std::vector<std::string> names;
          while (auto* e = ::readdir(d)) {
            std::string_view n = e->d_name;
            if (n.ends_with(".wants") || n.ends_with(".requires")) names.emplace_back(n);
          }
          ::closedir(d);
          std::sort(names.begin(), names.end());
          for (const auto& n : names) {
            struct stat st {};
            if (::lstat(host_.path_nofollow("/etc/systemd/system/" + n + "/" + p.unit).c_str(), &st) == 0) {
              link = "/etc/systemd/system/" + n + "/" + p.unit;
              break;
            }
          }
        }
      }
      bool enabled = !link.empty();
      std::string e = masked ? fmt::format("{} is masked", p.unit)
                      : enabled ? fmt::format("{} is enabled ({})", p.unit, link)
                                : fmt::format("{} is not enabled (no link in /etc/systemd/system/*.wants)", p.unit);
      merge(enabled == *p.enabled ? pass(e) : fail(e));
    }
    if (p.active) {
      if (!host_.is_live()) {
        merge(na(fmt::format("{}: active state is only known on the running system (--root /)", p.unit)));
      } else {
        auto out = run_command({"/usr/bin/systemctl", "is-active", p.unit}, std::chrono::seconds(5));
        if (!out) {
          merge(err(out.error()));
        } else {
          std::string state(trim(out->out));
          if (out->timed_out) {
            merge(err(fmt::format("systemctl is-active {} timed out", p.unit)));
          } else if (state.empty() || state.find(' ') != std::string::npos) {
            merge(err(fmt::format("systemctl is-active {}: no state (exit {})", p.unit, out->exit_code)));
          } else {
            bool active = state == "active" || state == "reloading" || state == "activating";
            auto e = fmt::format("{} is {}", p.unit, state);
            merge(active == *p.active ? pass(e) : fail(e));
          }
        }
      }
    }
    std::string e;
    for (size_t i = 0; i < parts.size(); ++i) e += (i ? "; " : "") + parts[i];
    return {outcome, e};
  }

  ProbeResult operator()(const PackageProbe& p) {
    s_.load_dpkg();
    if (!s_.dpkg) return err(s_.dpkg_error);
    auto it = s_.dpkg->find(p.name);
    bool installed = it != s_.dpkg->end() && it->second.first.size() >= 10 &&
                     it->second.first.compare(it->second.first.size() - 10, 10, " installed") == 0;
    if (!installed) {
      auto e = it == s_.dpkg->end() ? fmt::format("package {} is not installed", p.name)
                                    : fmt::format("package {} is not installed (status: {})", p.name, it->second.first);
      return p.installed ? fail(e) : pass(e);
    }
    const std::string& version = it->second.second;
    auto e = fmt::format("package {} {} is installed", p.name, version);
    if (!p.installed) return fail(e);
    if (p.version) {
      const auto& c = *p.version;
      bool ok = false;
      if (c.values.empty()) return err("no version to compare");
      int r = compare_debian_versions(version, c.values[0]);
      using O = Comparison::Op;
      switch (c.op) {
        case O::eq: ok = r == 0; break;
        case O::ne: ok = r != 0; break;
        case O::lt: ok = r < 0; break;
        case O::le: ok = r <= 0; break;
        case O::gt: ok = r > 0; break;
        case O::ge: ok = r >= 0; break;
        default: ok = c.test(version); break;
      }
      if (!ok) return fail(fmt::format("{} (expected version {})", e, c.describe()));
    }
    return pass(e);
  }

  ProbeResult operator()(const AccountsProbe& p) {
    using K = AccountsProbe::Kind;
    bool use_shadow = p.kind == K::empty_passwords || p.kind == K::password_max_days || p.kind == K::inactive_days;
    std::string path = use_shadow ? "/etc/shadow" : "/etc/passwd";
    const auto& f = s_.file(path);
    if (f.status != FileRead::Status::ok) {
      return err(f.status == FileRead::Status::missing ? fmt::format("{} does not exist", path) : f.reason);
    }
    std::optional<std::set<std::string>> only;
    if (!p.groups.empty() || !p.users.empty()) {
      auto members = group_members(p.groups);
      if (!members) return err(members.error());
      only = std::move(*members);
      only->insert(p.users.begin(), p.users.end());
    }
    std::vector<std::string> bad;
    size_t checked = 0;
    for (auto line : split_lines(f.content)) {
      if (trim(line).empty()) continue;
      auto fs = split_fields(line, ':');
      if (fs.size() < (use_shadow ? 8u : 7u)) continue;
      std::string name(fs[0]);
      if (only && !only->count(name)) continue;
      bool usable = !fs[1].empty() && fs[1].front() != '!' && fs[1].front() != '*';
      switch (p.kind) {
        case K::empty_passwords:
          ++checked;
          if (fs[1].empty()) bad.push_back(name);
          break;
        case K::uid0_only_root:
          ++checked;
          if (fs[2] == "0" && name != "root") bad.push_back(name);
          break;
        case K::shadowed_passwords:
          ++checked;
          if (fs[1] != "x") bad.push_back(name);
          break;
        case K::password_max_days: {
          if (!usable) break;
          ++checked;
          auto v = parse_int(fs[4]);
          if (!v || *v > p.max) bad.push_back(fmt::format("{} (max {})", name, fs[4].empty() ? "unset" : std::string(fs[4])));
          break;
        }
        case K::inactive_days: {
          if (!usable) break;
          ++checked;
          auto v = parse_int(fs[6]);
          if (!v || *v > p.max) bad.push_back(fmt::format("{} (inactive {})", name, fs[6].empty() ? "unset" : std::string(fs[6])));
          break;
        }
      }
    }
    static constexpr std::string_view kWhat[] = {"with an empty password", "with UID 0 besides root",
                                                 "without a shadowed password", "with password max age above",
                                                 "with inactivity lock above"};
    std::string what(kWhat[static_cast<int>(p.kind)]);
    if (p.kind == K::password_max_days || p.kind == K::inactive_days) what += fmt::format(" {} days", p.max);
    if (only) {
      std::vector<std::string> scope(p.groups.begin(), p.groups.end());
      scope.insert(scope.end(), p.users.begin(), p.users.end());
      what += fmt::format(" among {}", join(scope));
    }
    if (bad.empty()) return pass(fmt::format("{}: no account {} ({} checked)", path, what, checked));
    std::vector<std::string> shown(bad.begin(), bad.begin() + static_cast<long>(std::min<size_t>(bad.size(), 10)));
    return fail(fmt::format("{}: {} account(s) {}: {}{}", path, bad.size(), what, join(shown), bad.size() > 10 ? ", ..." : ""));
  }

  ProbeResult operator()(const WebServerProbe& p) {
    const bool nginx = p.server == WebServerProbe::Server::nginx;
    auto source = [this](const std::string& path) { return s_.file(path); };
    ConfRead conf = nginx ? read_nginx_config(host_, source, p.path) : read_apache_config(host_, source, p.path);
    if (conf.status == FileRead::Status::missing) return missing_result(p.missing, conf.reason);
    if (conf.status == FileRead::Status::error) return err(conf.reason);
    std::optional<std::string> version;
    if (nginx) {
      s_.load_dpkg();
      if (s_.dpkg) {
        for (const auto& name : nginx_packages()) {
          auto it = s_.dpkg->find(name);
          if (it != s_.dpkg->end() && it->second.first.ends_with(" installed")) {
            version = it->second.second;
            break;
          }
        }
      }
    }
    return evaluate_web_server(p, conf.root, version);
  }

  ProbeResult operator()(const NftablesProbe& p) {
    auto source = [this](const std::string& path) { return s_.file(path); };
    ConfRead conf = read_nftables_config(host_, source, p.path);
    if (conf.status == FileRead::Status::missing) return missing_result(p.missing, conf.reason);
    if (conf.status == FileRead::Status::error) return err(conf.reason);
    return evaluate_nftables(p, conf.root);
  }

  ProbeResult operator()(const YamlProbe& p) {
    const auto& f = s_.file(p.path);
    if (f.status == FileRead::Status::missing) return missing_result(p.missing, fmt::format("{} does not exist", p.path));
    if (f.status == FileRead::Status::error) return err(f.reason);
    YAML::Node node;
    try {
      node = YAML::Load(f.content);
    } catch (const YAML::Exception& e) {
      return err(fmt::format("{}: not valid YAML: {}", p.path, e.what()));
    }
    std::optional<std::string> value;
    bool found = true;
    const auto parts = split_fields(p.key, '.');
    for (size_t i = 0; i < parts.size(); ++i) {
      if (node.IsSequence()) {
        // Through a list of mappings (fim.paths.path): the values of the items that have the
        // rest of the key, as one list.
        YAML::Node values(YAML::NodeType::Sequence);
        for (const auto& item : node) {
          YAML::Node at;
          at.reset(item);
          bool has = true;
          for (size_t j = i; j < parts.size() && has; ++j) {
            has = at.IsMap() && static_cast<const YAML::Node&>(at)[std::string(parts[j])];
            if (has) at.reset(static_cast<const YAML::Node&>(at)[std::string(parts[j])]);
          }
          if (!has || at.IsNull()) continue;
          if (at.IsSequence()) {
            for (const auto& v : at) values.push_back(v);
          } else {
            values.push_back(at);
          }
        }
        node.reset(values);
        break;
      }
      if (!node.IsMap()) {
        found = false;
        break;
      }
      YAML::Node next = static_cast<const YAML::Node&>(node)[std::string(parts[i])];
      if (!next) {
        found = false;
        break;
      }
      node.reset(next);  // `node = next` would assign into the document
    }
    std::string at;
    if (p.count) {  // the number of items of a list; unset or null counts 0
      if (found && !node.IsNull() && !node.IsSequence()) return err(fmt::format("{}: {} is not a list", p.path, p.key));
      size_t items = found && node.IsSequence() ? node.size() : 0;
      at = fmt::format("{}: {} has {} item(s)", p.path, p.key, items);
      if (p.compare.test(std::to_string(items))) return pass(at);
      return fail(fmt::format("{} (expected {})", at, p.compare.describe()));
    }
    if (found) {
      if (node.IsScalar()) {
        value = node.Scalar();
      } else if (node.IsSequence()) {
        std::string joined;
        for (const auto& item : node) {
          if (!item.IsScalar()) return err(fmt::format("{}: {} is not a list of values", p.path, p.key));
          joined += (joined.empty() ? "" : ",") + item.Scalar();
        }
        value = joined;
      } else if (!node.IsNull()) {
        return err(fmt::format("{}: {} is a map, not a value", p.path, p.key));
      }
    }
    if (value) {
      at = fmt::format("{}: {}: {}", p.path, p.key, *value);
    } else if (p.default_value) {
      value = *p.default_value;
      at = fmt::format("{}: {} not set; default '{}'", p.path, p.key, *p.default_value);
    } else {
      return fail(fmt::format("{}: {} is not set", p.path, p.key));
    }
    if (p.compare.test(*value)) return pass(at);
    return fail(fmt::format("{} (expected {})", at, p.compare.describe()));
  }

  ProbeResult operator()(const FileAgeProbe& p) {
    std::optional<std::chrono::system_clock::time_point> newest;
    std::string newest_path;
    for (const auto& pattern : p.paths) {
      for (const auto& path : host_.glob(pattern)) {
        struct stat st {};
        if (::stat(host_.path(path).c_str(), &st) != 0) {
          int e = errno;
          struct stat lst {};
          if (e == ENOENT && ::lstat(host_.path_nofollow(path).c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
            return err(fmt::format("cannot stat {}: dangling symbolic link", path));
          }
          if (e == ENOENT || e == ENOTDIR) continue;
          return err(fmt::format("cannot stat {}: {}", path, std::strerror(e)));
        }
        // Bounded before the conversion: from_time_t into a nanosecond clock overflows past 2262.
        const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(s_.now().time_since_epoch()).count();
        if (st.st_mtim.tv_sec > now_s + 86400) {
          return err(fmt::format("{}: modification time ({} s after the epoch, scan time {}) is in the future: clock "
                                 "skew or tampering",
                                 path, static_cast<long long>(st.st_mtim.tv_sec), format_time(s_.now())));
        }
        auto t = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
        if (!newest || t > *newest) {
          newest = t;
          newest_path = path;
        }
      }
    }
    if (!newest) return missing_result(p.missing, fmt::format("no file matches {}", join(p.paths)));
    auto age = std::chrono::duration_cast<std::chrono::seconds>(s_.now() - *newest).count();
    auto e = fmt::format("{} modified {} ({} days ago)", newest_path, format_time(*newest), age < 0 ? 0 : age / 86400);
    if (age <= p.max_days * 86400) return pass(e);
    return fail(fmt::format("{} (expected at most {} days)", e, p.max_days));
  }

  ProbeResult operator()(const OsReleaseProbe& p) {
    std::string path = "/etc/os-release";
    const FileRead* f = &s_.file(path);
    if (f->status == FileRead::Status::missing) {
      path = "/usr/lib/os-release";
      f = &s_.file(path);
    }
    if (f->status == FileRead::Status::missing) return err("no /etc/os-release or /usr/lib/os-release");
    if (f->status == FileRead::Status::error) return err(f->reason);
    std::string id, version, pretty;
    for (auto line : split_lines(f->content)) {
      auto t = trim(line);
      auto eq = t.find('=');
      if (t.empty() || t.front() == '#' || eq == std::string_view::npos) continue;
      auto k = t.substr(0, eq);
      auto v = t.substr(eq + 1);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
      if (k == "ID") id = to_lower(v);
      else if (k == "VERSION_ID") version = v;
      else if (k == "PRETTY_NAME") pretty = v;
    }
    std::string what = fmt::format("{} ({}: ID={} VERSION_ID={})", pretty.empty() ? id : pretty, path, id,
                                   version.empty() ? "unset" : version);
    auto table = p.eol.find(id);
    if (table == p.eol.end() || table->second.empty()) return na(fmt::format("{}: no end-of-life table for {}", what, id));
    if (version.empty()) return na(fmt::format("{}: no VERSION_ID (a testing or development release)", what));
    std::string today = format_time(s_.now()).substr(0, 10);
    auto exact = table->second.find(version);
    if (exact != table->second.end()) {
      if (today <= exact->second) return pass(fmt::format("{}: supported until {}", what, exact->second));
      return fail(fmt::format("{}: security support ended {}", what, exact->second));
    }
    std::string oldest = table->second.begin()->first, newest = oldest;
    for (const auto& [v, d] : table->second) {
      if (compare_debian_versions(v, oldest) < 0) oldest = v;
      if (compare_debian_versions(v, newest) > 0) newest = v;
    }
    if (compare_debian_versions(version, oldest) < 0) {
      return fail(fmt::format("{}: older than every release in the table (the oldest, {}, ended {})", what, oldest,
                              table->second.at(oldest)));
    }
    if (compare_debian_versions(version, newest) > 0) {
      return pass(fmt::format("{}: newer than every release in the table (up to {})", what, newest));
    }
    return err(fmt::format("{}: release not in the end-of-life table; add it to the policy", what));
  }

  ProbeResult operator()(const CommandProbe& p) {
    if (!host_.is_live()) return na(fmt::format("{}: commands run only against the running system (--root /)", p.argv[0]));
    auto out = run_command(p.argv, p.timeout);
    if (!out) return err(out.error());
    if (out->timed_out) return err(fmt::format("{} timed out after {} ms", p.argv[0], p.timeout.count()));
    if (p.exit_code && out->exit_code != *p.exit_code) {
      return fail(fmt::format("{} exited {} (expected {})", p.argv[0], out->exit_code, *p.exit_code));
    }
    if (!p.regex) return pass(fmt::format("{} exited {}", p.argv[0], out->exit_code));
    std::string hit;
    for (auto line : split_lines(out->out)) {
      if (RE2::PartialMatch(line, *p.regex)) {
        hit = std::string(trim(line));
        break;
      }
    }
    if (p.expect_present) {
      return hit.empty() ? fail(fmt::format("no output line of {} matches /{}/", p.argv[0], p.regex->pattern()))
                         : pass(fmt::format("{}: {}", p.argv[0], hit));
    }
    return hit.empty() ? pass(fmt::format("no output line of {} matches /{}/", p.argv[0], p.regex->pattern()))
                       : fail(fmt::format("{}: {}", p.argv[0], hit));
  }

 private:
  static std::string format_time(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm {};
    ::gmtime_r(&tt, &tm);
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min);
  }

  // Each file on its own: every one that exists must satisfy the comparison.
  ProbeResult per_file(const SettingProbe& p) {
    std::vector<ProbeResult> rs;
    for (const auto& pattern : p.paths) {
      for (const auto& path : host_.glob(pattern)) {
        if (s_.file(path).status == FileRead::Status::missing) continue;
        SettingProbe one = p;
        one.per_file = false;
        one.paths = {path};
        rs.push_back((*this)(one));
      }
    }
    if (rs.empty()) return missing_result(p.missing, fmt::format("{} does not exist", join(p.paths)));
    std::string bad, errors, good;
    for (const auto& r : rs) {
      auto& to = r.outcome == Outcome::fail ? bad : r.outcome == Outcome::error ? errors : good;
      to += (to.empty() ? "" : "; ") + r.evidence;
    }
    if (!bad.empty()) return fail(bad);
    if (!errors.empty()) return err(errors);
    return pass(good);
  }

  // Members of the groups: supplementary (/etc/group) and primary (/etc/passwd).
  Result<std::set<std::string>> group_members(const std::vector<std::string>& groups) {
    std::set<std::string> out;
    if (groups.empty()) return out;
    for (const char* path : {"/etc/group", "/etc/passwd"}) {
      const auto& f = s_.file(path);
      if (f.status != FileRead::Status::ok) {
        return make_error(f.status == FileRead::Status::missing ? fmt::format("{} does not exist", path) : f.reason);
      }
    }
    std::set<std::string> gids;
    for (auto line : split_lines(s_.file("/etc/group").content)) {
      auto fs = split_fields(line, ':');
      if (fs.size() < 4 || std::find(groups.begin(), groups.end(), fs[0]) == groups.end()) continue;
      gids.insert(std::string(fs[2]));
      for (auto m : split_fields(fs[3], ',')) {
        if (!trim(m).empty()) out.insert(std::string(trim(m)));
      }
    }
    for (auto line : split_lines(s_.file("/etc/passwd").content)) {
      auto fs = split_fields(line, ':');
      if (fs.size() >= 4 && gids.count(std::string(fs[3]))) out.insert(std::string(fs[0]));
    }
    return out;
  }


  static std::string unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 3)), nullptr, 8));
        i += 3;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  // /proc/net address: 8 (IPv4) or 32 (IPv6) hex digits, 32-bit words in host (little-endian) order.
  static std::pair<std::string, bool> decode_address(std::string_view hex) {
    uint8_t bytes[16] = {};
    size_t words = hex.size() / 8;
    if (words != 1 && words != 4) return {std::string(hex), false};
    for (size_t w = 0; w < words; ++w) {
      uint32_t v = static_cast<uint32_t>(std::stoul(std::string(hex.substr(w * 8, 8)), nullptr, 16));
      for (int b = 0; b < 4; ++b) bytes[w * 4 + b] = static_cast<uint8_t>(v >> (8 * b));
    }
    IpAddress ip = words == 1 ? IpAddress::v4_bytes(bytes) : IpAddress::v6_bytes(bytes);
    bool loop = words == 1 ? bytes[0] == 127 : ip.to_string() == "::1" || (ip.is_v4() && ip.v4_data()[0] == 127);
    std::string text = ip.to_string();
    if (!ip.is_v4() && words == 4) text = "[" + text + "]";
    return {text, loop};
  }

  ProbeResult match_id(const std::vector<std::string>& wanted, unsigned actual, const std::string& db, std::string_view what) {
    std::optional<std::map<std::string, long long>> names;
    std::vector<std::string> unknown;
    for (const auto& w : wanted) {
      if (auto n = parse_int(w)) {
        if (*n == actual) return pass("");
        continue;
      }
      if (!names) names = s_.ids(db);
      if (!names) return err(fmt::format("cannot resolve {} '{}': {} unreadable", what, w, db));
      auto it = names->find(w);
      if (it == names->end()) {
        unknown.push_back(w);
        continue;
      }
      if (it->second == actual) return pass("");
    }
    return fail(fmt::format("{} {} is not {}", what, actual, join(wanted)));
  }

  Scanner::State& s_;
  const HostRoot& host_;
};

std::string join_evidence(const std::vector<ProbeResult>& rs, Outcome which) {
  std::string out;
  for (const auto& r : rs) {
    if (r.outcome != which || r.evidence.empty()) continue;
    out += (out.empty() ? "" : "; ") + r.evidence;
  }
  return out;
}

}  // namespace

ProbeResult Scanner::evaluate(const Condition& c) {
  if (c.kind == Condition::Kind::probe) {
    if (!c.probe) return err("empty condition");
    Evaluator ev(*state_);
    try {
      return std::visit(ev, *c.probe);
    } catch (const std::exception& e) {
      return err(fmt::format("internal error: {}", e.what()));
    }
  }
  std::vector<ProbeResult> rs;
  size_t counts[4] = {0, 0, 0, 0};
  for (const auto& child : c.children) {
    rs.push_back(evaluate(child));
    ++counts[static_cast<int>(rs.back().outcome)];
  }
  auto n = [&](Outcome o) { return counts[static_cast<int>(o)]; };
  auto ev = [&](Outcome o) { return join_evidence(rs, o); };
  switch (c.kind) {
    case Condition::Kind::all:
      if (n(Outcome::fail)) return fail(ev(Outcome::fail));
      if (n(Outcome::error)) return err(ev(Outcome::error));
      if (n(Outcome::pass)) return pass(ev(Outcome::pass));
      return na(ev(Outcome::not_applicable));
    case Condition::Kind::any:
      if (n(Outcome::pass)) return pass(ev(Outcome::pass));
      if (n(Outcome::error)) return err(ev(Outcome::error));
      if (n(Outcome::fail)) return fail(ev(Outcome::fail));
      return na(ev(Outcome::not_applicable));
    case Condition::Kind::none:
      if (n(Outcome::pass)) return fail(ev(Outcome::pass));
      if (n(Outcome::error)) return err(ev(Outcome::error));
      if (n(Outcome::fail)) return pass(ev(Outcome::fail));
      return na(ev(Outcome::not_applicable));
    case Condition::Kind::probe: break;
  }
  return err("bad condition");
}

CheckResult Scanner::evaluate(const Check& check) {
  CheckResult out;
  out.check = &check;
  if (check.applies_if) {
    auto a = evaluate(*check.applies_if);
    if (a.outcome == Outcome::error) {
      out.outcome = Outcome::error;
      out.evidence = "cannot tell whether the check applies: " + a.evidence;
      return out;
    }
    if (a.outcome != Outcome::pass) {
      out.outcome = Outcome::not_applicable;
      out.evidence = "does not apply: " + a.evidence;
      return out;
    }
  }
  auto r = evaluate(check.condition);
  out.outcome = r.outcome;
  out.evidence = std::move(r.evidence);
  return out;
}

std::vector<CheckResult> Scanner::scan(const Policy& policy) {
  std::vector<CheckResult> out;
  for (const auto& c : policy.checks) {
    if (options_.level && c.level > *options_.level) continue;
    out.push_back(evaluate(c));
  }
  return out;
}

std::optional<double> ScanSummary::score() const {
  if (pass + fail == 0) return std::nullopt;
  return static_cast<double>(pass) / static_cast<double>(pass + fail);
}

ScanSummary summarize(const std::vector<CheckResult>& results) {
  ScanSummary s;
  for (const auto& r : results) {
    switch (r.outcome) {
      case Outcome::pass: ++s.pass; break;
      case Outcome::fail: ++s.fail; break;
      case Outcome::error: ++s.error; break;
      case Outcome::not_applicable: ++s.not_applicable; break;
    }
  }
  return s;
}

int scan_exit_code(const ScanSummary& s) {
  if (s.fail) return 2;
  if (s.error) return 1;
  return 0;
}

Event to_event(const Policy& policy, const CheckResult& r, const std::string& host_name, Timestamp at) {
  Event e;
  e.set(fields::timestamp, at);
  e.set(fields::event_id, new_event_id());
  e.set(fields::event_kind, "state");
  e.set(fields::event_dataset, "compliance.check");
  if (!host_name.empty()) e.set(fields::host_name, host_name);
  e.set(fields::rule_id, r.check->id);
  e.set(fields::rule_name, r.check->title.en);
  // The Vietnamese text travels beside the English where it differs (reports and console pick).
  if (r.check->title.vi != r.check->title.en) e.set(fields::rule_name_vi, r.check->title.vi);
  e.set(fields::check_result, std::string(outcome_name(r.outcome)));
  e.set(fields::check_evidence, r.evidence);
  e.set(fields::policy_id, policy.id);
  e.set(fields::check_level, r.check->level);
  // What to do about it, where there is something to do (the collector's reports show it).
  if ((r.outcome == Outcome::fail || r.outcome == Outcome::error) && !r.check->remediation.empty()) {
    e.set(fields::check_remediation, r.check->remediation.en);
    if (r.check->remediation.vi != r.check->remediation.en) {
      e.set(fields::check_remediation_vi, r.check->remediation.vi);
    }
  }
  e.set(field("vigil.policy.version"), policy.version);
  for (const auto& [fw, controls] : r.check->compliance) {
    ValueList l;
    for (const auto& c : controls) l.emplace_back(c);
    e.set(field("vigil.compliance." + fw), std::move(l));
  }
  return e;
}

std::string root_host_name(const std::string& root) {
  HostRoot h(root);
  if (h.is_live()) {
    return local_host_name();
  }
  auto f = h.read("/etc/hostname", 4096);
  if (f.status != FileRead::Status::ok) return {};
  return std::string(trim(f.content));
}

nlohmann::json scan_document(const Policy& policy, const ScanOptions& options, const std::vector<CheckResult>& results,
                             const std::string& host_name) {
  nlohmann::json doc;
  doc["policy"] = policy.id;
  doc["root"] = options.root;
  doc["level"] = options.level ? nlohmann::json(*options.level) : nlohmann::json(nullptr);
  auto& arr = doc["results"] = nlohmann::json::array();
  Timestamp now = Timestamp::now();
  for (const auto& r : results) arr.push_back(to_json(to_event(policy, r, host_name, now)));
  ScanSummary s = summarize(results);
  doc["summary"] = {{"pass", s.pass}, {"fail", s.fail}, {"error", s.error}, {"not_applicable", s.not_applicable},
                    {"score", s.score() ? nlohmann::json(*s.score()) : nlohmann::json(nullptr)}};
  return doc;
}

}  // namespace vigil::agent::checks
