#include "collector/report/compliance_summary.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace vigil::collector {

namespace {

using nlohmann::json;

struct Tally {
  uint64_t pass = 0, fail = 0, error = 0, not_applicable = 0, waived = 0, not_checked = 0;

  void add(std::string_view state) {
    if (state == "pass") ++pass;
    if (state == "fail") ++fail;
    if (state == "error") ++error;
    if (state == "not_applicable") ++not_applicable;
    if (state == "waived") ++waived;
    if (state == "not_checked") ++not_checked;
  }
  Tally& operator+=(const Tally& o) {
    pass += o.pass;
    fail += o.fail;
    error += o.error;
    not_applicable += o.not_applicable;
    waived += o.waived;
    not_checked += o.not_checked;
    return *this;
  }
  std::optional<double> score() const {
    if (pass + fail == 0) return std::nullopt;
    return static_cast<double>(pass) / static_cast<double>(pass + fail);
  }
  void put(json& j) const {
    j["pass"] = pass;
    j["fail"] = fail;
    j["error"] = error;
    j["not_applicable"] = not_applicable;
    j["waived"] = waived;
    j["not_checked"] = not_checked;
    auto s = score();
    j["score"] = s ? json(*s) : json();
  }
  json to_json() const {
    json j = json::object();
    put(j);
    return j;
  }
};

const char* const kSeverityNames[] = {"info", "low", "medium", "high", "critical"};

}  // namespace

json waiver_json(const WaiverRecord& w, Timestamp now) {
  const char* state = w.ended.ns != 0 ? "ended" : now < w.expires ? "active" : "expired";
  json j = {{"id", w.id},
            {"agency", w.agency},
            {"agent_id", w.agent_id},
            {"policy", w.policy},
            {"check", w.check_id},
            {"reason", w.reason},
            {"accepted_by", w.accepted_by},
            {"created_by", w.created_by},
            {"created", w.created.to_string()},
            {"expires", w.expires.to_string()},
            {"state", state}};
  if (w.ended.ns != 0) {
    j["ended"] = w.ended.to_string();
    j["ended_by"] = w.ended_by;
  }
  return j;
}

namespace {

bool active_at(const WaiverRecord& w, Timestamp at) {
  return w.created <= at && (w.ended.ns == 0 || at < w.ended) && at < w.expires;
}

// The control ids a result maps to in one framework.
std::vector<std::string> controls_of(const ComplianceRow& row, const std::string& framework) {
  std::vector<std::string> out;
  auto c = json::parse(row.controls, nullptr, false);
  if (!c.is_object()) return out;
  auto it = c.find(framework);
  if (it == c.end() || !it->is_array()) return out;
  for (const auto& id : *it) {
    if (id.is_string()) out.push_back(id.get<std::string>());
  }
  return out;
}

std::string group_of(const compliance::Framework* fw, const std::string& control_id) {
  if (fw) {
    if (const auto* c = fw->find(control_id)) return c->group;
  }
  auto dot = control_id.find('.');
  return dot == std::string::npos ? std::string() : control_id.substr(0, dot);
}

json alerts_by_severity(const std::vector<AlertTally>& tallies, const std::string& agency, bool open_only) {
  json j = json::object();
  uint64_t total = 0;
  for (const char* s : kSeverityNames) j[s] = 0;
  for (const auto& t : tallies) {
    if (t.agency != agency || t.severity < 1 || t.severity > 5) continue;
    if (open_only && t.status != "new" && t.status != "acknowledged") continue;
    j[kSeverityNames[t.severity - 1]] = j[kSeverityNames[t.severity - 1]].get<uint64_t>() + t.count;
    total += t.count;
  }
  j["total"] = total;
  return j;
}

void add_alerts(json& into, const json& from) {
  for (auto it = from.begin(); it != from.end(); ++it) {
    into[it.key()] = into.value(it.key(), uint64_t{0}) + it->get<uint64_t>();
  }
}

// A capped list: appends while there is room, counts what it leaves out.
struct Capped {
  json items = json::array();
  uint64_t dropped = 0;
  size_t cap;
  explicit Capped(size_t c) : cap(c) {}
  void push(json j) {
    if (items.size() < cap) {
      items.push_back(std::move(j));
    } else {
      ++dropped;
    }
  }
};

class AgencySummary {
 public:
  AgencySummary(const SummaryInput& in, const AgencyRecord& agency) : in_(in), ag_(agency) {
    fw_ = in.frameworks ? in.frameworks->find(ag_.framework) : nullptr;
    for (const auto& a : in.agents) {
      if (a.agency == ag_.name && a.status != "revoked") agents_[a.id] = &a;
    }
    for (const auto& w : in.waivers) {
      if (w.agency == ag_.name) waivers_.push_back(&w);
    }
  }

