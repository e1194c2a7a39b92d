#include "agent/pipeline/fim_source.h"

#include <sys/inotify.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "agent/fim/deploy.h"
#include "agent/fim/events.h"
#include "agent/pipeline/pipeline.h"
#include "common/log/logging.h"

namespace vigil::agent::pipeline {

namespace fs = std::filesystem;

namespace {

constexpr size_t kSlice = 2000;  // results taken from each worker per pass
constexpr auto kPersistEvery = std::chrono::seconds(30);

std::vector<fim::Root> roots_of(const FimSection& f) {
  std::vector<fim::Root> roots;
  for (const auto& p : f.paths) roots.push_back(fim::Root{p.path, p.recursive, p.ignore});
  return roots;
}

fim::ScanOptions scope_options(const FimSection& f) {
  fim::ScanOptions o;
  o.roots = roots_of(f);
  o.max_files = f.max_files;
  return o;
}

std::string_view parent_of(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

FimSource::FimSource(const FimSection& fim, std::string baseline_file, std::string host_name,
                     fim::PendingSet::Options pending)
    : cfg_(fim),
      file_(std::move(baseline_file)),
      host_(std::move(host_name)),
      scope_(scope_options(fim)),
      rate_(std::make_shared<fim::ReadRate>(fim.max_read_rate)),
      pending_(pending),
      content_((fs::path(file_).parent_path() / "fim-content").string()) {
  if (!cfg_.dpkg_log.empty()) {
    dpkg_ = std::make_unique<fim::DpkgLog>(fim::DpkgLog::Options{
        cfg_.dpkg_log, cfg_.dpkg_info, std::chrono::duration_cast<std::chrono::seconds>(cfg_.package_window)});
  }
  if (!cfg_.audit_log.empty()) {
    audit_ = std::make_unique<fim::AuditLog>(fim::AuditLog::Options{cfg_.audit_log, cfg_.audit_window});
  }
  for (const auto& p : cfg_.paths) {
    if (p.realtime) realtime_roots_.push_back(fim::Root{fim::normalize_root(p.path), p.recursive, p.ignore});
  }
}

FimSource::~FimSource() { stop(); }

void FimSource::start() {
  auto log = logging::get("fim");
  std::error_code ec;
  if (fs::exists(file_, ec)) {
    auto read = fim::read_baseline(file_);
    if (read) {
      known_count_ = read->size();
      base_ = std::make_shared<const fim::Baseline>(std::move(read.value()));
      have_baseline_ = true;
      log->info("file integrity: baseline of {} entries read from {}; checking the trees against it", known_count_,
                file_);
    } else {
      // Kept for a look; the trees are recorded again (silently: there is nothing to compare with).
      fs::rename(file_, file_ + ".damaged", ec);
      log->error("file integrity: {}; moved aside to {}.damaged, recording a new baseline", read.error(), file_);
    }
  }
  if (dpkg_) {
    dpkg_->refresh();
    log->info("file integrity: {} lines of {} read ({} malformed); package activity within {} s of a change is marked",
              dpkg_->lines(), cfg_.dpkg_log, dpkg_->malformed(),
              std::chrono::duration_cast<std::chrono::seconds>(cfg_.package_window).count());
  }
  if (audit_) {
    read_audit();
    if (audit_->error() == 0 && !fs::exists(cfg_.audit_log, ec)) {
      log->info("file integrity: no audit log at {} (yet); changes are attributed to users once auditd writes it",
                cfg_.audit_log);
    } else if (audit_->error() == 0) {
      log->info("file integrity: {} lines of {} read ({} malformed); changes are attributed to the users the audit "
                "log names for them within {} ms (best effort)",
                audit_->lines(), cfg_.audit_log, audit_->malformed(), cfg_.audit_window.count());
    }
  }
  if (!realtime_roots_.empty() && watcher_.fd() < 0) {
    log->warn("file integrity: inotify is unavailable; the realtime trees are checked by the scheduled scan only");
  }
  scan_thread_ = std::thread([this] { scan_worker(); });
  exam_thread_ = std::thread([this] { realtime_worker(); });
  size_t unwatched = 0;
  for (const auto& r : realtime_roots_) unwatched += !exam_in_.try_push(Examine{r.path, false, true});
  if (unwatched > 0) {
    // The loop never waits for a worker: past the hand-off's room, trees are left to the scan.
    log->warn("file integrity: {} realtime trees past the first {} are checked by the scheduled scan only",
              unwatched, realtime_roots_.size() - unwatched);
  }
  started_ = true;
  scan_requested_ = true;
}

void FimSource::stop() {
  if (!started_) return;
  started_ = false;
  cancel_ = true;
  scan_in_.close();
  scan_out_.close();
  exam_in_.close();
  exam_out_.close();
  if (scan_thread_.joinable()) scan_thread_.join();
  if (exam_thread_.joinable()) exam_thread_.join();
  // Written only when every change it records is in the spool: otherwise the next start reports
  // them again rather than never.
  if (dirty_ && have_baseline_ && !emitted_since_commit_) persist();
}

bool FimSource::realtime_path(std::string_view path) const {
  for (const auto& r : realtime_roots_) {
    if (path == r.path || (r.recursive && fim::path_under(path, r.path))) return true;
  }
  return false;
}

void FimSource::watch_tree(const std::string& root) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    // A file (or a tree not there yet): its directory tells when it is written, replaced or made.
    watcher_.add(std::string(parent_of(root)));
    return;
  }
  watcher_.add(root);
  bool recursive = false;
  for (const auto& r : realtime_roots_) recursive = recursive || (r.path == root && r.recursive);
  if (!recursive) return;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end && !cancel_; it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    const std::string path = it->path().string();
    if (!scope_.in_scope(path)) {
      it.disable_recursion_pending();
      continue;
    }
    watcher_.add(path);
  }
}

