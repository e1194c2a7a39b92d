// Field ids the log parsers use beyond the known ECS constants of common/event/fields.h.
// Resolved once (the first parser constructed interns them), never per line.
#pragma once

#include "common/event/fields.h"

namespace vigil::logs {

struct LogFields {
  FieldId log_level;
  FieldId error_code;
  FieldId apache_error_module;
  FieldId group_name;
  FieldId source_domain;
  FieldId observer_egress_interface_name;
  FieldId firewall_prefix;
  FieldId syslog_priority;
  FieldId syslog_facility_code;
  FieldId syslog_severity_code;
  FieldId syslog_msgid;
  FieldId ssh_method;
  FieldId process_working_directory;
  FieldId process_executable;
  FieldId auditd_message_type;
  FieldId auditd_sequence;

  static const LogFields& get();
};

}  // namespace vigil::logs
