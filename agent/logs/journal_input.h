// The systemd journal as a log input (libsystemd sd_journal): entries matching any of the
// configured FIELD=value expressions, read in order, one event each, with the cursor of the last
// delivered entry persisted so a restart neither re-reads nor skips entries. The entry's message
// goes through the same per-program readers as syslog lines (sshd, sudo, su, account tools,
// firewall), so rules see the same datasets whichever input a host uses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/event/event.h"
#include "common/result.h"

struct sd_journal;

namespace vigil::logs {

struct JournalOptions {
  std::vector<std::string> match;  // FIELD=value; an entry matching any of them is read (none: all)
  std::string directory;           // a journal directory (a host's journal mounted elsewhere); empty: this host's
  std::filesystem::path state_file;  // the committed cursor
  size_t max_message = 64 * 1024;    // longer messages are cut (counted)
};

struct JournalCounters {
  uint64_t entries = 0;
  uint64_t parsed = 0;       // entries a program reader recognised
  uint64_t unparsed = 0;     // kept with dataset "journal"
  uint64_t cut = 0;          // messages longer than max_message
  uint64_t read_errors = 0;  // entries that could not be read (skipped)
};

class JournalInput {
 public:
  // Opens the journal and positions after the committed cursor; without one, at the end (only
  // entries written from now on are read, as a tail of a file that existed before would be
  // read from where it was found).
  static Result<std::unique_ptr<JournalInput>> open(JournalOptions options, std::string host_name);
  ~JournalInput();
  JournalInput(const JournalInput&) = delete;
  JournalInput& operator=(const JournalInput&) = delete;

  // Delivers up to `max_entries` new entries as events. Returns the number delivered.
  size_t poll(const std::function<void(Event&&)>& on_event, size_t max_entries = 5000);
  // Persists the cursor of the last delivered entry; call once the events are durable.
  void commit();
  // Becomes readable when the journal changes (poll it with POLLIN); -1 if unavailable.
  int fd() const { return fd_; }
  const JournalCounters& counters() const { return counters_; }
  const std::string& name() const { return name_; }

 private:
  JournalInput(JournalOptions options, std::string host_name);
  bool entry_event(Event& out);

  JournalOptions options_;
  std::string host_name_;
  std::string name_;
  sd_journal* j_ = nullptr;
  int fd_ = -1;
  std::string last_cursor_;
  std::string committed_cursor_;
  JournalCounters counters_;
};

}  // namespace vigil::logs
