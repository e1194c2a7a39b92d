#include "agent/fim/packages.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <fstream>

namespace vigil::agent::fim {

namespace {

// "YYYY-MM-DD HH:MM:SS" in local time -> seconds since the epoch, or -1.
int64_t parse_time(std::string_view s) {
  if (s.size() != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':') return -1;
  auto num = [&](size_t at, size_t n, int& out) {
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, se)) {
    return -1;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
  // dpkg writes many lines per hour: the start of the hour is worked out once (zone changes
  // fall on hour boundaries nearly everywhere, and the window is minutes wide).
  thread_local char hour_key[13] = {};
  thread_local int64_t hour_start = -1;
  if (hour_start >= 0 && s.substr(0, 13) == std::string_view(hour_key, 13)) return hour_start + mi * 60 + se;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return -1;
  if (tm.tm_hour != h) return static_cast<int64_t>(t) + mi * 60 + se;  // an hour the zone skips: not kept
  std::copy_n(s.data(), 13, hour_key);
  hour_start = static_cast<int64_t>(t);
  return hour_start + mi * 60 + se;
}

// The next space-separated word of `s` from `pos`.
std::string_view word(std::string_view s, size_t& pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  size_t end = s.find(' ', pos);
  if (end == std::string_view::npos) end = s.size();
  std::string_view w = s.substr(pos, end - pos);
  pos = end;
  return w;
}

// The names a path may have in a package's file list: dpkg's temporary names are its final one,
// and on a merged-/usr system /bin, /sbin and /lib are /usr's.
std::vector<std::string> list_candidates(std::string_view path) {
  std::string p(path);
  for (std::string_view suffix : {".dpkg-new", ".dpkg-tmp", ".dpkg-old", ".dpkg-dist", ".dpkg-bak"}) {
    if (p.size() > suffix.size() && std::string_view(p).ends_with(suffix)) {
      p.resize(p.size() - suffix.size());
      break;
    }
  }
  std::vector<std::string> out{p};
  for (std::string_view dir : {"/bin/", "/sbin/", "/lib/", "/lib64/"}) {
    if (std::string_view(p).starts_with(dir)) out.push_back("/usr" + p);
    if (std::string_view(p).starts_with(std::string("/usr") + std::string(dir))) out.push_back(p.substr(4));
  }
  return out;
}

}  // namespace

DpkgLog::DpkgLog(Options options)
    : opt_(std::move(options)),
      log_(FollowedLog::Options{opt_.log, kFirstRead, kMaxLine}, [this](std::string_view l) { line(l); },
           [this] {
             ++lines_;
             ++malformed_;
           }) {}

void DpkgLog::feed(std::string_view text) { log_.feed(text); }

void DpkgLog::line(std::string_view l) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.empty()) return;
  ++lines_;
  if (l.size() < 21) {
    ++malformed_;
    return;
  }
  const int64_t at = parse_time(l.substr(0, 19));
  if (at < 0 || l[19] != ' ') {
    ++malformed_;
    return;
  }
  size_t pos = 20;
  const std::string_view action = word(l, pos);
  std::string_view package;
  if (action == "install" || action == "upgrade" || action == "configure" || action == "remove" || action == "purge" ||
      action == "trigproc") {
    package = word(l, pos);
  } else if (action == "status") {
    word(l, pos);  // the state
    package = word(l, pos);
  } else {
    return;  // startup, conffile, and what later versions add: no package named
  }
  if (package.empty() || package.size() > 256) {
    ++malformed_;
    return;
  }
  add(at, package);
}

void DpkgLog::add(int64_t at, std::string_view package) {
  // Lines of the same package in one burst fold into one record.
  size_t look = std::min<size_t>(records_.size(), 16);
  for (size_t i = 0; i < look; ++i) {
    Record& r = records_[records_.size() - 1 - i];
    if (r.package == package && at >= r.first - 60 && at <= r.last + 60) {
      r.first = std::min(r.first, at);
      r.last = std::max(r.last, at);
      return;
    }
  }
  if (records_.size() >= kMaxRecords) {
    records_.pop_front();
    ++dropped_;
  }
  records_.push_back(Record{at, at, std::string(package)});
}

void DpkgLog::refresh() { log_.refresh(); }

bool DpkgLog::list_names(const std::string& package, std::string_view path) const {
  if (opt_.info_dir.empty()) return false;
  const auto candidates = list_candidates(path);
  // Multi-Arch: same packages keep "<name>:<arch>.list"; the others "<name>.list".
  std::vector<std::string> files{opt_.info_dir + "/" + package + ".list"};
  if (size_t colon = package.find(':'); colon != std::string::npos) {
    files.push_back(opt_.info_dir + "/" + package.substr(0, colon) + ".list");
  }
  for (const auto& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > kMaxList) continue;
    std::ifstream in(f);
    std::string l;
    while (std::getline(in, l)) {
      if (std::find(candidates.begin(), candidates.end(), l) != candidates.end()) return true;
    }
    return false;  // the package's list was read
  }
  return false;
}

DpkgLog::Activity DpkgLog::near(std::chrono::system_clock::time_point at, std::string_view path) const {
  Activity out;
  const int64_t t = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  const int64_t w = opt_.window.count();
  std::vector<std::pair<int64_t, const std::string*>> hits;  // distance, package
  for (const auto& r : records_) {
    if (t < r.first - w || t > r.last + w) continue;
    const int64_t distance = t < r.first ? r.first - t : (t > r.last ? t - r.last : 0);
    auto same = std::find_if(hits.begin(), hits.end(), [&](const auto& h) { return *h.second == r.package; });
    if (same == hits.end()) {
      hits.emplace_back(distance, &r.package);
    } else {
      same->first = std::min(same->first, distance);
    }
  }
  if (hits.empty()) return out;
  out.any = true;
  std::stable_sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < hits.size() && i < kMaxPackages; ++i) out.packages.push_back(*hits[i].second);
  for (size_t i = 0; i < out.packages.size() && i < kMaxListsRead; ++i) {
    if (list_names(out.packages[i], path)) {
      out.owner = out.packages[i];
      break;
    }
  }
  return out;
}

void mark_packages(Event& e, const DpkgLog::Activity& a) {
  static const FieldId kActivity = field("vigil.fim.package_activity");
  static const FieldId kPackages = field("vigil.fim.packages");
  static const FieldId kPackage = field("vigil.fim.package");
  e.set(kActivity, Value(a.any));
  if (!a.packages.empty()) {
    ValueList names;
    for (const auto& p : a.packages) names.emplace_back(p);
    e.set(kPackages, Value(std::move(names)));
  }
  if (!a.owner.empty()) e.set(kPackage, Value(a.owner));
}

}  // namespace vigil::agent::fim
