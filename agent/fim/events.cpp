#include "agent/fim/events.h"

#include <fmt/format.h>

namespace vigil::agent::fim {

namespace {

struct Fields {
  FieldId category = field("event.category");
  FieldId type = field("event.type");
  FieldId path = field("file.path");
  FieldId name = field("file.name");
  FieldId directory = field("file.directory");
  FieldId extension = field("file.extension");
  FieldId file_type = field("file.type");
  FieldId size = field("file.size");
  FieldId mode = field("file.mode");
  FieldId uid = field("file.uid");
  FieldId gid = field("file.gid");
  FieldId mtime = field("file.mtime");
  FieldId inode = field("file.inode");
  FieldId sha256 = field("file.hash.sha256");
  FieldId target = field("file.target_path");
  FieldId error = field("error.message");
  FieldId changed = field("vigil.fim.changed");
  FieldId prev_sha256 = field("vigil.fim.previous.hash.sha256");
  FieldId prev_size = field("vigil.fim.previous.size");
  FieldId prev_mode = field("vigil.fim.previous.mode");
  FieldId prev_uid = field("vigil.fim.previous.uid");
  FieldId prev_gid = field("vigil.fim.previous.gid");
  FieldId prev_mtime = field("vigil.fim.previous.mtime");
  FieldId prev_inode = field("vigil.fim.previous.inode");
  FieldId prev_type = field("vigil.fim.previous.type");
  FieldId prev_target = field("vigil.fim.previous.target_path");
};

const Fields& ids() {
  static const Fields f;
  return f;
}

std::string mode_text(uint32_t mode) { return fmt::format("{:04o}", mode); }
Timestamp time_of(int64_t ns) { return Timestamp{ns}; }

}  // namespace

Event to_event(const Change& c, const std::string& host_name, Timestamp at) {
  const Fields& k = ids();
  const FileInfo& f = c.entry();
  Event e;
  e.reserve(32);
  e.add(fields::timestamp, at);
  e.add(fields::event_id, new_event_id());
  e.add(fields::event_kind, "event");
  e.add(fields::event_dataset, "file.integrity");
  e.add(k.category, ValueList{Value("file")});
  e.add(k.type, ValueList{Value(change_type_name(c.type))});
  if (!host_name.empty()) e.add(fields::host_name, host_name);

  e.add(k.path, f.path);
  size_t slash = f.path.rfind('/');
  std::string_view name =
      slash == std::string::npos ? std::string_view(f.path) : std::string_view(f.path).substr(slash + 1);
  if (!name.empty()) e.add(k.name, name);
  if (slash != std::string::npos)
    e.add(k.directory, slash == 0 ? std::string_view("/") : std::string_view(f.path).substr(0, slash));
  size_t dot = name.rfind('.');
  if (f.type == EntryType::file && dot != std::string_view::npos && dot > 0 && dot + 1 < name.size()) {
    e.add(k.extension, name.substr(dot + 1));
  }
  e.add(k.file_type, type_name(f.type));
  if (f.type != EntryType::dir) e.add(k.size, f.size);
  e.add(k.mode, mode_text(f.mode));
  e.add(k.uid, std::to_string(f.uid));
  e.add(k.gid, std::to_string(f.gid));
  e.add(k.mtime, time_of(f.mtime_ns));
  e.add(k.inode, std::to_string(f.inode));
  if (f.has_hash) e.add(k.sha256, to_hex(f.sha256));
  if (f.type == EntryType::symlink) e.add(k.target, f.target);
  if (c.type != ChangeType::deletion && !f.error.empty()) e.add(k.error, f.error);

  if (c.type == ChangeType::change) {
    ValueList changed;
    for (auto n : attribute_names(c.changed)) changed.emplace_back(n);
    e.add(k.changed, std::move(changed));
    const FileInfo& b = c.before;
    if ((c.changed & attr::hash) && b.has_hash) e.add(k.prev_sha256, to_hex(b.sha256));
    if (c.changed & attr::size) e.add(k.prev_size, b.size);
    if (c.changed & attr::mode) e.add(k.prev_mode, mode_text(b.mode));
    if (c.changed & attr::owner) {
      e.add(k.prev_uid, std::to_string(b.uid));
      e.add(k.prev_gid, std::to_string(b.gid));
    }
    if (c.changed & attr::mtime) e.add(k.prev_mtime, time_of(b.mtime_ns));
    if (c.changed & attr::inode) e.add(k.prev_inode, std::to_string(b.inode));
    if (c.changed & attr::type) e.add(k.prev_type, type_name(b.type));
    if (c.changed & attr::target) e.add(k.prev_target, b.target);
  }
  return e;
}

}  // namespace vigil::agent::fim
