// The systemd service notification protocol (sd_notify(3)) without libsystemd: one datagram
// "READY=1", "RELOADING=1", "STOPPING=1" or "WATCHDOG=1" to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). This is the protocol
// systemd documents as stable; linking libsystemd for it alone mapped libsystemd, libgcrypt,
// liblzma, liblz4 and more into every idle agent (issue 22).
#pragma once

#include <string_view>

namespace vigil::agent {

// Sends `state` when $NOTIFY_SOCKET is set; true when sent, false when unset or it failed (as
// sd_notify, a failure is not the agent's problem: it keeps running).
bool notify_systemd(std::string_view state);

}  // namespace vigil::agent
