// What an nftables script (/etc/nftables.conf, includes expanded by read_nftables_config) leaves
// on a hook, as a probe result. Chains are keyed by (family, table, chain); a later declaration
// of the same chain changes its policy as nft applies it (the last one wins), `flush ruleset`
// forgets everything before it and `delete table` that table's chains. Passes when the final
// ruleset has a base chain on the hook with the wanted policy covering IPv4 and IPv6: one in an
// `inet` table, or one in an `ip` table and one in an `ip6` table.
#pragma once

#include "agent/checks/config_tree.h"
#include "agent/checks/policy.h"
#include "agent/checks/scanner.h"

namespace vigil::agent::checks {

ProbeResult evaluate_nftables(const NftablesProbe& probe, const ConfNode& root);

}  // namespace vigil::agent::checks
