// libFuzzer target for what an agent reads of a group bundle (common/fleet/bundle.h) and the
// agent.yaml overlay inside it (agent/config/agent_config.h): the envelope, the signed document,
// its paths, and the overlay's YAML. Nothing read is trusted before the signature verifies, so
// every reader must refuse garbage with an error, never crash, and never accept a path that
// escapes the bundle's directory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/config/agent_config.h"
#include "common/fleet/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto e = vigil::fleet::from_envelope(text)) {
    if (auto doc = vigil::fleet::from_document(e->document)) {
      for (const auto& f : doc->files) {
        if (f.path.find("..") != std::string::npos || f.path.empty() || f.path.front() == '/') std::abort();
      }
    }
  }
  if (auto doc = vigil::fleet::from_document(text)) {
    for (const auto& f : doc->files) {
      if (!vigil::fleet::classify_path(f.path)) std::abort();
    }
  }
  (void)vigil::fleet::classify_path(text);
  (void)vigil::agent::load_config_overlay("config/agent.yaml", text);
  return 0;
}
