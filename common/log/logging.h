// Logging: spdlog with a named logger per component; console in the foreground, the journal
// when systemd runs us (stderr connected to the journal).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace vigil::logging {

// Parses "trace|debug|info|warn|error|critical|off".
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);

// Sets up the sinks once per process. Safe to call again to change the level.
void setup(std::string_view program, spdlog::level::level_enum level = spdlog::level::info);

// True when stderr is the systemd journal (JOURNAL_STREAM names our stderr).
bool stderr_is_journal();

// The journal sink setup() uses when stderr is the journal: entries sent to the journal's native
// socket (`socket_path`; a test names its own), with SYSLOG_IDENTIFIER `identifier`.
spdlog::sink_ptr journal_sink(std::string identifier, std::string socket_path = "/run/systemd/journal/socket");

// The logger of one component ("capture", "spool", "ingest", ...), sharing the process sinks.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace vigil::logging