void FimSource::realtime_worker() {
  fim::ScanOptions o = scope_options(cfg_);
  o.shared_rate = rate_;
  o.cancel = &cancel_;
  fim::Scanner scanner(o);
  while (auto job = exam_in_.pop()) {
    if (job->watch) {
      watch_tree(job->path);
      if (!exam_out_.push(Seen{true, true, {}, job->path, false})) return;
      continue;
    }
    bool open = true;
    scanner.run_path(
        job->path, job->subtree,
        [&](const fim::FileInfo& f) {
          if (open) open = exam_out_.push(Seen{false, false, f, {}, false});
        },
        nullptr,
        [&](const fim::FileInfo& dir) {
          if (realtime_path(dir.path)) watcher_.add(dir.path);
        });
    if (!open || cancel_) return;
    if (!exam_out_.push(Seen{true, false, {}, job->path, job->subtree})) return;
  }
}

void FimSource::scan_worker() {
  auto log = logging::get("fim");
  while (auto job = scan_in_.pop()) {
    std::shared_ptr<const fim::Baseline> base = std::move(*job);
    fim::ScanOptions o = scope_options(cfg_);
    o.shared_rate = rate_;
    o.cancel = &cancel_;
    o.missing_root_is_error = false;  // a tree deleted is reported (or appears later)
    fim::Scanner scanner(o);
    auto seen = std::make_unique<fim::Baseline>();
    std::optional<fim::Comparer> cmp;
    std::optional<fim::Scanner> before;  // the trees the baseline was recorded for
    if (base) {
      cmp.emplace(*base);
      fim::ScanOptions bo;
      bo.roots = base->roots;
      before.emplace(bo);
    }
    bool open = true;
    fim::Change change;
    auto ran = scanner.run(
        [&](const fim::FileInfo& f) {
          seen->add(f);
          if (!cmp || !open || !before->in_scope(f.path)) return;  // a tree new to the baseline: silently
          if (cmp->observe(f, change)) open = scan_out_.push(ScanItem{false, change, nullptr, {}});
        },
        base.get());
    if (cancel_ || !open) return;
    if (!ran) log->error("file integrity scan: {}", ran.error());
    if (cmp && !scanner.stats().capped) {
      cmp->deletions([&](std::string_view p) { return scanner.in_scope(p); },
                     [&](const fim::Change& c) {
                       if (open) open = scan_out_.push(ScanItem{false, c, nullptr, {}});
                     });
    }
    if (cancel_ || !open) return;
    ScanItem done;
    done.done = true;
    done.seen = std::move(seen);
    done.stats = scanner.stats();
    if (!scan_out_.push(std::move(done))) return;
  }
}

