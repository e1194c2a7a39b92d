#include "agent/config/agent_config.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/support/test_support.h"

namespace vigil::agent {
namespace {

using namespace std::chrono_literals;

TEST(AgentConfig, MinimalFileTakesDocumentedDefaults) {
  auto loaded = load_agent_config_string("agent.yaml", "collector:\n  addresses: [127.0.0.1:8443]\n");
  ASSERT_TRUE(loaded) << loaded.error();
  const AgentConfig& c = loaded->config;
  EXPECT_EQ(c.agent.state_dir, "/var/lib/vigil");
  EXPECT_EQ(c.agent.user, "vigil");
  EXPECT_EQ(c.flows.memory_cap, 128ULL << 20);
  EXPECT_EQ(c.policies.run, "internal");
  EXPECT_EQ(c.policies.inbox, "/var/lib/vigil/inbox");
  ASSERT_EQ(c.collector.addresses.size(), 1u);
  EXPECT_EQ(c.collector.addresses[0].port, 8443);
}

TEST(AgentConfig, CollectorCompressionDefaultsToZstdAndTakesGzipOrNone) {
  auto base = "collector:\n  addresses: [127.0.0.1:8443]\n";
  auto loaded = load_agent_config_string("agent.yaml", base);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->config.collector.compression, compress::Codec::zstd);
  for (auto [name, codec] : {std::pair{"gzip", compress::Codec::gzip}, std::pair{"none", compress::Codec::none},
                             std::pair{"zstd", compress::Codec::zstd}}) {
    loaded = load_agent_config_string("agent.yaml", fmt::format("{}  compression: {}\n", base, name));
    ASSERT_TRUE(loaded) << loaded.error();
    EXPECT_EQ(loaded->config.collector.compression, codec) << name;
  }
  loaded = load_agent_config_string("agent.yaml", fmt::format("{}  compression: brotli\n", base));
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("agent.yaml:3:16"), std::string::npos) << loaded.error();
  EXPECT_NE(loaded.error().find("collector.compression"), std::string::npos) << loaded.error();
}

TEST(AgentConfig, ReloadAppliesLogsRulesPoliciesAndLevelAndNamesWhatNeedsARestart) {
  auto before = load_agent_config_string("agent.yaml", R"(agent: {state_dir: /var/lib/vigil}
collector: {addresses: [127.0.0.1:8443]}
logs: [{path: /var/log/auth.log, format: syslog}]
rules: {paths: [/r1]}
policies: {paths: [/p1], run: internal}
)");
  auto after = load_agent_config_string("agent.yaml", R"(agent: {state_dir: /srv/vigil, health_interval: 10s}
collector: {addresses: [127.0.0.1:9443], compression: gzip}
capture: [{interface: eth1}]
logs: [{path: /var/log/auth.log, format: syslog}, {path: /var/log/nginx/access.log, format: nginx}]
rules: {paths: [/r1, /r2]}
policies: {paths: [/p2], run: external, interval: 1h}
spool: {max_size: 64MiB}
logging: {level: debug}
)");
  ASSERT_TRUE(before) << before.error();
  ASSERT_TRUE(after) << after.error();
  auto plan = plan_reload(before->config, after->config);
  const AgentConfig& a = plan.applied;
  EXPECT_TRUE(plan.logs_changed);
  EXPECT_TRUE(plan.rules_changed);
  EXPECT_TRUE(plan.policies_changed);
  EXPECT_TRUE(plan.logging_changed);
  ASSERT_EQ(a.logs.size(), 2u);
  EXPECT_EQ(a.logs[1].format, "nginx");
  EXPECT_EQ(a.rules.paths, (std::vector<std::string>{"/r1", "/r2"}));
  EXPECT_EQ(a.policies.paths, std::vector<std::string>{"/p2"});
  EXPECT_EQ(a.policies.interval, 1h);
  EXPECT_EQ(a.logging.level, "debug");
  EXPECT_EQ(a.agent.health_interval, 10s);
  // Kept as they run until a restart.
  EXPECT_EQ(a.agent.state_dir, "/var/lib/vigil");
  EXPECT_EQ(a.policies.inbox, "/var/lib/vigil/inbox");
  EXPECT_EQ(a.policies.run, "internal");
  EXPECT_EQ(a.collector.addresses[0].port, 8443);
  EXPECT_EQ(a.collector.compression, compress::Codec::zstd);
  EXPECT_TRUE(a.capture.empty());
  EXPECT_EQ(a.spool.max_size, 1ULL << 30);
  EXPECT_EQ(plan.needs_restart,
            (std::vector<std::string>{"agent.state_dir", "collector", "capture", "spool", "policies.run"}));
}

