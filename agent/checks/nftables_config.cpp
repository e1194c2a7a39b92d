#include "agent/checks/nftables_config.h"

#include <map>
#include <tuple>

#include <fmt/format.h>

namespace vigil::agent::checks {

namespace {

struct ChainState {
  std::string hook;               // empty: not a base chain (yet)
  std::string policy = "accept";  // a base chain without a policy accepts
  std::string where;              // the declaration that set the policy (or the hook)
};

using ChainKey = std::tuple<std::string, std::string, std::string>;  // family, table, chain

// `table [family] name`: the family defaults to ip.
std::pair<std::string, std::string> family_and_name(const std::vector<std::string>& w, size_t first) {
  if (w.size() >= first + 2) return {w[first], w[first + 1]};
  if (w.size() == first + 1) return {"ip", w[first]};
  return {"ip", "?"};
}

class Walker {
 public:
  void walk(const ConfNode& n) {
    for (const auto& c : n.children) statement(c);
  }

  std::map<ChainKey, ChainState> chains;

 private:
  void statement(const ConfNode& c) {
    const auto& w = c.words;
    if (w.empty()) return;
    const bool add = (w[0] == "add" || w[0] == "create") && w.size() >= 2;
    if (w[0] == "flush" && w.size() >= 2 && w[1] == "ruleset") {
      chains.clear();
      return;
    }
    if ((w[0] == "delete" || w[0] == "destroy") && w.size() >= 3 && w[1] == "table") {
      // Not a structured binding: clang 14 cannot capture one in a lambda.
      const auto ft = family_and_name(w, 2);
      std::erase_if(chains, [&](const auto& kv) {
        return std::get<0>(kv.first) == ft.first && std::get<1>(kv.first) == ft.second;
      });
      return;
    }
    if ((w[0] == "delete" || w[0] == "destroy") && w.size() >= 3 && w[1] == "chain") {
      auto key = chain_key(w, 2);
      chains.erase(key);
      return;
    }
    if (!c.block) return;
    if (w[0] == "table") {
      auto [family, table] = family_and_name(w, 1);
      for (const auto& t : c.children) {
        if (t.block && !t.words.empty() && t.words[0] == "chain" && t.words.size() >= 2)
          chain(t, {family, table, t.words[1]});
      }
    } else if (add && w[1] == "table") {
      auto [family, table] = family_and_name(w, 2);
      for (const auto& t : c.children) {
        if (t.block && !t.words.empty() && t.words[0] == "chain" && t.words.size() >= 2)
          chain(t, {family, table, t.words[1]});
      }
    } else if (w[0] == "chain") {
      chain(c, chain_key(w, 1));
    } else if (add && w[1] == "chain") {
      chain(c, chain_key(w, 2));
    }
  }

  // `chain [family] table name`
  static ChainKey chain_key(const std::vector<std::string>& w, size_t first) {
    if (w.size() >= first + 3) return {w[first], w[first + 1], w[first + 2]};
    if (w.size() == first + 2) return {"ip", w[first], w[first + 1]};
    return {"ip", "?", w.size() > first ? w[first] : "?"};
  }

  void chain(const ConfNode& c, const ChainKey& key) {
    auto& st = chains[key];
    for (const auto& s : c.children) {
      if (s.block || s.words.empty()) continue;
      if (s.words[0] == "type") {
        for (size_t i = 1; i + 1 < s.words.size(); ++i) {
          if (s.words[i] == "hook") {
            st.hook = s.words[i + 1];
            if (st.where.empty()) st.where = c.where();
          }
        }
      } else if (s.words[0] == "policy" && s.words.size() >= 2) {
        st.policy = s.words[1];
        st.where = c.where();
      }
    }
  }
};

}  // namespace

ProbeResult evaluate_nftables(const NftablesProbe& p, const ConfNode& root) {
  Walker w;
  w.walk(root);
  std::vector<std::string> found;
  bool inet = false, ip = false, ip6 = false;
  for (const auto& [key, st] : w.chains) {
    if (st.hook != p.hook) continue;
    const auto& [family, table, name] = key;
    found.push_back(
        fmt::format("table {} {} chain {} ({}): hook {} policy {}", family, table, name, st.where, p.hook, st.policy));
    if (st.policy != p.policy) continue;
    inet = inet || family == "inet";
    ip = ip || family == "ip";
    ip6 = ip6 || family == "ip6";
  }
  std::string e;
  for (const auto& f : found) e += (e.empty() ? "" : ", ") + f;
  if (found.empty()) e = fmt::format("{}: no base chain on hook {}", p.path, p.hook);
  if (inet || (ip && ip6)) return {Outcome::pass, e};
  std::string why;
  if (ip && !ip6) why = "; IPv6 is not covered (no ip6 chain)";
  if (ip6 && !ip) why = "; IPv4 is not covered (no ip chain)";
  return {Outcome::fail, fmt::format("{}{} (expected an inet chain, or ip and ip6 chains, on hook {} with policy {})",
                                     e, why, p.hook, p.policy)};
}

}  // namespace vigil::agent::checks