std::optional<fim::FileInfo> FimSource::known(const std::string& path) const {
  if (auto it = overlay_.find(path); it != overlay_.end()) return it->second;
  if (base_) {
    if (auto i = base_->find(path)) return base_->info(*i);
  }
  return std::nullopt;
}

bool FimSource::diff_path(std::string_view path) const {
  for (const auto& p : cfg_.paths) {
    if (p.diff && (path == p.path || fim::path_under(path, p.path))) return !fim::diff_denied(path, cfg_.nodiff);
  }
  return false;
}

void FimSource::diff_and_keep(const fim::Change& c, Event& e) {
  const fim::FileInfo& now = c.now;
  if (c.type == fim::ChangeType::deletion || now.type != fim::EntryType::file || !now.has_hash ||
      !diff_path(now.path)) {
    return;
  }
  // Read again (a small file, on the loop): the content must be the one hashed, or no diff.
  auto text = fim::ContentStore::read_text(now.path, now.sha256);
  if (!text) return;
  const fim::FileInfo& before = c.before;
  if (c.type == fim::ChangeType::change && before.type == fim::EntryType::file && before.has_hash &&
      before.sha256 != now.sha256) {
    if (auto prev = content_.get(before.sha256)) {
      if (auto d = fim::unified_diff(*prev, *text, now.path); !d.empty()) {
        e.add(field("vigil.fim.diff"), d);
        ++diffs_;
      }
    }
  }
  content_.put(now.sha256, *text);
}

void FimSource::refresh_contents() {
  if (!base_) return;
  std::unordered_set<std::string> keep;
  auto consider = [&](const fim::FileInfo& f) {
    if (f.type != fim::EntryType::file || !f.has_hash || !diff_path(f.path)) return;
    if (!content_.has(f.sha256)) {
      auto text = fim::ContentStore::read_text(f.path, f.sha256);
      if (!text || !content_.put(f.sha256, *text)) return;
    }
    keep.insert(fim::to_hex(f.sha256));
  };
  for (size_t i = 0; i < base_->size(); ++i) {
    if (base_->view(i).type != fim::EntryType::file || !diff_path(base_->view(i).path)) continue;
    consider(base_->info(i));
  }
  for (const auto& [path, v] : overlay_) {
    if (v) consider(*v);
  }
  content_.retain(keep);
}

void FimSource::emit(Pipeline& out, const fim::Change& c) {
  Event e = fim::to_event(c, host_, Timestamp::now());
  mark(c, e);
  diff_and_keep(c, e);
  out.event(std::move(e));
  ++events_;
  emitted_since_commit_ = true;
}

void FimSource::read_audit() {
  next_audit_read_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  if (audit_->refresh() || audit_error_logged_) return;
  audit_error_logged_ = true;
  logging::get("fim")->warn(
      "file integrity: cannot read the audit log {}: {}; changes are not attributed to users (the agent needs "
      "to be able to read it: auditd.conf log_group, or fim.audit_log: \"\" to say so)",
      cfg_.audit_log, std::strerror(audit_->error()));
}

