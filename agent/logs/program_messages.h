// Reads the message of a syslog line by program: sshd, sudo, su, account tools, kernel firewall
// LOG lines, PAM authentication failures of any service, Apache (ErrorLog syslog).
//
// event.action values rules can rely on (event.outcome in brackets):
//   sshd:     ssh_login (success|failure), invalid_user (failure), authentication_failure (failure),
//             too_many_auth_failures (failure), user_not_allowed (failure), user_unknown,
//             session_opened / session_closed (success), disconnect, connection_closed,
//             connection_reset, no_identification, negotiation_failed, possible_break_in, max_retries
//   sudo:     sudo_command (success), sudo_auth_failure / sudo_not_allowed / sudo_failure (failure),
//             authentication_failure (failure), session_opened / session_closed (success)
//   su:       su (success|failure), authentication_failure (failure), session_opened / session_closed
//   accounts: user_created, user_deleted, user_modified, group_created, group_deleted,
//             group_member_added, password_changed, password_expiry_changed (success)
//   other programs (dataset syslog): authentication_failure (failure) for PAM failures
// user.name is who acted (the sudo/su caller, the ssh login); user.target.name the account acted
// on (sudo USER=, su target, the account an account tool changed). A PAM rhost that is not an
// address goes to source.domain.
#pragma once

#include <string_view>

#include "common/event/event.h"

namespace vigil::logs {

// The program name used for dispatch: "sshd(pam_unix)" -> "sshd", "httpd/backend1" -> "httpd",
// "sshd-session" -> "sshd".
std::string_view program_base(std::string_view program);

// Sets event.dataset and the fields read from `message` of `program`. Messages of programs
// without a dedicated reader get dataset "syslog" (with PAM failures still read).
void parse_program_message(std::string_view program, std::string_view message, Event& out);

// Individual readers, exposed for tests. Each sets event.dataset.
void parse_sshd_message(std::string_view message, Event& out);
void parse_sudo_message(std::string_view message, Event& out);
void parse_su_message(std::string_view message, Event& out);
void parse_accounts_message(std::string_view program, std::string_view message, Event& out);
// Kernel netfilter LOG lines ("IN=eth0 OUT= ... SRC=... DST=... PROTO=TCP SPT=.. DPT=.."); false
// when the message is not one.
bool parse_firewall_message(std::string_view message, Event& out);

// The PAM "authentication failure; logname= uid= euid= tty= ruser= rhost= [user=]" fields.
struct PamFailure {
  std::string_view logname;
  std::string_view ruser;
  std::string_view rhost;
  std::string_view user;
};
// `kv` is the text after "authentication failure;". rhost is the one followed by nothing or by
// "user=" (as fail2ban reads it, so a user name cannot inject a second rhost).
PamFailure parse_pam_failure(std::string_view kv);

}  // namespace vigil::logs