TEST(AgentConfig, ReloadOfTheSameFileChangesNothing) {
  auto text = "collector: {addresses: [127.0.0.1:8443]}\nlogs: [{path: /var/log/auth.log, format: syslog}]\n";
  auto a = load_agent_config_string("agent.yaml", text);
  auto b = load_agent_config_string("agent.yaml", text);
  ASSERT_TRUE(a && b);
  auto plan = plan_reload(a->config, b->config);
  EXPECT_TRUE(plan.needs_restart.empty());
  EXPECT_FALSE(plan.logs_changed || plan.rules_changed || plan.policies_changed || plan.logging_changed);
}

TEST(AgentConfig, FullFileIsRead) {
  vigil::test::TempDir dir;
  auto log = dir.write("auth.log", "");
  auto path = dir.write("agent.yaml", R"(agent:
  state_dir: state
  user: nobody
collector:
  addresses: ["[::1]:8443", collector.example.gov.vn:8443]
capture:
  - interface: lo
    bpf: "not port 8443"
    snaplen: 1500
    promiscuous: false
flows: {idle_timeout: 30s, memory_cap: 64MiB}
logs:
  - {format: journal, match: ["_SYSTEMD_UNIT=ssh.service", "_COMM=sudo"]}
  - {path: auth.log, format: syslog}
policies: {interval: 1h, run: external}
spool: {max_size: 256MiB}
logging: {level: debug}
)");
  auto loaded = load_agent_config(path.string());
  ASSERT_TRUE(loaded) << loaded.error();
  const AgentConfig& c = loaded->config;
  EXPECT_EQ(c.agent.state_dir, (dir.path() / "state").string());
  EXPECT_EQ(c.collector.addresses[0].host, "::1");
  EXPECT_EQ(c.collector.addresses[1].host, "collector.example.gov.vn");
  ASSERT_EQ(c.capture.size(), 1u);
  EXPECT_EQ(c.capture[0].snaplen, 1500u);
  EXPECT_FALSE(c.capture[0].promiscuous);
  EXPECT_EQ(c.flows.idle_timeout, 30s);
  EXPECT_EQ(c.flows.memory_cap, 64ULL << 20);
  ASSERT_EQ(c.logs.size(), 2u);
  EXPECT_EQ(c.logs[0].match.size(), 2u);
  EXPECT_EQ(c.logs[1].path, log.string());
  EXPECT_EQ(c.policies.run, "external");
  EXPECT_EQ(c.policies.interval, 1h);
  EXPECT_EQ(c.logging.level, "debug");
}

TEST(AgentConfig, MissingLogFileIsAWarningNotAnError) {
  auto loaded = load_agent_config_string(
      "/nonexistent/agent.yaml",
      "collector: {addresses: [127.0.0.1:8443]}\nlogs:\n  - {path: /nonexistent/*.log, format: nginx}\n");
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_EQ(loaded->diagnostics.items().size(), 1u);
  EXPECT_EQ(loaded->diagnostics.items()[0].severity, config::Diagnostic::Severity::warning);
  EXPECT_EQ(loaded->diagnostics.items()[0].line, 3);
}

