#include "agent/logs/log_parser.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "agent/logs/access_log_parser.h"
#include "agent/logs/auditd_parser.h"
#include "agent/logs/error_log_parser.h"
#include "agent/logs/log_fields.h"
#include "agent/logs/scan.h"
#include "agent/logs/syslog_parser.h"

namespace vigil::logs {

const LogFields& LogFields::get() {
  static const LogFields kFields{
      .log_level = field("log.level"),
      .error_code = field("error.code"),
      .apache_error_module = field("apache.error.module"),
      .group_name = field("group.name"),
      .source_domain = field("source.domain"),
      .observer_egress_interface_name = field("observer.egress.interface.name"),
      .firewall_prefix = field("vigil.firewall.prefix"),
      .syslog_priority = field("log.syslog.priority"),
      .syslog_facility_code = field("log.syslog.facility.code"),
      .syslog_severity_code = field("log.syslog.severity.code"),
      .syslog_msgid = field("log.syslog.msgid"),
      .ssh_method = field("vigil.ssh.method"),
      .process_working_directory = field("process.working_directory"),
      .process_executable = field("process.executable"),
      .auditd_message_type = field("auditd.message_type"),
      .auditd_sequence = field("auditd.sequence"),
  };
  return kFields;
}

ParseContext ParseContext::at(std::string format, Timestamp reference, int64_t utc_offset_s, std::string host_name) {
  ParseContext ctx;
  ctx.format = std::move(format);
  ctx.host_name = std::move(host_name);
  ctx.utc_offset_s = utc_offset_s;
  ctx.reference_time = reference;
  int64_t local = reference.ns / 1'000'000'000 + utc_offset_s;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  int day = 1;
  civil_from_days(days, ctx.reference_year, ctx.reference_month, day);
  return ctx;
}

Result<ParseContext> ParseContext::for_file(const std::string& path, std::string format, std::string host_name) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error("cannot examine log file " + path + ": " + std::strerror(errno));
  }
  Timestamp mtime = Timestamp::from_seconds(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  return at(std::move(format), mtime, local_utc_offset(mtime), std::move(host_name));
}

int64_t ParseContext::local_utc_offset(Timestamp when) {
  time_t t = static_cast<time_t>(when.ns / 1'000'000'000);
  struct tm tm {};
  if (!localtime_r(&t, &tm)) return 0;
  return tm.tm_gmtoff;
}

bool LogParser::parse(std::string_view line, const ParseContext& ctx, Event& out) {
  out.clear();
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (trim(line).empty()) {
    ++counters_.empty;
    return false;
  }
  ++counters_.lines;
  out.set(fields::event_original, Value(line));
  out.set(fields::event_kind, Value("event"));
  if (!ctx.host_name.empty()) out.set(fields::host_name, Value(ctx.host_name));
  bool ok = false;
  try {
    ok = parse_line(line, ctx, out);
  } catch (const std::exception&) {  // a reader bug must cost one line, never the agent
    ok = false;
  }
  if (!ok) {
    // Keep only what every event carries; drop whatever a half-read line left behind.
    out.clear();
    out.set(fields::event_original, Value(line));
    out.set(fields::event_kind, Value("event"));
    if (!ctx.host_name.empty()) out.set(fields::host_name, Value(ctx.host_name));
    out.set(fields::event_dataset, Value(fallback_dataset()));
    out.set(fields::message, Value(line));
    out.set(fields::timestamp, ctx.reference_time);
    ++counters_.unparsed;
    return false;
  }
  if (!out.has(fields::timestamp)) out.set(fields::timestamp, ctx.reference_time);
  if (!out.has(fields::event_dataset)) out.set(fields::event_dataset, Value(fallback_dataset()));
  ++counters_.parsed;
  return true;
}

namespace {

// Lines kept as they are: event.original and message.
class RawParser final : public LogParser {
 public:
  std::string_view fallback_dataset() const override { return "raw"; }

 protected:
  bool parse_line(std::string_view line, const ParseContext& ctx, Event& out) override {
    out.set(fields::event_dataset, Value("raw"));
    out.set(fields::message, Value(line));
    out.set(fields::timestamp, ctx.reference_time);
    return true;
  }
};

}  // namespace

Result<std::unique_ptr<LogParser>> make_parser(std::string_view format) {
  std::unique_ptr<LogParser> p;
  if (format == "syslog") {
    p = std::make_unique<SyslogParser>();
  } else if (format == "nginx") {
    p = std::make_unique<AccessLogParser>(AccessLogParser::Flavor::nginx);
  } else if (format == "apache") {
    p = std::make_unique<AccessLogParser>(AccessLogParser::Flavor::apache);
  } else if (format == "nginx_error") {
    p = std::make_unique<NginxErrorParser>();
  } else if (format == "apache_error") {
    p = std::make_unique<ApacheErrorParser>();
  } else if (format == "auditd") {
    p = std::make_unique<AuditdParser>();
  } else if (format == "raw") {
    p = std::make_unique<RawParser>();
  } else {
    return make_error("unknown log format '" + std::string(format) +
                      "' (expected syslog, nginx, apache, nginx_error, apache_error, auditd or raw)");
  }
  return p;
}

}  // namespace vigil::logs
