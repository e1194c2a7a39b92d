// Least privilege for the agent: when started as root it becomes `agent.user` and keeps only
// CAP_NET_RAW (open captures keep working, new ones can be opened on reload) and
// CAP_DAC_READ_SEARCH (read logs it does not own).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace vigil::agent {

// As root: hands `owned` (recursively) to `user`, then switches to it with only the two
// capabilities, no supplementary groups and a cleared bounding set. Returns what it did (for the
// log), empty when there was nothing to do (not root, or `user` empty or "root"). Fails when the
// user does not exist or a step fails.
Result<std::string> drop_privileges(const std::string& user, const std::vector<std::string>& owned);

}  // namespace vigil::agent