// A key the agent no longer reads loads with a warning at its place that says why, and is not
// offered among the keys `agent` takes.
TEST(AgentConfig, RetiredQueueCapacityIsAWarningWithItsReason) {
  auto loaded = load_agent_config_string(
      "agent.yaml", "agent:\n  name: a\n  queue_capacity: 65536\ncollector: {addresses: [127.0.0.1:8443]}\n");
  ASSERT_TRUE(loaded) << loaded.error();
  const std::string w = loaded->diagnostics.to_string();
  EXPECT_NE(w.find("agent.yaml:3:3: warning: agent.queue_capacity: no longer read (the agent reads its sources in "
                   "one loop"),
            std::string::npos)
      << w;
  auto typo = load_agent_config_string("agent.yaml", "agent: {nam: a}\ncollector: {addresses: [127.0.0.1:8443]}\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().find("agent takes: name, state_dir, user, health_interval"), std::string::npos)
      << typo.error();
}

// spool.sync_interval paces the loop's fsync (default 200 ms); fsync_interval, documented before
// and never read, loads with a warning that says so.
TEST(AgentConfig, SpoolSyncIntervalIsReadAndFsyncIntervalRetired) {
  auto loaded = load_agent_config_string(
      "agent.yaml", "agent: {name: a}\ncollector: {addresses: [127.0.0.1:8443]}\nspool: {sync_interval: 50ms}\n");
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->config.spool.sync_interval, std::chrono::milliseconds(50));
  auto defaults = load_agent_config_string("agent.yaml", "agent: {name: a}\ncollector: {addresses: [127.0.0.1:8443]}\n");
  ASSERT_TRUE(defaults) << defaults.error();
  EXPECT_EQ(defaults->config.spool.sync_interval, std::chrono::milliseconds(200));
  auto old = load_agent_config_string(
      "agent.yaml", "agent: {name: a}\ncollector: {addresses: [127.0.0.1:8443]}\nspool:\n  fsync_interval: 1s\n");
  ASSERT_TRUE(old) << old.error();
  const std::string w = old->diagnostics.to_string();
  EXPECT_NE(w.find("agent.yaml:4:3: warning: spool.fsync_interval: no longer read"), std::string::npos) << w;
  auto slow = load_agent_config_string(
      "agent.yaml", "agent: {name: a}\ncollector: {addresses: [127.0.0.1:8443]}\nspool: {sync_interval: 1h}\n");
  EXPECT_FALSE(slow);
}

TEST(AgentConfig, ShippedExampleIsValid) {
  auto path = vigil::test::source_dir() / "config" / "agent.yaml";
  auto loaded = load_agent_config(path.string());
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_FALSE(loaded->config.collector.addresses.empty());
}

// Each file in tests/fixtures/config/agent-bad starts with "# expect: LINE:COL: TEXT": loading it
// must fail with an error at exactly that position whose message contains TEXT.
struct BadConfig {
  std::string file;
  int line = 0;
  int column = 0;
  std::string text;
};

std::vector<BadConfig> bad_configs(const std::string& folder) {
  std::vector<BadConfig> out;
  auto dir = vigil::test::source_dir() / "tests" / "fixtures" / "config" / folder;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::string first;
    std::getline(in, first);
    BadConfig c;
    c.file = entry.path().string();
    int consumed = 0;
    if (std::sscanf(first.c_str(), "# expect: %d:%d: %n", &c.line, &c.column, &consumed) != 2 || consumed == 0 ||
        static_cast<size_t>(consumed) >= first.size()) {
      ADD_FAILURE() << entry.path() << " lacks an '# expect: LINE:COL: TEXT' header";
      continue;
    }
    c.text = first.substr(static_cast<size_t>(consumed));
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.file < b.file; });
  return out;
}

TEST(AgentConfig, BrokenConfigsAreRejectedAtTheRightLineAndColumn) {
  auto cases = bad_configs("agent-bad");
  ASSERT_GE(cases.size(), 12u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    auto loaded = load_agent_config(c.file);
    ASSERT_FALSE(loaded) << "accepted a broken config";
    std::string want = fmt::format("{}:{}:{}: error: ", c.file, c.line, c.column);
    bool found = false;
    std::istringstream lines(loaded.error());
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(want, 0) == 0 && line.find(c.text) != std::string::npos) found = true;
    }
    EXPECT_TRUE(found) << "wanted '" << want << "..." << c.text << "', got:\n" << loaded.error();
  }
}

TEST(AgentConfig, EveryErrorIsReportedNotOnlyTheFirst) {
  auto loaded = load_agent_config_string("a.yaml", R"(agent: {stat_dir: /x}
collector: {addresses: [nohost]}
spool: {max_size: 1KiB}
)");
  ASSERT_FALSE(loaded);
  std::string e = loaded.error();
  EXPECT_NE(e.find("a.yaml:1:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("a.yaml:2:25:"), std::string::npos) << e;
  EXPECT_NE(e.find("a.yaml:3:19:"), std::string::npos) << e;
}

}  // namespace
}  // namespace vigil::agent
