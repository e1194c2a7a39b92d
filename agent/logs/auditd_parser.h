// Linux audit records (/var/log/audit/audit.log):
//   [node=H ]type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 ... key="x"
// Fields: auditd.message_type, auditd.sequence, and every key=value as auditd.data.<key>
// (the keys of a USER_* record's msg='...' too). Unquoted hex values of keys the kernel
// hex-encodes (proctitle, cmd, comm, exe, ...) are decoded.
#pragma once

#include <string>
#include <unordered_map>

#include "agent/logs/log_parser.h"

namespace vigil::logs {

class AuditdParser final : public LogParser {
 public:
  // At most this many distinct auditd.data.<key> names are interned; further keys are dropped
  // (counted in dropped_keys()).
  static constexpr size_t kMaxKeys = 512;

  AuditdParser();
  std::string_view fallback_dataset() const override { return "auditd"; }
  uint64_t dropped_keys() const { return dropped_keys_; }

 protected:
  bool parse_line(std::string_view line, const ParseContext& ctx, Event& out) override;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // The field id of auditd.data.<key>, or nullopt over the cap.
  std::optional<FieldId> key_field(std::string_view key);
  // `execve`: the record is an EXECVE, whose a0..aN arguments auditd hex-encodes when needed.
  void read_pairs(std::string_view s, Event& out, int depth, bool execve);

  std::unordered_map<std::string, FieldId, Hash, std::equal_to<>> keys_;
  std::string decoded_;  // reused buffer for hex decoding
  uint64_t dropped_keys_ = 0;
};

}  // namespace vigil::logs
