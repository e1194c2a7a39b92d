#include "collector/report/compliance_summary.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/config/yaml_reader.h"
#include "common/i18n/json_text.h"

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

// One part of an agency: an information system, its hosts held to its level, or the agents serving
// no system, each held to its own level.
struct Section {
  const SystemRecord* system = nullptr;  // null: the unassigned agents
  std::vector<const AgentRecord*> hosts{};
  int level_for(const AgentRecord& a) const { return system ? system->level : a.level; }
};

struct ControlEvidence {
  Tally tally{};  // results of systems at levels the control applies to
  Capped evidence{kSummaryEvidencePerControl};
  std::set<int64_t> waiver_ids{};
};

// What is counted for a section, or for the whole agency.
struct Counts {
  Tally total{};
  std::map<std::string, Tally> policies{}, groups{}, controls{};
  std::map<std::string, ControlEvidence> assessed{};
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
    for (const auto& s : in.systems) {
      if (s.agency == ag_.name) sections_.push_back(Section{&s, {}});
    }
    std::sort(sections_.begin(), sections_.end(),
              [](const Section& x, const Section& y) { return x.system->name < y.system->name; });
    sections_.push_back(Section{nullptr, {}});  // the unassigned agents, last
    const size_t unassigned = sections_.size() - 1;
    for (const AgentRecord* a : ordered_agents()) {
      auto& mine = sections_of_[a->id];
      for (size_t i = 0; i < unassigned; ++i) {
        if (std::find(a->systems.begin(), a->systems.end(), sections_[i].system->name) != a->systems.end()) {
          mine.push_back(i);
        }
      }
      if (mine.empty()) mine.push_back(unassigned);  // serves no system of the agency: its own level
      for (size_t i : mine) sections_[i].hosts.push_back(a);
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
      if (r->level > top_level(*a)) continue;
      auto [it, inserted] = expected.emplace(std::make_pair(r->policy, r->check_id), r->level);
      if (!inserted) it->second = std::min(it->second, r->level);
    }

    Counts agency;
    std::vector<Counts> parts(sections_.size());
    std::map<std::string, Tally> per_agent;
    std::map<std::string, std::string> policy_versions;
    std::map<std::string, Timestamp> last_scan;
    Capped failing(kSummaryListCap), waived(kSummaryListCap);

    for (const ComplianceRow* r : latest) {
      const AgentRecord* a = agent(r->agent_id);
      if (!a) continue;
      last_scan[r->agent_id] = std::max(last_scan[r->agent_id], r->time);
      if (r->level > top_level(*a)) continue;
      const WaiverRecord* w = waiver_for(*r, [&](const WaiverRecord& x) { return x.active(in_.now); });
      const std::string state = w ? "waived" : r->result;
      const std::vector<std::string> ids = controls_of(*r, ag_.framework);
      std::set<std::string> evidenced;  // the agency lists a result's evidence once per control
      for (size_t i : sections_of_[a->id]) {
        const int level = sections_[i].level_for(*a);
        if (r->level > level) continue;
        count(agency, *r, ids, state, w, level, evidenced);
        std::set<std::string> own;
        count(parts[i], *r, ids, state, w, level, own);
      }
      per_agent[r->agent_id].add(state);
      if (!r->policy_version.empty()) policy_versions[r->policy] = r->policy_version;
      if (state == "fail" || state == "error") {
        json f = {{"agent_id", r->agent_id}, {"host", r->host},         {"policy", r->policy},
                  {"policy_version", r->policy_version}, {"check", r->check_id}, {"level", r->level},
                  {"result", r->result},     {"evidence", r->evidence}, {"time", r->time.to_string()}};
        i18n::put_text(f, "title", r->title, r->title_vi);
        i18n::put_text(f, "remediation", r->remediation, r->remediation_vi);
        failing.push(std::move(f));
      }
      if (w) {
        json wj = {{"agent_id", r->agent_id}, {"host", r->host},         {"policy", r->policy},
                   {"check", r->check_id},    {"level", r->level},       {"result", r->result},
                   {"evidence", r->evidence}, {"waiver", waiver_json(*w, in_.now)}};
        i18n::put_text(wj, "title", r->title, r->title_vi);
        waived.push(std::move(wj));
      }
    }

    // Checks required of a host, at the level of each section it is counted in, that it has not
    // reported.
    for (size_t i = 0; i < sections_.size(); ++i) {
      for (const AgentRecord* a : sections_[i].hosts) {
        auto rep = reported.find(a->id);
        if (rep == reported.end()) continue;  // never scanned: listed apart
        for (const auto& [key, level] : expected) {
          if (level > sections_[i].level_for(*a) || rep->second.count(key)) continue;
          agency.total.add("not_checked");
          agency.policies[key.first].add("not_checked");
          parts[i].total.add("not_checked");
          parts[i].policies[key.first].add("not_checked");
          if (missing_[a->id].insert(key).second) per_agent[a->id].add("not_checked");
        }
      }
    }

