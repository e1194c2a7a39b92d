// CA rotation with an overlap: `vigil-collector ca rotate` makes a new CA that signs every agent
// certificate from then on while the old one stays trusted, so agents move over as they renew;
// `vigil-collector ca retire-old` ends the overlap. The collector reads its PKI at start: restart
// it after either command.
//
// In the PKI directory, pki/ca.crt is the bundle of trusted CAs, the signing CA first (the
// collector trusts every CA of it for client certificates and hands it to agents at enrollment
// and renewal); pki/ca.key is the signing CA's key. During the overlap the server certificate
// stays signed by the old CA, which every agent already trusts, and the old CA's key is kept as
// pki/ca-old.key; retiring the old CA re-issues the server certificate from the new one and
// leaves the new CA alone in ca.crt.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"

namespace vigil::collector {

struct RotationResult {
  std::string new_ca_pin;  // sha256:<hex> of the signing CA after the command
  std::string old_ca_pin;  // the CA that is (rotate) or was (retire-old) in overlap
};

Result<RotationResult> rotate_ca(const std::filesystem::path& pki_dir);
Result<RotationResult> retire_old_ca(const std::filesystem::path& pki_dir);

}  // namespace vigil::collector
