#include "collector/notify/notifier.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::collector {

namespace fs = std::filesystem;

namespace notify {

namespace {

bool parse_int(std::string_view text, int64_t& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size() && out >= 0;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::string format_cursor(const CursorState& s) {
  return fmt::format("{}\nwindow {} {} {}\n", s.cursor, s.window_start_ms, s.sent, s.held_upto);
}

std::optional<CursorState> parse_cursor(std::string_view text) {
  CursorState s;
  size_t nl = text.find('\n');
  std::string_view first = text.substr(0, nl);
  if (!parse_int(first, s.cursor)) return std::nullopt;
  if (nl == std::string_view::npos) return s;
  std::string_view rest = text.substr(nl + 1);
  rest = rest.substr(0, rest.find('\n'));
  if (rest.empty()) return s;
  auto f = fields(rest);
  int64_t sent = 0;
  if (f.size() != 4 || f[0] != "window" || !parse_int(f[1], s.window_start_ms) || !parse_int(f[2], sent) ||
      !parse_int(f[3], s.held_upto) || sent > UINT32_MAX) {
    return std::nullopt;
  }
  s.sent = static_cast<uint32_t>(sent);
  return s;
}

bool RateWindow::allows(const CursorState& s, int64_t now_ms) const {
  if (!limited()) return true;
  if (s.held_upto != 0) return false;
  return window_over(s, now_ms) || s.sent < count_;
}

bool RateWindow::digest_due(const CursorState& s, int64_t now_ms) const {
  return limited() && s.held_upto != 0 && window_over(s, now_ms);
}

void RateWindow::noticed(CursorState& s, int64_t now_ms) const {
  if (!limited()) return;
  if (window_over(s, now_ms)) {
    s.window_start_ms = now_ms;
    s.sent = 0;
  }
  ++s.sent;
}

void RateWindow::hold(CursorState& s, int64_t id) const { s.held_upto = std::max(s.held_upto, id); }

void RateWindow::digested(CursorState& s) const {
  s.cursor = std::max(s.cursor, s.held_upto);
  s.held_upto = 0;
  s.window_start_ms = 0;
  s.sent = 0;
}

}  // namespace notify

namespace {

constexpr size_t kMaxPending = 10000;  // alerts fetched per round (the oldest after the cursor)
constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr size_t kMaxAnnouncements = 1000;  // waiting per target while its server is down

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Notifier::Notifier(TriageStore& store, const std::vector<NotifySection>& targets, std::string data_dir,
                   std::string console_url)
    : store_(store), dir_((fs::path(data_dir) / "notify").string()), console_url_(std::move(console_url)) {
  for (const auto& cfg : targets) {
    Target t;
    t.config = cfg;
    t.sender = notify::make_sender(cfg);
    t.stats = std::make_unique<NotifyStats>();
    targets_.push_back(std::move(t));
  }
}

Notifier::~Notifier() { stop(); }

void Notifier::start() {
  if (targets_.empty()) return;
  auto log = logging::get("notify");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  for (auto& t : targets_) {
    const auto path = fs::path(dir_) / (t.config.name + ".cursor");
    auto text = pki::read_file(path, 256);
    std::optional<notify::CursorState> state;
    if (text) state = notify::parse_cursor(*text);
    if (text && !state)
      log->warn("notify {}: {} is not a cursor; starting after the newest alert", t.config.name, path.string());
    if (!state) {
      // A new target starts with the alerts stored from now on.
      state = notify::CursorState{};
      AlertFilter newest;
      newest.limit = 1;
      auto latest = store_.list_alerts(newest);
      if (latest && !latest->empty()) state->cursor = latest->front().id;
      t.state = *state;
      if (!save(t)) log->error("notify {}: cannot save its cursor in {}", t.config.name, dir_);
    }
    t.state = *state;
    t.stats->cursor = t.state.cursor;
    std::string where =
        t.config.type == "email" ? t.config.smtp.to_string() + " (" + t.config.tls + ")" : t.config.api_url;
    log->info("notify {} ({} via {}): after alert {}", t.config.name, t.config.type, where, t.state.cursor);
  }
  loop_.start(std::chrono::seconds(1), [this] {
    auto now = std::chrono::steady_clock::now();
    for (auto& t : targets_) {
      if (now >= t.retry_at && !loop_.stopping()) run_target(t);
    }
  });
}

void Notifier::stop() { loop_.stop(); }

void Notifier::wake() { loop_.wake(); }

size_t Notifier::announce(const notify::Announcement& a) {
  size_t taken = 0;
  {
    std::lock_guard lock(mu_);
    for (auto& t : targets_) {
      if (a.severity < t.config.min_severity) continue;
      if (!t.config.agencies.empty() &&
          std::none_of(a.agencies.begin(), a.agencies.end(), [&](const std::string& g) {
            return std::find(t.config.agencies.begin(), t.config.agencies.end(), g) != t.config.agencies.end();
          })) {
        continue;
      }
      if (t.announcements.size() >= kMaxAnnouncements) {
        ++t.stats->announcements_dropped;
        continue;
      }
      t.announcements.emplace_back(t.config.lang == "en" ? a.en : a.vi, fmt::format("vigil-{}-{}", a.id, t.config.name));
      ++taken;
    }
  }
  loop_.wake();
  return taken;
}

bool Notifier::save(const Target& t) {
  return bool(pki::write_file(fs::path(dir_) / (t.config.name + ".cursor"), notify::format_cursor(t.state), false));
}

Result<std::vector<AlertRecord>> Notifier::pending(const Target& t, int64_t upto) {
  // The store lists newest first: page back to the cursor, keeping the oldest alerts after it.
  std::deque<AlertRecord> found;
  AlertFilter f;
  f.min_severity = t.config.min_severity;
  f.agencies_in = t.config.agencies;
  f.limit = 200;
  f.before_id = upto > 0 ? upto + 1 : 0;
  while (!loop_.stopping()) {
    auto page = store_.list_alerts(f);
    if (!page) return make_error(page.error());
    bool reached = false;
    for (auto& a : *page) {
      if (a.id <= t.state.cursor) {
        reached = true;
        break;
      }
      found.push_back(std::move(a));
      if (found.size() > kMaxPending) found.pop_front();  // a newer one waits for the next round
    }
    if (reached || page->size() < static_cast<size_t>(f.limit)) break;
    f.before_id = page->back().id;
  }
  return std::vector<AlertRecord>(found.rbegin(), found.rend());
}

bool Notifier::deliver(Target& t, const notify::Notice& n, const std::string& message_id) {
  auto log = logging::get("notify");
  auto r = t.sender->send(n, message_id);
  if (!r) {
    ++t.stats->failures;
    if (t.backoff.count() == 0) log->warn("notify {}: {} (notices wait, retrying)", t.config.name, r.error());
    t.backoff = std::min<std::chrono::milliseconds>(
        std::max<std::chrono::milliseconds>(t.backoff * 2, std::chrono::seconds(1)), kMaxBackoff);
    t.retry_at = std::chrono::steady_clock::now() + t.backoff;
    return false;
  }
  if (t.backoff.count() != 0) {
    log->info("notify {}: sending again", t.config.name);
    t.backoff = std::chrono::milliseconds(0);
  }
  return true;
}

void Notifier::run_target(Target& t) {
  auto log = logging::get("notify");
  // Announcements first: few, and about things that wait on people.
  while (!loop_.stopping()) {
    std::pair<notify::Notice, std::string> n;
    {
      std::lock_guard lock(mu_);
      if (t.announcements.empty()) break;
      n = t.announcements.front();
    }
    if (!deliver(t, n.first, n.second)) return;
    ++t.stats->announcements;
    std::lock_guard lock(mu_);
    t.announcements.pop_front();
  }

  const notify::RateWindow rate(t.config.rate_count, t.config.rate_period);
  const int64_t now = now_ms();
  auto persist = [&] {
    if (!save(t)) log->error("notify {}: cannot save its cursor in {}", t.config.name, dir_);
    t.stats->cursor = t.state.cursor;
  };

  if (rate.digest_due(t.state, now)) {
    auto held = pending(t, t.state.held_upto);
    if (!held) {
      log->warn("notify {}: store: {}", t.config.name, held.error());
      return;
    }
    if (!held->empty()) {
      auto digest = notify::render_digest(*held, t.config.lang, console_url_);
      auto id = fmt::format("vigil-digest-{}-{}-{}", held->front().id, held->back().id, t.config.name);
      if (!deliver(t, digest, id)) return;
      ++t.stats->digests;
      log->info("notify {}: digest of {} alerts sent (alerts {} to {})", t.config.name, held->size(), held->front().id,
                held->back().id);
    }
    rate.digested(t.state);
    persist();
  }

  // The window is full and alerts already wait for its digest: only the newest matters (it widens
  // the digest), one row instead of paging back through everything held.
  if (t.state.held_upto != 0 && !rate.allows(t.state, now)) {
    AlertFilter newest;
    newest.min_severity = t.config.min_severity;
    newest.agencies_in = t.config.agencies;
    newest.limit = 1;
    auto top = store_.list_alerts(newest);
    if (!top) {
      log->warn("notify {}: store: {}", t.config.name, top.error());
      return;
    }
    if (!top->empty() && top->front().id > t.state.held_upto) {
      rate.hold(t.state, top->front().id);
      persist();
    }
    return;
  }

  auto list = pending(t, 0);
  if (!list) {
    log->warn("notify {}: store: {}", t.config.name, list.error());
    return;
  }
  bool changed = false;
  for (auto& a : *list) {
    if (loop_.stopping()) break;
    if (!rate.allows(t.state, now)) {
      if (a.id > t.state.held_upto) {
        rate.hold(t.state, a.id);
        changed = true;
      }
      continue;
    }
    if (a.entity.source_ip.empty() && a.evidence.empty()) {
      // Lists leave the evidence out; the source address may be found in it.
      auto full = store_.get_alert(a.id);
      if (full && *full) a = std::move(**full);
    }
    auto notice = notify::render_alert(a, t.config.lang, console_url_);
    if (!deliver(t, notice, fmt::format("vigil-alert-{}-{}", a.id, t.config.name))) break;
    rate.noticed(t.state, now);
    t.state.cursor = a.id;
    ++t.stats->sent;
    changed = false;
    persist();
  }
  if (changed) persist();
}

}  // namespace vigil::collector
