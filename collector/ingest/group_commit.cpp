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
  store_.wait_durable();  // every answer given
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
  // Each batch's answer, given once what the group stored is durable and searchable
  // (IngestStore::after_durable); a failure's at once.
  struct Answers {
    std::vector<Job> jobs;
    std::vector<BatchWrite> batches;
    std::vector<size_t> owners;  // the job of each batch
    std::vector<Result<StoredBatch>> stored;
    GroupCommitStats* stats = nullptr;
    void give() {
      for (size_t i = 0; i < stored.size(); ++i) answer(jobs[owners[i]], stored[i], batches[i]);
      stats->awaiting -= stored.size();
    }
  };
  auto a = std::make_shared<Answers>();
  a->stats = &stats_;
  a->jobs = std::move(jobs);
  auto& batches = a->batches;
  auto& owners = a->owners;
  batches.reserve(a->jobs.size());
  for (size_t j = 0; j < a->jobs.size(); ++j) {
    auto& job = a->jobs[j];
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
    owners.push_back(j);
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
        a->stored.push_back(r->front());
      } else {
        ++stats_.failed;
        a->stored.push_back(make_error(r.error()));
      }
    }
  } else if (!stored) {
    ++stats_.failed;
    answer(a->jobs[owners.front()], make_error(stored.error()), batches.front());
    return;
  } else {
    ++stats_.groups;
    stats_.batches += batches.size();
    if (batches.size() > stats_.largest_group.load()) stats_.largest_group = batches.size();
    a->stored.assign(stored->begin(), stored->end());
  }
  stats_.awaiting += a->stored.size();
  store_.after_durable([a] { a->give(); });
}

}  // namespace vigil::collector
