// What the console API's handlers share: their environment (the store, the log, the settings the
// service gives) and the small readers of requests every resource uses.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "collector/api/routes/route_table.h"
#include "collector/config/collector_config.h"
#include "collector/store/store.h"
#include "common/compliance/framework.h"
#include "common/net/http_types.h"
#include "common/pki/pki.h"

namespace spdlog {
class logger;
}

namespace vigil::collector::routes {

// What every handler works with; the ConsoleApi owns one.
struct Env {
  Store& store;
  std::shared_ptr<spdlog::logger> log;
  // Writes one entry to the audit log (ConsoleApi::audit).
  std::function<void(const std::string& who, const std::string& action, const std::string& target,
                     const std::string& detail)>
      audit;
  std::string default_framework;  // of agencies an enrollment token creates
  std::chrono::milliseconds silent_after{90'000};
  std::shared_ptr<const compliance::LoadedFrameworks> frameworks{};  // catalogues summaries judge against
  std::function<std::string()> metrics_source{};                       // lines the service adds to /metrics
  std::shared_ptr<const pki::Key> signing_key{};  // signs bundles (collector/fleet); null: pushes refused
  std::string signing_key_problem{};              // why there is none
  IncidentsSection incidents{};                    // the reporting clock of new incidents
  // collector.retention: how long events are kept follows the systems' levels unless set
  // (collector/retention/retention.h), what the log retention controls are judged against.
  RetentionSection retention{};
};

// {"error": message} with the status.
net::HttpResponse error(int status, const std::string& message);

// A request's JSON body, nesting bounded (common/ingest/bounded_json.h); discarded when it is not
// JSON or nests too deep, as nlohmann's parse without exceptions answers.
nlohmann::json request_json(const std::string& body);

// application/x-www-form-urlencoded decoding; nullopt on a broken escape.
std::optional<std::string> url_decode(std::string_view in);

// A request target's path and decoded query; `error` set when the query is malformed.
struct Target {
  std::string path;
  std::map<std::string, std::string> query;
  std::string error;
};
Target split_target(const std::string& target);

// A non-negative decimal of at most 18 digits.
std::optional<int64_t> to_int(const std::string& s);

// RFC 3339, or a date (YYYY-MM-DD, taken as midnight UTC).
std::optional<Timestamp> parse_when(const std::string& s);

// The paging of every list: `before` (an id) and `limit` (1-1000). nullopt when `k` is neither;
// else the complaint about its value, empty when it is good.
std::optional<std::string> paging(const std::string& k, const std::string& v, int64_t& before_id, int& limit,
                                  const char* id_kind);

// Severity words of rules, or 1-5.
std::optional<int> parse_severity(const std::string& s);

// Names of users and agencies: printable, no control characters (they travel one per line).
bool clean_name(const std::string& s, size_t max);

// Names of users and API tokens: [A-Za-z0-9._@-]{1,64}.
bool valid_user_name(const std::string& s);
bool valid_role(const std::string& r);

inline constexpr size_t kMinPassword = 12;
inline constexpr size_t kMaxPassword = 1024;

// The client's address without its port (IPv6 addresses keep their brackets).
std::string client_address(const std::string& remote);

}  // namespace vigil::collector::routes
