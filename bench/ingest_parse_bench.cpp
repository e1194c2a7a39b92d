// Reading agents' batches (the project's issue 23): the collector's parse_batch (simdjson
// On-Demand, one pass, the event stored as received) beside the path it replaced (a depth check,
// an nlohmann DOM per line, the columns taken from it, agent.* imposed on it and the DOM dumped
// again), rebuilt here and nowhere else.
//
//   vigil_ingest_parse_bench [--batches N] [--batch-records R] [--runs K]
//
// The input is N batches (default 200) of R records (default 1,000) of the mix agents send:
// sshd and nginx access events with their raw line, network flows, DNS, HTTP, alerts carrying
// evidence events, compliance results with their controls, and agent health. Each path reads the
// same bodies K times (default 5); the best run is printed as records/s and MB/s, with the ratio.
// Both paths must agree on every record's columns and on the event (as JSON, agent.* aside).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/ingest/agent_identity.h"
#include "collector/ingest/batch_parser.h"
#include "common/ingest/bounded_json.h"
#include "common/ingest/record_rules.h"

namespace {

using namespace vigil;
using namespace vigil::collector;

// ---- the records ----

class Mix {
 public:
  std::string event(uint64_t seq) {
    const int roll = static_cast<int>(rng_() % 100);
    std::string ev = roll < 30   ? sshd(seq)
                     : roll < 50 ? nginx(seq)
                     : roll < 72 ? flow(seq)
                     : roll < 84 ? dns(seq)
                     : roll < 88 ? http(seq)
                     : roll < 93 ? alert(seq)
                     : roll < 99 ? compliance(seq)
                                 : health(seq);
    return fmt::format(R"({{"epoch":"01J8ZB5Q2M7Y3W9K4T6R8N1P0C","seq":{},"event":{}}})", seq, ev);
  }

 private:
  std::string ip() { return fmt::format("{}.{}.{}.{}", 10 + rng_() % 200, rng_() % 256, rng_() % 256, 1 + rng_() % 254); }
  std::string id(uint64_t seq) { return fmt::format("01M95921{:018X}", seq * 2654435761u); }
  std::string ts(uint64_t seq) { return fmt::format("2026-12-10T07:{:02}:{:02}.{:06}Z", seq / 60 % 60, seq % 60, seq % 999983); }

  std::string sshd(uint64_t seq) {
    const std::string src = ip();
    const auto port = 30000 + rng_() % 30000;
    const char* user = rng_() % 2 ? "root" : "admin";
    std::string msg = fmt::format("Failed password for {} from {} port {} ssh2", user, src, port);
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"event":{{"action":"ssh_login","dataset":"sshd","id":"{}","kind":"event",)"
        R"("original":"Dec 10 07:27:50 LabSZ sshd[24235]: {}","outcome":"failure"}},"host":{{"name":"LabSZ"}},)"
        R"("log":{{"file":{{"path":"/var/log/auth.log"}}}},"message":"{}","process":{{"name":"sshd","pid":24235}},)"
        R"("source":{{"ip":"{}","port":{}}},"user":{{"name":"{}"}}}})",
        ts(seq), id(seq), msg, msg, src, port, user);
  }

