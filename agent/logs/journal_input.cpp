#include "agent/logs/journal_input.h"

#include <systemd/sd-journal.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "agent/logs/log_fields.h"
#include "agent/logs/program_messages.h"
#include "common/pki/pki.h"

namespace vigil::logs {

namespace {

// The value of FIELD in the current entry, or empty.
std::string_view entry_field(sd_journal* j, const char* name) {
  const void* data = nullptr;
  size_t len = 0;
  if (sd_journal_get_data(j, name, &data, &len) < 0) return {};
  std::string_view kv(static_cast<const char*>(data), len);
  size_t eq = kv.find('=');
  return eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
}

std::string errno_text(int r) { return std::strerror(r < 0 ? -r : r); }

}  // namespace

JournalInput::JournalInput(JournalOptions options, std::string host_name)
    : options_(std::move(options)), host_name_(std::move(host_name)) {
  name_ = options_.directory.empty() ? "journal" : "journal:" + options_.directory;
}

JournalInput::~JournalInput() {
  if (j_) sd_journal_close(j_);
}

Result<std::unique_ptr<JournalInput>> JournalInput::open(JournalOptions options, std::string host_name) {
  std::unique_ptr<JournalInput> in(new JournalInput(std::move(options), std::move(host_name)));
  const auto& o = in->options_;
  int r = o.directory.empty() ? sd_journal_open(&in->j_, SD_JOURNAL_LOCAL_ONLY)
                              : sd_journal_open_directory(&in->j_, o.directory.c_str(), 0);
  if (r < 0) return make_error(fmt::format("{}: cannot open the journal: {}", in->name_, errno_text(r)));
  for (size_t i = 0; i < o.match.size(); ++i) {
    if (i > 0 && (r = sd_journal_add_disjunction(in->j_)) < 0) {
      return make_error(fmt::format("{}: {}", in->name_, errno_text(r)));
    }
    if ((r = sd_journal_add_match(in->j_, o.match[i].data(), o.match[i].size())) < 0) {
      return make_error(fmt::format("{}: bad match '{}': {}", in->name_, o.match[i], errno_text(r)));
    }
  }
  // Where to start: after the committed cursor, else at the end.
  std::string cursor;
  if (auto saved = pki::read_file(o.state_file, 4096)) {
    cursor = *saved;
    while (!cursor.empty() && (cursor.back() == '\n' || cursor.back() == '\r')) cursor.pop_back();
  }
  bool positioned = false;
  if (!cursor.empty() && sd_journal_seek_cursor(in->j_, cursor.c_str()) >= 0) {
    // seek_cursor lands on the entry (or the nearest one if it was vacuumed); step onto it and
    // skip it when it is the committed entry itself.
    if (sd_journal_next(in->j_) > 0) {
      if (sd_journal_test_cursor(in->j_, cursor.c_str()) <= 0) sd_journal_previous(in->j_);
    }
    in->committed_cursor_ = in->last_cursor_ = cursor;
    positioned = true;
  }
  if (!positioned) {
    sd_journal_seek_tail(in->j_);
    // Onto the last entry, so next() gives the first new one; its cursor is committed at the
    // first commit(), so entries written while a restarted agent was down are not skipped.
    if (sd_journal_previous(in->j_) > 0) {
      char* c = nullptr;
      if (sd_journal_get_cursor(in->j_, &c) >= 0) {
        in->last_cursor_ = c;
        free(c);
      }
    }
  }
  in->fd_ = sd_journal_get_fd(in->j_);
  return in;
}

bool JournalInput::entry_event(Event& out) {
  const LogFields& lf = LogFields::get();
  uint64_t usec = 0;
  if (sd_journal_get_realtime_usec(j_, &usec) < 0) return false;
  Timestamp ts{static_cast<int64_t>(usec) * 1000};
  std::string_view message = entry_field(j_, "MESSAGE");
  std::string_view ident = entry_field(j_, "SYSLOG_IDENTIFIER");
  if (ident.empty()) ident = entry_field(j_, "_COMM");
  std::string_view pid = entry_field(j_, "_PID");
  if (pid.empty()) pid = entry_field(j_, "SYSLOG_PID");
  std::string_view host = entry_field(j_, "_HOSTNAME");
  std::string_view unit = entry_field(j_, "_SYSTEMD_UNIT");
  std::string_view priority = entry_field(j_, "PRIORITY");
  if (message.size() > options_.max_message) {
    message = message.substr(0, options_.max_message);
    ++counters_.cut;
  }
  // event.original as `journalctl -o short-iso` prints the entry.
  std::string original = fmt::format("{} {} {}{}{}{}: {}", ts.to_string(), host.empty() ? host_name_ : host, ident,
                                     pid.empty() ? "" : "[", pid, pid.empty() ? "" : "]", message);
  out.set(fields::event_original, std::move(original));
  out.set(fields::event_kind, "event");
  out.set(fields::timestamp, ts);
  out.set(fields::host_name, std::string(host.empty() ? std::string_view(host_name_) : host));
  if (!ident.empty()) out.set(fields::process_name, std::string(ident));
  if (!pid.empty()) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(pid.data(), pid.data() + pid.size(), v);
    if (ec == std::errc() && p == pid.data() + pid.size()) out.set(fields::process_pid, v);
  }
  if (priority.size() == 1 && priority[0] >= '0' && priority[0] <= '7') {
    out.set(lf.syslog_severity_code, int64_t{priority[0] - '0'});
  }
  if (!unit.empty()) out.set(field("systemd.unit"), std::string(unit));
  out.set(fields::message, std::string(message));
  parse_program_message(ident, message, out);
  const std::string* ds = out.get_string(fields::event_dataset);
  if (ds && *ds == "syslog" && !out.has(fields::event_action)) {
    out.set(fields::event_dataset, "journal");
    ++counters_.unparsed;
  } else {
    ++counters_.parsed;
  }
  return true;
}

size_t JournalInput::poll(const std::function<void(Event&&)>& on_event, size_t max_entries) {
  sd_journal_process(j_);  // take in rotated and new files; clears the fd's readiness
  size_t n = 0;
  while (n < max_entries) {
    int r = sd_journal_next(j_);
    if (r == 0) break;
    if (r < 0) {
      ++counters_.read_errors;
      break;
    }
    ++counters_.entries;
    char* cursor = nullptr;
    if (sd_journal_get_cursor(j_, &cursor) >= 0) {
      last_cursor_ = cursor;
      free(cursor);
    }
    Event e;
    if (!entry_event(e)) {
      ++counters_.read_errors;
      continue;
    }
    on_event(std::move(e));
    ++n;
  }
  return n;
}

void JournalInput::commit() {
  if (last_cursor_ == committed_cursor_ || options_.state_file.empty()) return;
  if (pki::write_file(options_.state_file, last_cursor_ + "\n", false)) committed_cursor_ = last_cursor_;
}

}  // namespace vigil::logs
