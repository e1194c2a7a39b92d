// File integrity: a change as an event (dataset file.integrity; shared/DESIGN.md "File integrity").
//
//   event.kind: event, event.dataset: file.integrity, event.category: [file],
//   event.type: [creation|change|deletion]
//   file.path (absolute), file.name, file.directory, file.extension, file.type (file, dir, symlink,
//   fifo, socket, char_device, block_device, other), file.size (not for directories),
//   file.mode ("0644", octal as ECS writes it), file.uid, file.gid, file.inode (strings, as in ECS),
//   file.mtime, file.hash.sha256 (regular files read), file.target_path (symlinks)
//   vigil.fim.changed: [hash, size, mode, owner, mtime, inode, type, target] (changes only)
//   vigil.fim.previous.{hash.sha256, size, mode, uid, gid, mtime, inode, type, target_path}: the
//     baseline's values of the attributes listed in vigil.fim.changed
//   error.message: why the entry or its content could not be read (then never "unchanged")
// A deletion describes the entry as the baseline last saw it. The daemon adds its marks of deploy
// windows and package upgrades (vigil.fim.deploy_window, vigil.fim.package_activity...: deploy.h,
// packages.h).
#pragma once

#include <string>

#include "agent/fim/diff.h"
#include "common/event/event.h"

namespace vigil::agent::fim {

Event to_event(const Change& change, const std::string& host_name, Timestamp at);

}  // namespace vigil::agent::fim
