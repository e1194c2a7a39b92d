// Field ids: every ECS field name is resolved to a small integer once (at load time), so the hot
// path compares integers and never hashes names. Known fields are compile-time constants; other
// names (from rules, auditd key=value pairs, JSON input) are registered at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/event/value.h"

namespace vigil {

struct FieldId {
  uint32_t v = 0;
  friend bool operator==(FieldId, FieldId) = default;
  friend auto operator<=>(FieldId, FieldId) = default;
};

// X(identifier, "ecs.name", declared type). The declared type is what JSON input is converted to.
#define VIGIL_KNOWN_FIELDS(X)                                       \
  X(timestamp, "@timestamp", timestamp)                             \
  X(event_id, "event.id", string)                                   \
  X(event_kind, "event.kind", string)                               \
  X(event_dataset, "event.dataset", string)                         \
  X(event_action, "event.action", string)                           \
  X(event_outcome, "event.outcome", string)                         \
  X(event_severity, "event.severity", integer)                      \
  X(event_start, "event.start", timestamp)                          \
  X(event_end, "event.end", timestamp)                              \
  X(event_original, "event.original", string)                       \
  X(event_created, "event.created", timestamp)                      \
  X(message, "message", string)                                     \
  X(host_name, "host.name", string)                                 \
  X(agent_id, "agent.id", string)                                   \
  X(agent_version, "agent.version", string)                         \
  X(log_file_path, "log.file.path", string)                         \
  X(log_level, "log.level", string)                                 \
  X(error_code, "error.code", string)                               \
  X(source_domain, "source.domain", string)                         \
  X(group_name, "group.name", string)                               \
  X(process_executable, "process.executable", string)               \
  X(process_working_directory, "process.working_directory", string) \
  X(observer_egress_interface_name, "observer.egress.interface.name", string) \
  X(auditd_message_type, "auditd.message_type", string)             \
  X(auditd_sequence, "auditd.sequence", integer)                    \
  X(ssh_method, "vigil.ssh.method", string)                         \
  X(firewall_prefix, "vigil.firewall.prefix", string)               \
  X(apache_error_module, "apache.error.module", string)             \
  X(source_ip, "source.ip", ip)                                     \
  X(source_port, "source.port", integer)                            \
  X(source_bytes, "source.bytes", integer)                          \
  X(source_packets, "source.packets", integer)                      \
  X(destination_ip, "destination.ip", ip)                           \
  X(destination_port, "destination.port", integer)                  \
  X(destination_bytes, "destination.bytes", integer)                \
  X(destination_packets, "destination.packets", integer)            \
  X(network_transport, "network.transport", string)                 \
  X(network_community_id, "network.community_id", string)           \
  X(network_bytes, "network.bytes", integer)                        \
  X(network_packets, "network.packets", integer)                    \
  X(network_vlan_id, "network.vlan.id", integer)                    \
  X(flow_tcp_flags, "vigil.flow.tcp_flags", string)                 \
  X(flow_end_reason, "vigil.flow.end_reason", string)               \
  X(dns_question_name, "dns.question.name", string)                 \
  X(dns_question_type, "dns.question.type", string)                 \
  X(dns_response_code, "dns.response_code", string)                 \
  X(dns_answers, "dns.answers", list)                               \
  X(dns_type, "dns.type", string)                                   \
  X(dns_id, "dns.id", integer)                                      \
  X(dns_question_registered_domain, "dns.question.registered_domain", string) \
  X(dns_question_subdomain, "dns.question.subdomain", string)       \
  X(dns_question_length, "vigil.dns.question.length", integer)      \
  X(dns_question_longest_label, "vigil.dns.question.longest_label", integer) \
  X(dns_question_entropy, "vigil.dns.question.entropy", real)       \
  X(dns_error, "vigil.dns.error", string)                           \
  X(dns_error_section, "vigil.dns.error_section", string)           \
  X(dns_op_code, "dns.op_code", string)                             \
  X(dns_header_flags, "dns.header_flags", list)                     \
  X(dns_question_class, "dns.question.class", string)               \
  X(dns_resolved_ip, "dns.resolved_ip", list)                       \
  X(network_protocol, "network.protocol", string)                   \
  X(tls_client_ja3_string, "tls.client.ja3_string", string)         \
  X(tls_client_version, "tls.client.version", string)               \
  X(systemd_unit, "systemd.unit", string)                           \
  X(http_authorization, "vigil.http.authorization", string)         \
  X(tls_client_server_name, "tls.client.server_name", string)       \
  X(tls_version, "tls.version", string)                             \
  X(tls_client_ja3, "tls.client.ja3", string)                       \
  X(tls_next_protocol, "tls.next_protocol", string)                 \
  X(http_request_method, "http.request.method", string)             \
  X(http_request_referrer, "http.request.referrer", string)         \
  X(http_response_status_code, "http.response.status_code", integer) \
  X(http_response_body_bytes, "http.response.body.bytes", integer)  \
  X(http_version, "http.version", string)                           \
  X(url_domain, "url.domain", string)                               \
  X(url_original, "url.original", string)                           \
  X(url_path, "url.path", string)                                   \
  X(url_query, "url.query", string)                                 \
  X(url_extension, "url.extension", string)                         \
  X(user_agent_original, "user_agent.original", string)             \
  X(ssh_client_software, "ssh.client.software", string)             \
  X(ssh_server_software, "ssh.server.software", string)             \
  X(ssh_client_hassh, "ssh.client.hassh", string)                   \
  X(ssh_server_hassh, "ssh.server.hassh", string)                   \
  X(anomaly_type, "vigil.anomaly.type", string)                     \
  X(user_name, "user.name", string)                                 \
  X(user_target_name, "user.target.name", string)                   \
  X(process_name, "process.name", string)                           \
  X(process_pid, "process.pid", integer)                            \
  X(process_command_line, "process.command_line", string)           \
  X(observer_ingress_interface_name, "observer.ingress.interface.name", string) \
  X(rule_id, "rule.id", string)                                     \
  X(rule_name, "rule.name", string)                                 \
  X(rule_author, "rule.author", string)                             \
  X(rule_license, "rule.license", string)                           \
  X(vigil_severity, "vigil.severity", string)                       \
  X(threat_technique_id, "threat.technique.id", list)               \
  X(evidence_ids, "vigil.evidence.ids", list)                       \
  X(evidence_events, "vigil.evidence.events", list)                 \
  X(check_result, "vigil.check.result", string)                     \
  X(check_evidence, "vigil.check.evidence", string)                 \
  X(check_level, "vigil.check.level", integer)                      \
  X(check_remediation, "vigil.check.remediation", string)           \
  X(policy_id, "vigil.policy.id", string)                           \
  X(event_type, "event.type", list)                                 \
  X(file_path, "file.path", string)                                 \
  X(file_name, "file.name", string)                                 \
  X(file_directory, "file.directory", string)                       \
  X(file_extension, "file.extension", string)                       \
  X(file_type, "file.type", string)                                 \
  X(file_hash_sha256, "file.hash.sha256", string)                   \
  X(fim_deploy_window, "vigil.fim.deploy_window", boolean)          \
  X(fim_deploy_user, "vigil.fim.deploy_user", boolean)              \
  X(fim_package_activity, "vigil.fim.package_activity", boolean)    \
  X(fim_package, "vigil.fim.package", string)                       \
  X(rule_name_vi, "vigil.rule.name_vi", string)                     \
  X(check_remediation_vi, "vigil.check.remediation_vi", string)

namespace fields {
enum Known : uint32_t {
#define VIGIL_FIELD_ENUM(id, name, type) k_##id,
  VIGIL_KNOWN_FIELDS(VIGIL_FIELD_ENUM)
#undef VIGIL_FIELD_ENUM
      known_count
};
#define VIGIL_FIELD_CONST(id, name, type) inline constexpr FieldId id{k_##id};
VIGIL_KNOWN_FIELDS(VIGIL_FIELD_CONST)
#undef VIGIL_FIELD_CONST
}  // namespace fields

// The process-wide registry of field names. Thread-safe; lookups by name belong in load paths.
class FieldRegistry {
 public:
  static FieldRegistry& instance();

  // The id of a name, registering it if new. Names are ECS dotted paths.
  FieldId intern(std::string_view name);
  std::optional<FieldId> find(std::string_view name) const;
  // Stable for the life of the process.
  std::string_view name(FieldId id) const;
  // The declared type of a known field, or null for fields registered at run time.
  Value::Type declared_type(FieldId id) const;
  bool is_known(FieldId id) const { return id.v < fields::known_count; }
  size_t size() const;

 private:
  FieldRegistry();
  struct Impl;
  Impl* impl_;
};

inline FieldId field(std::string_view name) { return FieldRegistry::instance().intern(name); }

// A field name given as a literal, for field_id<"...">().
template <size_t N>
struct FieldLiteral {
  char text[N];
  constexpr FieldLiteral(const char (&s)[N]) {  // NOLINT: implicit from a literal by design
    for (size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};

// The id of a field named by a literal, interned on the first call only: for hot paths that set
// fields the known list does not declare (field() takes a lock and a hash lookup every time).
template <FieldLiteral Name>
FieldId field_id() {
  static const FieldId id = field(std::string_view(Name.text, sizeof(Name.text) - 1));
  return id;
}
inline std::string_view field_name(FieldId id) { return FieldRegistry::instance().name(id); }

}  // namespace vigil