  std::string nginx(uint64_t seq) {
    const std::string src = ip();
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"event":{{"dataset":"nginx.access","id":"{}","kind":"event",)"
        R"("original":"{} - - [10/Dec/2026:07:27:50 +0700] \"GET /cong-van/{}?q=tra+c\u1ee9u HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\""}},)"
        R"("host":{{"name":"web01"}},"http":{{"request":{{"method":"GET"}},"response":{{"body":{{"bytes":5120}},"status_code":200}},"version":"1.1"}},)"
        R"("log":{{"file":{{"path":"/var/log/nginx/access.log"}}}},"source":{{"ip":"{}"}},)"
        R"("url":{{"original":"/cong-van/{}?q=tra+c\u1ee9u","path":"/cong-van/{}","query":"q=tra+c\u1ee9u"}},)"
        R"j("user_agent":{{"original":"Mozilla/5.0 (X11; Linux x86_64)"}}}})j",
        ts(seq), id(seq), src, seq, src, seq, seq);
  }

  std::string flow_event(uint64_t seq) {
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"destination":{{"bytes":{},"ip":"{}","packets":{},"port":{}}},)"
        R"("event":{{"dataset":"network.flow","end":"{}","id":"{}","kind":"event","start":"{}"}},"host":{{"name":"gw01"}},)"
        R"("network":{{"bytes":{},"community_id":"1:yvyB8h+3dnggTZW0UEITWCst97w=","packets":{},"transport":"tcp"}},)"
        R"("source":{{"bytes":{},"ip":"{}","packets":{},"port":{}}},"vigil":{{"flow":{{"end_reason":"fin","tcp_flags":"SYN,ACK,FIN,PSH"}}}}}})",
        ts(seq), rng_() % 100000, ip(), rng_() % 100, rng_() % 1024, ts(seq + 1), id(seq), ts(seq), rng_() % 200000,
        rng_() % 200, rng_() % 100000, ip(), rng_() % 100, 1024 + rng_() % 60000);
  }
  std::string flow(uint64_t seq) { return flow_event(seq); }

  std::string dns(uint64_t seq) {
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"destination":{{"ip":"{}","port":53}},)"
        R"("dns":{{"id":{},"question":{{"name":"mail{}.example.gov.vn","registered_domain":"example.gov.vn","subdomain":"mail{}","type":"A"}},"type":"query"}},)"
        R"("event":{{"dataset":"network.dns","id":"{}","kind":"event"}},"host":{{"name":"gw01"}},)"
        R"("network":{{"community_id":"1:OBOqRVFrvo3F8pH3uiQTx4SF+sA=","protocol":"dns","transport":"udp"}},)"
        R"("source":{{"ip":"{}","port":{}}},"vigil":{{"dns":{{"question":{{"entropy":2.75,"length":22,"longest_label":7}}}}}}}})",
        ts(seq), ip(), rng_() % 65536, seq % 50, seq % 50, id(seq), ip(), 1024 + rng_() % 60000);
  }

  std::string http(uint64_t seq) {
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"destination":{{"ip":"{}","port":80}},)"
        R"("event":{{"dataset":"network.http","id":"{}","kind":"event"}},"host":{{"name":"gw01"}},)"
        R"("http":{{"request":{{"method":"GET"}},"response":{{"body":{{"bytes":4705}},"status_code":200}},"version":"1.1"}},)"
        R"("network":{{"community_id":"1:yvyB8h+3dnggTZW0UEITWCst97w=","protocol":"http","transport":"tcp"}},)"
        R"("source":{{"ip":"{}","port":{}}},"url":{{"domain":"portal.example.gov.vn","original":"/download/{}.pdf","path":"/download/{}.pdf"}},)"
        R"("user_agent":{{"original":"Wget/1.21"}}}})",
        ts(seq), ip(), id(seq), ip(), 1024 + rng_() % 60000, seq, seq);
  }

  std::string alert(uint64_t seq) {
    const std::string src = ip();
    std::string evidence;
    const size_t n = 3 + rng_() % 8;
    std::string ids;
    for (size_t i = 0; i < n; ++i) {
      if (i) {
        evidence += ',';
        ids += ',';
      }
      evidence += sshd(seq * 16 + i);
      ids += fmt::format("\"{}\"", id(seq * 16 + i));
    }
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"event":{{"dataset":"sshd","id":"{}","kind":"alert","severity":4}},)"
        R"("host":{{"name":"LabSZ"}},"rule":{{"id":"VGL-LOG-0001","name":"SSH password guessing against this host"}},)"
        R"("source":{{"ip":"{}","port":52660}},"tags":["attack.credential_access","attack.t1110"],)"
        R"("threat":{{"technique":{{"id":["T1110","T1110.001"]}}}},"user":{{"name":"root"}},)"
        R"("vigil":{{"alert":{{"count":{}}},"evidence":{{"events":[{}],"ids":[{}]}},"severity":"high"}}}})",
        ts(seq), id(seq), src, n, evidence, ids);
  }

  std::string compliance(uint64_t seq) {
    const char* result = rng_() % 3 ? "pass" : "fail";
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"event":{{"dataset":"compliance.check","id":"{}","kind":"state"}},)"
        R"("host":{{"name":"web01"}},"rule":{{"id":"VGL-CIS-{:04}","name":"M\u1eadt kh\u1ea9u SSH: PermitRootLogin no"}},)"
        R"("vigil":{{"check":{{"evidence":"/etc/ssh/sshd_config: PermitRootLogin yes","level":3,"remediation":"\u0110\u1eb7t PermitRootLogin no","result":"{}"}},)"
        R"("compliance":{{"tcvn11930":["7.2.1","7.2.3"],"decree85":["9.1"]}},"policy":{{"id":"vn-baseline","version":"2026.1"}}}}}})",
        ts(seq), id(seq), seq % 400, result);
  }

  std::string health(uint64_t seq) {
    std::string counters;
    for (int i = 0; i < 40; ++i) counters += fmt::format(R"({}"counter_{}":{})", i ? "," : "", i, rng_() % 100000);
    return fmt::format(
        R"({{"@timestamp":"{}","agent":{{"id":"agt-0042"}},"event":{{"dataset":"agent.health","id":"{}","kind":"metric"}},)"
        R"("host":{{"name":"web01"}},"vigil":{{"health":{{"decode":{{{}}},"spool_bytes":{}}}}}}})",
        ts(seq), id(seq), counters, rng_() % 100000000);
  }

  std::mt19937_64 rng_{23};
};