    json out = {{"agency", ag_.name}, {"framework", ag_.framework}};
    if (fw_) {
      i18n::put_text(out, "framework_title", fw_->title);
    } else {
      out["framework_title"] = "";
    }
    out["framework_known"] = fw_ != nullptr;
    agency.total.put(out);

    // Agents: silent, never scanned, their own counts.
    json agent_list = json::array();
    uint64_t silent = 0, never = 0;
    const int64_t silent_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(in_.silent_after).count();
    for (const AgentRecord* a : ordered_agents()) {
      bool is_silent = in_.now.ns - a->last_seen.ns > silent_ns;
      bool never_scanned = !last_scan.count(a->id);
      silent += is_silent;
      never += never_scanned;
      json j = {{"id", a->id},           {"host", a->host},         {"level", a->level},
                {"version", a->version}, {"last_seen", a->last_seen.to_string()},
                {"silent", is_silent},   {"never_scanned", never_scanned}};
      j["last_scan"] = never_scanned ? json() : json(last_scan[a->id].to_string());
      json systems = json::array();
      for (size_t i : sections_of_[a->id]) {
        if (sections_[i].system) systems.push_back(sections_[i].system->name);
      }
      j["systems"] = std::move(systems);
      j["level_held"] = top_level(*a);
      per_agent[a->id].put(j);
      agent_list.push_back(std::move(j));
    }
    out["agents"] = agents_.size();
    out["agents_silent"] = silent;
    out["agents_never_scanned"] = never;
    out["agent_list"] = std::move(agent_list);

    json pol = json::array();
    for (const auto& [id, t] : agency.policies) {
      json j = {{"policy", id}, {"version", policy_versions.count(id) ? policy_versions[id] : std::string()}};
      t.put(j);
      pol.push_back(std::move(j));
    }
    out["policies"] = std::move(pol);

    json grp = json::array();
    for (const auto& [id, t] : agency.groups) {
      json j = {{"group", id}};
      t.put(j);
      grp.push_back(std::move(j));
    }
    out["groups"] = std::move(grp);

    auto requiring_any = [&](const compliance::Control& c) {
      uint64_t n = 0;
      for (const auto& s : sections_) n += requiring(s, c);
      return n;
    };
    uint64_t controls_met = 0;
    out["controls"] = controls_json(agency, requiring_any, controls_met);
    out["controls_met"] = controls_met;
    out["failing"] = std::move(failing.items);
    out["failing_not_listed"] = failing.dropped;
    out["waived_results"] = std::move(waived.items);
    out["waived_results_not_listed"] = waived.dropped;

    json wl = json::array();
    for (const WaiverRecord* w : waivers_) wl.push_back(waiver_json(*w, in_.now));
    out["waivers"] = std::move(wl);

    out["self_assessment"] = self_assessment(agency, requiring_any);

    // Agency → system (level) → host.
    json systems = json::array();
    for (size_t i = 0; i < sections_.size(); ++i) {
      json j = section_json(sections_[i], parts[i]);
      if (sections_[i].system) {
        systems.push_back(std::move(j));
      } else {
        out["unassigned"] = std::move(j);
      }
    }
    out["systems"] = std::move(systems);

