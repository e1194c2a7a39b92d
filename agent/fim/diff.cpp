#include "agent/fim/diff.h"

namespace vigil::agent::fim {

std::string_view change_type_name(ChangeType t) {
  switch (t) {
    case ChangeType::creation:
      return "creation";
    case ChangeType::change:
      return "change";
    case ChangeType::deletion:
      return "deletion";
  }
  return "change";
}

std::vector<std::string_view> attribute_names(uint32_t mask) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {attr::hash, "hash"},   {attr::size, "size"},   {attr::mode, "mode"}, {attr::owner, "owner"},
      {attr::mtime, "mtime"}, {attr::inode, "inode"}, {attr::type, "type"}, {attr::target, "target"},
  };
  std::vector<std::string_view> out;
  for (const auto& [bit, name] : kNames) {
    if (mask & bit) out.push_back(name);
  }
  return out;
}

namespace {

uint32_t compared(EntryType t) {
  switch (t) {
    case EntryType::file:
      return attr::hash | attr::size | attr::mode | attr::owner | attr::mtime | attr::inode;
    case EntryType::dir:
      return attr::mode | attr::owner | attr::inode;
    case EntryType::symlink:
      return attr::target | attr::owner | attr::inode;
    default:
      return attr::mode | attr::owner | attr::inode;
  }
}

}  // namespace

namespace {

Baseline::View view_of(const FileInfo& f) {
  Baseline::View v;
  v.path = f.path;
  v.type = f.type;
  v.size = f.size;
  v.mode = f.mode;
  v.uid = f.uid;
  v.gid = f.gid;
  v.mtime_ns = f.mtime_ns;
  v.ctime_ns = f.ctime_ns;
  v.inode = f.inode;
  v.has_hash = f.has_hash;
  v.sha256 = &f.sha256;
  v.target = f.target;
  v.error = f.error;
  return v;
}

uint32_t compare_views(const Baseline::View& b, const Baseline::View& n) {
  uint32_t diff = 0;
  if (b.type != n.type) diff |= attr::type;
  // A hash that could not be taken now cannot be compared (the error is reported instead); one
  // that could not be taken before but can now is a change of what is known.
  if (n.has_hash && (!b.has_hash || *b.sha256 != *n.sha256)) diff |= attr::hash;
  if (b.size != n.size) diff |= attr::size;
  if (b.mode != n.mode) diff |= attr::mode;
  if (b.uid != n.uid || b.gid != n.gid) diff |= attr::owner;
  if (b.mtime_ns != n.mtime_ns) diff |= attr::mtime;
  if (b.inode != n.inode) diff |= attr::inode;
  if (b.target != n.target) diff |= attr::target;
  return diff & (compared(b.type) | compared(n.type) | attr::type);
}

}  // namespace

uint32_t compare(const FileInfo& before, const FileInfo& now) { return compare_views(view_of(before), view_of(now)); }

Comparer::Comparer(const Baseline& baseline) : baseline_(baseline), seen_(baseline.size(), false) {}

bool Comparer::observe(const FileInfo& now, Change& out) {
  auto idx = baseline_.find(now.path);
  if (!idx) {
    out.type = ChangeType::creation;
    out.now = now;
    out.before = FileInfo{};
    out.changed = 0;
    ++counts_.creations;
    if (!now.error.empty()) ++counts_.unreadable;
    return true;
  }
  seen_[*idx] = true;
  // Compared on views: most entries are unchanged, and only a change copies the baseline's entry.
  uint32_t diff = compare_views(baseline_.view(*idx), view_of(now));
  if (diff == 0 && now.error.empty()) return false;
  out.type = ChangeType::change;
  out.now = now;
  out.before = baseline_.info(*idx);
  out.changed = diff;
  ++counts_.changes;
  if (!now.error.empty()) ++counts_.unreadable;
  return true;
}

void Comparer::deletions(const std::function<bool(std::string_view)>& in_scope,
                         const std::function<void(const Change&)>& sink) {
  Change c;
  c.type = ChangeType::deletion;
  for (size_t i = 0; i < baseline_.size(); ++i) {
    if (seen_[i]) continue;
    auto v = baseline_.view(i);
    if (!in_scope(v.path)) continue;
    c.before = baseline_.info(i);
    ++counts_.deletions;
    sink(c);
  }
}

}  // namespace vigil::agent::fim