// ---- the path parse_batch replaced ----

const nlohmann::json* member(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string_view string_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const auto* v = member(j, path);
  return v && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

int64_t integer_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const auto* v = member(j, path);
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;
}

// The good lines only (the bench's input has no bad ones): what the old parse_batch did per line.
std::vector<IncomingRecord> dom_parse(std::string_view body, const std::string& agent_id, const std::string& host) {
  std::vector<IncomingRecord> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    auto parsed = ingest::parse_bounded_json(line);
    if (!parsed || !parsed->is_object()) continue;
    auto& j = *parsed;
    auto s = j.find("seq");
    auto evi = j.find("event");
    if (s == j.end() || !s->is_number_unsigned() || evi == j.end() || !evi->is_object()) continue;
    auto& ev = *evi;
    IncomingRecord rec;
    rec.seq = s->get<uint64_t>();
    std::string_view kind_text = string_at(ev, {"event", "kind"});
    rec.kind = kind_text.empty() ? "event" : std::string(kind_text);
    rec.dataset = string_at(ev, {"event", "dataset"});
    ingest::RecordFacts facts{rec.kind, rec.dataset, string_at(ev, {"rule", "id"}),
                              string_at(ev, {"vigil", "policy", "id"}), string_at(ev, {"vigil", "check", "result"})};
    if (ingest::refuse_reason(facts)) continue;
    if (auto ts = ev.find("@timestamp"); ts != ev.end() && ts->is_string()) {
      if (auto t = Timestamp::parse(ts->get_ref<const std::string&>())) rec.time = *t;
    }
    if (rec.kind == "alert") {
      rec.rule_id = facts.rule_id;
      rec.rule_name = string_at(ev, {"rule", "name"});
      if (const auto* sev = member(ev, {"event", "severity"}); sev && sev->is_number_integer()) {
        rec.severity = std::clamp(sev->get<int>(), 1, 5);
      }
    }
    if (rec.dataset == "compliance.check") {
      IncomingRecord::Check c;
      c.check_id = string_at(ev, {"rule", "id"});
      c.title = string_at(ev, {"rule", "name"});
      c.policy = string_at(ev, {"vigil", "policy", "id"});
      c.result = string_at(ev, {"vigil", "check", "result"});
      c.evidence = string_at(ev, {"vigil", "check", "evidence"});
      c.remediation = string_at(ev, {"vigil", "check", "remediation"});
      c.policy_version = string_at(ev, {"vigil", "policy", "version"});
      if (const auto* l = member(ev, {"vigil", "check", "level"}); l && l->is_number_integer()) {
        c.level = std::clamp(l->get<int>(), 1, 5);
      }
      const auto* controls = member(ev, {"vigil", "compliance"});
      c.controls = controls && controls->is_object() ? controls->dump() : "{}";
      rec.check = std::move(c);
    }
    impose_agent_identity(ev, agent_id, host);
    SearchFields& f = rec.search;
    f.entity.source_ip = string_at(ev, {"source", "ip"});
    f.entity.source_port = integer_at(ev, {"source", "port"});
    f.entity.destination_ip = string_at(ev, {"destination", "ip"});
    f.entity.destination_port = integer_at(ev, {"destination", "port"});
    f.entity.user_name = string_at(ev, {"user", "name"});
    f.host_name = string_at(ev, {"host", "name"});
    f.event_action = string_at(ev, {"event", "action"});
    f.event_outcome = string_at(ev, {"event", "outcome"});
    f.rule_id = string_at(ev, {"rule", "id"});
    f.severity = integer_at(ev, {"event", "severity"});
    f.text = string_at(ev, {"event", "original"});
    if (f.text.empty()) f.text = string_at(ev, {"message"});
    rec.json = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.push_back(std::move(rec));
  }
  return out;
}

