// File integrity, realtime: the paths notifications named, waiting to be looked at again.
//
// Bursts are coalesced per path: a path falls due once it has been quiet for `quiet` (200 ms), or
// `max_delay` (1 s) after its first notification if it never goes quiet, so a file written 1,000
// times in a second is looked at once or twice, and what is reported is its final state. The set
// is bounded: past `max_paths`, a new path is folded into a walk of its directory (held in a second
// set, `max_dirs`), and past that into one rescan of every tree; each fold is counted. Time is
// given by the caller, so the logic is tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil::agent::fim {

class PendingSet {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::chrono::milliseconds quiet{200};
    std::chrono::milliseconds max_delay{1000};
    size_t max_paths{10'000};
    size_t max_dirs{1'000};
  };

  // A path to look at: the entry, and with `subtree` what lies under it.
  struct Due {
    std::string path{};
    bool subtree{false};
  };

  explicit PendingSet(Options options) : options_(options) {}

  // A notification about `path` at `now` (`subtree`: a directory that appeared or went away).
  void note(std::string_view path, bool subtree, Clock::time_point now);
  // Moves at most `limit` paths due at `now` to `out` (directories folded into first); returns
  // how many.
  size_t take_due(Clock::time_point now, size_t limit, std::vector<Due>& out);
  // Whether `path` waits (a scheduled scan leaves it to the realtime path).
  bool contains(std::string_view path) const;
  // True once, after the set overflowed into a rescan of every tree (or one was asked for).
  bool take_full_rescan();
  void request_full_rescan() { full_rescan_ = true; }

  size_t size() const { return paths_.size() + dirs_.size(); }
  uint64_t folded() const { return folded_; }  // paths folded into a directory walk or a rescan

 private:
  struct Entry {
    Clock::time_point first{};
    Clock::time_point last{};
    bool subtree{false};
  };
  using Map = std::unordered_map<std::string, Entry>;
  bool due(const Entry& e, Clock::time_point now) const {
    return now - e.last >= options_.quiet || now - e.first >= options_.max_delay;
  }
  static void touch(Map& m, std::string_view path, bool subtree, Clock::time_point now);
  size_t take_from(Map& m, Clock::time_point now, size_t limit, std::vector<Due>& out);

  Options options_;
  Map paths_{};
  Map dirs_{};  // folded: walked whole
  bool full_rescan_{false};
  uint64_t folded_{0};
};

}  // namespace vigil::agent::fim
