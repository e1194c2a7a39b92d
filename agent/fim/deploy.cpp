#include "agent/fim/deploy.h"

#include <ctime>

#include <fmt/format.h>

namespace vigil::agent::fim {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// 0 Sunday .. 6 Saturday, or -1.
int day_of(std::string_view word) {
  static constexpr std::string_view kShort[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  static constexpr std::string_view kLong[] = {"sunday",   "monday", "tuesday", "wednesday",
                                               "thursday", "friday", "saturday"};
  const std::string w = lower(word);
  for (int i = 0; i < 7; ++i) {
    if (w == kShort[i] || w == kLong[i]) return i;
  }
  return -1;
}

// "HH:MM" -> minute of the day, or -1.
int minute_of(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return -1;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4])) return -1;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return -1;
  return h * 60 + m;
}

bool parse_days(std::string_view spec, std::array<bool, 7>& days, std::string& error) {
  const std::string s = lower(spec);
  if (s == "*" || s == "daily") {
    days.fill(true);
    return true;
  }
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string_view item = spec.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    size_t dash = item.find('-');
    int from = day_of(item.substr(0, dash));
    int to = dash == std::string_view::npos ? from : day_of(item.substr(dash + 1));
    if (from < 0 || to < 0) {
      error = fmt::format("'{}' is not a day or a range of days (Mon, Tue-Thu, Sat-Mon, *)", item);
      return false;
    }
    for (int d = from;; d = (d + 1) % 7) {
      days[static_cast<size_t>(d)] = true;
      if (d == to) break;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return true;
}

}  // namespace

bool DeployWindow::covers(int wday, int minute) const {
  if (wday < 0 || wday > 6) return false;
  if (start <= end) return days[static_cast<size_t>(wday)] && minute >= start && minute <= end;
  // Past midnight: the evening of a listed day, or the early hours of the day after one.
  if (days[static_cast<size_t>(wday)] && minute >= start) return true;
  return days[static_cast<size_t>((wday + 6) % 7)] && minute <= end;
}

std::optional<DeployWindow> parse_deploy_window(std::string_view text, std::string& error) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  std::string_view t = trim(text);
  size_t space = t.find_first_of(" \t");
  if (space == std::string_view::npos) {
    error = "expected DAYS HH:MM-HH:MM, such as \"Tue 22:00-23:59\" or \"Mon-Fri 19:00-21:00\"";
    return std::nullopt;
  }
  DeployWindow w;
  w.text = std::string(t);
  if (!parse_days(t.substr(0, space), w.days, error)) return std::nullopt;
  std::string_view range = trim(t.substr(space));
  size_t dash = range.find('-');
  int start = dash == std::string_view::npos ? -1 : minute_of(trim(range.substr(0, dash)));
  int end = dash == std::string_view::npos ? -1 : minute_of(trim(range.substr(dash + 1)));
  if (start < 0 || end < 0) {
    error = fmt::format("'{}' is not a time range HH:MM-HH:MM (00:00 to 23:59)", range);
    return std::nullopt;
  }
  if (start == end) {
    error = fmt::format("'{}' is an empty window (start and end are the same minute)", range);
    return std::nullopt;
  }
  w.start = start;
  w.end = end;
  return w;
}

bool in_deploy_window(const std::vector<DeployWindow>& windows, std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm local{};
  if (!localtime_r(&t, &local)) return false;
  const int minute = local.tm_hour * 60 + local.tm_min;
  for (const auto& w : windows) {
    if (w.covers(local.tm_wday, minute)) return true;
  }
  return false;
}

std::chrono::system_clock::time_point when_changed(const Change& c, std::chrono::system_clock::time_point now) {
  if (c.type == ChangeType::deletion || c.now.ctime_ns <= 0) return now;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(c.now.ctime_ns)));
}

void mark_deploy(Event& e, const std::vector<DeployWindow>& windows, const std::vector<std::string>& users,
                 std::chrono::system_clock::time_point at) {
  static const FieldId kWindow = field("vigil.fim.deploy_window");
  static const FieldId kUser = field("vigil.fim.deploy_user");
  if (!windows.empty()) e.set(kWindow, Value(in_deploy_window(windows, at)));
  if (users.empty()) return;
  if (const std::string* user = e.get_string(fields::user_name); user && !user->empty()) {
    bool deploy = false;
    for (const auto& u : users) deploy = deploy || u == *user;
    e.set(kUser, Value(deploy));
  }
}

}  // namespace vigil::agent::fim