// ---- comparing and timing ----

bool same(const IncomingRecord& a, const IncomingRecord& b) {
  const auto& x = a.search;
  const auto& y = b.search;
  bool ok = a.seq == b.seq && a.kind == b.kind && a.dataset == b.dataset && a.time.ns == b.time.ns &&
            a.rule_id == b.rule_id && a.rule_name == b.rule_name && a.severity == b.severity &&
            x.entity.source_ip == y.entity.source_ip && x.entity.source_port == y.entity.source_port &&
            x.entity.destination_ip == y.entity.destination_ip &&
            x.entity.destination_port == y.entity.destination_port && x.entity.user_name == y.entity.user_name &&
            x.host_name == y.host_name && x.event_action == y.event_action && x.event_outcome == y.event_outcome &&
            x.rule_id == y.rule_id && x.severity == y.severity && x.text == y.text &&
            a.check.has_value() == b.check.has_value();
  if (ok && a.check) {
    const auto& c = *a.check;
    const auto& d = *b.check;
    ok = c.policy == d.policy && c.check_id == d.check_id && c.title == d.title && c.level == d.level &&
         c.result == d.result && c.evidence == d.evidence && c.remediation == d.remediation &&
         c.policy_version == d.policy_version &&
         nlohmann::json::parse(c.controls) == nlohmann::json::parse(d.controls);
  }
  return ok && nlohmann::json::parse(a.json) == nlohmann::json::parse(b.json);
}

template <typename Fn>
double best_seconds(int runs, Fn&& fn) {
  double best = 1e300;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

size_t option(int argc, char** argv, const char* name, size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string_view(argv[i]) == name) return std::strtoull(argv[i + 1], nullptr, 10);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t batches = option(argc, argv, "--batches", 200);
  const size_t per_batch = option(argc, argv, "--batch-records", 1000);
  const int runs = static_cast<int>(option(argc, argv, "--runs", 5));
  const std::string agent_id = "agt-0042";
  const std::string host = "web01";

  Mix mix;
  std::vector<std::string> bodies(batches);
  size_t bytes = 0;
  uint64_t seq = 0;
  for (auto& body : bodies) {
    for (size_t i = 0; i < per_batch; ++i) {
      body += mix.event(++seq);
      body += '\n';
    }
    bytes += body.size();
  }
  const double records = static_cast<double>(seq);
  std::printf("input: %zu batches of %zu records, %.1f MB (%.0f bytes per record)\n", batches, per_batch,
              static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) / records);

  // Both paths agree on the first batches before anything is timed.
  for (size_t b = 0; b < std::min<size_t>(batches, 5); ++b) {
    auto old_records = dom_parse(bodies[b], agent_id, host);
    auto parsed = parse_batch(bodies[b], per_batch, agent_id, host);
    if (parsed.refused || !parsed.quarantined.empty() || parsed.records.size() != old_records.size()) {
      std::fprintf(stderr, "batch %zu: %zu records new, %zu old, %zu quarantined\n", b, parsed.records.size(),
                   old_records.size(), parsed.quarantined.size());
      return 1;
    }
    for (size_t i = 0; i < old_records.size(); ++i) {
      if (!same(old_records[i], parsed.records[i])) {
        std::fprintf(stderr, "batch %zu record %zu differs:\n%s\n%s\n", b, i, old_records[i].json.c_str(),
                     parsed.records[i].json.c_str());
        return 1;
      }
    }
  }

  size_t kept = 0;
  const double old_s = best_seconds(runs, [&] {
    for (const auto& body : bodies) kept += dom_parse(body, agent_id, host).size();
  });
  const double new_s = best_seconds(runs, [&] {
    for (const auto& body : bodies) kept += parse_batch(body, per_batch, agent_id, host).records.size();
  });
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("%-34s %14s %10s\n", "path", "records/s", "MB/s");
  std::printf("%-34s %14.0f %10.1f\n", "nlohmann DOM + dump (before)", records / old_s, mb / old_s);
  std::printf("%-34s %14.0f %10.1f\n", "simdjson On-Demand, as received", records / new_s, mb / new_s);
  std::printf("ratio new/old: %.1fx  (%zu records kept over all runs)\n", old_s / new_s, kept);
  return 0;
}
