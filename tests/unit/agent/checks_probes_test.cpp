// Policy validation (file:line:column), probe semantics on small inline policies, and Debian
// version ordering.
#include <gtest/gtest.h>

#include "agent/checks/host.h"
#include "tests/unit/agent/checks_tree.h"

namespace vigil::agent::checks {
namespace {

using test::RootTree;

const char* kFramework = R"(framework:
  id: fw
  title: Test framework
controls:
  - {id: c1, title: One, group: server, levels: [1, 2], verified: true}
  - {id: c2, title: Two, group: data, levels: [3], verified: false, source_note: not public}
)";

class Policies : public ::testing::Test {
 protected:
  void SetUp() override {
    fw_path_ = dir_.write("frameworks/fw.yaml", kFramework).string();
    auto fws = load_frameworks({fw_path_});
    ASSERT_TRUE(fws) << fws.error();
    fws_ = std::move(*fws);
  }

  Result<LoadedPolicy> load(const std::string& text) {
    return load_policy(dir_.write("policies/p.yaml", text).string(), fws_);
  }

  // A policy with one check whose condition is `condition` (YAML, indented by the caller).
  Policy one(const std::string& condition, const std::string& header_extra = "") {
    auto r = load("policy: {id: p, title: P, version: '1'" + header_extra +
                  "}\nchecks:\n  - id: c\n    title: T\n    rationale: R\n    remediation: M\n    level: 1\n"
                  "    compliance: {fw: [c1]}\n    condition:\n" +
                  condition);
    EXPECT_TRUE(r) << r.error();
    return r ? r->policy : Policy{};
  }

  CheckResult run(const Policy& p, const RootTree& t) {
    ScanOptions o;
    o.root = t.root();
    Scanner s(o);
    return s.evaluate(p.checks.at(0));
  }

  vigil::test::TempDir dir_;
  std::string fw_path_;
  LoadedFrameworks fws_;
};

TEST_F(Policies, ValidationErrorsCarryLineAndColumn) {
  auto r = load(R"(policy:
  id: p
  title: P
  version: "1"
checks:
  - id: a
    title: A
    rationale: R
    remediation: M
    level: 7
    compliance: {fw: [c1, c9], nofw: [x]}
    condition:
      all:
        - setings: {path: /etc/x, key: K, value: 1}
        - lines: {path: etc/x, match: "([a-"}
        - command: {run: [/bin/true], exit: 0}
        - file: {path: /etc/x, mode: {max: "0999"}}
)");
  ASSERT_FALSE(r);
  const std::string& e = r.error();
  EXPECT_NE(e.find("p.yaml:10:12: error: checks[0].level"), std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:11:27: error: a.compliance.fw: unknown control 'c9'"), std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:11:32: error: a.compliance: unknown framework 'nofw'"), std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:14:11: error: a.condition.all[0]: unknown condition 'setings' (did you mean 'setting'?)"),
            std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:15:25: error: a.condition.all[1].lines.path: 'etc/x' must be an absolute path"), std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:15:39: error: a.condition.all[1].lines.match: invalid regular expression"), std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:16:11: error: a.condition.all[2].command: command probes need 'allow_commands: true'"),
            std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:17:44: error: a.condition.all[3].file.mode.max: '0999' is not an octal mode"), std::string::npos) << e;
}

TEST_F(Policies, MissingKeysAndDuplicateIdsAreReported) {
  auto r = load("policy: {id: p, title: P, version: '1'}\nchecks:\n"
                "  - {id: a, title: A, rationale: R, remediation: M, level: 1, compliance: {fw: c1}, condition: {file: {path: /x}}}\n"
                "  - {id: a, title: A, rationale: R, level: 1, compliance: {fw: c1}, condition: {file: {path: /x}}}\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("p.yaml:4:10: error: duplicate check id 'a'"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("missing required key 'remediation'"), std::string::npos) << r.error();
}

TEST_F(Policies, FrameworkWithoutReasonForUnverifiedControlIsRejected) {
  auto p = dir_.write("bad/fw.yaml", "framework: {id: x, title: X}\ncontrols:\n  - {id: a, title: A, group: server, levels: [1], verified: false}\n");
  auto r = load_frameworks({p.string()});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("fw.yaml:3:5: error: controls[0]: an unverified control needs a source_note"), std::string::npos)
      << r.error();
}

TEST_F(Policies, SshdFirstValueWinsAndMatchBlocksAreIgnored) {
  auto p = one("      setting: {path: /etc/ssh/sshd_config, format: sshd, key: PermitRootLogin, value: 'no', default: yes}\n");
  RootTree t;
  t.file("/etc/ssh/sshd_config", "# c\npermitrootlogin no\nPermitRootLogin yes\nMatch User x\n  PermitRootLogin yes\n");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_NE(r.evidence.find("sshd_config:2: permitrootlogin no"), std::string::npos) << r.evidence;
  t.file("/etc/ssh/sshd_config", "Match User x\n  PermitRootLogin no\n");
  r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);  // only the default applies globally
  EXPECT_NE(r.evidence.find("default 'yes'"), std::string::npos) << r.evidence;
}

