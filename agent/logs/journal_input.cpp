#include "agent/logs/journal_input.h"

#include <systemd/sd-journal.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "agent/logs/log_fields.h"
#include "agent/logs/program_messages.h"
#include "common/util/shared_library.h"
#include "common/pki/pki.h"

namespace vigil::logs {

namespace {

// libsystemd's journal reader, opened (dlopen) with the first journal input: an agent without one
// never maps libsystemd and the libraries it pulls in (issue 22). Debian's package: libsystemd0.
struct JournalApi {
  decltype(&::sd_journal_add_disjunction) add_disjunction = nullptr;
  decltype(&::sd_journal_add_match) add_match = nullptr;
  decltype(&::sd_journal_close) close = nullptr;
  decltype(&::sd_journal_get_cursor) get_cursor = nullptr;
  decltype(&::sd_journal_get_data) get_data = nullptr;
  decltype(&::sd_journal_get_fd) get_fd = nullptr;
  decltype(&::sd_journal_get_realtime_usec) get_realtime_usec = nullptr;
  decltype(&::sd_journal_next) next = nullptr;
  decltype(&::sd_journal_open) open = nullptr;
  decltype(&::sd_journal_open_directory) open_directory = nullptr;
  decltype(&::sd_journal_previous) previous = nullptr;
  decltype(&::sd_journal_process) process = nullptr;
  decltype(&::sd_journal_seek_cursor) seek_cursor = nullptr;
  decltype(&::sd_journal_seek_tail) seek_tail = nullptr;
  decltype(&::sd_journal_test_cursor) test_cursor = nullptr;
};

struct LoadedJournalApi {
  JournalApi api;
  std::string error;  // why it could not be loaded; empty when loaded
};

const LoadedJournalApi& load_journal_api() {
  static const LoadedJournalApi loaded = [] {
    LoadedJournalApi l;
    util::SharedLibrary lib({"libsystemd.so.0"}, "libsystemd0");
    JournalApi& api = l.api;
    auto load = [&](auto& fn, const char* name) { return lib.get(fn, name); };
    if (!(
        load(api.add_disjunction, "sd_journal_add_disjunction") &&
        load(api.add_match, "sd_journal_add_match") &&
        load(api.close, "sd_journal_close") &&
        load(api.get_cursor, "sd_journal_get_cursor") &&
        load(api.get_data, "sd_journal_get_data") &&
        load(api.get_fd, "sd_journal_get_fd") &&
        load(api.get_realtime_usec, "sd_journal_get_realtime_usec") &&
        load(api.next, "sd_journal_next") &&
        load(api.open, "sd_journal_open") &&
        load(api.open_directory, "sd_journal_open_directory") &&
        load(api.previous, "sd_journal_previous") &&
        load(api.process, "sd_journal_process") &&
        load(api.seek_cursor, "sd_journal_seek_cursor") &&
        load(api.seek_tail, "sd_journal_seek_tail") &&
        load(api.test_cursor, "sd_journal_test_cursor") &&
        true)) {
      l.error = lib.error();
    }
    return l;
  }();
  return loaded;
}

// Called only once open() found the library loaded.
const JournalApi& journal_api() { return load_journal_api().api; }

// The value of FIELD in the current entry, or empty.
std::string_view entry_field(sd_journal* j, const char* name) {
  const void* data = nullptr;
  size_t len = 0;
  if (journal_api().get_data(j, name, &data, &len) < 0) return {};
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
  if (j_) journal_api().close(j_);
}

Result<std::unique_ptr<JournalInput>> JournalInput::open(JournalOptions options, std::string host_name) {
  if (const auto& lib = load_journal_api(); !lib.error.empty()) {
    return make_error(fmt::format("{}: {}", options.directory.empty() ? "journal" : "journal:" + options.directory,
                                  lib.error));
  }
  std::unique_ptr<JournalInput> in(new JournalInput(std::move(options), std::move(host_name)));
  const auto& o = in->options_;
  int r = o.directory.empty() ? journal_api().open(&in->j_, SD_JOURNAL_LOCAL_ONLY)
                              : journal_api().open_directory(&in->j_, o.directory.c_str(), 0);
  if (r < 0) return make_error(fmt::format("{}: cannot open the journal: {}", in->name_, errno_text(r)));
  for (size_t i = 0; i < o.match.size(); ++i) {
    if (i > 0 && (r = journal_api().add_disjunction(in->j_)) < 0) {
      return make_error(fmt::format("{}: {}", in->name_, errno_text(r)));
    }
    if ((r = journal_api().add_match(in->j_, o.match[i].data(), o.match[i].size())) < 0) {
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
  if (!cursor.empty() && journal_api().seek_cursor(in->j_, cursor.c_str()) >= 0) {
    // seek_cursor lands on the entry (or the nearest one if it was vacuumed); step onto it and
    // skip it when it is the committed entry itself.
    if (journal_api().next(in->j_) > 0) {
      if (journal_api().test_cursor(in->j_, cursor.c_str()) <= 0) journal_api().previous(in->j_);
    }
    in->committed_cursor_ = in->last_cursor_ = cursor;
    positioned = true;
  }
  if (!positioned) {
    journal_api().seek_tail(in->j_);
    // Onto the last entry, so next() gives the first new one; its cursor is committed at the
    // first commit(), so entries written while a restarted agent was down are not skipped.
    if (journal_api().previous(in->j_) > 0) {
      char* c = nullptr;
      if (journal_api().get_cursor(in->j_, &c) >= 0) {
        in->last_cursor_ = c;
        free(c);
      }
    }
  }
  in->fd_ = journal_api().get_fd(in->j_);
  return in;
}

bool JournalInput::entry_event(Event& out) {
  const LogFields& lf = LogFields::get();
  uint64_t usec = 0;
  if (journal_api().get_realtime_usec(j_, &usec) < 0) return false;
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
  journal_api().process(j_);  // take in rotated and new files; clears the fd's readiness
  size_t n = 0;
  while (n < max_entries) {
    int r = journal_api().next(j_);
    if (r == 0) break;
    if (r < 0) {
      ++counters_.read_errors;
      break;
    }
    ++counters_.entries;
    char* cursor = nullptr;
    if (journal_api().get_cursor(j_, &cursor) >= 0) {
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
