#include "agent/fim/pending.h"

namespace vigil::agent::fim {

void PendingSet::touch(Map& m, std::string_view path, bool subtree, Clock::time_point now) {
  auto [it, added] = m.try_emplace(std::string(path));
  if (added) it->second.first = now;
  it->second.last = now;
  it->second.subtree = it->second.subtree || subtree;
}

void PendingSet::note(std::string_view path, bool subtree, Clock::time_point now) {
  if (paths_.size() < options_.max_paths || paths_.count(std::string(path))) {
    touch(paths_, path, subtree, now);
    return;
  }
  ++folded_;
  if (full_rescan_) return;
  size_t slash = path.rfind('/');
  std::string_view dir = slash == 0 || slash == std::string_view::npos ? std::string_view("/") : path.substr(0, slash);
  if (dirs_.size() < options_.max_dirs || dirs_.count(std::string(dir))) {
    touch(dirs_, dir, true, now);
    return;
  }
  // Too many directories as well: everything is walked again, once.
  full_rescan_ = true;
  dirs_.clear();
}

size_t PendingSet::take_from(Map& m, Clock::time_point now, size_t limit, std::vector<Due>& out) {
  size_t n = 0;
  for (auto it = m.begin(); it != m.end() && n < limit;) {
    if (!due(it->second, now)) {
      ++it;
      continue;
    }
    out.push_back(Due{it->first, it->second.subtree});
    it = m.erase(it);
    ++n;
  }
  return n;
}

size_t PendingSet::take_due(Clock::time_point now, size_t limit, std::vector<Due>& out) {
  size_t n = take_from(dirs_, now, limit, out);
  return n + take_from(paths_, now, limit - n, out);
}

bool PendingSet::contains(std::string_view path) const {
  std::string p(path);
  if (paths_.count(p)) return true;
  for (size_t slash = p.rfind('/'); slash != std::string::npos && slash > 0; slash = p.rfind('/', slash - 1)) {
    if (dirs_.count(p.substr(0, slash))) return true;
  }
  return false;
}

bool PendingSet::take_full_rescan() {
  bool r = full_rescan_;
  full_rescan_ = false;
  return r;
}

}  // namespace vigil::agent::fim
