// Log lines into the pipeline: a followed file (the daemon), a recorded file read to its end
// (replay), the systemd journal. A line becomes an event the same way in each (line_event).
#pragma once

#include <memory>
#include <string>

#include "agent/logs/file_tail.h"
#include "agent/logs/journal_input.h"
#include "agent/logs/log_parser.h"
#include "agent/pipeline/line_reader.h"
#include "agent/pipeline/source.h"
#include "common/result.h"

namespace vigil::agent::pipeline {

// Where a followed file's line ends, "device:inode:end": every live log event carries it, so the
// spool tells how far a file got when a crash came between its sync and the tail's commit.
extern const FieldId kTailPosition;

// The event of one line of the file at `path`; false (and `e` empty) for a line that makes none
// (an empty line).
bool line_event(logs::LogParser& parser, const logs::ParseContext& ctx, std::string_view line, const std::string& path,
                Event& e);

// One followed file (logs: in agent.yaml): new lines as they are written, across rotation and
// truncation, its position committed once the spool holds its events.
class LogTailSource : public Source {
 public:
  LogTailSource(std::string path, std::unique_ptr<logs::LogParser> parser, std::string format, std::string input,
                const std::filesystem::path& state_file, std::string host_name);

  size_t poll(Pipeline& out) override;  // up to 1 MiB of lines
  void commit(uint64_t synced_seq) override { tail_.commit(synced_seq); }
  void put_health(Event& health) const override;

  const std::string& path() const { return path_; }
  const std::string& format() const { return format_; }
  const std::string& input() const { return input_; }  // the path or glob of the logs: input that named it
  logs::FileTail& tail() { return tail_; }

 private:
  std::string path_;
  std::unique_ptr<logs::LogParser> parser_;
  std::string format_;
  std::string input_;
  logs::FileTail tail_;
  std::string host_name_;
  std::string position_;  // reused buffer for kTailPosition
};

// One recorded log file read to its end, a line per poll, its events in file order.
class LogFileSource : public Source {
 public:
  static Result<std::unique_ptr<LogFileSource>> open(const std::string& format, const std::string& path,
                                                     const std::string& host_name, size_t max_line);

  size_t poll(Pipeline& out) override;
  std::optional<Timestamp> next_time() const override;
  void put_health(Event& health) const override;
  const std::string& error() const override { return reader_.error(); }

  const logs::ParseCounters& parser_counters() const { return parser_->counters(); }
  uint64_t lines_cut() const { return reader_.lines_cut(); }

 private:
  LogFileSource(std::string path, std::unique_ptr<logs::LogParser> parser, logs::ParseContext ctx,
                LineReader reader);
  // Reads lines up to the next one that makes an event.
  void advance();

  std::string path_;
  std::unique_ptr<logs::LogParser> parser_;
  logs::ParseContext ctx_;
  LineReader reader_;
  std::string line_;
  Event event_;
  Timestamp time_{};
  bool has_event_ = false;
};

// The systemd journal (logs: format journal), entries after the committed cursor.
class JournalSource : public Source {
 public:
  JournalSource(std::unique_ptr<logs::JournalInput> journal, std::string id)
      : journal_(std::move(journal)), id_(std::move(id)) {}

  size_t poll(Pipeline& out) override;  // up to 5,000 entries
  void wake_fds(std::vector<pollfd>& fds) const override;
  void commit(uint64_t) override { journal_->commit(); }
  void put_health(Event& health) const override;

  const std::string& name() const { return journal_->name(); }
  // Its directory and matches (what names it in the configuration and its cursor file).
  const std::string& id() const { return id_; }

 private:
  std::unique_ptr<logs::JournalInput> journal_;
  std::string id_;
};

}  // namespace vigil::agent::pipeline
