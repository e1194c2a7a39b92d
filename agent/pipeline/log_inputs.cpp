#include "agent/pipeline/log_inputs.h"

#include <glob.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "agent/pipeline/pipeline.h"
#include "common/event/json.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::agent::pipeline {

namespace fs = std::filesystem;

namespace {

// A journal input's identity: its directory and matches (also names its cursor file).
std::string journal_id(const LogInput& in) {
  std::string id = in.directory;
  for (const auto& m : in.match) id += "\n" + m;
  return id;
}

bool compressed(const std::string& path) {
  return path.ends_with(".gz") || path.ends_with(".xz") || path.ends_with(".zst") || path.ends_with(".bz2");
}

}  // namespace

LogInputs::LogInputs(const std::vector<LogInput>& inputs, fs::path state_dir, Spool& spool, std::string host_name)
    : inputs_(inputs), state_dir_(std::move(state_dir)), spool_(spool), host_name_(std::move(host_name)) {}

void LogInputs::open_journals() {
  auto log = logging::get("agent");
  for (const auto& in : inputs_) {
    if (in.format != "journal") continue;
    std::string id = journal_id(in);
    if (std::any_of(journals_.begin(), journals_.end(), [&](const auto& j) { return j->id() == id; })) continue;
    logs::JournalOptions o;
    o.match = in.match;
    o.directory = in.directory;
    o.state_file = state_dir_ / "tail" / ("journal-" + pki::sha256_hex(id).substr(0, 24));
    std::error_code ec;
    fs::create_directories(o.state_file.parent_path(), ec);
    auto j = logs::JournalInput::open(o, host_name_);
    if (!j) {
      log->error("{}", j.error());
      continue;
    }
    log->info("reading the {}{}", (*j)->name(),
              in.match.empty() ? std::string() : fmt::format(" (entries matching any of: {})", fmt::join(in.match, ", ")));
    journals_.push_back(std::make_unique<JournalSource>(std::move(j.value()), std::move(id)));
  }
}

void LogInputs::apply() {
  auto log = logging::get("agent");
  for (auto it = files_.begin(); it != files_.end();) {
    const LogTailSource& src = *it->second;
    bool named = std::any_of(inputs_.begin(), inputs_.end(), [&](const LogInput& in) {
      return in.format == src.format() && in.path == src.input();
    });
    if (named) {
      ++it;
      continue;
    }
    log->info("no longer following {} ({}): its input left the configuration", it->first, src.format());
    it = files_.erase(it);
  }
  for (auto it = journals_.begin(); it != journals_.end();) {
    bool named = std::any_of(inputs_.begin(), inputs_.end(), [&](const LogInput& in) {
      return in.format == "journal" && journal_id(in) == (*it)->id();
    });
    if (named) {
      ++it;
      continue;
    }
    log->info("no longer reading the {}: its input left the configuration", (*it)->name());
    it = journals_.erase(it);
  }
  open_journals();
  discover();
}

void LogInputs::discover() {
  fs::path tail_state = state_dir_ / "tail";
  std::error_code ec;
  fs::create_directories(tail_state, ec);
  for (const auto& in : inputs_) {
    if (in.format == "journal") continue;  // JournalSource
    // A change in the file's directory wakes the loop at once (polling remains the fallback).
    std::string dir = fs::path(in.path).parent_path().string();
    if (dir.empty()) dir = ".";
    if (dir.find_first_of("*?[") == std::string::npos && fs::is_directory(dir, ec) && !dir_watch_.watch(dir) &&
        !watch_warned_) {
      watch_warned_ = true;
      logging::get("agent")->warn("cannot watch {} with inotify: following logs by polling every 200 ms", dir);
    }
    glob_t g{};
    if (glob(in.path.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        std::string path = g.gl_pathv[i];
        if (compressed(path) || files_.count(path)) continue;
        auto parser = logs::make_parser(in.format);
        if (!parser) continue;
        auto src = std::make_unique<LogTailSource>(path, std::move(parser.value()), in.format, in.path,
                                                   tail_state / pki::sha256_hex(path).substr(0, 24), host_name_);
        recover_position(path, src->tail());
        logging::get("agent")->info("following {} ({})", path, in.format);
        files_.emplace(path, std::move(src));
      }
    }
    globfree(&g);
  }
}

size_t LogInputs::poll(Pipeline& out) {
  size_t n = 0;
  for (auto& [path, src] : files_) n += src->poll(out);
  for (auto& j : journals_) n += j->poll(out);
  return n;
}

void LogInputs::wake_fds(std::vector<pollfd>& fds) const {
  for (const auto& j : journals_) j->wake_fds(fds);
  if (dir_watch_.fd() >= 0 && dir_watch_.watches() > 0) fds.push_back({dir_watch_.fd(), POLLIN, 0});
}

void LogInputs::commit(uint64_t synced_seq) {
  for (auto& [path, src] : files_) src->commit(synced_seq);
  for (auto& j : journals_) j->commit(synced_seq);
}

void LogInputs::put_health(Event& h) const {
  // Present with no input at all: a health event always says how many lines were read.
  add_counter(h, "vigil.logs.lines", 0);
  add_counter(h, "vigil.logs.unparsed", 0);
  for (const auto& [path, src] : files_) src->put_health(h);
  for (const auto& j : journals_) j->put_health(h);
  add_counter(h, "vigil.health.logs.watched_dirs", dir_watch_.watches());
  add_counter(h, "vigil.health.logs.watch_failures", dir_watch_.failures());
  add_counter(h, "vigil.health.logs.watch_overflows", dir_watch_.overflows());
}

void LogInputs::recover_position(const std::string& path, logs::FileTail& tail) {
  // Never committed: only what is still undelivered can be this file's.
  uint64_t after = tail.committed_seq() > 0 ? tail.committed_seq() : spool_.acked();
  uint64_t best_end = 0, dev = 0, ino = 0;
  size_t scanned = 0;
  const std::string quoted = nlohmann::json(path).dump();
  for (;;) {
    auto batch = spool_.read(after, 1000, 8 << 20);
    if (!batch || batch->empty()) break;
    for (const auto& rec : *batch) {
      after = rec.seq;
      ++scanned;
      if (rec.payload.find(quoted) == std::string::npos) continue;
      auto e = event_from_json_line(rec.payload);
      if (!e) continue;
      const std::string* p = e->get_string(fields::log_file_path);
      const std::string* pos = e->get_string(kTailPosition);
      if (!p || !pos || *p != path) continue;
      unsigned long long d = 0, i = 0, end = 0;
      if (std::sscanf(pos->c_str(), "%llu:%llu:%llu", &d, &i, &end) != 3) continue;
      if (end > best_end) {
        best_end = end;
        dev = d;
        ino = i;
      }
    }
  }
  if (best_end > 0) {
    tail.resume_at(dev, ino, best_end);
    logging::get("agent")->info("{}: lines up to offset {} were already spooled before the last stop; continuing "
                                "after them ({} spool records checked)",
                                path, best_end, scanned);
  }
}

}  // namespace vigil::agent::pipeline