  json build(const std::vector<const ComplianceRow*>& latest, const std::vector<const ComplianceRow*>& previous) {
    // What the agents of the agency report: the checks required of some agent, with their level.
    std::map<std::pair<std::string, std::string>, int> expected;
    std::map<std::string, std::set<std::pair<std::string, std::string>>> reported;
    for (const ComplianceRow* r : latest) {
      const AgentRecord* a = agent(r->agent_id);
      if (!a) continue;
      reported[r->agent_id].insert({r->policy, r->check_id});
      if (r->level > a->level) continue;
      auto [it, inserted] = expected.emplace(std::make_pair(r->policy, r->check_id), r->level);
      if (!inserted) it->second = std::min(it->second, r->level);
    }

    Tally total;
    std::map<std::string, Tally> policies, groups, controls, per_agent;
    std::map<std::string, std::string> policy_versions;
    std::map<std::string, Timestamp> last_scan;
    Capped failing(kSummaryListCap), waived(kSummaryListCap);
    struct ControlEvidence {
      Tally tally;  // results of systems at levels the control applies to
      Capped evidence{kSummaryEvidencePerControl};
      std::set<int64_t> waiver_ids;
    };
    std::map<std::string, ControlEvidence> assessed;

    for (const ComplianceRow* r : latest) {
      const AgentRecord* a = agent(r->agent_id);
      if (!a) continue;
      last_scan[r->agent_id] = std::max(last_scan[r->agent_id], r->time);
      if (r->level > a->level) continue;
      const WaiverRecord* w = waiver_for(*r, [&](const WaiverRecord& x) { return x.active(in_.now); });
      std::string state = w ? "waived" : r->result;
      total.add(state);
      policies[r->policy].add(state);
      per_agent[r->agent_id].add(state);
      if (!r->policy_version.empty()) policy_versions[r->policy] = r->policy_version;
      std::set<std::string> row_groups;  // a check counts once per group, however many of its controls
      for (const auto& id : controls_of(*r, ag_.framework)) {
        controls[id].add(state);
        if (std::string group = group_of(fw_, id); row_groups.insert(group).second) groups[group].add(state);
        const compliance::Control* c = fw_ ? fw_->find(id) : nullptr;
        if (c && c->applies_to(a->level)) {
          auto& e = assessed[id];
          e.tally.add(state);
          if (w) e.waiver_ids.insert(w->id);
          if (state != "not_applicable") {
            e.evidence.push({{"agent_id", r->agent_id}, {"host", r->host}, {"policy", r->policy},
                             {"check", r->check_id}, {"title", r->title}, {"result", r->result}, {"state", state},
                             {"evidence", r->evidence}, {"time", r->time.to_string()}});
          }
        }
      }
      if (state == "fail" || state == "error") {
        failing.push({{"agent_id", r->agent_id}, {"host", r->host}, {"policy", r->policy},
                      {"policy_version", r->policy_version}, {"check", r->check_id}, {"title", r->title},
                      {"level", r->level}, {"result", r->result}, {"evidence", r->evidence},
                      {"remediation", r->remediation}, {"time", r->time.to_string()}});
      }
      if (w) {
        waived.push({{"agent_id", r->agent_id}, {"host", r->host}, {"policy", r->policy}, {"check", r->check_id},
                     {"title", r->title}, {"level", r->level}, {"result", r->result}, {"evidence", r->evidence},
                     {"waiver", waiver_json(*w, in_.now)}});
      }
    }

    // Checks required of an agent that it has not reported.
    for (const auto& [id, a] : agents_) {
      auto rep = reported.find(id);
      if (rep == reported.end()) continue;  // never scanned: listed apart
      for (const auto& [key, level] : expected) {
        if (level > a->level || rep->second.count(key)) continue;
        total.add("not_checked");
        policies[key.first].add("not_checked");
        per_agent[id].add("not_checked");
      }
    }

    json out = {{"agency", ag_.name}, {"framework", ag_.framework}};
    out["framework_title"] = fw_ ? fw_->title : std::string();
    out["framework_known"] = fw_ != nullptr;
    total.put(out);

    // Agents: silent, never scanned, their own counts.
    json agent_list = json::array();
    uint64_t silent = 0, never = 0;
    std::vector<const AgentRecord*> ordered;
    for (const auto& [id, a] : agents_) ordered.push_back(a);
    std::sort(ordered.begin(), ordered.end(),
              [](const AgentRecord* x, const AgentRecord* y) { return std::tie(x->host, x->id) < std::tie(y->host, y->id); });
    const int64_t silent_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(in_.silent_after).count();
    for (const AgentRecord* a : ordered) {
      bool is_silent = in_.now.ns - a->last_seen.ns > silent_ns;
      bool never_scanned = !last_scan.count(a->id);
      silent += is_silent;
      never += never_scanned;
      json j = {{"id", a->id},           {"host", a->host},         {"level", a->level},
                {"version", a->version}, {"last_seen", a->last_seen.to_string()},
                {"silent", is_silent},   {"never_scanned", never_scanned}};
      j["last_scan"] = never_scanned ? json() : json(last_scan[a->id].to_string());
      per_agent[a->id].put(j);
      agent_list.push_back(std::move(j));
    }
    out["agents"] = ordered.size();
    out["agents_silent"] = silent;
    out["agents_never_scanned"] = never;
    out["agent_list"] = std::move(agent_list);

    json pol = json::array();
    for (const auto& [id, t] : policies) {
      json j = {{"policy", id}, {"version", policy_versions.count(id) ? policy_versions[id] : std::string()}};
      t.put(j);
      pol.push_back(std::move(j));
    }
    out["policies"] = std::move(pol);

    json grp = json::array();
    for (const auto& [id, t] : groups) {
      json j = {{"group", id}};
      t.put(j);
      grp.push_back(std::move(j));
    }
    out["groups"] = std::move(grp);

    json ctl = json::array();
    uint64_t controls_met = 0;
    for (const auto& [id, t] : controls) {
      const char* status = t.fail + t.error > 0 ? "fail" : t.waived > 0 ? "waived" : t.pass > 0 ? "pass" : "not_applicable";
      controls_met += std::string_view(status) == "pass";
      const compliance::Control* c = fw_ ? fw_->find(id) : nullptr;
      json j = {{"id", id}, {"title", c ? c->title : std::string()}, {"group", group_of(fw_, id)}, {"status", status}};
      t.put(j);
      // The count of failures the console and reports have always shown: fail and error together.
      j["fail"] = t.fail + t.error;
      ctl.push_back(std::move(j));
    }
    out["controls_met"] = controls_met;
    out["controls"] = std::move(ctl);
    out["failing"] = std::move(failing.items);
    out["failing_not_listed"] = failing.dropped;
    out["waived_results"] = std::move(waived.items);
    out["waived_results_not_listed"] = waived.dropped;

    json wl = json::array();
    for (const WaiverRecord* w : waivers_) wl.push_back(waiver_json(*w, in_.now));
    out["waivers"] = std::move(wl);

    out["self_assessment"] = self_assessment(assessed);
    out["alerts_open"] = alerts_by_severity(in_.alerts, ag_.name, true);
    if (in_.since) {
      out["alerts_since"] = alerts_by_severity(in_.alerts_since, ag_.name, false);
      out["trend"] = trend(latest, previous, total);
    }
    return out;
  }

