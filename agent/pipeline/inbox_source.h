// The inbox of external scans (policies.run: external): vigil-scan.service drops JSON-lines files,
// one event per line; a file is removed once its events are durably in the spool (commit). A file
// read whose sync failed stays listed and is not read again (its events are in the spool already,
// waiting for a sync that succeeds): no duplicates, nothing lost.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "agent/pipeline/source.h"

namespace vigil::agent::pipeline {

class InboxSource : public Source {
 public:
  // `dir` is read again on every poll (the daemon's running configuration: a reload may move it).
  explicit InboxSource(const std::string& dir) : dir_(dir) {}

  size_t poll(Pipeline& out) override;  // every file waiting
  void commit(uint64_t synced_seq) override;
  void put_health(Event& health) const override;

  static constexpr size_t kMaxLine = 1 << 20;  // longer lines are malformed (counted, skipped)

 private:
  const std::string& dir_;
  std::vector<std::filesystem::path> read_;  // read, waiting for a spool sync to be removed
  uint64_t malformed_ = 0;
};

}  // namespace vigil::agent::pipeline
