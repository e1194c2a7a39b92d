#include "common/log/logging.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>

namespace vigil::logging {

namespace {
std::mutex g_mutex;
std::vector<spdlog::sink_ptr> g_sinks;
spdlog::level::level_enum g_level = spdlog::level::info;
}  // namespace

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
      g_sinks.push_back(std::make_shared<spdlog::sinks::systemd_sink_mt>(std::string(program)));
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