void FimSource::mark(const fim::Change& c, Event& e) {
  const auto at = fim::when_changed(c, std::chrono::system_clock::now());
  if (audit_) {
    // Read again first: the change's own records may have been written a moment ago.
    read_audit();
    if (auto who = audit_->near(at, c.entry().path)) fim::mark_attribution(e, *who);
  }
  if (cfg_.deploy_windows.empty() && cfg_.deploy_users.empty() && !dpkg_) return;
  fim::mark_deploy(e, cfg_.deploy_windows, cfg_.deploy_users, at);
  if (dpkg_) {
    dpkg_->refresh();
    fim::mark_packages(e, dpkg_->near(at, c.entry().path));
  }
}

void FimSource::on_scan_item(Pipeline& out, ScanItem& item) {
  auto log = logging::get("fim");
  if (!item.done) {
    const fim::FileInfo& e = item.change.entry();
    // What the realtime path looked at during the scan, or is about to, is its to report.
    if (touched_.count(e.path)) return;
    if (pending_.contains(e.path)) {
      // It will compare against what was there before, which the scan's new baseline no longer
      // holds: keep that state for it (unless the realtime path already recorded a newer one).
      if (!overlay_.count(e.path)) {
        if (item.change.type == fim::ChangeType::creation) {
          overlay_[e.path] = std::nullopt;
        } else {
          overlay_[e.path] = item.change.before;
        }
      }
      return;
    }
    emit(out, item.change);
    if (item.change.type == fim::ChangeType::deletion) {
      overlay_[e.path] = std::nullopt;
    } else {
      overlay_[e.path] = item.change.now;
    }
    dirty_ = true;
    return;
  }
  const auto& st = item.stats;
  auto seen = std::move(item.seen);
  if (st.capped && base_) {
    // Past max_files the scan cannot tell a deleted entry from one it did not reach: keep them.
    for (size_t i = 0; i < base_->size(); ++i) seen->add(base_->info(i));
  }
  seen->roots = scope_.roots();
  seen->finish();
  base_ = std::shared_ptr<const fim::Baseline>(std::move(seen));
  known_count_ = base_->size();
  for (const auto& [path, v] : overlay_) {
    bool in_base = base_->find(path).has_value();
    if (v && !in_base) ++known_count_;
    if (!v && in_base) --known_count_;
  }
  if (st.too_deep > 0) {
    log->warn("file integrity: {} directories nested deeper than {} levels (or {} bytes of path) were not entered",
              st.too_deep, fim::kMaxDepth, fim::kMaxPath);
  }
  if (st.capped) {
    capped_ += st.over_cap;
    log->warn("file integrity: max_files ({}) reached: {} more entries were not recorded", cfg_.max_files, st.over_cap);
  }
  ++rescans_;
  if (silent_) {
    log->info("file integrity: first baseline recorded: {} entries ({} files, {} directories), {} MiB hashed",
              base_->size(), st.files, st.dirs, st.bytes_read >> 20);
  } else {
    log->info("file integrity scan: {} entries, {} hashed ({} MiB), {} reused, {} unreadable", st.entries, st.hashed,
              st.bytes_read >> 20, st.reused, st.errors);
  }
  have_baseline_ = true;
  scanning_ = false;
  silent_ = false;
  touched_.clear();
  refresh_contents();
  dirty_ = true;
  persist_now_ = true;
  next_scan_ = std::chrono::steady_clock::now() + cfg_.interval;
}