 private:
  const AgentRecord* agent(const std::string& id) const {
    auto it = agents_.find(id);
    return it == agents_.end() ? nullptr : it->second;
  }

  template <typename Pred>
  const WaiverRecord* waiver_for(const ComplianceRow& r, Pred active) const {
    if (r.result != "fail" && r.result != "error") return nullptr;
    for (const WaiverRecord* w : waivers_) {
      if (active(*w) && w->covers(ag_.name, r.agent_id, r.policy, r.check_id)) return w;
    }
    return nullptr;
  }

  template <typename Assessed>
  json self_assessment(const std::map<std::string, Assessed>& assessed) const {
    json table = json::array();
    if (!fw_) return table;
    for (const auto& c : fw_->controls) {
      uint64_t systems = 0;
      for (const auto& [id, a] : agents_) systems += c.applies_to(a->level);
      json j = {{"id", c.id},         {"title", c.title},   {"group", c.group},
                {"levels", c.levels}, {"verified", c.verified}, {"source_note", c.source_note},
                {"systems", systems}};
      auto it = assessed.find(c.id);
      Tally t = it == assessed.end() ? Tally{} : it->second.tally;
      const char* verdict;
      if (systems == 0) {
        verdict = "not_required";
      } else if (t.pass + t.fail + t.error + t.waived == 0) {
        verdict = "not_assessed";
      } else if (t.fail + t.error + t.waived == 0) {
        verdict = "fully";
      } else if (t.pass == 0 && t.waived == 0) {
        verdict = "not";
      } else {
        verdict = "partly";
      }
      j["verdict"] = verdict;
      t.put(j);
      j["evidence"] = it == assessed.end() ? json::array() : it->second.evidence.items;
      j["evidence_not_listed"] = it == assessed.end() ? 0 : it->second.evidence.dropped;
      json ws = json::array();
      if (it != assessed.end()) {
        for (const WaiverRecord* w : waivers_) {
          if (it->second.waiver_ids.count(w->id)) ws.push_back(waiver_json(*w, in_.now));
        }
      }
      j["waivers"] = std::move(ws);
      table.push_back(std::move(j));
    }
    return table;
  }

