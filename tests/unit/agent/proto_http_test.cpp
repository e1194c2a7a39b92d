// HTTP transactions: request and response in one event, CONNECT tunnels, gaps in bodies, responses missing or first, look-alikes rejected.
#include <gtest/gtest.h>

#include "tests/unit/agent/proto_harness.h"

namespace vigil::agent::proto {
namespace {

}  // namespace
}  // namespace vigil::agent::proto