void FimSource::on_seen(Pipeline& out, Seen& s) {
  if (s.end && s.watch) {
    logging::get("fim")->info("file integrity: realtime on {} ({} directories watched)", s.path, watcher_.watches());
    return;
  }
  if (!s.end) {
    const fim::FileInfo& now = s.info;
    if (scanning_) touched_.insert(now.path);
    seen_paths_.insert(now.path);
    auto before = known(now.path);
    if (!before) {
      if (known_count_ >= cfg_.max_files) {
        ++capped_;
        return;
      }
      ++known_count_;
      if (!silent_) emit(out, fim::Change{fim::ChangeType::creation, now, {}, 0});
    } else {
      uint32_t diff = fim::compare(*before, now);
      if ((diff != 0 || !now.error.empty()) && !silent_) {
        emit(out, fim::Change{fim::ChangeType::change, now, *before, diff});
      }
    }
    overlay_[now.path] = now;
    dirty_ = true;
    return;
  }
  // The end of one path: what the baseline holds there and was not seen is gone.
  const std::string& p = s.path;
  if (scanning_) touched_.insert(p);
  const bool self_seen = seen_paths_.count(p) > 0;
  bool is_dir = false;
  if (self_seen) {
    auto it = overlay_.find(p);
    is_dir = it != overlay_.end() && it->second && it->second->type == fim::EntryType::dir;
  }
  const bool under_too = !self_seen || s.subtree || !is_dir;
  auto candidate = [&](std::string_view path) {
    if (path == p) return !self_seen;
    return under_too && fim::path_under(path, p) && !seen_paths_.count(std::string(path));
  };
  std::vector<fim::FileInfo> gone;
  if (base_) {
    for (size_t i = base_->lower_bound(p); i < base_->size(); ++i) {
      auto v = base_->view(i);
      if (v.path != p && !fim::path_under(v.path, p)) break;
      if (overlay_.count(v.path) || !candidate(v.path) || !scope_.in_scope(v.path)) continue;
      gone.push_back(base_->info(i));
    }
  }
  for (auto it = overlay_.lower_bound(p); it != overlay_.end(); ++it) {
    if (it->first != p && !fim::path_under(it->first, p)) break;
    if (!it->second || !candidate(it->first) || !scope_.in_scope(it->first)) continue;
    gone.push_back(*it->second);
  }
  for (auto& g : gone) {
    if (!silent_) emit(out, fim::Change{fim::ChangeType::deletion, {}, g, 0});
    overlay_[g.path] = std::nullopt;
    if (known_count_ > 0) --known_count_;
    dirty_ = true;
  }
  seen_paths_.clear();
}

void FimSource::note(const std::string& path, uint32_t mask) {
  auto now = std::chrono::steady_clock::now();
  if (mask & IN_Q_OVERFLOW) {
    logging::get("fim")->warn("file integrity: the inotify queue overflowed; rescanning every tree");
    pending_.request_full_rescan();
    return;
  }
  if (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    watcher_.forget_under(path);
    if (scope_.in_scope(path)) pending_.note(path, true, now);
    return;
  }
  if (!scope_.in_scope(path)) return;
  const bool dir = mask & IN_ISDIR;
  if (dir && (mask & (IN_MOVED_FROM | IN_DELETE))) watcher_.forget_under(path);
  pending_.note(path, dir && (mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)), now);
}

size_t FimSource::poll(Pipeline& out) {
  if (!started_) return 0;
  size_t n = 0;
  watcher_.drain([this](const std::string& path, uint32_t mask) { note(path, mask); });
  if (watcher_.take_limit_reached() && !limit_logged_) {
    limit_logged_ = true;
    logging::get("fim")->warn(
        "file integrity: the inotify watch limit is reached (sysctl fs.inotify.max_user_watches); directories "
        "that cannot be watched are checked by the scheduled scan only (counted in "
        "vigil.health.fim.watches_failed)");
  }
  if (pending_.take_full_rescan()) scan_requested_ = true;
  auto now = std::chrono::steady_clock::now();
  if (audit_ && now >= next_audit_read_) read_audit();  // a little at a time, not all at the next change
  if (!scanning_ && (scan_requested_ || now >= next_scan_)) {
    // The scan compares with the baseline as it stands; realtime changes meanwhile go on top.
    if (!overlay_.empty() && have_baseline_) {
      base_ = std::shared_ptr<const fim::Baseline>(merged());
      overlay_.clear();
    }
    silent_ = !have_baseline_;
    if (scan_in_.try_push(silent_ ? nullptr : std::shared_ptr<const fim::Baseline>(base_))) {
      scanning_ = true;
      scan_requested_ = false;
    }
  }
  if (size_t room = exam_in_.room(); room > 0) {
    std::vector<fim::PendingSet::Due> due;
    pending_.take_due(now, room, due);
    for (auto& d : due) exam_in_.try_push(Examine{std::move(d.path), d.subtree, false});
  }
  for (size_t k = 0; k < kSlice; ++k) {
    auto s = exam_out_.try_pop();
    if (!s) break;
    on_seen(out, *s);
    ++n;
  }
  for (size_t k = 0; k < kSlice; ++k) {
    auto item = scan_out_.try_pop();
    if (!item) break;
    on_scan_item(out, *item);
    ++n;
  }
  return n;
}

