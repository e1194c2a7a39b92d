#include "agent/pipeline/inbox_source.h"

#include <algorithm>

#include <fmt/format.h>

#include "agent/pipeline/line_reader.h"
#include "agent/pipeline/pipeline.h"
#include "common/event/json.h"
#include "common/log/logging.h"

namespace vigil::agent::pipeline {

namespace fs = std::filesystem;

size_t InboxSource::poll(Pipeline& out) {
  size_t n = 0;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return 0;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".jsonl" && ext != ".json")) continue;
    if (std::find(read_.begin(), read_.end(), entry.path()) != read_.end()) continue;
    // A line longer than any result is skipped as malformed, never held whole.
    auto reader = LineReader::open(entry.path().string(), kMaxLine);
    if (!reader) {
      logging::get("agent")->warn("{}", reader.error());
      continue;  // listed again next pass
    }
    size_t line_no = 0;
    for (std::string line; reader->next(line);) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto e = reader->last_cut() ? Result<Event>(make_error(fmt::format("line longer than {} bytes", kMaxLine)))
                                  : event_from_json_line(line);
      if (!e) {
        ++malformed_;
        if (malformed_ <= 10) {
          logging::get("agent")->warn("{}:{}: skipped: {}", entry.path().string(), line_no, e.error());
        }
        continue;
      }
      out.event(std::move(e.value()), fmt::format("{}:{}", entry.path().string(), line_no));
      ++n;
    }
    read_.push_back(entry.path());
  }
  return n;
}

void InboxSource::commit(uint64_t) {
  std::error_code ec;
  for (const auto& p : read_) fs::remove(p, ec);
  read_.clear();
}

void InboxSource::put_health(Event& h) const { add_counter(h, "vigil.inbox.malformed", malformed_); }

}  // namespace vigil::agent::pipeline