TEST_F(Policies, KeyValueLastValueWinsAndComparesNumbers) {
  auto p = one("      setting: {path: [/etc/a.conf, /etc/a.d/*.conf], key: max_days, op: '<=', value: 90}\n");
  RootTree t;
  t.file("/etc/a.conf", "max_days = 30\n");
  t.file("/etc/a.d/50.conf", "max_days=120\n");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("/etc/a.d/50.conf:1: max_days=120 (expected <= 90)"), std::string::npos) << r.evidence;
  t.file("/etc/a.d/50.conf", "max_days=90\n");
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);
  t.file("/etc/a.d/50.conf", "max_days=ninety\n");
  EXPECT_EQ(run(p, t).outcome, Outcome::fail);  // not a number: never passes a numeric comparison
  t.remove("/etc/a.conf");
  t.remove("/etc/a.d");
  EXPECT_EQ(run(p, t).outcome, Outcome::fail);  // missing: fail by default
}

TEST_F(Policies, SettingKeyAliasesNameOneOptionAndTheLastValueOfAnyWins) {
  auto p = one("      setting: {path: [/etc/my.cnf, /etc/my.d/*.cnf], key: [bind-address, bind_address], op: matches, "
               "value: '^127\\.', default: 0.0.0.0}\n");
  RootTree t;
  t.file("/etc/my.cnf", "[mysqld]\nbind-address = 127.0.0.1\n");
  t.file("/etc/my.d/90.cnf", "[mysqld]\nbind_address = 0.0.0.0\n");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("/etc/my.d/90.cnf:2: bind_address = 0.0.0.0"), std::string::npos) << r.evidence;
  t.file("/etc/my.d/90.cnf", "[mysqld]\nbind-address = 127.0.0.1\n");
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);
  t.file("/etc/my.cnf", "[mysqld]\nbind_address = 0.0.0.0\n");
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);  // the later file's alias wins
}

TEST_F(Policies, SymlinksInAnImageResolveInsideTheRoot) {
  auto p = one("      setting: {path: /etc/vigil-test.conf, key: max_days, op: '<=', value: 90}\n");
  RootTree t;
  // Absolute targets mean the image's own files, not the scanning machine's.
  t.file("/usr/share/vigil-test/defaults.conf", "max_days 30\n");
  t.link("/etc/vigil-test.conf", "/usr/share/vigil-test/defaults.conf");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  t.link("/etc/vigil-test.conf", "../../../../../usr/share/vigil-test/defaults.conf");  // ".." stops at the root
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);
  auto f = one("      file: {path: /etc/vigil-test.conf, mode: {max: '0644'}}\n");
  EXPECT_EQ(run(f, t).outcome, Outcome::pass) << run(f, t).evidence;
  t.remove("/usr/share/vigil-test");
  EXPECT_EQ(run(p, t).outcome, Outcome::error);
  EXPECT_EQ(run(f, t).outcome, Outcome::error);
}

TEST_F(Policies, ConditionTreesCombineOutcomes) {
  auto p = one("      none:\n        - file: {path: /etc/bad}\n        - lines: {path: /etc/conf, match: '^evil'}\n");
  RootTree t;
  t.file("/etc/conf", "good\n");
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);
  t.file("/etc/bad", "");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("/etc/bad"), std::string::npos);

  auto any = one("      any:\n        - file: {path: /etc/a}\n        - file: {path: /etc/b}\n");
  RootTree u;
  EXPECT_EQ(run(any, u).outcome, Outcome::fail);
  u.link("/etc/a", "/nonexistent/vigil");
  EXPECT_EQ(run(any, u).outcome, Outcome::error);  // cannot tell: never a pass
  u.file("/etc/b", "");
  EXPECT_EQ(run(any, u).outcome, Outcome::pass);
}

TEST_F(Policies, FileModeOwnerAndGroupResolveInTheRoot) {
  auto p = one("      file: {path: /etc/secret, mode: {max: '0640'}, owner: [alice], group: '4242'}\n");
  RootTree t;
  t.file("/etc/passwd", fmt::format("alice:x:{}:0::/:/bin/sh\n", ::getuid()));
  t.file("/etc/secret", "s", 0600);
  std::filesystem::path f = t.path() / "etc/secret";
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);  // group is not 4242 (unless the test runs as that group)
  EXPECT_NE(r.evidence.find("group"), std::string::npos) << r.evidence;
  auto q = one("      file: {path: /etc/secret, mode: {max: '0640'}, owner: alice}\n");
  EXPECT_EQ(run(q, t).outcome, Outcome::pass) << run(q, t).evidence;
  ::chmod(f.c_str(), 0604);
  r = run(q, t);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("mode 0604"), std::string::npos) << r.evidence;
}

TEST_F(Policies, DirectoryListingsCountMatchingEntries) {
  auto p = one("      directory: {path: /etc/cron.d, match: '\\.(sh|bak)$', expect: none, missing: not_applicable}\n");
  RootTree t;
  EXPECT_EQ(run(p, t).outcome, Outcome::not_applicable);
  t.file("/etc/cron.d/job", "");
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);
  t.file("/etc/cron.d/x.bak", "");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("x.bak"), std::string::npos);
}

