// libFuzzer target for the console API's JSON bodies: the first byte picks an endpoint that reads
// a body (index into kTargets), the rest is the body, sent by an admin to a ConsoleApi over an in-memory SQLite store.
// Whatever the body, the answer is a response (no crash, no exception out of the API).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "collector/api/console_api.h"
#include "collector/store/store.h"
#include "common/pki/pki.h"

namespace {

struct Fixture {
  std::unique_ptr<vigil::collector::Store> store;
  std::unique_ptr<vigil::collector::ConsoleApi> api;
  std::string token = "fuzz-admin-token-0123456789";
  Fixture() {
    auto opened = vigil::collector::open_sqlite_store(":memory:");
    if (!opened) std::abort();
    store = std::move(opened.value());
    (void)store->add_api_token(vigil::pki::sha256_hex(token), {"fuzz", "admin", {}});
    // What the revoke endpoint ends: another token (revoking the fuzzer's own would refuse every
    // later input at authentication).
    (void)store->add_api_token(vigil::pki::sha256_hex(token + "-other"), {"other", "analyst", {}});
    (void)store->ensure_agency("A", "tcvn11930");
    api = std::make_unique<vigil::collector::ConsoleApi>(*store, "tcvn11930");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  if (size < 1) return 0;
  // Login and passwords are left out: each would spend a PBKDF2 hash (210,000 iterations).
  static const char* const kTargets[] = {"/api/v1/api-tokens",      "/api/v1/tokens",          "/api/v1/waivers",
                                         "/api/v1/agencies/A",      "/api/v1/alerts/1/status", "/api/v1/alerts/1/comment",
                                         "/api/v1/agents/x/level", "/api/v1/api-tokens/2/revoke"};
  vigil::net::HttpRequest r;
  r.method = "POST";
  r.target = kTargets[data[0] % (sizeof kTargets / sizeof kTargets[0])];
  r.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  r.headers.emplace_back("Authorization", "Bearer " + f.token);
  r.headers.emplace_back("Content-Type", "application/json");
  r.remote = "127.0.0.1:1";
  (void)f.api->handle(r);
  return 0;
}
