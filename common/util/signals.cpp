#include "common/util/signals.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>

namespace vigil::signals {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
std::atomic<bool> g_scan{false};
std::atomic<int> g_wake_fd{-1};

void poke() {
  int fd = g_wake_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(fd, &one, sizeof(one));  // async-signal-safe
  }
}

extern "C" void on_signal(int sig) {
  if (sig == SIGHUP) {
    g_reload.store(true, std::memory_order_relaxed);
  } else if (sig == SIGUSR1) {
    g_scan.store(true, std::memory_order_relaxed);
  } else {
    g_stop.store(true, std::memory_order_relaxed);
  }
  poke();
}
}  // namespace

void install() {
  if (g_wake_fd.load() < 0) g_wake_fd.store(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, nullptr);
}

bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }

bool take_reload_request() { return g_reload.exchange(false, std::memory_order_relaxed); }

bool take_scan_request() { return g_scan.exchange(false, std::memory_order_relaxed); }

void request_stop() {
  g_stop.store(true, std::memory_order_relaxed);
  poke();
}

int wake_fd() {
  if (g_wake_fd.load() < 0) g_wake_fd.store(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  return g_wake_fd.load();
}

}  // namespace vigil::signals
