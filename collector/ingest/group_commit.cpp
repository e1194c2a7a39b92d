#include "collector/ingest/group_commit.h"

#include <algorithm>
#include <exception>

#include "common/log/logging.h"

namespace vigil::collector {

GroupCommit::GroupCommit(IngestStore& store, GroupCommitOptions options) : store_(store), options_(options) {
  const unsigned n = std::max(1u, options_.writers);
  for (unsigned i = 0; i < n; ++i) writers_.emplace_back([this] { run(); });
}

GroupCommit::~GroupCommit() { stop(); }

bool GroupCommit::refuses(size_t bytes) {
  std::lock_guard lock(mutex_);
  if (!full_locked(bytes)) return false;
  ++stats_.refused_full;
  return true;
}

bool GroupCommit::full_locked(size_t bytes) const {
  return stopping_ || queue_.size() >= options_.max_queued ||
         (!queue_.empty() && queued_bytes_ + bytes > options_.max_queued_bytes);
}

bool GroupCommit::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (full_locked(job.bytes)) {
      ++stats_.refused_full;
      return false;
    }
    queued_bytes_ += job.bytes;
    queue_.push_back(std::move(job));
    stats_.queued = queue_.size();
  }
  wake_.notify_one();
  return true;
}

void GroupCommit::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && writers_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : writers_) t.join();
  writers_.clear();
}

void GroupCommit::run() {
  for (;;) {
    std::vector<Job> jobs;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued was written
      const size_t n = std::min(queue_.size(), std::max<size_t>(1, options_.max_group));
      jobs.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        queued_bytes_ -= queue_.front().bytes;
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stats_.queued = queue_.size();
    }
    write(jobs);
  }
}

namespace {

// An answer that throws costs its own agent its answer, never the writer thread.
void answer(GroupCommit::Job& job, const Result<StoredBatch>& stored, const BatchWrite& batch) {
  try {
    job.done(stored, batch);
  } catch (const std::exception& e) {
    logging::get("agents")->error("answering a batch failed: {}", e.what());
  }
}

}  // namespace

void GroupCommit::write(std::vector<Job>& jobs) {
  std::vector<BatchWrite> batches;
  std::vector<Job*> owners;  // the job of each batch
  batches.reserve(jobs.size());
  for (auto& job : jobs) {
    std::optional<BatchWrite> b;
    try {
      b = job.prepare();
    } catch (const std::exception& e) {
      logging::get("agents")->error("preparing a batch failed: {}", e.what());
      ++stats_.failed;
      BatchWrite none;
      answer(job, make_error(std::string("internal error: ") + e.what()), none);
      continue;
    }
    if (!b) continue;
    batches.push_back(std::move(*b));
    owners.push_back(&job);
  }
  if (batches.empty()) return;
  auto stored = store_.store_batches(batches, Timestamp::now());
  if (!stored && batches.size() > 1) {
    // One batch's failure must not cost the others theirs: each alone.
    logging::get("agents")->warn("storing a group of {} batches failed ({}); storing them one by one",
                                 batches.size(), stored.error());
    for (size_t i = 0; i < batches.size(); ++i) {
      std::vector<BatchWrite> one;
      one.push_back(std::move(batches[i]));
      auto r = store_.store_batches(one, Timestamp::now());
      batches[i] = std::move(one.front());
      if (r) {
        ++stats_.batches;
        ++stats_.groups;
        answer(*owners[i], r->front(), batches[i]);
      } else {
        ++stats_.failed;
        answer(*owners[i], make_error(r.error()), batches[i]);
      }
    }
    return;
  }
  if (!stored) {
    ++stats_.failed;
    answer(*owners.front(), make_error(stored.error()), batches.front());
    return;
  }
  ++stats_.groups;
  stats_.batches += batches.size();
  if (batches.size() > stats_.largest_group.load()) stats_.largest_group = batches.size();
  for (size_t i = 0; i < batches.size(); ++i) answer(*owners[i], (*stored)[i], batches[i]);
}

}  // namespace vigil::collector
