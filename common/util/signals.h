// Process signals: handlers only set atomics and poke an eventfd that event loops may poll.
#pragma once

#include <atomic>

namespace vigil::signals {

// Installs handlers for SIGHUP (reload), SIGUSR1 (scan now), SIGTERM and SIGINT (stop); ignores
// SIGPIPE.
void install();

// True once SIGTERM or SIGINT arrived.
bool stop_requested();
// Returns true once per SIGHUP received since the last call.
bool take_reload_request();
// Returns true once per SIGUSR1 received since the last call.
bool take_scan_request();
// Asks for a stop from inside the process (tests, fatal errors).
void request_stop();

// An eventfd that becomes readable when any of these signals arrives; poll it to wake a loop.
// Read it (8 bytes) to clear it.
int wake_fd();

}  // namespace vigil::signals
