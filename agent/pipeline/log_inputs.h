// The logs: section of agent.yaml as sources: the files its paths and globs name (found again every
// few seconds and at once when their directory changes, inotify), each followed from where the
// last run stopped, and its journal inputs. A reload keeps what is still named and adds the rest.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config/agent_config.h"
#include "agent/logs/dir_watch.h"
#include "agent/pipeline/log_sources.h"
#include "agent/spool/spool.h"

namespace vigil::agent::pipeline {

class LogInputs : public Source {
 public:
  // `inputs` is read again on discover() and apply() (the daemon's running configuration).
  LogInputs(const std::vector<LogInput>& inputs, std::filesystem::path state_dir, Spool& spool, std::string host_name);

  // Opens the journal inputs not open yet.
  void open_journals();
  // Follows the files the paths and globs name now that are not followed yet.
  void discover();
  // After a reload changed the inputs: stops following what no input names any more (its
  // position stays committed, so an input added back continues where it stopped), then opens
  // the new ones.
  void apply();
  // Reads the directory notifications; true when a file appeared (discover() now).
  bool take_new_files() { return dir_watch_.drain(); }

  size_t poll(Pipeline& out) override;
  void wake_fds(std::vector<pollfd>& fds) const override;
  void commit(uint64_t synced_seq) override;
  void put_health(Event& health) const override;

 private:
  // A crash between the spool sync and the tail's commit leaves lines in the spool that the
  // committed position does not cover: the spool's records after the commit tell how far the
  // file really got (kTailPosition), and those lines are not read twice.
  void recover_position(const std::string& path, logs::FileTail& tail);

  const std::vector<LogInput>& inputs_;
  std::filesystem::path state_dir_;
  Spool& spool_;
  std::string host_name_;
  std::map<std::string, std::unique_ptr<LogTailSource>> files_;  // by path
  std::vector<std::unique_ptr<JournalSource>> journals_;
  logs::DirWatch dir_watch_;
  bool watch_warned_ = false;
};

}  // namespace vigil::agent::pipeline
