// SSH: both identification banners and, from each side's KEXINIT (sent before encryption
// starts), the HASSH fingerprints. One network.ssh event per session.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

struct KexInit {
  std::string kex, host_key, enc_c2s, enc_s2c, mac_c2s, mac_s2c, comp_c2s, comp_s2c;
};

// The payload of an SSH_MSG_KEXINIT (message code 20 first).
bool parse_kexinit(std::span<const uint8_t> payload, KexInit& out);

std::unique_ptr<StreamParser> make_ssh_parser(const ParserContext& ctx);

}  // namespace vigil::agent::proto
