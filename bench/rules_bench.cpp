// Events per second through the rule engine: the shipped rules (rules/detection, native and
// Sigma) and generated rule sets of 10, 100 and 1,000 rules, on one mix of events of the kinds the
// agent makes (flows, access-log requests, sshd, DNS, syslog), built in memory.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <fmt/format.h>

#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "common/config/yaml_reader.h"

namespace {

using namespace vigil;
using vigil::agent::rules::Engine;
using vigil::agent::rules::load_rules;

IpAddress ip(uint32_t v) { return *IpAddress::parse(fmt::format("{}.{}.{}.{}", 10 + (v >> 24) % 200, (v >> 16) & 255, (v >> 8) & 255, v & 255)); }

std::vector<Event> make_events(size_t n) {
  std::mt19937 rng(42);
  std::vector<Event> out;
  out.reserve(n);
  static const char* kPaths[] = {"/", "/index.html", "/api/v1/items?id=42", "/static/app.js", "/login", "/search?q=tax+form"};
  static const char* kUsers[] = {"root", "admin", "deploy", "alice", "bob", "oracle", "test"};
  static const char* kNames[] = {"www.example.gov.vn", "mail.example.org", "updates.debian.org", "api.example.com"};
  for (size_t i = 0; i < n; ++i) {
    Event e;
    e.set(fields::timestamp, Timestamp::from_seconds(1'780'000'000 + static_cast<int64_t>(i / 1000)));
    e.set(fields::event_id, new_event_id());
    e.set(fields::event_kind, "event");
    uint32_t r = rng();
    switch (i % 10) {
      case 0: case 1: case 2: case 3:
        e.set(fields::event_dataset, "network.flow");
        e.set(fields::network_transport, r % 5 ? "tcp" : "udp");
        e.set(fields::source_ip, ip(r % 5000));
        e.set(fields::destination_ip, ip(100000 + r % 300));
        e.set(fields::destination_port, static_cast<int64_t>(r % 7 ? 443 : r % 1024));
        e.set(fields::destination_packets, static_cast<int64_t>(r % 20));
        break;
      case 4: case 5:
        e.set(fields::event_dataset, "nginx.access");
        e.set(fields::source_ip, ip(r % 2000));
        e.set(fields::http_request_method, "GET");
        set_url_target(e, kPaths[r % 6]);
        e.set(fields::http_response_status_code, static_cast<int64_t>(r % 9 ? 200 : 404));
        e.set(fields::user_agent_original, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36");
        e.set(fields::event_original, fmt::format("10.0.0.1 - - [..] \"GET {} HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"", kPaths[r % 6]));
        break;
      case 6: case 7:
        e.set(fields::event_dataset, "sshd");
        e.set(fields::source_ip, ip(r % 500));
        e.set(fields::user_name, kUsers[r % 7]);
        e.set(fields::event_outcome, r % 4 ? "failure" : "success");
        e.set(fields::message, fmt::format("Failed password for {} from 10.1.2.3 port 4242 ssh2", kUsers[r % 7]));
        e.set(fields::event_original, "Nov 27 10:00:00 web01 sshd[812]: Failed password for root from 10.1.2.3 port 4242 ssh2");
        break;
      case 8:
        e.set(fields::event_dataset, "network.dns");
        e.set(fields::dns_type, "query");
        e.set(fields::source_ip, ip(r % 300));
        e.set(fields::dns_question_name, kNames[r % 4]);
        e.set(fields::dns_question_registered_domain, "example.org");
        e.set(fields::dns_question_length, int64_t{18});
        break;
      default:
        e.set(fields::event_dataset, "syslog");
        e.set(fields::process_name, "systemd");
        e.set(fields::message, "Started Session 42 of user alice.");
        e.set(fields::event_original, "Nov 27 10:00:00 web01 systemd[1]: Started Session 42 of user alice.");
        break;
    }
    out.push_back(std::move(e));
  }
  return out;
}

const std::vector<Event>& events() {
  static const std::vector<Event> e = make_events(20'000);
  return e;
}

void run(benchmark::State& state, std::shared_ptr<const vigil::agent::rules::RuleSet> set) {
  Engine engine(set);
  std::vector<Event> alerts;
  size_t i = 0;
  const auto& ev = events();
  for (auto _ : state) {
    engine.process(ev[i], alerts);
    if (++i == ev.size()) i = 0;
    if (alerts.size() > 1000) alerts.clear();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["rules"] = static_cast<double>(set->rules.size());
  state.counters["alerts"] = static_cast<double>(engine.stats().alerts);
}

void BM_ShippedRules(benchmark::State& state) {
  auto loaded = load_rules({std::string(VIGIL_SOURCE_DIR) + "/rules/detection"});
  if (!loaded) {
    state.SkipWithError(loaded.error().c_str());
    return;
  }
  run(state, loaded->set);
}
BENCHMARK(BM_ShippedRules);

// N rules in the shapes rule writers use, spread over the datasets, values that rarely match.
std::string generated_rules(size_t n) {
  std::string y;
  static const char* kDatasets[] = {"network.flow", "nginx.access", "sshd", "network.dns", "syslog"};
  for (size_t i = 0; i < n; ++i) {
    const char* ds = kDatasets[i % 5];
    y += fmt::format("- id: GEN-{}\n  title: generated {}\n  severity: low\n  when:\n    event.dataset: {}\n", i, i, ds);
    switch (i % 5) {
      case 0: y += fmt::format("    destination.port: {}\n    destination.ip: {{cidr: 192.0.{}.0/24}}\n", 2000 + i, i % 250); break;
      case 1:
        y += (i / 5) % 2 ? fmt::format("    url.original: {{contains: /exploit-{}/}}\n", i)
                         : fmt::format("    user_agent.original: {{startswith: scanner-{}}}\n", i);
        break;
      case 2: y += fmt::format("    user.name: svc{}\n    event.outcome: success\n", i); break;
      case 3: y += fmt::format("    dns.question.name: {{endswith: .bad{}.example}}\n", i); break;
      default: y += fmt::format("    message: {{regex: 'segfault at [0-9a-f]+ ip {}'}}\n", i); break;
    }
  }
  return y;
}

void BM_GeneratedRules(benchmark::State& state) {
  static std::map<int64_t, std::shared_ptr<const vigil::agent::rules::RuleSet>> sets;
  auto& set = sets[state.range(0)];
  if (!set) {
    auto path = std::filesystem::temp_directory_path() / fmt::format("vigil-bench-rules-{}.yaml", state.range(0));
    std::ofstream(path) << generated_rules(static_cast<size_t>(state.range(0)));
    auto loaded = load_rules({path.string()});
    std::filesystem::remove(path);
    if (!loaded) {
      state.SkipWithError(loaded.error().c_str());
      return;
    }
    set = loaded->set;
  }
  run(state, set);
}
BENCHMARK(BM_GeneratedRules)->Arg(10)->Arg(100)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
