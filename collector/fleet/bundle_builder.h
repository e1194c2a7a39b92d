// The collector's side of a push (shared/DESIGN.md "Groups and bundles"): the files are checked
// with the agent's own loaders before anything is stored, and each version is signed.
#pragma once

#include <string>
#include <vector>

#include "common/compliance/framework.h"
#include "common/fleet/bundle.h"
#include "common/pki/pki.h"
#include "common/result.h"

namespace vigil::collector {

// Every problem of the files, one per line as `path:line:column: message` (paths as in the bundle:
// rules/..., policies/...), or nothing when the agent would load them all: rule files (native and
// Sigma) with the value lists they name, policies against `frameworks`, and the agent.yaml overlay. Paths, sizes and
// kinds are checked first (common/fleet/bundle.h).
Result<void> validate_bundle_files(const std::vector<fleet::BundleFile>& files,
                                   const compliance::LoadedFrameworks& frameworks);

// The signing key of `pki_dir` (bundle-signing.key), or why there is none.
Result<pki::Key> load_signing_key(const std::string& pki_dir);
// Writes pki_dir/bundle-signing.key (0600) and .pub when the key is missing; true when it made one.
Result<bool> ensure_signing_key(const std::string& pki_dir);

}  // namespace vigil::collector
