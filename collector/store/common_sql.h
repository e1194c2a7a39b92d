// Statements both stores run word for word: written once, with numbered parameters (?1, ?2...),
// which SQLite takes as they are and PostgreSQL as $1, $2... (dollar_params).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace vigil::collector {

// One more failed login under ?1 at ?2; the count starts again when the last one is older than ?3.
inline constexpr const char* kCountLoginFailure =
    "INSERT INTO login_failures(key, failures, last_failure) VALUES (?1, 1, ?2) "
    "ON CONFLICT(key) DO UPDATE SET "
    "failures = CASE WHEN login_failures.last_failure < ?3 THEN 1 ELSE login_failures.failures + 1 END, "
    "last_failure = excluded.last_failure "
    "RETURNING failures";

// The retention round at ?1, taken when the last one recorded is older than ?2: a row comes back
// only to the collector that took it.
inline constexpr const char* kClaimRetentionRound =
    "INSERT INTO retention_rounds(id, last_round) VALUES (1, ?1) "
    "ON CONFLICT(id) DO UPDATE SET last_round = excluded.last_round WHERE retention_rounds.last_round < ?2 "
    "RETURNING last_round";

// Whether `column` is one of the names in parameter `param` (names one per line, join_lines), in
// each dialect's words.
inline std::string in_lines(bool postgres, std::string_view column, std::string_view param) {
  std::string out;
  if (postgres) {
    out.append(column).append(" = ANY(string_to_array(").append(param).append(", E'\\n'))");
  } else {
    out.append("instr(char(10) || ").append(param).append(" || char(10), char(10) || ").append(column);
    out.append(" || char(10)) > 0");
  }
  return out;
}

// A statement of numbered parameters in PostgreSQL's spelling: ?N becomes $N (the statements above
// hold no question mark elsewhere).
inline std::string dollar_params(std::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '?' && std::isdigit(static_cast<unsigned char>(out[i + 1]))) out[i] = '$';
  }
  return out;
}

}  // namespace vigil::collector