  json trend(const std::vector<const ComplianceRow*>& latest, const std::vector<const ComplianceRow*>& previous,
             const Tally& now_tally) const {
    const Timestamp at = *in_.since;
    Tally before;
    std::map<std::tuple<std::string, std::string, std::string>, const ComplianceRow*> then;
    for (const ComplianceRow* r : previous) {
      const AgentRecord* a = agent(r->agent_id);
      if (!a || r->level > a->level) continue;
      then[{r->agent_id, r->policy, r->check_id}] = r;
      const WaiverRecord* w = waiver_for(*r, [&](const WaiverRecord& x) { return active_at(x, at); });
      before.add(w ? "waived" : r->result);
    }
    Capped changes(kSummaryListCap);
    for (const ComplianceRow* r : latest) {
      const AgentRecord* a = agent(r->agent_id);
      if (!a || r->level > a->level) continue;
      auto it = then.find({r->agent_id, r->policy, r->check_id});
      std::string from = it == then.end() ? "not_checked" : it->second->result;
      if (from == r->result) continue;
      changes.push({{"agent_id", r->agent_id}, {"host", r->host}, {"policy", r->policy}, {"check", r->check_id},
                    {"title", r->title}, {"from", from}, {"to", r->result}, {"time", r->time.to_string()}});
    }
    json j = {{"since", at.to_string()}, {"previous", before.to_json()}};
    auto s0 = before.score(), s1 = now_tally.score();
    j["score_change"] = s0 && s1 ? json(*s1 - *s0) : json();
    j["changes"] = std::move(changes.items);
    j["changes_not_listed"] = changes.dropped;
    return j;
  }

  const SummaryInput& in_;
  const AgencyRecord& ag_;
  const compliance::Framework* fw_ = nullptr;
  std::map<std::string, const AgentRecord*> agents_;
  std::vector<const WaiverRecord*> waivers_;
};

}  // namespace

json compliance_summary(const SummaryInput& in) {
  std::map<std::string, std::vector<const ComplianceRow*>> latest, previous;
  for (const auto& r : in.latest) latest[r.agency].push_back(&r);
  for (const auto& r : in.previous) previous[r.agency].push_back(&r);
  static const std::vector<const ComplianceRow*> kNone;
  auto rows = [](const auto& m, const std::string& k) -> const std::vector<const ComplianceRow*>& {
    auto it = m.find(k);
    return it == m.end() ? kNone : it->second;
  };

  json agencies = json::array();
  Tally all;
  uint64_t agents = 0, silent = 0, never = 0;
  json alerts_open = json::object();
  for (const auto& ag : in.agencies) {
    json a = AgencySummary(in, ag).build(rows(latest, ag.name), rows(previous, ag.name));
    Tally t;
    t.pass = a["pass"];
    t.fail = a["fail"];
    t.error = a["error"];
    t.not_applicable = a["not_applicable"];
    t.waived = a["waived"];
    t.not_checked = a["not_checked"];
    all += t;
    agents += a["agents"].get<uint64_t>();
    silent += a["agents_silent"].get<uint64_t>();
    never += a["agents_never_scanned"].get<uint64_t>();
    add_alerts(alerts_open, a["alerts_open"]);
    agencies.push_back(std::move(a));
  }
  json total = {{"agencies", in.agencies.size()}, {"agents", agents}, {"agents_silent", silent},
                {"agents_never_scanned", never}};
  all.put(total);
  total["alerts_open"] = alerts_open;
  json out = {{"generated", in.now.to_string()}, {"agencies", std::move(agencies)}, {"all", std::move(total)}};
  if (in.since) out["since"] = in.since->to_string();
  return out;
}

}  // namespace vigil::collector
