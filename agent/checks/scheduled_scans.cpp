#include "agent/checks/scheduled_scans.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/checks/host.h"
#include "agent/checks/policy_loader.h"
#include "agent/checks/scanner.h"
#include "agent/pipeline/pipeline.h"
#include "common/event/json.h"
#include "common/log/logging.h"

extern char** environ;

namespace vigil::agent::checks {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxOutput = 8u << 20;  // a scan's events; 206 checks print about 0.3 MiB
constexpr size_t kMaxStderr = 64u << 10;

// The sum of the command probes' timeouts of a condition tree.
std::chrono::milliseconds command_time(const Condition& c) {
  std::chrono::milliseconds t{0};
  if (c.kind == Condition::Kind::probe && c.probe) {
    if (const auto* cmd = std::get_if<CommandProbe>(c.probe.get())) t += cmd->timeout;
  }
  for (const auto& child : c.children) t += command_time(child);
  return t;
}

// Copies `files` under `dir` at their absolute paths (so a policy's ../frameworks stays beside it).
Result<void> copy_files(const std::vector<std::string>& files, const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);  // even for no files: the scan reads it
  if (ec) return make_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  for (const auto& f : files) {
    fs::path from = fs::absolute(f, ec);
    if (ec) return make_error(fmt::format("{}: {}", f, ec.message()));
    fs::path to = dir / from.relative_path();
    fs::create_directories(to.parent_path(), ec);
    if (!ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return make_error(fmt::format("cannot copy {} to {}: {}", from.string(), to.string(), ec.message()));
  }
  return {};
}

// The child's argv and whether it gets CAP_DAC_READ_SEARCH as an ambient capability: when the
// daemon has it (permitted and inheritable, after drop_privileges) but not already as ambient
// (systemd's AmbientCapabilities= set it for the whole service, children included).
bool raise_ambient_read_search() {
  const int is_set = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_DAC_READ_SEARCH, 0, 0);
  if (is_set == 1) return true;  // systemd's AmbientCapabilities= (the child keeps it, and drops it before probes)
  if (is_set != 0) return false;  // no ambient capabilities on this kernel
  // Trying is the test: the raise fails unless the capability is permitted and inheritable; it is
  // undone right away, and the forked child raises it for itself.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0) != 0) return false;
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_DAC_READ_SEARCH, 0, 0);
  return true;
}

// What a child printed, and why it failed (empty: it exited 0).
struct ChildRun {
  std::string out;
  std::string err;
  std::string error;
  int64_t millis = 0;
};