TEST_F(Policies, ServicesEnabledByLinksAndMaskedIsNotEnabled) {
  auto p = one("      service: {unit: foo.service, enabled: true, active: true}\n");
  RootTree t;
  t.link("/etc/systemd/system/multi-user.target.wants/foo.service", "/lib/systemd/system/foo.service");
  auto r = run(p, t);
  // enabled passes; active is unknowable on an image: not applicable, not pass.
  EXPECT_EQ(r.outcome, Outcome::not_applicable) << r.evidence;
  auto q = one("      service: {unit: foo.service, enabled: false}\n");
  EXPECT_EQ(run(q, t).outcome, Outcome::fail);
  t.remove("/etc/systemd/system/multi-user.target.wants");
  t.link("/etc/systemd/system/foo.service", "/dev/null");
  auto m = run(q, t);
  EXPECT_EQ(m.outcome, Outcome::pass);
  EXPECT_NE(m.evidence.find("masked"), std::string::npos);
}

TEST_F(Policies, PackagesAndVersions) {
  auto p = one("      package: {name: openssl, version: {op: '>=', value: '3.0.11-1~deb12u1'}}\n");
  RootTree t;
  t.file("/var/lib/dpkg/status",
         "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\n\n"
         "Package: old\nStatus: deinstall ok config-files\nVersion: 1\n");
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);
  t.file("/var/lib/dpkg/status", "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u1~pre\n");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("3.0.11-1~deb12u1~pre"), std::string::npos);
  t.remove("/var/lib/dpkg");
  EXPECT_EQ(run(p, t).outcome, Outcome::error);
}

TEST_F(Policies, AccountsPasswordAgeing) {
  auto p = one("      accounts: {check: password_max_days, max: 90}\n");
  RootTree t;
  t.file("/etc/shadow", "root:$6$x:19000:0:90:7:::\nlocked:!$6$y:19000:0:99999:7:::\nbob:$6$z:19000:0::7:::\n");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("bob (max unset)"), std::string::npos) << r.evidence;
  EXPECT_EQ(r.evidence.find("locked"), std::string::npos) << r.evidence;
}

TEST_F(Policies, ListeningSocketsDecodeAddresses) {
  auto p = one("      listening: {ports: [53], expect: absent, except_loopback: true}\n");
  RootTree t;
  t.file("/proc/net/udp", "  sl  local_address rem_address   st\n   1: 3500007F:0035 00000000:0000 07 0\n");
  EXPECT_EQ(run(p, t).outcome, Outcome::pass);  // 127.0.0.53 only
  t.file("/proc/net/udp", "  sl  local_address rem_address   st\n   1: 0100000A:0035 00000000:0000 07 0\n");
  auto r = run(p, t);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("udp 10.0.0.1:53"), std::string::npos) << r.evidence;
}

TEST_F(Policies, CommandsRunOnlyWhenAllowedAndAgainstTheLiveRoot) {
  auto p = one("      command: {run: [/bin/echo, hello], match: '^hello$', timeout: 5s}\n", ", allow_commands: true");
  RootTree t;
  EXPECT_EQ(run(p, t).outcome, Outcome::not_applicable);
  ScanOptions o;  // root "/"
  Scanner s(o);
  auto r = s.evaluate(p.checks.at(0));
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  auto slow = one("      command: {run: [/bin/sleep, '5'], exit: 0, timeout: 100ms}\n", ", allow_commands: true");
  auto to = s.evaluate(slow.checks.at(0));
  EXPECT_EQ(to.outcome, Outcome::error);
  EXPECT_NE(to.evidence.find("timed out"), std::string::npos) << to.evidence;
}

TEST(DebianVersions, OrderAsDpkgDoes) {
  EXPECT_EQ(compare_debian_versions("1.0", "1.0"), 0);
  EXPECT_LT(compare_debian_versions("1.0~rc1", "1.0"), 0);
  EXPECT_LT(compare_debian_versions("1.0", "1.0+b1"), 0);
  EXPECT_LT(compare_debian_versions("1.2", "1.10"), 0);
  EXPECT_GT(compare_debian_versions("1:0.9", "2.0"), 0);
  EXPECT_LT(compare_debian_versions("2.0-1", "2.0-2"), 0);
  EXPECT_LT(compare_debian_versions("2.0-9", "2.0-10"), 0);
  EXPECT_LT(compare_debian_versions("3.0.11-1~deb12u1", "3.0.11-1"), 0);
  EXPECT_LT(compare_debian_versions("1.0a", "1.0b"), 0);
  EXPECT_GT(compare_debian_versions("1.0a", "1.0"), 0);
  EXPECT_LT(compare_debian_versions("1.0~~", "1.0~"), 0);
  EXPECT_EQ(compare_debian_versions("0:1.0", "1.0"), 0);
  EXPECT_EQ(compare_debian_versions("1.01", "1.1"), 0);
  EXPECT_LT(compare_debian_versions("9.2p1-2+deb12u2", "9.2p1-2+deb12u3"), 0);
}

}  // namespace
}  // namespace vigil::agent::checks