    out["alerts_open"] = alerts_by_severity(in_.alerts, ag_.name, true);
    if (in_.since) {
      out["alerts_since"] = alerts_by_severity(in_.alerts_since, ag_.name, false);
      out["trend"] = trend(latest, previous, agency.total);
    }
    return out;
  }

 private:
  const AgentRecord* agent(const std::string& id) const {
    auto it = agents_.find(id);
    return it == agents_.end() ? nullptr : it->second;
  }

  std::vector<const AgentRecord*> ordered_agents() const {
    std::vector<const AgentRecord*> out;
    for (const auto& [id, a] : agents_) out.push_back(a);
    std::sort(out.begin(), out.end(),
              [](const AgentRecord* x, const AgentRecord* y) { return std::tie(x->host, x->id) < std::tie(y->host, y->id); });
    return out;
  }

  // The highest level the agent is held to: of the systems it serves, or its own.
  int top_level(const AgentRecord& a) const {
    int level = 0;
    auto it = sections_of_.find(a.id);
    if (it == sections_of_.end()) return a.level;
    for (size_t i : it->second) level = std::max(level, sections_[i].level_for(a));
    return level;
  }

  // How many systems of the section must meet `c`: a system, once when its level requires it;
  // the unassigned agents, each whose own level requires it.
  static uint64_t requiring(const Section& s, const compliance::Control& c) {
    if (s.system) return c.applies_to(s.system->level) ? 1 : 0;
    uint64_t n = 0;
    for (const AgentRecord* a : s.hosts) n += c.applies_to(a->level);
    return n;
  }

  // A log retention control is evidenced by the collector itself, once per system it is required
  // of: the events it keeps against what the control asks. nullopt when it is not such a control
  // or the collector's retention is not known.
  std::optional<json> retention_evidence(const compliance::Control& c) const {
    if (!c.retention || in_.event_retention.count() <= 0) return std::nullopt;
    const bool kept = in_.event_retention >= *c.retention;
    const std::string result = kept ? "pass" : "fail";
    return json{{"agent_id", ""},
                {"host", "collector"},
                {"policy", ""},
                {"check", "retention.events"},
                {"title", "events kept by the collector"},
                {"result", result},
                {"state", result},
                {"source", "collector"},
                {"event_retention", config::format_duration(in_.event_retention)},
                {"required_retention", config::format_duration(*c.retention)},
                // Durations only, in no language: the report and the console word them.
                {"observed", config::format_duration(in_.event_retention)},
                {"expected", "≥ " + config::format_duration(*c.retention)},
                {"time", in_.now.to_string()}};
  }

  void count(Counts& into, const ComplianceRow& r, const std::vector<std::string>& ids, const std::string& state,
             const WaiverRecord* w, int level, std::set<std::string>& evidenced) const {
    into.total.add(state);
    into.policies[r.policy].add(state);
    std::set<std::string> row_groups;  // a check counts once per group, however many of its controls
    for (const auto& id : ids) {
      into.controls[id].add(state);
      if (std::string group = group_of(fw_, id); row_groups.insert(group).second) into.groups[group].add(state);
      const compliance::Control* c = fw_ ? fw_->find(id) : nullptr;
      if (!c || !c->applies_to(level)) continue;
      auto& e = into.assessed[id];
      e.tally.add(state);
      if (w) e.waiver_ids.insert(w->id);
      if (state != "not_applicable" && evidenced.insert(id).second) {
        json ev = {{"agent_id", r.agent_id}, {"host", r.host},     {"policy", r.policy},
                   {"check", r.check_id},   {"result", r.result}, {"state", state},
                   {"evidence", r.evidence}, {"time", r.time.to_string()}};
        i18n::put_text(ev, "title", r.title, r.title_vi);
        e.evidence.push(std::move(ev));
      }
    }
  }

  template <typename Requiring>
  json controls_json(const Counts& counts, Requiring requiring_of, uint64_t& met) const {
    std::map<std::string, Tally> controls = counts.controls;
    std::map<std::string, json> by_collector;
    if (fw_) {
      for (const auto& c : fw_->controls) {
        auto ev = retention_evidence(c);
        const uint64_t n = ev ? requiring_of(c) : 0;
        if (n == 0) continue;
        for (uint64_t k = 0; k < n; ++k) controls[c.id].add((*ev)["result"].get<std::string>());
        by_collector[c.id] = std::move(*ev);
      }
    }
    json ctl = json::array();
    for (const auto& [id, t] : controls) {
      const char* status = t.fail + t.error > 0 ? "fail" : t.waived > 0 ? "waived" : t.pass > 0 ? "pass" : "not_applicable";
      met += std::string_view(status) == "pass";
      const compliance::Control* c = fw_ ? fw_->find(id) : nullptr;
      json j = {{"id", id}, {"group", group_of(fw_, id)}, {"status", status}};
      i18n::put_text(j, "title", c ? c->title : i18n::Text{});
      t.put(j);
      // The count of failures the console and reports have always shown: fail and error together.
      j["fail"] = t.fail + t.error;
      if (auto it = by_collector.find(id); it != by_collector.end()) {
        j["source"] = "collector";
        j["observed"] = it->second["observed"];
        j["expected"] = it->second["expected"];
      }
      ctl.push_back(std::move(j));
    }
    return ctl;
  }

  template <typename Pred>
  const WaiverRecord* waiver_for(const ComplianceRow& r, Pred active) const {
    if (r.result != "fail" && r.result != "error") return nullptr;
    for (const WaiverRecord* w : waivers_) {
      if (active(*w) && w->covers(ag_.name, r.agent_id, r.policy, r.check_id)) return w;
    }
    return nullptr;
  }

  template <typename Requiring>
  json self_assessment(const Counts& counts, Requiring requiring_of) const {
    json table = json::array();
    if (!fw_) return table;
    for (const auto& c : fw_->controls) {
      const uint64_t systems = requiring_of(c);
      json j = {{"id", c.id},           {"group", c.group},             {"levels", c.levels},
                {"verified", c.verified}, {"source_note", c.source_note}, {"systems", systems}};
      i18n::put_text(j, "title", c.title);
      auto it = counts.assessed.find(c.id);
      Tally t = it == counts.assessed.end() ? Tally{} : it->second.tally;
      json evidence = it == counts.assessed.end() ? json::array() : it->second.evidence.items;
      if (auto ev = systems ? retention_evidence(c) : std::nullopt) {
        // Evidenced by the collector: never left for a manual verdict.
        for (uint64_t k = 0; k < systems; ++k) t.add((*ev)["result"].get<std::string>());
        j["source"] = "collector";
        j["observed"] = (*ev)["observed"];
        j["expected"] = (*ev)["expected"];
        evidence.insert(evidence.begin(), std::move(*ev));
      }
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
      j["evidence"] = std::move(evidence);
      j["evidence_not_listed"] = it == counts.assessed.end() ? 0 : it->second.evidence.dropped;
      json ws = json::array();
      if (it != counts.assessed.end()) {
        for (const WaiverRecord* w : waivers_) {
          if (it->second.waiver_ids.count(w->id)) ws.push_back(waiver_json(*w, in_.now));
        }
      }
      j["waivers"] = std::move(ws);
      table.push_back(std::move(j));
    }
    return table;
  }

  // A system (name, level, description) or the unassigned agents: hosts, counts, score, controls
  // and the self-assessment at its level.
  json section_json(const Section& s, const Counts& counts) const {
    json j = json::object();
    if (s.system) {
      j["name"] = s.system->name;
      j["level"] = s.system->level;
      j["description"] = s.system->description;
    } else {
      j["name"] = json();
      j["level"] = json();
    }
    json hosts = json::array();
    for (const AgentRecord* a : s.hosts) hosts.push_back({{"id", a->id}, {"host", a->host}, {"level", s.level_for(*a)}});
    j["agents"] = hosts.size();
    j["hosts"] = std::move(hosts);
    counts.total.put(j);
    json c = counts.total.to_json();
    c.erase("score");
    j["counts"] = std::move(c);
    auto requiring_of = [&](const compliance::Control& ctl) { return requiring(s, ctl); };
    uint64_t met = 0;
    j["controls"] = controls_json(counts, requiring_of, met);
    j["controls_met"] = met;
    j["self_assessment"] = self_assessment(counts, requiring_of);
    return j;
  }

  json trend(const std::vector<const ComplianceRow*>& latest, const std::vector<const ComplianceRow*>& previous,
             const Tally& now_tally) const {
    const Timestamp at = *in_.since;
    Tally before;
    std::map<std::tuple<std::string, std::string, std::string>, const ComplianceRow*> then;
    for (const ComplianceRow* r : previous) {
      const AgentRecord* a = agent(r->agent_id);
      if (!a || r->level > top_level(*a)) continue;
      then[{r->agent_id, r->policy, r->check_id}] = r;
      const WaiverRecord* w = waiver_for(*r, [&](const WaiverRecord& x) { return active_at(x, at); });
      for (size_t i : sections_of_.at(a->id)) {
        if (r->level <= sections_[i].level_for(*a)) before.add(w ? "waived" : r->result);
      }
    }
    Capped changes(kSummaryListCap);
    for (const ComplianceRow* r : latest) {
      const AgentRecord* a = agent(r->agent_id);
      if (!a || r->level > top_level(*a)) continue;
      auto it = then.find({r->agent_id, r->policy, r->check_id});
      std::string from = it == then.end() ? "not_checked" : it->second->result;
      if (from == r->result) continue;
      json c = {{"agent_id", r->agent_id}, {"host", r->host}, {"policy", r->policy}, {"check", r->check_id},
                {"from", from},             {"to", r->result}, {"time", r->time.to_string()}};
      i18n::put_text(c, "title", r->title, r->title_vi);
      changes.push(std::move(c));
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
  std::vector<Section> sections_;                           // its systems by name, then the unassigned agents
  std::map<std::string, std::vector<size_t>> sections_of_;  // agent id → the sections it is counted in
  std::map<std::string, std::set<std::pair<std::string, std::string>>> missing_;  // not_checked, per agent
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
  uint64_t systems = 0;
  for (const auto& s : in.systems) {
    for (const auto& ag : in.agencies) systems += s.agency == ag.name;
  }
  json total = {{"agencies", in.agencies.size()}, {"systems", systems}, {"agents", agents}, {"agents_silent", silent},
                {"agents_never_scanned", never}};
  all.put(total);
  total["alerts_open"] = alerts_open;
  json out = {{"generated", in.now.to_string()}, {"agencies", std::move(agencies)}, {"all", std::move(total)}};
  if (in.since) out["since"] = in.since->to_string();
  return out;
}

}  // namespace vigil::collector
