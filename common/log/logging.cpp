#include "common/log/logging.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace vigil::logging {

namespace {
std::mutex g_mutex;
std::vector<spdlog::sink_ptr> g_sinks;
spdlog::level::level_enum g_level = spdlog::level::info;

// The journal's native protocol (systemd.journal-fields(7), "Native Journal Protocol"): one
// datagram per entry, FIELD=value lines, a value holding a newline as FIELD\n<64-bit LE
// length><bytes>\n. The fields are sd_journal_send's through spdlog's systemd sink: MESSAGE,
// PRIORITY, SYSLOG_IDENTIFIER; without linking libsystemd (issue 22). An entry the socket refuses
// (too large for a datagram, or no journal) goes to stderr, which systemd connects to the journal.
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  JournalSink(std::string identifier, std::string socket_path)
      : identifier_(std::move(identifier)), fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    addr_.sun_family = AF_UNIX;
    std::strncpy(addr_.sun_path, socket_path.c_str(), sizeof(addr_.sun_path) - 1);
  }
  ~JournalSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  JournalSink(const JournalSink&) = delete;
  JournalSink& operator=(const JournalSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    static constexpr std::array<int, 7> kPriority{LOG_DEBUG, LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_INFO};
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    buf_.clear();
    field("MESSAGE", payload);
    field("PRIORITY", std::to_string(kPriority.at(static_cast<size_t>(msg.level))));
    field("SYSLOG_IDENTIFIER", identifier_.empty() ? std::string_view(msg.logger_name.data(), msg.logger_name.size())
                                                   : std::string_view(identifier_));
    ssize_t n = fd_ < 0 ? -1
                        : ::sendto(fd_, buf_.data(), buf_.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr_),
                                   sizeof(addr_));
    if (n != static_cast<ssize_t>(buf_.size())) {
      std::string line(1, '<');
      line += std::to_string(kPriority.at(static_cast<size_t>(msg.level)));
      line += '>';
      // One line: journald reads stderr line by line, each with its own <N> priority, so the text
      // (it may relay a child's or a peer's words) must not start lines of its own.
      for (char c : payload) line += c == '\n' || c == '\r' ? ' ' : c;
      line += '\n';
      [[maybe_unused]] auto w = ::write(STDERR_FILENO, line.data(), line.size());
    }
  }
  void flush_() override {}

 private:
  void field(std::string_view name, std::string_view value) {
    buf_.append(name);
    if (value.find('\n') == std::string_view::npos) {
      buf_ += '=';
    } else {
      buf_ += '\n';
      uint64_t len = value.size();
      for (int i = 0; i < 8; ++i) buf_ += static_cast<char>((len >> (8 * i)) & 0xff);
    }
    buf_.append(value);
    buf_ += '\n';
  }

  std::string identifier_;
  int fd_;
  sockaddr_un addr_{};
  std::string buf_;
};

}  // namespace

spdlog::sink_ptr journal_sink(std::string identifier, std::string socket_path) {
  return std::make_shared<JournalSink>(std::move(identifier), std::move(socket_path));
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "critical") return spdlog::level::critical;
  if (name == "off") return spdlog::level::off;
  return std::nullopt;
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long dev = 0, ino = 0;
  if (std::sscanf(stream, "%lu:%lu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

void setup(std::string_view program, spdlog::level::level_enum level) {
  std::lock_guard lock(g_mutex);
  g_level = level;
  if (g_sinks.empty()) {
    if (stderr_is_journal()) {
      g_sinks.push_back(journal_sink(std::string(program)));
    } else {
      auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
      sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ [%n] %v");
      g_sinks.push_back(sink);
    }
    auto def = std::make_shared<spdlog::logger>(std::string(program), g_sinks.begin(), g_sinks.end());
    spdlog::set_default_logger(def);
  }
  spdlog::set_level(level);
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  if (auto existing = spdlog::get(component)) return existing;
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(component)) return existing;
  std::shared_ptr<spdlog::logger> logger;
  if (g_sinks.empty()) {
    logger = std::make_shared<spdlog::logger>(component, spdlog::default_logger()->sinks().begin(),
                                              spdlog::default_logger()->sinks().end());
  } else {
    logger = std::make_shared<spdlog::logger>(component, g_sinks.begin(), g_sinks.end());
  }
  logger->set_level(g_level);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace vigil::logging
