// DNS messages: the ECS answer objects, header flags and op codes, names with forward pointers, damaged sections that keep what was valid, DNS over TCP.
#include <gtest/gtest.h>

#include "tests/unit/agent/proto_harness.h"

namespace vigil::agent::proto {
namespace {

}  // namespace
}  // namespace vigil::agent::proto