void FimSource::wake_fds(std::vector<pollfd>& fds) const {
  if (watcher_.fd() >= 0) fds.push_back({watcher_.fd(), POLLIN, 0});
}

void FimSource::commit(uint64_t) {
  emitted_since_commit_ = false;
  if (!dirty_ || !have_baseline_) return;
  if (persist_now_ || std::chrono::steady_clock::now() - last_persist_ >= kPersistEvery) persist();
}

std::unique_ptr<fim::Baseline> FimSource::merged() const {
  auto b = std::make_unique<fim::Baseline>();
  b->roots = scope_.roots();
  for (const auto& [path, v] : overlay_) {
    if (v) b->add(*v);
  }
  if (base_) {
    b->reserve(base_->size() + overlay_.size(), 0);
    for (size_t i = 0; i < base_->size(); ++i) {
      if (overlay_.find(base_->view(i).path) != overlay_.end()) continue;
      b->add(base_->info(i));
    }
  }
  b->finish();
  return b;
}

void FimSource::persist() {
  auto m = merged();
  if (auto w = fim::write_baseline(*m, file_); !w) {
    logging::get("fim")->error("file integrity: {}", w.error());
    return;  // dirty still: tried again at the next commit
  }
  if (!scanning_) {
    base_ = std::shared_ptr<const fim::Baseline>(std::move(m));
    overlay_.clear();
  }
  dirty_ = false;
  persist_now_ = false;
  last_persist_ = std::chrono::steady_clock::now();
}

void FimSource::put_health(Event& h) const {
  add_counter(h, "vigil.health.fim.files_watched", known_count_);
  add_counter(h, "vigil.health.fim.watches", watcher_.watches());
  add_counter(h, "vigil.health.fim.watches_failed", watcher_.failures());
  add_counter(h, "vigil.health.fim.events", events_);
  add_counter(h, "vigil.health.fim.rescans", rescans_);
  add_counter(h, "vigil.health.fim.files_capped", capped_);
  add_counter(h, "vigil.health.fim.pending_folded", pending_.folded());
  add_counter(h, "vigil.health.fim.diffs", diffs_);
  add_counter(h, "vigil.health.fim.contents_refused", content_.refused());
  if (dpkg_) {
    add_counter(h, "vigil.health.fim.dpkg_lines", dpkg_->lines());
    add_counter(h, "vigil.health.fim.dpkg_malformed", dpkg_->malformed());
    add_counter(h, "vigil.health.fim.dpkg_dropped", dpkg_->dropped());
  }
  if (audit_) {
    add_counter(h, "vigil.health.fim.audit_lines", audit_->lines());
    add_counter(h, "vigil.health.fim.audit_malformed", audit_->malformed());
    add_counter(h, "vigil.health.fim.audit_joined", audit_->joined());
    add_counter(h, "vigil.health.fim.audit_dropped", audit_->dropped());
  }
}

}  // namespace vigil::agent::pipeline
