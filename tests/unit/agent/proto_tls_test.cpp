// TLS and SSH: versions in ECS form, SSLv2-compatible ClientHellos, STARTTLS upgrades, banners split over segments.
#include <gtest/gtest.h>

#include "tests/unit/agent/proto_harness.h"

namespace vigil::agent::proto {
namespace {

}  // namespace
}  // namespace vigil::agent::proto