// Runs `program scheduled-scan ARGS...` and reads its output; kills it past `bound` or when
// `cancel` is set.
ChildRun run_child(const std::string& program, std::vector<std::string> args, std::chrono::milliseconds bound,
                   const std::atomic<bool>& cancel) {
  ChildRun f;
  const auto start = std::chrono::steady_clock::now();
  const bool ambient = raise_ambient_read_search();
  args.insert(args.begin(), {"vigil-agent", "scheduled-scan"});
  if (ambient) args.emplace_back("--drop-ambient");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    f.error = fmt::format("pipe: {}", std::strerror(errno));
    return f;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    f.error = fmt::format("pipe: {}", std::strerror(errno));
    ::close(out[0]);
    ::close(out[1]);
    return f;
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until execve.
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    // Nothing else of the daemon's: libraries open some files without close-on-exec (libpcap's
    // packet sockets, Asio's connection to the collector), which the scan's probes must not hold.
    ::close_range(3, ~0U, 0);
    // The child ends with the daemon, whatever ends it.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    // Of the service's ambient capabilities (systemd gives CAP_NET_RAW too) only the one the scan
    // reads with; the child drops it before its probes (--drop-ambient).
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (ambient) ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0);
    ::execve(program.c_str(), argv.data(), environ);
    ::_exit(127);
  }
  const int fork_errno = errno;
  if (null_fd >= 0) ::close(null_fd);
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    f.error = fmt::format("cannot start {}: fork: {}", program, std::strerror(fork_errno));
    return f;
  }
  bool out_open = true, err_open = true, killed = false;
  size_t err_dropped = 0;  // stderr past kMaxStderr: counted and said, not kept
  char buf[65536];
  while (out_open || err_open) {
    if (cancel.load()) {
      f.error = "the agent is stopping";
      killed = true;
      break;
    }
    if (std::chrono::steady_clock::now() - start > bound) {
      f.error = fmt::format("it ran longer than {} s and was ended",
                            std::chrono::duration_cast<std::chrono::seconds>(bound).count());
      killed = true;
      break;
    }
    pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    int pr = ::poll(p, 2, 200);  // short slices: the bound and the stop are checked between them
    if (pr < 0 && errno != EINTR) {
      f.error = fmt::format("poll: {}", std::strerror(errno));
      killed = true;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (pr <= 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      std::string& into = i == 0 ? f.out : f.err;
      const size_t cap = i == 0 ? kMaxOutput : kMaxStderr;
      const size_t kept = std::min(static_cast<size_t>(n), cap - std::min(cap, into.size()));
      into.append(buf, kept);
      if (i == 1) err_dropped += static_cast<size_t>(n) - kept;
      if (i == 0 && f.out.size() >= kMaxOutput) {
        f.error = fmt::format("it printed more than {} MiB", kMaxOutput >> 20);
        killed = true;
      }
    }
    if (killed) break;
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  bool reaped = false;
  if (killed) {
    // SIGTERM first: the child ends the command probe it is waiting for (its own process group),
    // which SIGKILL would leave running; SIGKILL if it has not gone within 2 s.
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 20 && !reaped; ++i) {
      reaped = ::waitpid(pid, &status, WNOHANG) == pid;
      if (!reaped) ::usleep(100'000);
    }
    if (!reaped) ::kill(pid, SIGKILL);
  }
  while (!reaped && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  f.millis = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  while (!f.err.empty() && f.err.back() == '\n') f.err.pop_back();
  if (err_dropped > 0) f.err += fmt::format("\n({} more bytes of its error output not shown)", err_dropped);
  if (killed) return f;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && f.out.empty() && f.err.empty()) {
    f.error = fmt::format("cannot run {}", program);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    f.error = WIFEXITED(status) ? fmt::format("it exited with status {}", WEXITSTATUS(status))
                                : fmt::format("it was ended by signal {}", WTERMSIG(status));
  }
  return f;
}

ScheduledScans::Finished scan_in_child(const std::string& program, const fs::path& policies, const std::string& root,
                                       std::chrono::milliseconds bound, const std::atomic<bool>& cancel) {
  ScheduledScans::Finished f;
  ChildRun run = run_child(program, {"--path", policies.string(), "--root", root}, bound, cancel);
  f.millis = run.millis;
  f.stderr_text = std::move(run.err);
  f.error = std::move(run.error);
  if (!f.error.empty()) return f;
  size_t pos = 0;
  while (pos < run.out.size()) {
    size_t end = run.out.find('\n', pos);
    if (end == std::string::npos) end = run.out.size();
    std::string_view line(run.out.data() + pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    auto e = event_from_json_line(line);
    if (e) {
      f.events.push_back(std::move(e.value()));
    } else {
      ++f.malformed;
    }
  }
  return f;
}

}  // namespace

ScheduledScans::ScheduledScans(const AgentConfig& cfg, std::string host_name)
    : cfg_(cfg),
      host_(std::move(host_name)),
      tracker_(fs::path(cfg.agent.state_dir) / "compliance-reported.json",
               std::chrono::duration_cast<std::chrono::seconds>(cfg.policies.full_report_interval)),
      copy_(fs::path(cfg.agent.state_dir) / "compliance-policies") {
  if (!tracker_.load_warning().empty()) logging::get("agent")->warn("{}", tracker_.load_warning());
}

bool ScheduledScans::load() {
  if (!enabled()) return true;
  auto log = logging::get("agent");
  std::vector<std::string> args{"--check", "--copy-to"};
  fs::path next = copy_;
  next += ".next";
  args.push_back(next.string());
  for (const std::vector<std::string>* list : {&cfg_.policies.paths, &std::as_const(extra_paths_)}) {
    for (const auto& p : *list) {
      args.push_back("--path");
      args.push_back(p);
    }
  }
  // Checked and copied by a child too: parsing them here would leave the daemon's heap as large
  // as the policies parsed (issue 22).
  const std::atomic<bool> no_cancel{false};
  copy_pending_ = false;  // a copy this check may have begun is not to be used
  // 20 s: the daemon's loop waits for it, and systemd's watchdog (60 s) for the loop.
  ChildRun run = run_child(program_, std::move(args), std::chrono::seconds(20), no_cancel);
  nlohmann::json summary = nlohmann::json::parse(run.out, nullptr, false);
  if (run.error.empty() && (summary.is_discarded() || !summary.is_object())) run.error = "its answer is malformed";
  if (!run.error.empty()) {
    log->error("policies not loaded, keeping the previous set:\n{}", run.err.empty() ? run.error : run.err);
    return false;
  }
  // The loader's warnings, one per line.
  for (size_t pos = 0; pos < run.err.size();) {
    size_t end = std::min(run.err.find('\n', pos), run.err.size());
    if (end > pos) log->warn("{}", std::string_view(run.err).substr(pos, end - pos));
    pos = end + 1;
  }
  const size_t policies = summary.value("policies", size_t{0});
  const size_t checks = summary.value("checks", size_t{0});
  log->info("{} compliance policies loaded ({} checks), scanning {} every {} s", policies, checks, cfg_.policies.root,
            std::chrono::duration_cast<std::chrono::seconds>(cfg_.policies.interval).count());
  bound_ = std::chrono::milliseconds(summary.value("command_ms", int64_t{0})) + std::chrono::minutes(1);
  copy_pending_ = true;
  loaded_ = true;
  return true;
}

size_t ScheduledScans::poll(pipeline::Pipeline& out) {
  if (!enabled() || !loaded_) return 0;
  size_t n = 0;
  auto log = logging::get("agent");
  if (running_.valid() && running_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    auto done = running_.get();
    const std::string& err = done.stderr_text;
    if (!done.error.empty()) {
      log->error("compliance scan failed after {} ms: {}{}{}", done.millis, done.error, err.empty() ? "" : "\n",
                 err);
    } else {
      if (!err.empty()) log->warn("compliance scan: {}", err);
      Timestamp at = Timestamp::now();
      bool full = tracker_.full_due(at);
      size_t skipped = 0;  // events that are not a check's result
      const size_t results = done.events.size();
      auto report = tracker_.report(std::move(done.events), host_, at, &skipped);
      for (auto& e : report.events) {
        out.event(std::move(e));
        ++n;
      }
      if (full) tracker_.full_done(at);
      unsaved_ = true;
      log->info("compliance scan: {} checks in {} ms, {} changed, {} reported{}", results - skipped, done.millis,
                report.changed, n, full ? " (full report)" : "");
      if (skipped + done.malformed > 0) {
        log->warn("compliance scan: {} lines of its output were not results and were skipped", skipped + done.malformed);
      }
    }
  }
  auto now = std::chrono::steady_clock::now();
  if (!stopped_ && !running_.valid() && (requested_ || now >= next_)) {
    requested_ = false;
    next_ = now + cfg_.policies.interval;
    if (copy_pending_) {
      fs::path next = copy_;
      next += ".next";
      std::error_code ec;
      fs::remove_all(copy_, ec);
      fs::rename(next, copy_, ec);
      if (ec) log->error("compliance scan: cannot move {} to {}: {}", next.string(), copy_.string(), ec.message());
      copy_pending_ = false;
    }
    running_ = std::async(std::launch::async, [program = program_, copy = copy_, root = cfg_.policies.root,
                                               bound = bound_, cancel = cancel_]() {
      return scan_in_child(program, copy, root, bound, *cancel);
    });
  }
  return n;
}

void ScheduledScans::commit(uint64_t) {
  if (!unsaved_) return;
  if (auto r = tracker_.save(); !r) {
    logging::get("agent")->error("compliance state: {}", r.error());
  } else {
    unsaved_ = false;
  }
}

namespace {
// SIGTERM from the daemon (the scan outlived its bound, or the agent stops): the command probe
// running goes too.
extern "C" void end_scheduled_scan(int) {
  if (int group = running_command_group(); group > 0) ::kill(-group, SIGKILL);
  ::_exit(1);
}
}  // namespace

int run_scheduled_scan(const ScheduledScanArgs& a) {
  if (a.drop_ambient) ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct sigaction sa {};
  sa.sa_handler = end_scheduled_scan;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  auto set = load_policy_set(a.paths);
  if (!set) {
    std::fputs(set.error().c_str(), stderr);
    return 1;
  }
  if (a.check) {
    for (const auto& d : set->diagnostics.items()) std::fprintf(stderr, "%s\n", d.to_string().c_str());
    if (!a.copy_to.empty()) {
      if (auto copied = copy_files(set->files, a.copy_to); !copied) {
        std::fprintf(stderr, "%s\n", copied.error().c_str());
        return 1;
      }
      // What scans will read is the copy: it is what is checked (a file edited since it was read
      // above would otherwise pass unchecked).
      set = load_policy_set({a.copy_to});
      if (!set) {
        std::fputs(set.error().c_str(), stderr);
        return 1;
      }
    }
    size_t checks = 0;
    std::chrono::milliseconds commands{0};
    for (const auto& p : set->policies) {
      checks += p.checks.size();
      for (const auto& c : p.checks) {
        commands += command_time(c.condition);
        if (c.applies_if) commands += command_time(*c.applies_if);
      }
    }
    nlohmann::json summary{{"policies", set->policies.size()}, {"checks", checks}, {"command_ms", commands.count()}};
    std::printf("%s\n", summary.dump().c_str());
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  ScanOptions o;
  o.root = a.root;
  const Timestamp at = Timestamp::now();
  std::string line;
  for (const auto& p : set->policies) {
    Scanner scanner(o);
    for (const auto& r : scanner.scan(p)) {
      line.clear();
      append_json_line(line, to_event(p, r, "", at));
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace vigil::agent::checks
