// Every shipped detection rule fires on an example of what it is for and stays quiet on a
// near-miss. Events are built here with the fields the parsers and the flow table produce.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "agent/checks/policy_loader.h"
#include "agent/proto/dns.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "tests/support/test_support.h"

namespace vigil::agent::rules {
namespace {

class ShippedRules : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = load_rules({(vigil::test::source_dir() / "rules" / "detection").string()});
    ASSERT_TRUE(loaded) << loaded.error();
    set_ = loaded->set;
  }

  // Runs the events through a fresh engine and returns the ids of the rules that alerted.
  std::multiset<std::string> run(const std::vector<Event>& events) const {
    Engine engine(set_);
    std::vector<Event> alerts;
    for (const auto& e : events) engine.process(e, alerts);
    std::multiset<std::string> ids;
    for (const auto& a : alerts) ids.insert(*a.get_string(fields::rule_id));
    return ids;
  }

  static Event event(const std::string& dataset, double t_s, std::map<std::string, Value> kv) {
    Event e;
    e.set(fields::timestamp, Timestamp{static_cast<int64_t>((1'780'000'000 + t_s) * 1e9)});
    e.set(fields::event_id, new_event_id());
    e.set(fields::event_kind, "event");
    e.set(fields::event_dataset, dataset);
    for (auto& [k, v] : kv) e.set(field(k), v);
    return e;
  }

  static Event ssh_failure(double t, const std::string& ip, const std::string& user = "root") {
    return event("sshd", t, {{"event.outcome", "failure"}, {"source.ip", *IpAddress::parse(ip)}, {"user.name", user}});
  }

  std::shared_ptr<const RuleSet> set_;
};

TEST_F(ShippedRules, EveryRuleHasTitleSeverityAndAttackTag) {
  ASSERT_GE(set_->rules.size(), 10u);
  for (const auto& r : set_->rules) {
    EXPECT_FALSE(r->title.empty()) << r->id;
    if (!r->emits) continue;  // a step of a correlation, which carries the tags and controls
    EXPECT_FALSE(r->techniques.empty()) << r->id << " has no attack.tNNNN tag";
    EXPECT_FALSE(r->compliance.empty()) << r->id << " maps to no control";
  }
}

TEST_F(ShippedRules, FastSshGuessing) {
  std::vector<Event> burst, slow;
  for (int i = 0; i < 10; ++i) burst.push_back(ssh_failure(i * 5, "203.0.113.9"));
  for (int i = 0; i < 9; ++i) slow.push_back(ssh_failure(i * 5, "203.0.113.9"));
  EXPECT_EQ(run(burst).count("VGL-LOG-0001"), 1u);
  EXPECT_EQ(run(slow).count("VGL-LOG-0001"), 0u);
  // Ten failures from ten addresses are not one guesser.
  std::vector<Event> spread;
  for (int i = 0; i < 10; ++i) spread.push_back(ssh_failure(i, "203.0.113." + std::to_string(i + 1)));
  EXPECT_EQ(run(spread).count("VGL-LOG-0001"), 0u);
}

TEST_F(ShippedRules, SlowSshGuessing) {
  std::vector<Event> slow, slower;
  for (int i = 0; i < 20; ++i) slow.push_back(ssh_failure(i * 25, "198.51.100.4"));    // 20 in 8 min
  for (int i = 0; i < 20; ++i) slower.push_back(ssh_failure(i * 40, "198.51.100.4"));  // 20 in 13 min
  auto ids = run(slow);
  EXPECT_EQ(ids.count("VGL-LOG-0002"), 1u);
  EXPECT_EQ(ids.count("VGL-LOG-0001"), 0u);
  EXPECT_EQ(run(slower).count("VGL-LOG-0002"), 0u);
}

TEST_F(ShippedRules, SshUserEnumeration) {
  std::vector<Event> many, same;
  for (int i = 0; i < 5; ++i) many.push_back(ssh_failure(i, "192.0.2.50", "user" + std::to_string(i)));
  for (int i = 0; i < 5; ++i) same.push_back(ssh_failure(i, "192.0.2.50", "admin"));
  EXPECT_EQ(run(many).count("VGL-LOG-0003"), 1u);
  EXPECT_EQ(run(same).count("VGL-LOG-0003"), 0u);
}

TEST_F(ShippedRules, RootLoginAccepted) {
  auto ok_root = event("sshd", 0, {{"event.outcome", "success"}, {"user.name", "root"}});
  auto ok_user = event("sshd", 0, {{"event.outcome", "success"}, {"user.name", "deploy"}});
  EXPECT_EQ(run({ok_root}).count("VGL-LOG-0004"), 1u);
  EXPECT_EQ(run({ok_user}).count("VGL-LOG-0004"), 0u);
}

TEST_F(ShippedRules, PortScanInFlows) {
  std::vector<Event> scan, busy;
  for (int p = 0; p < 20; ++p) {
    scan.push_back(event("network.flow", p * 0.1,
                         {{"network.transport", "tcp"}, {"source.ip", *IpAddress::parse("172.31.15.102")},
                          {"destination.ip", *IpAddress::parse("198.124.152.15")}, {"destination.port", p}}));
  }
  for (int i = 0; i < 100; ++i) {
    busy.push_back(event("network.flow", i * 0.05,
                         {{"network.transport", "tcp"}, {"source.ip", *IpAddress::parse("10.0.0.2")},
                          {"destination.ip", *IpAddress::parse("10.0.0.3")}, {"destination.port", 443}}));
  }
  EXPECT_EQ(run(scan).count("VGL-NET-0001"), 1u);
  EXPECT_EQ(run(busy).count("VGL-NET-0001"), 0u);
}

TEST_F(ShippedRules, SlowScanInFirewallLogs) {
  std::vector<Event> fw, few;
  for (int p = 0; p < 15; ++p) {
    fw.push_back(event("firewall", p * 30, {{"source.ip", *IpAddress::parse("62.34.17.168")}, {"destination.port", 20 + p}}));
  }
  for (int p = 0; p < 14; ++p) {
    few.push_back(event("firewall", p * 30, {{"source.ip", *IpAddress::parse("62.34.17.168")}, {"destination.port", 20 + p}}));
  }
  EXPECT_EQ(run(fw).count("VGL-NET-0002"), 1u);
  EXPECT_EQ(run(few).count("VGL-NET-0002"), 0u);
  for (auto& e : fw) e.set(fields::event_action, "allowed");  // logged but let through (UFW AUDIT)
  EXPECT_EQ(run(fw).count("VGL-NET-0002"), 0u);
}

TEST_F(ShippedRules, HostSweep) {
  std::vector<Event> sweep, one;
  for (int h = 1; h <= 20; ++h) {
    sweep.push_back(event("network.flow", h * 0.5,
                          {{"source.ip", *IpAddress::parse("192.168.1.71")},
                           {"destination.ip", IpAddress::v4(0xC0A80100u + static_cast<uint32_t>(h))}}));
    one.push_back(event("network.flow", h * 0.5,
                        {{"source.ip", *IpAddress::parse("192.168.1.71")}, {"destination.ip", IpAddress::v4(0xC0A80101u)}}));
  }
  EXPECT_EQ(run(sweep).count("VGL-NET-0003"), 1u);
  EXPECT_EQ(run(one).count("VGL-NET-0003"), 0u);
}

TEST_F(ShippedRules, SqlInjectionInUrls) {
  // The three requests of the DVWA capture, and the probes of a public SQLi test log.
  const char* attacks[] = {"/dvwa/vulnerabilities/sqli/?id=1%27+OR+%271%27%3D%271&Submit=Submit",
                           "/dvwa/vulnerabilities/sqli/?id=1%27+UNION+SELECT+NULL%2C+version%28%29+%23&Submit=Submit",
                           "/?id=1 union all select 1,2,3",
                           "/index.php?id=1 AND SLEEP(5)",
                           "/x?q=1' or '1'='1",
                           "/list?table=information_schema.tables"};
  const char* benign[] = {"/index.html", "/search?q=select+a+union+rep", "/blog/2015/05/how-to-sleep-better",
                          "/api/v1/users?order=asc", "/products?id=42&sort=price"};
  int i = 0;
  for (const char* url : attacks) {
    SCOPED_TRACE(url);
    auto e = event("nginx.access", i++, {{"url.original", url}, {"source.ip", IpAddress::v4(0x7f000001u + static_cast<uint32_t>(i))}});
    EXPECT_EQ(run({e}).count("VGL-WEB-0001"), 1u);
  }
  for (const char* url : benign) {
    SCOPED_TRACE(url);
    EXPECT_EQ(run({event("apache.access", 0, {{"url.original", url}})}).count("VGL-WEB-0001"), 0u);
  }
}

TEST_F(ShippedRules, PathTraversal) {
  EXPECT_EQ(run({event("nginx.access", 0, {{"url.original", "/static/../../etc/passwd"}})}).count("VGL-WEB-0002"), 1u);
  EXPECT_EQ(run({event("nginx.access", 0, {{"url.original", "/cgi-bin/%2e%2e/%2e%2e/bin/sh"}})}).count("VGL-WEB-0002"), 1u);
  EXPECT_EQ(run({event("nginx.access", 0, {{"url.original", "/static/app.v2..js"}})}).count("VGL-WEB-0002"), 0u);
}

TEST_F(ShippedRules, WebScanning) {
  std::vector<Event> scan, browsing;
  for (int i = 0; i < 30; ++i) {
    scan.push_back(event("nginx.access", i, {{"source.ip", *IpAddress::parse("198.51.100.77")},
                                             {"http.response.status_code", i % 2 ? 404 : 403},
                                             {"url.original", "/probe" + std::to_string(i)}}));
    browsing.push_back(event("nginx.access", i, {{"source.ip", *IpAddress::parse("198.51.100.78")},
                                                 {"http.response.status_code", i % 10 ? 200 : 404},
                                                 {"url.original", "/page" + std::to_string(i)}}));
  }
  EXPECT_EQ(run(scan).count("VGL-WEB-0003"), 1u);
  EXPECT_EQ(run(browsing).count("VGL-WEB-0003"), 0u);
}

TEST_F(ShippedRules, SudoFailures) {
  std::vector<Event> three, two;
  for (int i = 0; i < 3; ++i) three.push_back(event("sudo", i * 10, {{"event.outcome", "failure"}, {"user.name", "alice"}}));
  for (int i = 0; i < 2; ++i) two.push_back(event("sudo", i * 10, {{"event.outcome", "failure"}, {"user.name", "alice"}}));
  EXPECT_EQ(run(three).count("VGL-LOG-0010"), 1u);
  EXPECT_EQ(run(two).count("VGL-LOG-0010"), 0u);
}

TEST_F(ShippedRules, ComplianceControlsExistInTheirCatalogues) {
  auto fws = checks::load_frameworks({(vigil::test::source_dir() / "rules" / "frameworks").string()});
  ASSERT_TRUE(fws) << fws.error();
  size_t checked = 0;
  for (const auto& r : set_->rules) {
    for (const auto& [framework, controls] : r->compliance) {
      const auto* fw = fws->find(framework);
      if (fw == nullptr) continue;  // e.g. cis: CIS item numbers, no catalogue of ours
      for (const auto& c : controls) {
        EXPECT_NE(fw->find(c), nullptr) << r->id << ": " << framework << " has no control " << c;
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 20u);
}

TEST_F(ShippedRules, ComplianceMappingsClaimOnlyWhatAnAlertEvidences) {
  // An attack alert is no evidence that the code attacked is secure, nor that the authentication
  // guessed at is strong; and rules run on servers say nothing of user computers.
  auto fws = checks::load_frameworks({(vigil::test::source_dir() / "rules" / "frameworks").string()});
  ASSERT_TRUE(fws) << fws.error();
  for (const auto& r : set_->rules) {
    for (const auto& [framework, controls] : r->compliance) {
      const auto* fw = fws->find(framework);
      for (const auto& c : controls) {
        if (framework == "tcvn11930") {
          EXPECT_NE(c, "application.code-security") << r->id;
        }
        if (const auto* control = fw ? fw->find(c) : nullptr) {
          EXPECT_NE(control->scope, compliance::ControlScope::workstation) << r->id << ": " << c;
        }
      }
    }
  }
  auto controls_of = [&](const std::string& id) {
    for (const auto& r : set_->rules) {
      if (r->id != id) continue;
      for (const auto& [framework, controls] : r->compliance) {
        if (framework == "tcvn11930") return std::set<std::string>(controls.begin(), controls.end());
      }
    }
    return std::set<std::string>{};
  };
  EXPECT_EQ(controls_of("VGL-LOG-0001"), std::set<std::string>{"server.intrusion-prevention"});  // guessing
  EXPECT_EQ(controls_of("VGL-WEB-0001"), std::set<std::string>{"network.intrusion-prevention"});  // SQL injection tried
}

TEST(ShippedPolicies, BaselineChecksMapOnlyToControlsAServerEvidences) {
  // A server check is no evidence about user computers (SSH MaxAuthTries is no laptop lockout,
  // unattended upgrades on a server no monthly patching of desktops), and host-side log rotation
  // none of a SIEM's retention.
  const auto rules_dir = vigil::test::source_dir() / "rules";
  auto fws = checks::load_frameworks({(rules_dir / "frameworks").string()});
  ASSERT_TRUE(fws) << fws.error();
  auto loaded = checks::load_policy((rules_dir / "policies" / "debian-baseline.yaml").string(), *fws);
  ASSERT_TRUE(loaded) << loaded.error();
  size_t successor = 0;
  std::map<std::string, std::set<std::string>> successor_of;
  for (const auto& c : loaded->policy.checks) {
    for (const auto& [framework, ids] : c.compliance) {
      const auto* fw = fws->find(framework);
      ASSERT_NE(fw, nullptr) << framework;
      for (const auto& id : ids) {
        const auto* control = fw->find(id);
        ASSERT_NE(control, nullptr) << c.id << ": " << framework << " " << id;
        EXPECT_NE(control->scope, compliance::ControlScope::workstation) << c.id << " maps to " << framework << " " << id;
        if (framework == "tcvn14423") {
          ++successor;
          successor_of[c.id].insert(id);
        }
      }
    }
  }
  EXPECT_GE(successor, 8u);  // the successor's server controls are still evidenced
  EXPECT_EQ(successor_of["time-sync"], std::set<std::string>{"time-sync"});
  EXPECT_TRUE(successor_of["ssh-max-auth-tries"].empty());
  EXPECT_TRUE(successor_of["ssh-client-alive-interval"].empty());  // a liveness probe, no idle lock
  EXPECT_TRUE(successor_of["logrotate-retention-3m"].empty());     // level 3 asks for a SIEM
}

TEST_F(ShippedRules, AccountsCreatedAndPrivilegedGroups) {
  auto created = event("accounts", 0, {{"event.action", "user_created"}, {"user.target.name", "bob"}});
  EXPECT_EQ(run({created}).count("VGL-LOG-0005"), 1u);
  EXPECT_EQ(run({event("accounts", 0, {{"event.action", "user_deleted"}})}).count("VGL-LOG-0005"), 0u);
  auto to_sudo = event("accounts", 0, {{"event.action", "group_member_added"}, {"group.name", "sudo"}});
  auto to_docker = event("accounts", 0, {{"event.action", "group_member_added"}, {"group.name", "Docker"}});
  auto to_audio = event("accounts", 0, {{"event.action", "group_member_added"}, {"group.name", "audio"}});
  EXPECT_EQ(run({to_sudo}).count("VGL-LOG-0006"), 1u);
  EXPECT_EQ(run({to_docker}).count("VGL-LOG-0006"), 1u);
  EXPECT_EQ(run({to_audio}).count("VGL-LOG-0006"), 0u);
}

TEST_F(ShippedRules, SystemAccountLogin) {
  auto accepted = [&](const std::string& user) {
    return event("sshd", 0, {{"event.outcome", "success"}, {"user.name", user}});
  };
  EXPECT_EQ(run({accepted("www-data")}).count("VGL-LOG-0007"), 1u);
  EXPECT_EQ(run({accepted("postgres")}).count("VGL-LOG-0007"), 1u);
  EXPECT_EQ(run({accepted("alice")}).count("VGL-LOG-0007"), 0u);
  EXPECT_EQ(run({event("sshd", 0, {{"event.outcome", "failure"}, {"user.name", "www-data"}})}).count("VGL-LOG-0007"), 0u);
}

TEST_F(ShippedRules, UdpPortScanAndCleartextAdmin) {
  std::vector<Event> udp_scan, tcp_only;
  for (int p = 0; p < 25; ++p) {
    udp_scan.push_back(event("network.flow", p * 0.1, {{"source.ip", *IpAddress::parse("203.0.113.9")},
                                                       {"destination.ip", *IpAddress::parse("10.0.0.5")},
                                                       {"destination.port", int64_t{1000 + p}},
                                                       {"network.transport", "udp"}}));
    tcp_only.push_back(event("network.flow", p * 0.1, {{"source.ip", *IpAddress::parse("203.0.113.9")},
                                                       {"destination.port", int64_t{1000 + p}},
                                                       {"network.transport", "tcp"}}));
  }
  EXPECT_EQ(run(udp_scan).count("VGL-NET-0004"), 1u);
  EXPECT_EQ(run(tcp_only).count("VGL-NET-0004"), 0u);

  auto flow = [&](int64_t port, int64_t dst_packets) {
    return event("network.flow", 0, {{"source.ip", *IpAddress::parse("10.0.0.7")},
                                     {"destination.ip", *IpAddress::parse("10.0.0.1")},
                                     {"destination.port", port},
                                     {"destination.packets", dst_packets},
                                     {"network.transport", "tcp"}});
  };
  EXPECT_EQ(run({flow(23, 12)}).count("VGL-NET-0005"), 1u);
  EXPECT_EQ(run({flow(21, 5), flow(21, 7)}).count("VGL-NET-0005"), 1u);  // once per pair and port
  EXPECT_EQ(run({flow(23, 1)}).count("VGL-NET-0005"), 0u);                // refused: nothing crossed
  EXPECT_EQ(run({flow(22, 30)}).count("VGL-NET-0005"), 0u);
}

TEST_F(ShippedRules, CrossSiteScriptingAndAttackTools) {
  const char* xss[] = {"/search?q=<script>alert(1)</script>", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
                       "/p?x=%3Cimg%20src=x%20onerror=alert(1)%3E", "/r?url=javascript:alert(document.cookie)",
                       "/q?name=%3Csvg/onload=alert(1)%3E"};
  const char* clean[] = {"/scripts/app.js", "/search?q=description", "/blog/onload-performance", "/img/logo.png",
                         "/javascript-guide.html"};
  for (const char* url : xss) {
    SCOPED_TRACE(url);
    EXPECT_EQ(run({event("nginx.access", 0, {{"url.original", url}})}).count("VGL-WEB-0004"), 1u);
  }
  for (const char* url : clean) {
    SCOPED_TRACE(url);
    EXPECT_EQ(run({event("nginx.access", 0, {{"url.original", url}})}).count("VGL-WEB-0004"), 0u);
  }
  auto ua = [&](const std::string& agent) {
    return event("apache.access", 0, {{"user_agent.original", agent}, {"source.ip", *IpAddress::parse("198.51.100.3")}});
  };
  EXPECT_EQ(run({ua("sqlmap/1.7.2#stable (https://sqlmap.org)")}).count("VGL-WEB-0005"), 1u);
  EXPECT_EQ(run({ua("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)")}).count("VGL-WEB-0005"), 1u);
  EXPECT_EQ(run({ua("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"),
                 ua("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)")})
                .count("VGL-WEB-0005"),
            1u);  // once per address within ten minutes
  EXPECT_EQ(run({ua("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")}).count("VGL-WEB-0005"),
            0u);
}

}  // namespace
}  // namespace vigil::agent::rules

namespace vigil::agent::rules {
namespace {

// A DNS query event as the protocol parser makes it (the name's shape fields included).
Event dns_query(double t, const std::string& src, const std::string& name) {
  proto::DnsMessage m;
  m.id = 1;
  m.questions = 1;
  m.qname = name;
  m.qtype = 16;
  proto::Endpoints ends{*IpAddress::parse(src), *IpAddress::parse("10.0.0.53"), 53000, 53, 0, 17};
  return proto::dns_event(m, ends, Timestamp{static_cast<int64_t>((1'780'000'000 + t) * 1e9)}, "h");
}

TEST_F(ShippedRules, DnsTunnellingShapes) {
  // dnscat2-style: hex data in long labels under one domain.
  std::string data = "3c2f6f62736572766174696f6e3e3c7265706f72743e6d6f7265";  // 52 characters
  auto ids = run({dns_query(0, "10.1.1.5", data + ".t.example-c2.com")});
  EXPECT_EQ(ids.count("VGL-NET-0006"), 1u);
  // Ordinary long-ish names do not.
  ids = run({dns_query(0, "10.1.1.5", "elb-prod-portal-1234567890.ap-southeast-1.elb.amazonaws.com"),
             dns_query(1, "10.1.1.5", "_dmarc.dichvucong.gov.vn")});
  EXPECT_EQ(ids.count("VGL-NET-0006"), 0u);

  // Fifty random-looking subdomains of one domain within minutes; fifty ordinary host names
  // under a .gov.vn domain (registered one level deeper) do not.
  std::vector<Event> tunnel, portal;
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz234567";  // base32, as tunnels encode
  uint32_t x = 12345;
  for (int i = 0; i < 50; ++i) {
    std::string label;
    for (int k = 0; k < 24; ++k) {
      x = x * 1103515245u + 12345u;
      label += alphabet[(x >> 16) % 32];
    }
    tunnel.push_back(dns_query(i * 2, "10.1.1.6", label + ".exfil.example.net"));
    portal.push_back(dns_query(i * 2, "10.1.1.7", "host" + std::to_string(i) + ".dichvucong.gov.vn"));
  }
  EXPECT_EQ(run(tunnel).count("VGL-NET-0007"), 1u);
  EXPECT_EQ(run(portal).count("VGL-NET-0007"), 0u);
  EXPECT_EQ(*tunnel[0].get_string(field("dns.question.registered_domain")), "example.net");
  EXPECT_EQ(*portal[0].get_string(field("dns.question.registered_domain")), "dichvucong.gov.vn");
  EXPECT_EQ(*portal[0].get_string(field("dns.question.subdomain")), "host0");
}

TEST_F(ShippedRules, CleartextBasicAuthentication) {
  auto http = [](double t, const char* auth) {
    return event("network.http", t, {{"source.ip", *IpAddress::parse("10.2.0.9")},
                                     {"destination.ip", *IpAddress::parse("10.2.0.1")},
                                     {"destination.port", 8080},
                                     {"vigil.http.authorization", auth}});
  };
  EXPECT_EQ(run({http(0, "basic"), http(5, "basic")}).count("VGL-NET-0008"), 1u);  // once per pair
  EXPECT_EQ(run({http(0, "bearer")}).count("VGL-NET-0008"), 0u);
}

TEST_F(ShippedRules, SshSuccessAfterManyFailures) {
  auto success = [](double t, const std::string& ip) {
    return event("sshd", t, {{"event.outcome", "success"}, {"source.ip", *IpAddress::parse(ip)}, {"user.name", "deploy"}});
  };
  std::vector<Event> guessed;
  for (int i = 0; i < 6; ++i) guessed.push_back(ssh_failure(i * 20, "203.0.113.77", "deploy"));
  guessed.push_back(success(200, "203.0.113.77"));
  auto ids = run(guessed);
  EXPECT_EQ(ids.count("VGL-LOG-0011"), 1u);
  // Its steps raise nothing of their own.
  EXPECT_EQ(ids.count("VGL-LOG-0011-failures") + ids.count("VGL-LOG-0011-failure") + ids.count("VGL-LOG-0011-success"), 0u);

  std::vector<Event> typo;  // two typos then the right password: normal
  typo.push_back(ssh_failure(0, "203.0.113.77", "deploy"));
  typo.push_back(ssh_failure(5, "203.0.113.77", "deploy"));
  typo.push_back(success(10, "203.0.113.77"));
  EXPECT_EQ(run(typo).count("VGL-LOG-0011"), 0u);

  std::vector<Event> other;  // failures from one address, success from another
  for (int i = 0; i < 6; ++i) other.push_back(ssh_failure(i * 20, "203.0.113.77", "deploy"));
  other.push_back(success(200, "198.51.100.20"));
  EXPECT_EQ(run(other).count("VGL-LOG-0011"), 0u);

  std::vector<Event> late;  // the success comes long after the guessing stopped
  for (int i = 0; i < 6; ++i) late.push_back(ssh_failure(i * 20, "203.0.113.77", "deploy"));
  late.push_back(success(3600, "203.0.113.77"));
  EXPECT_EQ(run(late).count("VGL-LOG-0011"), 0u);
}

TEST_F(ShippedRules, LockedAccountLogin) {
  auto refused = [](const char* msg) {
    return event("sshd", 0, {{"event.action", "user_not_allowed"}, {"event.outcome", "failure"}, {"user.name", "olduser"},
                             {"source.ip", *IpAddress::parse("10.1.1.5")}, {"message", msg}});
  };
  EXPECT_EQ(run({refused("User olduser not allowed because account is locked")}).count("VGL-LOG-0012"), 1u);
  EXPECT_EQ(run({refused("User olduser not allowed because not listed in AllowUsers")}).count("VGL-LOG-0012"), 0u);
}

TEST_F(ShippedRules, SudoToRootByAnUnlistedUser) {
  auto sudo = [](const char* user, const char* target) {
    return event("sudo", 0, {{"event.outcome", "success"}, {"user.name", user}, {"user.target.name", target},
                             {"process.command_line", "/bin/bash"}});
  };
  EXPECT_EQ(run({sudo("intern", "root")}).count("VGL-LOG-0013"), 1u);
  EXPECT_EQ(run({sudo("root", "root")}).count("VGL-LOG-0013"), 0u);      // on the shipped list
  EXPECT_EQ(run({sudo("intern", "postgres")}).count("VGL-LOG-0013"), 0u);  // not to root
}

// The blocklists ship empty: the rules meet the lists an agency writes, here in a copy of the
// shipped rule file beside lists of our own.
TEST_F(ShippedRules, BlocklistedAddressesAndDomains) {
  vigil::test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "lists");
  std::filesystem::copy_file(vigil::test::source_dir() / "rules" / "detection" / "network.yaml", dir.path() / "network.yaml");
  std::filesystem::copy_file(vigil::test::source_dir() / "rules" / "detection" / "lists" / "internal-networks.txt",
                             dir.path() / "lists" / "internal-networks.txt");
  dir.write("lists/blocklist-ip.txt", "# feed\n198.51.100.66\n2001:db8:bad::/48\n");
  dir.write("lists/blocklist-domain.txt", "evil-c2.example\n");
  auto loaded = load_rules({(dir.path() / "network.yaml").string()});
  ASSERT_TRUE(loaded) << loaded.error();
  auto run_with = [&](const std::vector<Event>& events) {
    Engine engine(loaded->set);
    std::vector<Event> alerts;
    for (const auto& e : events) engine.process(e, alerts);
    std::multiset<std::string> ids;
    for (const auto& a : alerts) ids.insert(*a.get_string(fields::rule_id));
    return ids;
  };
  auto flow = [](const char* src, const char* dst) {
    return event("network.flow", 0, {{"network.transport", "tcp"}, {"source.ip", *IpAddress::parse(src)},
                                     {"destination.ip", *IpAddress::parse(dst)}, {"destination.port", 443},
                                     {"destination.packets", 3}});
  };
  EXPECT_EQ(run_with({flow("10.0.0.5", "198.51.100.66")}).count("VGL-NET-0009"), 1u);
  EXPECT_EQ(run_with({flow("2001:db8:bad::9", "10.0.0.5")}).count("VGL-NET-0009"), 1u);
  EXPECT_EQ(run_with({flow("10.0.0.5", "198.51.100.67")}).count("VGL-NET-0009"), 0u);
  auto dns = [](const char* name, const char* registered) {
    return event("network.dns", 0, {{"dns.type", "query"}, {"dns.question.name", name},
                                    {"dns.question.registered_domain", registered},
                                    {"source.ip", *IpAddress::parse("10.0.0.5")}});
  };
  EXPECT_EQ(run_with({dns("a.b.evil-c2.example", "evil-c2.example")}).count("VGL-NET-0010"), 1u);
  EXPECT_EQ(run_with({dns("evil-c2.example.org", "example.org")}).count("VGL-NET-0010"), 0u);
  // As shipped (empty lists) nothing is blocklisted.
  EXPECT_EQ(run({flow("10.0.0.5", "198.51.100.66")}).count("VGL-NET-0009"), 0u);
}

TEST_F(ShippedRules, OutboundConnectionToAnUnusualPort) {
  auto flow = [](const char* src, const char* dst, int port, int packets) {
    return event("network.flow", 0, {{"network.transport", "tcp"}, {"source.ip", *IpAddress::parse(src)},
                                     {"destination.ip", *IpAddress::parse(dst)}, {"destination.port", port},
                                     {"destination.packets", packets}});
  };
  EXPECT_EQ(run({flow("10.0.0.5", "203.0.113.200", 4444, 5)}).count("VGL-NET-0011"), 1u);
  EXPECT_EQ(run({flow("10.0.0.5", "203.0.113.200", 443, 5)}).count("VGL-NET-0011"), 0u);     // HTTPS
  EXPECT_EQ(run({flow("10.0.0.5", "10.9.0.1", 4444, 5)}).count("VGL-NET-0011"), 0u);         // internal
  EXPECT_EQ(run({flow("203.0.113.200", "10.0.0.5", 4444, 5)}).count("VGL-NET-0011"), 0u);    // inbound
  EXPECT_EQ(run({flow("10.0.0.5", "203.0.113.200", 4444, 1)}).count("VGL-NET-0011"), 0u);    // no answer
}

// Every text a person reads in the shipped content exists in Vietnamese and in English: a mapping
// {vi, en} in the file (a plain string would serve both languages with one), and for titles,
// descriptions and rationale a Vietnamese text that is not the English one.
class ShippedContent : public ::testing::Test {
 protected:
  static std::filesystem::path rules_dir() { return vigil::test::source_dir() / "rules"; }

  // Files of `dir` with these extensions.
  static std::vector<std::filesystem::path> files(const std::string& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(rules_dir() / dir)) {
      auto ext = e.path().extension();
      if (ext == ".yaml" || ext == ".yml") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // `key` of `node` as {vi, en}, both non-empty; an error message naming the place otherwise.
  static void expect_bilingual(const YAML::Node& node, const std::string& key, const std::string& where,
                               bool may_match = false) {
    const YAML::Node v = node[key];
    ASSERT_TRUE(v && v.IsMap()) << where << ": " << key << " is not {vi, en}";
    ASSERT_TRUE(v["vi"] && v["en"]) << where << ": " << key << " lacks vi or en";
    const auto vi = v["vi"].as<std::string>(), en = v["en"].as<std::string>();
    EXPECT_FALSE(vi.empty() || en.empty()) << where << ": " << key;
    if (!may_match) {
      EXPECT_NE(vi, en) << where << ": " << key << " is not translated";
    }
  }
};

TEST_F(ShippedContent, PoliciesInVietnameseAndEnglish) {
  size_t checks = 0;
  for (const auto& f : files("policies")) {
    const YAML::Node doc = YAML::LoadFile(f.string());
    expect_bilingual(doc["policy"], "title", f.filename().string());
    expect_bilingual(doc["policy"], "description", f.filename().string());
    for (const auto& c : doc["checks"]) {
      const std::string where = f.filename().string() + " " + c["id"].as<std::string>();
      expect_bilingual(c, "title", where);
      expect_bilingual(c, "rationale", where);
      expect_bilingual(c, "remediation", where, true);  // a command is the same in both
      ++checks;
    }
  }
  EXPECT_GE(checks, 100u);
}

TEST_F(ShippedContent, RulesInVietnameseAndEnglish) {
  size_t rules = 0;
  for (const auto& f : files("detection")) {
    for (const auto& doc : YAML::LoadAllFromFile(f.string())) {
      if (doc.IsSequence()) {  // native rules
        for (const auto& r : doc) {
          const std::string where = f.filename().string() + " " + r["id"].as<std::string>();
          expect_bilingual(r, "title", where);
          if (r["description"]) expect_bilingual(r, "description", where);
          ++rules;
        }
      } else if (doc.IsMap() && doc["title"]) {  // Sigma: the Vietnamese in our `i18n` extension
        const std::string where = f.filename().string() + " " + doc["id"].as<std::string>();
        const YAML::Node vi = doc["i18n"]["vi"];
        ASSERT_TRUE(vi && vi["title"]) << where << ": no i18n.vi.title";
        EXPECT_NE(vi["title"].as<std::string>(), doc["title"].as<std::string>()) << where;
        if (doc["description"]) {
          EXPECT_TRUE(vi["description"]) << where << ": no i18n.vi.description";
        }
        ++rules;
      }
    }
  }
  EXPECT_GE(rules, 35u);
  // And the loaders give each language its text.
  auto loaded = load_rules({(rules_dir() / "detection").string()});
  ASSERT_TRUE(loaded) << loaded.error();
  for (const auto& r : loaded->set->rules) {
    EXPECT_FALSE(r->title.vi.empty()) << r->id;
    EXPECT_NE(r->title.vi, r->title.en) << r->id;
  }
}

TEST_F(ShippedContent, CataloguesInVietnameseAndEnglish) {
  for (const auto& f : files("frameworks")) {
    const YAML::Node doc = YAML::LoadFile(f.string());
    expect_bilingual(doc["framework"], "title", f.filename().string());
    for (const auto& c : doc["controls"]) {
      expect_bilingual(c, "title", f.filename().string() + " " + c["id"].as<std::string>());
    }
  }
  auto fws = checks::load_frameworks({(rules_dir() / "frameworks").string()});
  ASSERT_TRUE(fws) << fws.error();
  const auto* tcvn = fws->find("tcvn11930");
  ASSERT_NE(tcvn, nullptr);
  // TCVN 11930's own wording for its headings.
  EXPECT_EQ(tcvn->find("server.access-control")->title.vi, "Kiểm soát truy cập");
  EXPECT_EQ(tcvn->find("server.access-control")->title.en, "Access control");
}

}  // namespace
}  // namespace vigil::agent::rules
