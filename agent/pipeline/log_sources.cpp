#include "agent/pipeline/log_sources.h"


#include <fmt/format.h>

#include "agent/pipeline/pipeline.h"

namespace vigil::agent::pipeline {

const FieldId kTailPosition = field("vigil.tail.position");

namespace {
constexpr size_t kTailSlice = 1 << 20;        // bytes of one file per pass
constexpr size_t kJournalSlice = 5000;        // journal entries per pass
}  // namespace

bool line_event(logs::LogParser& parser, const logs::ParseContext& ctx, std::string_view line, const std::string& path,
                Event& e) {
  e.clear();
  if (line.empty()) return false;
  parser.parse(line, ctx, e);
  if (e.empty()) return false;
  e.set(fields::log_file_path, path);
  return true;
}

LogTailSource::LogTailSource(std::string path, std::unique_ptr<logs::LogParser> parser, std::string format,
                             std::string input, const std::filesystem::path& state_file, std::string host_name)
    : path_(std::move(path)),
      parser_(std::move(parser)),
      format_(std::move(format)),
      input_(std::move(input)),
      tail_(path_, state_file),
      host_name_(std::move(host_name)) {}

size_t LogTailSource::poll(Pipeline& out) {
  auto ctx = logs::ParseContext::for_file(path_, format_, host_name_);
  if (!ctx) return 0;
  size_t n = 0;
  tail_.poll([&](std::string_view line) {
    Event e;
    if (!line_event(*parser_, *ctx, line, path_, e)) return;
    position_.clear();
    fmt::format_to(std::back_inserter(position_), "{}:{}:{}", tail_.device(), tail_.inode(), tail_.line_end());
    e.set(kTailPosition, position_);
    out.event(std::move(e));
    ++n;
  }, kTailSlice);
  return n;
}

void LogTailSource::put_health(Event& h) const {
  add_counter(h, "vigil.logs.lines", parser_->counters().lines);
  add_counter(h, "vigil.logs.unparsed", parser_->counters().unparsed);
}

LogFileSource::LogFileSource(std::string path, std::unique_ptr<logs::LogParser> parser, logs::ParseContext ctx,
                             LineReader reader)
    : path_(std::move(path)), parser_(std::move(parser)), ctx_(std::move(ctx)), reader_(std::move(reader)) {}

Result<std::unique_ptr<LogFileSource>> LogFileSource::open(const std::string& format, const std::string& path,
                                                           const std::string& host_name, size_t max_line) {
  auto parser = logs::make_parser(format);
  if (!parser) return make_error(fmt::format("--log {}:{}: {}", format, path, parser.error()));
  auto ctx = logs::ParseContext::for_file(path, format, host_name);
  if (!ctx) return make_error(ctx.error());
  auto reader = LineReader::open(path, max_line);
  if (!reader) return make_error(reader.error());
  std::unique_ptr<LogFileSource> l(
      new LogFileSource(path, std::move(parser.value()), std::move(ctx.value()), std::move(reader.value())));
  l->advance();
  return l;
}

size_t LogFileSource::poll(Pipeline& out) {
  if (!has_event_) return 0;
  out.event(std::move(event_));
  advance();
  return 1;
}

std::optional<Timestamp> LogFileSource::next_time() const {
  if (!has_event_) return std::nullopt;
  return time_;
}

void LogFileSource::put_health(Event& h) const {
  add_counter(h, "vigil.logs.lines", parser_->counters().lines);
  add_counter(h, "vigil.logs.unparsed", parser_->counters().unparsed);
  add_counter(h, "vigil.logs.cut", reader_.lines_cut());
}

void LogFileSource::advance() {
  has_event_ = false;
  while (!has_event_ && reader_.next(line_)) {
    if (!line_event(*parser_, ctx_, line_, path_, event_)) continue;
    const Timestamp* ts = event_.get_timestamp(fields::timestamp);
    time_ = ts ? *ts : ctx_.reference_time;
    has_event_ = true;
  }
}

size_t JournalSource::poll(Pipeline& out) {
  return journal_->poll([&](Event&& e) { out.event(std::move(e)); }, kJournalSlice);
}

void JournalSource::wake_fds(std::vector<pollfd>& fds) const {
  if (journal_->fd() >= 0) fds.push_back({journal_->fd(), POLLIN, 0});
}

void JournalSource::put_health(Event& h) const {
  add_counter(h, "vigil.logs.lines", journal_->counters().entries);
  add_counter(h, "vigil.logs.unparsed", journal_->counters().unparsed);
  add_counter(h, "vigil.logs.journal.read_errors", journal_->counters().read_errors);
  add_counter(h, "vigil.logs.journal.cut", journal_->counters().cut);
}

}  // namespace vigil::agent::pipeline
