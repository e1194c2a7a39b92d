// The shipped baseline on prepared root trees: a hardened host passes every check, a misconfigured
// one fails exactly the checks it should with the evidence that decided it, and unreadable files
// give `error`, never `pass`.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>

#include "tests/unit/agent/checks_tree.h"

namespace vigil::agent::checks {
namespace {

using test::RootTree;

std::string ids_line(const char* name, long long id) { return fmt::format("{}:x:{}:\n", name, id); }

// Packages of the hardened host (and of the misconfigured one, which starts from it).
constexpr const char* kPackages[] = {"openssh-server", "libpam-pwquality", "sudo", "auditd", "logrotate", "nftables",
                                     "unattended-upgrades", "aide", "apparmor", "cron", "apache2", "php-common",
                                     "postgresql-common", "mariadb-server", "redis-server", "mongodb-org-server",
                                     "clamav-daemon", "clamav-freshclam", "at", "systemd-coredump", "rsyslog"};

std::string dpkg_status() {
  std::string dpkg;
  for (const char* p : kPackages) dpkg += fmt::format("Package: {}\nStatus: install ok installed\nVersion: 1.0-1\n\n", p);
  // Debian 12's nginx: its built-in ssl_protocols still allows TLS 1.0, so the configuration must set one.
  dpkg += "Package: nginx\nStatus: install ok installed\nVersion: 1.22.1-9+deb12u1\n\n";
  return dpkg;
}

// Web servers, databases, firewall, updates, kernel modules, audit rules and the rest the checks
// added in policy 1.1 look at, configured the way the baseline wants.
void build_hardened_services(const RootTree& t) {
  t.file("/etc/sudoers.d/README", "# Files in this directory are read by sudo.\n# alice ALL=(ALL) NOPASSWD: ALL\n", 0440);
  t.file("/etc/nginx/nginx.conf",
         "user www-data;\n"
         "events { worker_connections 768; }\n"
         "http {\n"
         "  server_tokens off;\n"
         "  ssl_protocols TLSv1.2 TLSv1.3; # no TLS 1.0/1.1\n"
         "  add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;\n"
         "  include /etc/nginx/conf.d/*.conf;\n"
         "  include /etc/nginx/sites-enabled/*;\n"
         "}\n");
  t.file("/etc/nginx/sites-enabled/portal",
         "server {\n  listen 443 ssl;\n  listen [::]:443 ssl;\n  server_name portal.example.gov.vn;\n  root /var/www/html;\n}\n"
         "server {\n  listen 80 default_server;\n  return 301 https://$host$request_uri;\n}\n"
         "server {\n  listen 127.0.0.1:8443 ssl;\n  server_name status.local;\n}\n");
  t.file("/etc/apache2/apache2.conf",
         "ServerTokens Prod\n"
         "ServerSignature Off\n"
         "TraceEnable Off\n"
         "IncludeOptional mods-enabled/*.load\n"
         "IncludeOptional mods-enabled/*.conf\n"
         "IncludeOptional sites-enabled/*.conf\n"
         "<Directory /var/www/>\n    Options -Indexes +FollowSymLinks\n    AllowOverride None\n</Directory>\n");
  t.file("/etc/apache2/mods-enabled/ssl.load", "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n");
  t.file("/etc/apache2/mods-enabled/headers.load", "LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so\n");
  t.file("/etc/apache2/mods-enabled/ssl.conf", "<IfModule mod_ssl.c>\n  SSLProtocol -all +TLSv1.2 +TLSv1.3\n</IfModule>\n");
  t.file("/etc/apache2/sites-enabled/intranet.conf",
         "<VirtualHost *:443>\n"
         "  ServerName intranet.example.gov.vn\n"
         "  SSLEngine on\n"
         "  Header always set Strict-Transport-Security \"max-age=31536000\"\n"
         "</VirtualHost>\n");
  t.dir("/var/www/html", 0755);
  t.file("/etc/php/8.2/fpm/php.ini", "[PHP]\nexpose_php = Off\ndisplay_errors = Off\nallow_url_include = Off\n");
  t.file("/etc/nftables.conf",
         "#!/usr/sbin/nft -f\nflush ruleset\n"
         "table inet filter {\n"
         "  chain input {\n"
         "    type filter hook input priority filter; policy drop;\n"
         "    iif lo accept\n    ct state established,related accept\n    tcp dport { 22, 443 } accept\n"
         "  }\n"
         "}\n");
  t.file("/run/systemd/timesync/synchronized", "");
  t.file("/run/sshd.pid", "812\n");
  t.file("/etc/postgresql/15/main/postgresql.conf",
         "listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;\nssl = on\n");
  t.file("/etc/postgresql/15/main/pg_hba.conf",
         "# TYPE DATABASE USER ADDRESS METHOD\nlocal all postgres peer\n# host all all 0.0.0.0/0 trust\n"
         "host all all 127.0.0.1/32 scram-sha-256\n");
  t.file("/etc/mysql/my.cnf", "[client-server]\n!includedir /etc/mysql/mariadb.conf.d/\n");
  t.file("/etc/mysql/mariadb.conf.d/50-server.cnf", "[mysqld]\nbind-address            = 127.0.0.1\n");
  t.file("/etc/redis/redis.conf", "bind 127.0.0.1 -::1\nprotected-mode yes\nport 6379\n");
  t.file("/etc/mongod.conf", "net:\n  port: 27017\n  bindIp: 127.0.0.1\nsecurity:\n  authorization: enabled\n");
  t.file("/etc/crypttab", "# <target name> <source device> <key file> <options>\nsda3_crypt UUID=5e1c none luks,discard\n");
  t.file("/etc/apt/apt.conf.d/50unattended-upgrades",
         "Unattended-Upgrade::Origins-Pattern {\n"
         "        // \"origin=Debian,codename=${distro_codename}-updates\";\n"
         "        \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";\n"
         "};\n");
  t.file("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "Origin: Debian\n");
  t.file("/var/log/unattended-upgrades/unattended-upgrades.log", "INFO No packages found that can be upgraded unattended\n");
  t.file("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
  t.file("/etc/vigil/agent.yaml",
         "agent:\n  state_dir: /var/lib/vigil\ncollector:\n  addresses: [collector.example.gov.vn:8443]\n"
         "logs:\n  - {path: /var/log/auth.log, format: syslog}\n"
         "fim:\n  paths:\n    - {path: /etc}\n    - {path: /var/www/html, ignore: [\"cache/**\"]}\n",
         0640);
  t.file("/var/lib/vigil/fim.baseline", "vigil-fim-baseline\n", 0600);
  t.file("/var/lib/clamav/daily.cld", "ClamAV-VDB\n");
  // Fresh at the scan time: a modification time after it (today's, when the tests run later than
  // kScanNow) would be "in the future".
  for (const char* f : {"/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
                        "/var/log/unattended-upgrades/unattended-upgrades.log", "/var/lib/clamav/daily.cld",
                        "/var/lib/vigil/fim.baseline"}) {
    t.touch(f, test::kScanNow - std::chrono::hours(1));
  }
  for (const char* period : {"hourly", "daily", "weekly", "monthly"}) t.dir(std::string("/etc/cron.") + period, 0700);
  t.file("/etc/at.allow", "root\n", 0640);
  std::string modprobe;
  for (const char* m : {"cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "squashfs", "udf", "usb-storage", "dccp", "sctp",
                        "rds", "tipc"}) {
    modprobe += fmt::format("install {} /bin/false\nblacklist {}\n", m, m);
  }
  t.file("/etc/modprobe.d/vigil-hardening.conf", modprobe);
  t.file("/etc/systemd/coredump.conf", "[Coredump]\nStorage=none\nProcessSizeMax=0\n");
  t.file("/etc/audit/rules.d/50-vigil.rules",
         "-w /etc/passwd -p wa -k identity\n-w /etc/group -p wa -k identity\n-w /etc/shadow -p wa -k identity\n"
         "-w /etc/gshadow -p wa -k identity\n-w /etc/security/opasswd -p wa -k identity\n"
         "-w /etc/sudoers -p wa -k scope\n-w /etc/sudoers.d -p wa -k scope\n"
         "-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change\n"
         "-w /etc/localtime -p wa -k time-change\n"
         "-a always,exit -F arch=b64 -S sethostname,setdomainname -k system-locale\n"
         "-w /etc/hosts -p wa -k system-locale\n-w /etc/network -p wa -k system-locale\n"
         "-w /var/log/lastlog -p wa -k logins\n-w /var/run/faillock -p wa -k logins\n"
         "-w /var/run/utmp -p wa -k session\n-w /var/log/wtmp -p wa -k session\n-w /var/log/btmp -p wa -k session\n"
         "-a always,exit -F arch=b64 -S chmod,fchmod,fchmodat -F auid>=1000 -F auid!=unset -k perm_mod\n"
         "-a always,exit -F arch=b64 -S chown,fchown,lchown,fchownat -F auid>=1000 -F auid!=unset -k perm_mod\n"
         "-a always,exit -F arch=b64 -S setxattr,lsetxattr,fsetxattr,removexattr -F auid>=1000 -F auid!=unset -k perm_mod\n"
         "-w /etc/apparmor/ -p wa -k MAC-policy\n-w /etc/apparmor.d/ -p wa -k MAC-policy\n"
         "-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k kernel_modules\n"
         "-w /var/log/sudo.log -p wa -k actions\n"
         "-a always,exit -F arch=b64 -S mount -F auid>=1000 -F auid!=unset -k mounts\n"
         "-a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat -F auid>=1000 -F auid!=unset -k delete\n"
         "-e 2\n");
  t.file("/etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"audit=1 audit_backlog_limit=8192\"\n");
  t.file("/etc/rsyslog.conf", "$FileOwner root\n$FileCreateMode 0640\n*.*;auth,authpriv.none -/var/log/syslog\n");
  t.file("/etc/pam.d/su", "auth sufficient pam_rootok.so\nauth required pam_wheel.so use_uid group=sugroup\n");
  t.file("/etc/issue", "Authorised use only\n", 0644);
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"kernel/yama/ptrace_scope", "1"}, {"kernel/dmesg_restrict", "1"}, {"kernel/kptr_restrict", "1"},
           {"fs/protected_hardlinks", "1"}, {"fs/protected_symlinks", "1"}, {"net/ipv6/conf/all/accept_source_route", "0"},
           {"net/ipv4/conf/default/rp_filter", "1"}, {"net/ipv4/conf/default/accept_redirects", "0"},
           {"net/ipv4/conf/default/log_martians", "1"}}) {
    t.file("/proc/sys/" + k, v + "\n");
  }
}

// A Debian host configured the way the baseline wants. Owner names resolve in the tree's own
// etc/passwd, so the tree maps root to whoever runs the test.
void build_hardened(const RootTree& t) {
  const auto uid = static_cast<long long>(::getuid());
  const auto gid = static_cast<long long>(::getgid());
  t.file("/etc/hostname", "hardened-host\n");
  t.file("/etc/passwd", fmt::format("root:x:{}:{}:root:/root:/bin/bash\n"
                                    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                    "admin:x:1000:1000:Admin:/home/admin:/bin/bash\n",
                                    uid, gid));
  t.file("/etc/group", ids_line("root", gid) + ids_line("shadow", gid) + "admin:x:1000:\nsudo:x:27:admin\n");
  t.file("/etc/shadow",
         "root:$y$j9T$salt$hash:19000:1:60:7:30::\n"
         "daemon:*:19000:0:99999:7:::\n"
         "admin:$y$j9T$salt$hash2:19000:1:60:7:30::\n",
         0640);
  t.file("/etc/gshadow", "root:*::\nshadow:*::\n", 0640);
  t.file("/etc/login.defs",
         "# login.defs\nPASS_MAX_DAYS\t60\nPASS_MIN_DAYS\t1\nPASS_WARN_AGE\t7\nUMASK\t\t027\nENCRYPT_METHOD YESCRYPT\n");
  t.file("/etc/default/useradd", "SHELL=/bin/sh\nINACTIVE=30\n");
  t.file("/etc/ssh/sshd_config",
         "Include /etc/ssh/sshd_config.d/*.conf\n"
         "PermitRootLogin no\n"
         "PermitEmptyPasswords no\n"
         "X11Forwarding no\n"
         "MaxAuthTries 4\n"
         "IgnoreRhosts yes\n"
         "HostbasedAuthentication no\n"
         "PermitUserEnvironment no\n"
         "Ciphers aes256-gcm@openssh.com,aes256-ctr,chacha20-poly1305@openssh.com\n"
         "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com\n"
         "KexAlgorithms curve25519-sha256,diffie-hellman-group16-sha512\n"
         "Banner /etc/issue.net\n"
         "LoginGraceTime 60\n"
         "MaxSessions 10\n"
         "LogLevel VERBOSE\n"
         "UsePAM yes\n"
         "AllowTcpForwarding no\n"
         "AllowGroups sshusers\n"
         "AllowAgentForwarding no\n"
         "Compression no\n"
         "MaxStartups 10:30:60\n"
         "Match User backup\n"
         "  X11Forwarding yes\n",
         0600);
  t.file("/etc/ssh/sshd_config.d/10-idle.conf", "ClientAliveInterval=300\nClientAliveCountMax 3\n", 0600);
  t.file("/etc/ssh/ssh_host_ed25519_key", "key\n", 0600);
  t.file("/etc/ssh/ssh_host_ed25519_key.pub", "pub\n", 0644);
  // Administrators log in with a key and a one-time code.
  t.file("/etc/ssh/sshd_config.d/20-mfa.conf", "KbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n",
         0600);
  t.file("/etc/pam.d/sshd", "@include common-auth\nauth required pam_google_authenticator.so\n");
  t.file("/var/lib/dpkg/status", dpkg_status() + "Package: avahi-daemon\nStatus: deinstall ok config-files\nVersion: 0.8-10\n\n");
  t.file("/etc/security/pwquality.conf", "# minlen = 8\nminlen = 14\nminclass = 4\n");
  t.file("/etc/pam.d/common-auth", "auth required pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so\n");
  t.file("/etc/security/faillock.conf", "deny = 5\nunlock_time = 900\n");
  t.file("/etc/pam.d/common-password",
         "password [success=1 default=ignore] pam_unix.so obscure yescrypt remember=10\n");
  t.file("/etc/profile.d/tmout.sh", "readonly TMOUT=900\nexport TMOUT\n");
  t.file("/etc/sudoers", "Defaults env_reset\nDefaults use_pty\nDefaults logfile=\"/var/log/sudo.log\"\n", 0440);
  t.file("/etc/crontab", "# crontab\n", 0600);
  t.dir("/etc/cron.d", 0700);
  t.file("/etc/cron.allow", "root\n", 0640);
  t.file("/boot/grub/grub.cfg", "set superusers=\"root\"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.AB\nmenuentry\n", 0600);
  t.file("/etc/motd", "", 0644);
  t.file("/etc/issue.net", "Authorised use only\n", 0644);
  t.file("/etc/audit/auditd.conf",
         "log_file = /var/log/audit/audit.log\nmax_log_file_action = keep_logs\nadmin_space_left_action = single\n");
  t.file("/etc/systemd/journald.conf", "[Journal]\nStorage=persistent\n#Compress=yes\n");
  t.file("/etc/logrotate.conf", "weekly\nrotate 13\n/var/log/btmp {\n    rotate 1\n}\n");
  for (const char* u : {"auditd.service", "nftables.service", "cron.service"}) {
    t.link(std::string("/etc/systemd/system/multi-user.target.wants/") + u, std::string("/lib/systemd/system/") + u);
  }
  t.link("/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service", "/lib/systemd/system/systemd-timesyncd.service");
  t.link("/etc/systemd/system/timers.target.wants/dailyaidecheck.timer", "/lib/systemd/system/dailyaidecheck.timer");
  t.file("/etc/apt/apt.conf.d/20auto-upgrades",
         "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n");
  t.file("/etc/security/limits.d/60-core.conf", "*    hard    core    0\n");
  t.file("/etc/fstab",
         "# <file system> <mount point> <type> <options> <dump> <pass>\n"
         "UUID=1 / ext4 errors=remount-ro 0 1\n"
         "tmpfs /tmp tmpfs defaults,nodev,nosuid,noexec 0 0\n"
         "tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0\n"
         "UUID=2 /var/tmp ext4 defaults,nodev,nosuid,noexec 0 2\n"
         "UUID=3 /var/log ext4 defaults 0 2\n"
         "UUID=4 /home ext4 defaults,nodev 0 2\n");
  const std::map<std::string, std::string> sysctls = {
      {"net/ipv4/ip_forward", "0"}, {"net/ipv4/conf/all/send_redirects", "0"},
      {"net/ipv4/conf/default/send_redirects", "0"}, {"net/ipv4/conf/all/accept_source_route", "0"},
      {"net/ipv4/conf/all/accept_redirects", "0"}, {"net/ipv6/conf/all/accept_redirects", "0"},
      {"net/ipv4/conf/all/secure_redirects", "0"}, {"net/ipv4/conf/all/log_martians", "1"},
      {"net/ipv4/icmp_echo_ignore_broadcasts", "1"}, {"net/ipv4/icmp_ignore_bogus_error_responses", "1"},
      {"net/ipv4/conf/all/rp_filter", "1"}, {"net/ipv4/tcp_syncookies", "1"},
      {"net/ipv6/conf/all/accept_ra", "0"}, {"kernel/randomize_va_space", "2"}, {"fs/suid_dumpable", "0"}};
  for (const auto& [k, v] : sysctls) t.file("/proc/sys/" + k, v + "\n");
  build_hardened_services(t);
  const std::string header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
  // An MTA bound to loopback only: allowed.
  t.file("/proc/net/tcp", header +
                              "   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 "
                              "0000000000000000 100 0 0 10 0\n"
                              "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 "
                              "0000000000000000 100 0 0 10 0\n");
  t.file("/proc/net/tcp6", header);
}

class Baseline : public ::testing::Test {
 protected:
  void SetUp() override {
    fws_ = test::shipped_frameworks();
    auto loaded = load_policy((vigil::test::source_dir() / "rules" / "policies" / "debian-baseline.yaml").string(), fws_);
    ASSERT_TRUE(loaded) << loaded.error();
    policy_ = std::move(loaded->policy);
    build_hardened(tree_);
  }
  LoadedFrameworks fws_;
  Policy policy_;
  RootTree tree_;
};

TEST_F(Baseline, ShipsAtLeast160ChecksEachMappedToVietnameseGroupsAndBilingual) {
  EXPECT_GE(policy_.checks.size(), 160u);
  size_t with_cis = 0;
  for (const auto& c : policy_.checks) {
    // A CIS Debian 12 item where the catalogue has one that fits (web servers, databases, audit
    // rules and kernel modules have none there); the Vietnamese groups always.
    with_cis += c.compliance.count("cis-debian12");
    EXPECT_TRUE(c.compliance.count("tcvn11930")) << c.id;
    EXPECT_GE(c.level, 1);
    EXPECT_LE(c.level, 5);
    EXPECT_FALSE(c.remediation.empty()) << c.id;
    // What an IT officer reads comes in both languages.
    for (const auto* t : {&c.title, &c.rationale}) {
      EXPECT_FALSE(t->vi.empty()) << c.id;
      EXPECT_NE(t->vi, t->en) << c.id;
    }
    EXPECT_FALSE(c.remediation.vi.empty()) << c.id;
    // Every control resolves in a loaded catalogue (the loader refuses otherwise; checked again here).
    for (const auto& [fw, ids] : c.compliance) {
      const Framework* f = fws_.find(fw);
      ASSERT_NE(f, nullptr) << fw;
      for (const auto& id : ids) EXPECT_NE(f->find(id), nullptr) << c.id << " " << fw << " " << id;
    }
  }
  EXPECT_GE(with_cis, 107u);
}

TEST_F(Baseline, CataloguesMarkUnverifiedControlsWithAReason) {
  const auto* tcvn = fws_.find("tcvn11930");
  const auto* succ = fws_.find("tcvn14423");
  const auto* cis = fws_.find("cis-debian12");
  ASSERT_TRUE(tcvn && succ && cis);
  for (const auto* g : {"network", "server", "application", "data"}) {
    EXPECT_TRUE(std::any_of(tcvn->controls.begin(), tcvn->controls.end(), [&](const Control& c) { return c.group == g; })) << g;
  }
  for (const auto& c : succ->controls) {
    EXPECT_FALSE(c.verified) << c.id;
    EXPECT_FALSE(c.source_note.empty()) << c.id;
  }
  ASSERT_NE(cis->find("5.2.9"), nullptr);
  EXPECT_TRUE(cis->find("5.2.9")->verified);
  ASSERT_NE(cis->find("6.1.1"), nullptr);
  EXPECT_FALSE(cis->find("6.1.1")->verified);
}

TEST_F(Baseline, HardenedTreePassesEveryCheck) {
  auto results = test::scan_by_id(policy_, tree_.root());
  ASSERT_EQ(results.size(), policy_.checks.size());
  for (const auto& [id, r] : results) {
    EXPECT_EQ(r.outcome, Outcome::pass) << id << ": " << outcome_name(r.outcome) << ": " << r.evidence;
  }
}

TEST_F(Baseline, MisconfiguredTreeFailsExactlyTheChecksItShouldWithEvidence) {
  const auto uid = static_cast<long long>(::getuid());
  const auto gid = static_cast<long long>(::getgid());
  // An included file comes first: its PermitRootLogin wins over the main file's.
  tree_.file("/etc/ssh/sshd_config.d/00-local.conf", "# local\nPermitRootLogin yes\n", 0600);
  tree_.file("/etc/login.defs", "PASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t1\nPASS_WARN_AGE\t7\nUMASK\t\t027\nENCRYPT_METHOD MD5\n");
  tree_.file("/etc/passwd", fmt::format("root:x:{}:{}:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n"
                                        "guest:x:1001:1001::/home/guest:/bin/bash\nops:x:1002:27::/home/ops:/bin/bash\n",
                                        uid, gid));
  tree_.file("/etc/shadow",
             "root:$y$j9T$salt$hash:19000:1:60:7:30::\nguest::19000:0:60:7:30::\nops:$y$j9T$salt$hash3:19000:1:90:7:30::\n",
             0644);
  tree_.file("/proc/sys/net/ipv4/ip_forward", "1\n");
  tree_.file("/proc/net/tcp6",
             "  sl  local_address                         remote_address                        st\n"
             "   0: 00000000000000000000000000000000:0017 00000000000000000000000000000000:0000 0A 0\n");
  tree_.file("/etc/fstab", "tmpfs /tmp tmpfs defaults,nodev,nosuid 0 0\n"
                           "tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0\n"
                           "UUID=2 /var/tmp ext4 defaults,nodev,nosuid,noexec 0 2\n"
                           "UUID=3 /var/log ext4 defaults 0 2\n"
                           "UUID=4 /home ext4 defaults,nodev 0 2\n");
  tree_.file("/var/lib/dpkg/status", "Package: telnet\nStatus: install ok installed\nVersion: 0.17+2.4-2\n\n" + dpkg_status());
  tree_.remove("/etc/systemd/system/multi-user.target.wants/nftables.service");
  // Checks added in policy 1.1.
  tree_.file("/etc/sudoers.d/90-deploy", "deploy ALL=(ALL) NOPASSWD: /usr/bin/systemctl\nDefaults timestamp_timeout=-1\n", 0440);
  tree_.file("/etc/nginx/sites-enabled/legacy",
             "server {\n  listen 8443 ssl;\n  server_name old.example.gov.vn;\n  ssl_protocols TLSv1 TLSv1.2;\n"
             "  server_tokens on;\n  add_header X-Frame-Options DENY;\n  location /files { autoindex on; }\n}\n");
  tree_.file("/etc/apache2/mods-enabled/ssl.conf", "SSLProtocol all -SSLv3\n");
  tree_.file("/etc/apache2/apache2.conf", "ServerTokens OS\nTraceEnable Off\nIncludeOptional mods-enabled/*.conf\n"
                                          "IncludeOptional sites-enabled/*.conf\n");
  tree_.file("/etc/php/8.2/fpm/php.ini", "[PHP]\nexpose_php = On\ndisplay_errors = Off\nallow_url_include = Off\n");
  ::chmod((tree_.path() / "var/www/html").c_str(), 0775);
  tree_.file("/etc/nftables.conf", "table inet filter {\n  chain input {\n    type filter hook input priority filter;\n  }\n}\n");
  tree_.remove("/run/systemd/timesync/synchronized");
  tree_.file("/etc/postgresql/15/main/postgresql.conf", "listen_addresses = '*'\nssl = off\n");
  tree_.file("/etc/postgresql/15/main/pg_hba.conf", "local all postgres peer\nhost all all 0.0.0.0/0 trust\n");
  tree_.file("/etc/mysql/mariadb.conf.d/50-server.cnf", "[mysqld]\n#bind-address = 127.0.0.1\n");
  tree_.file("/etc/redis/redis.conf", "bind 0.0.0.0\nprotected-mode no\n");
  tree_.file("/etc/mongod.conf", "net:\n  bindIpAll: true\n");
  tree_.file("/etc/crypttab", "# <target name> <source device> <key file> <options>\n");
  tree_.file("/etc/apt/apt.conf.d/50unattended-upgrades",
             "Unattended-Upgrade::Origins-Pattern {\n//  \"origin=Debian,codename=${distro_codename}-security\";\n};\n");
  tree_.touch("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", test::kScanNow - std::chrono::hours(24 * 30));
  tree_.touch("/var/log/unattended-upgrades/unattended-upgrades.log", test::kScanNow - std::chrono::hours(24 * 10));
  tree_.file("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nID=debian\nVERSION_ID=\"11\"\n");
  tree_.remove("/etc/vigil/agent.yaml");
  tree_.touch("/var/lib/clamav/daily.cld", test::kScanNow - std::chrono::hours(24 * 5));
  tree_.remove("/etc/ssh/sshd_config.d/20-mfa.conf");
  ::chmod((tree_.path() / "etc/cron.daily").c_str(), 0755);
  tree_.file("/etc/modprobe.d/vigil-hardening.conf", "install cramfs /bin/false\nblacklist cramfs\n"
                                                     "install freevxfs /bin/false\nblacklist freevxfs\n"
                                                     "install hfs /bin/false\nblacklist hfs\ninstall hfsplus /bin/false\n"
                                                     "blacklist hfsplus\ninstall jffs2 /bin/false\nblacklist jffs2\n"
                                                     "install squashfs /bin/false\nblacklist squashfs\n"
                                                     "install udf /bin/false\nblacklist udf\n# usb-storage is needed\n"
                                                     "install dccp /bin/true\nblacklist dccp\ninstall sctp /bin/false\n"
                                                     "blacklist sctp\ninstall rds /bin/false\nblacklist rds\n"
                                                     "install tipc /bin/false\nblacklist tipc\n");
  {
    std::ifstream in(tree_.path() / "etc/audit/rules.d/50-vigil.rules");
    std::string rules((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    rules.replace(rules.find("-w /etc/passwd -p wa -k identity\n"), 33, "");
    tree_.file("/etc/audit/rules.d/50-vigil.rules", rules);
  }
  tree_.file("/proc/sys/kernel/yama/ptrace_scope", "0\n");
  tree_.file("/etc/issue", "Debian GNU/Linux 12 \\n \\l\n");

  const std::map<std::string, std::string> expected = {
      {"ssh-permit-root-login", "sshd_config.d/00-local.conf:2: PermitRootLogin yes"},
      {"pass-max-days", "/etc/login.defs:1: PASS_MAX_DAYS\t99999 (expected <= 365)"},
      {"pass-max-days-admin", "PASS_MAX_DAYS\t99999 (expected <= 60)"},
      {"accounts-no-empty-passwords", "1 account(s) with an empty password: guest"},
      {"accounts-uid0-only-root", "1 account(s) with UID 0 besides root: toor"},
      {"perm-shadow", "/etc/shadow mode 0644"},
      {"sysctl-ip-forward", "net.ipv4.ip_forward = 1 (expected == 0)"},
      {"no-telnet-listener", "tcp [::]:23"},
      {"mount-tmp-options", "missing noexec (/etc/fstab)"},
      {"no-telnet-client", "package telnet 0.17+2.4-2 is installed"},
      {"firewall-enabled", "nftables.service is not enabled"},
      {"login-defs-encrypt-method", "ENCRYPT_METHOD MD5 (expected in [YESCRYPT, SHA512])"},
      {"sudo-nopasswd", "/etc/sudoers.d/90-deploy:1: deploy ALL=(ALL) NOPASSWD: /usr/bin/systemctl"},
      {"sudo-timestamp-timeout", "/etc/sudoers.d/90-deploy:2: Defaults timestamp_timeout=-1"},
      {"nginx-tls-protocols", "(old.example.gov.vn): ssl_protocols TLSv1 TLSv1.2 (/etc/nginx/sites-enabled/legacy:4) allows TLSv1"},
      {"nginx-hsts", "(old.example.gov.vn): no Strict-Transport-Security header"},
      {"nginx-server-tokens", "/etc/nginx/sites-enabled/legacy:5: server_tokens on (expected == off)"},
      {"nginx-autoindex", "/etc/nginx/sites-enabled/legacy:7: autoindex on"},
      {"apache-tls-protocols", "SSLProtocol all -SSLv3 (/etc/apache2/mods-enabled/ssl.conf:1) allows TLSv1 TLSv1.1"},
      {"apache-server-tokens", "/etc/apache2/apache2.conf:1: ServerTokens OS"},
      {"php-expose-php", "/etc/php/8.2/fpm/php.ini:2: expose_php = On"},
      {"web-root-not-writable", "/var/www/html mode 0775"},
      {"firewall-default-deny", "table inet filter chain input (/etc/nftables.conf:2): hook input policy accept"},
      {"time-synchronised", "/run/systemd/timesync/synchronized does not exist"},
      {"postgresql-network", "listen_addresses = '*'"},
      {"postgresql-no-trust", "pg_hba.conf:2: host all all 0.0.0.0/0 trust"},
      {"mysql-network", "bind-address not set in"},
      {"redis-network", "protected-mode no"},
      {"mongodb-network", "net.bindIpAll: true"},
      {"disk-encryption", "no line of /etc/crypttab matches"},
      {"security-updates-origin", "no line of /etc/apt/apt.conf.d/* matches"},
      {"apt-lists-fresh", "(30 days ago) (expected at most 7 days)"},
      {"unattended-upgrades-ran", "(10 days ago)"},
      {"os-release-supported", "Debian GNU/Linux 11 (bullseye) (/etc/os-release: ID=debian VERSION_ID=11): security support ended 2026-08-31"},
      {"logs-forwarded", "/etc/vigil/agent.yaml does not exist"},
      {"fim-active", "/etc/vigil/agent.yaml does not exist"},
      {"antimalware-clamav", "/var/lib/clamav/daily.cld modified"},
      {"ssh-mfa-admin", "AuthenticationMethods not set in /etc/ssh/sshd_config; default 'any'"},
      {"admin-password-max-days", "1 account(s) with password max age above 60 days among sudo, admin, wheel, root: ops (max 90)"},
      {"perm-cron-daily", "/etc/cron.daily mode 0755"},
      {"kmod-usb-storage-disabled", "no line of /etc/modprobe.d/*.conf matches"},
      {"audit-identity", "-w\\s+/etc/passwd"},
      {"sysctl-ptrace-scope", "kernel.yama.ptrace_scope = 0 (expected >= 1)"},
      {"issue-no-os-info", "/etc/issue:1: Debian GNU/Linux 12"},
  };
  auto results = test::scan_by_id(policy_, tree_.root());
  std::set<std::string> failed;
  for (const auto& [id, r] : results) {
    if (r.outcome == Outcome::fail) failed.insert(id);
    else EXPECT_EQ(r.outcome, Outcome::pass) << id << ": " << r.evidence;
  }
  std::set<std::string> want;
  for (const auto& [id, e] : expected) want.insert(id);
  EXPECT_EQ(failed, want);
  for (const auto& [id, e] : expected) {
    EXPECT_NE(results[id].evidence.find(e), std::string::npos) << id << ": " << results[id].evidence;
  }
}

TEST_F(Baseline, UnreadableFilesGiveErrorNeverPass) {
  tree_.remove("/etc/login.defs");
  tree_.dir("/etc/login.defs");                             // a directory where a file is expected
  tree_.link("/etc/shadow", "/nonexistent/vigil-test-shadow");  // a dangling symlink
  auto results = test::scan_by_id(policy_, tree_.root());
  for (const char* id : {"pass-max-days", "pass-min-days", "umask-default"}) {
    EXPECT_EQ(results[id].outcome, Outcome::error) << id;
    EXPECT_NE(results[id].evidence.find("is a directory"), std::string::npos) << results[id].evidence;
  }
  for (const char* id : {"accounts-no-empty-passwords", "accounts-password-max-days", "perm-shadow"}) {
    EXPECT_EQ(results[id].outcome, Outcome::error) << id;
    EXPECT_NE(results[id].evidence.find("dangling symbolic link"), std::string::npos) << results[id].evidence;
  }
}

std::string read_tree_file(const RootTree& t, const std::string& abs) {
  std::ifstream in(t.path() / abs.substr(1));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Replaces `from` by `to` in a file of the tree.
void edit(const RootTree& t, const std::string& abs, const std::string& from, const std::string& to) {
  std::string text = read_tree_file(t, abs);
  auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << abs << " has no '" << from << "'";
  text.replace(at, from.size(), to);
  t.file(abs, text);
}

void mode(const RootTree& t, const std::string& abs, mode_t m) { ::chmod((t.path() / abs.substr(1)).c_str(), m); }

// Each check added in policy 1.1, on its own: the hardened tree passes it (above), one change makes
// it fail, and the file it reads turned into a directory or a dangling link makes it an error.
struct Case {
  std::string id;
  std::function<void(const RootTree&)> misconfigure;
  std::string unreadable;  // the file to break
  bool dangling = false;   // break it as a dangling symbolic link (else a directory)
};

std::vector<Case> new_check_cases() {
  using std::chrono::hours;
  auto write = [](std::string path, std::string text) {
    return [path, text](const RootTree& t) { t.file(path, text); };
  };
  auto replace = [](std::string path, std::string from, std::string to) {
    return [path, from, to](const RootTree& t) { edit(t, path, from, to); };
  };
  auto chmod_to = [](std::string path, mode_t m) { return [path, m](const RootTree& t) { mode(t, path, m); }; };
  auto age = [](std::string path, int days) {
    return [path, days](const RootTree& t) { t.touch(path, test::kScanNow - hours(24 * days)); };
  };
  auto sshd = [&](std::string line) { return write("/etc/ssh/sshd_config.d/05-local.conf", line + "\n"); };
  const std::string rules = "/etc/audit/rules.d/50-vigil.rules";
  auto drop_rule = [&](std::string line) { return replace(rules, line + "\n", ""); };
  auto installed = [](std::string pkg) {
    return [pkg](const RootTree& t) {
      t.file("/var/lib/dpkg/status",
             read_tree_file(t, "/var/lib/dpkg/status") +
                 fmt::format("Package: {}\nStatus: install ok installed\nVersion: 1.0-1\n\n", pkg));
    };
  };
  auto sysctl = [](std::string key, std::string value) {
    return [key, value](const RootTree& t) { t.file("/proc/sys/" + key, value + "\n"); };
  };
  const std::string modprobe = "/etc/modprobe.d/vigil-hardening.conf";
  std::vector<Case> cases = {
      {"sudo-nopasswd", write("/etc/sudoers.d/90-ops", "%sudo ALL=(ALL:ALL) NOPASSWD: ALL\n"), "/etc/sudoers"},
      {"nginx-tls-protocols", write("/etc/nginx/conf.d/old.conf", "ssl_protocols TLSv1.1 TLSv1.2 TLSv1.3;\n"),
       "/etc/nginx/nginx.conf"},
      {"apache-tls-protocols", write("/etc/apache2/mods-enabled/ssl.conf", "SSLProtocol all\n"),
       "/etc/apache2/apache2.conf", true},
      {"nginx-hsts", write("/etc/nginx/sites-enabled/portal", "server { listen 443 ssl; add_header X-Frame-Options DENY; }\n"),
       "/etc/nginx/sites-enabled/portal"},
      {"apache-hsts", write("/etc/apache2/sites-enabled/intranet.conf", "<VirtualHost *:443>\nSSLEngine on\n</VirtualHost>\n"),
       "/etc/apache2/apache2.conf", true},
      {"firewall-default-deny", replace("/etc/nftables.conf", "policy drop", "policy accept"), "/etc/nftables.conf"},
      {"time-synchronised", [](const RootTree& t) { t.remove("/run/systemd/timesync/synchronized"); },
       "/run/systemd/timesync/synchronized", true},
      {"postgresql-network", write("/etc/postgresql/15/main/postgresql.conf", "listen_addresses = '*'\nssl = off\n"),
       "/etc/postgresql/15/main/postgresql.conf"},
      {"postgresql-no-trust", replace("/etc/postgresql/15/main/pg_hba.conf", "scram-sha-256", "trust"),
       "/etc/postgresql/15/main/pg_hba.conf"},
      {"mysql-network", replace("/etc/mysql/mariadb.conf.d/50-server.cnf", "127.0.0.1", "0.0.0.0"),
       "/etc/mysql/mariadb.conf.d/50-server.cnf"},
      {"redis-network", replace("/etc/redis/redis.conf", "bind 127.0.0.1 -::1", "bind * -::*"), "/etc/redis/redis.conf"},
      {"mongodb-network", write("/etc/mongod.conf", "net:\n  bindIp: 0.0.0.0\n"), "/etc/mongod.conf"},
      {"disk-encryption", write("/etc/crypttab", "# none\n"), "/etc/crypttab"},
      {"security-updates-origin", replace("/etc/apt/apt.conf.d/50unattended-upgrades", "        \"origin", "//      \"origin"),
       "/etc/apt/apt.conf.d/50unattended-upgrades"},
      {"apt-lists-fresh", age("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", 8),
       "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", true},
      {"unattended-upgrades-ran", age("/var/log/unattended-upgrades/unattended-upgrades.log", 8),
       "/var/log/unattended-upgrades/unattended-upgrades.log", true},
      {"os-release-supported", write("/etc/os-release", "ID=debian\nVERSION_ID=\"10\"\n"), "/etc/os-release"},
      {"logs-forwarded", [](const RootTree& t) { t.remove("/etc/vigil/agent.yaml"); }, "/etc/vigil/agent.yaml", true},
      {"antimalware-clamav", age("/var/lib/clamav/daily.cld", 4), "/var/lib/clamav/daily.cld", true},
      {"ssh-mfa-admin", write("/etc/ssh/sshd_config.d/20-mfa.conf", "AuthenticationMethods publickey\n"),
       "/etc/ssh/sshd_config.d/20-mfa.conf"},
      {"admin-password-max-days", replace("/etc/shadow", "admin:$y$j9T$salt$hash2:19000:1:60", "admin:$y$j9T$salt$hash2:19000:1:61"),
       "/etc/group", true},
      {"ssh-agent-forwarding", sshd("AllowAgentForwarding yes"), "/etc/ssh/sshd_config"},
      {"ssh-gateway-ports", sshd("GatewayPorts clientspecified"), "/etc/ssh/sshd_config"},
      {"ssh-permit-tunnel", sshd("PermitTunnel point-to-point"), "/etc/ssh/sshd_config"},
      {"ssh-strict-modes", sshd("StrictModes no"), "/etc/ssh/sshd_config"},
      {"ssh-gssapi-authentication", sshd("GSSAPIAuthentication yes"), "/etc/ssh/sshd_config"},
      {"ssh-compression", sshd("Compression yes"), "/etc/ssh/sshd_config"},
      {"ssh-max-startups", sshd("MaxStartups 10:30:100"), "/etc/ssh/sshd_config"},
      {"ssh-public-host-keys", chmod_to("/etc/ssh/ssh_host_ed25519_key.pub", 0664), "/etc/ssh/ssh_host_ed25519_key.pub", true},
      {"nginx-server-tokens", write("/etc/nginx/conf.d/tokens.conf", "server_tokens build;\n"), "/etc/nginx/nginx.conf"},
      {"nginx-autoindex", write("/etc/nginx/conf.d/index.conf", "autoindex on;\n"), "/etc/nginx/nginx.conf"},
      {"apache-server-tokens", write("/etc/apache2/mods-enabled/zz.conf", "ServerTokens Full\n"), "/etc/apache2/apache2.conf", true},
      {"apache-server-signature", write("/etc/apache2/mods-enabled/zz.conf", "ServerSignature On\n"),
       "/etc/apache2/apache2.conf", true},
      {"apache-trace-enable", write("/etc/apache2/mods-enabled/zz.conf", "TraceEnable extended\n"),
       "/etc/apache2/apache2.conf", true},
      {"apache-no-indexes", write("/etc/apache2/mods-enabled/zz.conf", "<Directory /srv/>\n  Options All\n</Directory>\n"),
       "/etc/apache2/apache2.conf", true},
      {"php-expose-php", replace("/etc/php/8.2/fpm/php.ini", "expose_php = Off", "expose_php = On"), "/etc/php/8.2/fpm/php.ini"},
      {"php-display-errors", replace("/etc/php/8.2/fpm/php.ini", "display_errors = Off\n", ""), "/etc/php/8.2/fpm/php.ini"},
      {"php-allow-url-include", replace("/etc/php/8.2/fpm/php.ini", "allow_url_include = Off", "allow_url_include = On"),
       "/etc/php/8.2/fpm/php.ini"},
      {"web-root-not-writable", chmod_to("/var/www/html", 0777), "/var/www/html", true},
      {"perm-cron-hourly", chmod_to("/etc/cron.hourly", 0755), "/etc/cron.hourly", true},
      {"perm-cron-daily", chmod_to("/etc/cron.daily", 0750), "/etc/cron.daily", true},
      {"perm-cron-weekly", chmod_to("/etc/cron.weekly", 0701), "/etc/cron.weekly", true},
      {"perm-cron-monthly", chmod_to("/etc/cron.monthly", 0770), "/etc/cron.monthly", true},
      {"at-allow", chmod_to("/etc/at.allow", 0644), "/etc/at.allow", true},
      {"coredump-storage-none", replace("/etc/systemd/coredump.conf", "Storage=none", "Storage=external"),
       "/etc/systemd/coredump.conf"},
      {"audit-identity", drop_rule("-w /etc/shadow -p wa -k identity"), rules},
      {"audit-sudoers", drop_rule("-w /etc/sudoers.d -p wa -k scope"), rules},
      {"audit-time-change", drop_rule("-w /etc/localtime -p wa -k time-change"), rules},
      {"audit-network-environment", drop_rule("-w /etc/hosts -p wa -k system-locale"), rules},
      {"audit-logins", drop_rule("-w /var/run/faillock -p wa -k logins"), rules},
      {"audit-session", drop_rule("-w /var/log/btmp -p wa -k session"), rules},
      {"audit-permission-changes",
       drop_rule("-a always,exit -F arch=b64 -S setxattr,lsetxattr,fsetxattr,removexattr -F auid>=1000 -F auid!=unset -k "
                 "perm_mod"),
       rules},
      {"audit-mac-policy", drop_rule("-w /etc/apparmor.d/ -p wa -k MAC-policy"), rules},
      {"audit-kernel-modules", replace(rules, "init_module,finit_module,delete_module", "init_module,finit_module"), rules},
      {"audit-sudo-log", drop_rule("-w /var/log/sudo.log -p wa -k actions"), rules},
      {"audit-mounts", drop_rule("-a always,exit -F arch=b64 -S mount -F auid>=1000 -F auid!=unset -k mounts"), rules},
      {"audit-file-deletion", replace(rules, "unlink,unlinkat,rename,renameat", "unlink,unlinkat"), rules},
      {"audit-immutable", drop_rule("-e 2"), rules},
      {"auditd-disk-full-action", replace("/etc/audit/auditd.conf", "= single", "= suspend"), "/etc/audit/auditd.conf"},
      {"audit-at-boot", replace("/etc/default/grub", "audit=1 ", ""), "/etc/default/grub"},
      {"audit-backlog-limit", replace("/etc/default/grub", "audit_backlog_limit=8192", "audit_backlog_limit=320"),
       "/etc/default/grub"},
      {"rsyslog-file-mode", replace("/etc/rsyslog.conf", "0640", "0644"), "/etc/rsyslog.conf"},
      {"sudo-timestamp-timeout", write("/etc/sudoers.d/80-timeout", "Defaults:%sudo timestamp_timeout=60\n"), "/etc/sudoers"},
      {"perm-sudoers", chmod_to("/etc/sudoers", 0640), "/etc/sudoers", true},
      {"su-restricted", replace("/etc/pam.d/su", "auth required pam_wheel.so", "# auth required pam_wheel.so"), "/etc/pam.d/su"},
      {"login-defs-encrypt-method", replace("/etc/login.defs", "YESCRYPT", "MD5"), "/etc/login.defs"},
      {"pwquality-minclass", replace("/etc/security/pwquality.conf", "minclass = 4", "minclass = 2"),
       "/etc/security/pwquality.conf"},
      {"faillock-unlock-time", replace("/etc/security/faillock.conf", "unlock_time = 900", "unlock_time = 60"),
       "/etc/security/faillock.conf"},
      {"no-legacy-nis-entries", [](const RootTree& t) { t.file("/etc/group", read_tree_file(t, "/etc/group") + "+:::\n"); },
       "/etc/group", true},
      {"bootloader-password", write("/boot/grub/grub.cfg", "menuentry\n"), "/boot/grub/grub.cfg"},
      {"issue-no-os-info", write("/etc/issue", "Ubuntu 24.04 LTS \\n \\l\n"), "/etc/issue"},
      {"perm-issue", chmod_to("/etc/issue", 0664), "/etc/issue", true},
      {"sysctl-ptrace-scope", sysctl("kernel/yama/ptrace_scope", "0"), "/proc/sys/kernel/yama/ptrace_scope"},
      {"sysctl-dmesg-restrict", sysctl("kernel/dmesg_restrict", "0"), "/proc/sys/kernel/dmesg_restrict"},
      {"sysctl-kptr-restrict", sysctl("kernel/kptr_restrict", "0"), "/proc/sys/kernel/kptr_restrict"},
      {"sysctl-protected-hardlinks", sysctl("fs/protected_hardlinks", "0"), "/proc/sys/fs/protected_hardlinks"},
      {"sysctl-protected-symlinks", sysctl("fs/protected_symlinks", "0"), "/proc/sys/fs/protected_symlinks"},
      {"sysctl-accept-source-route-v6", sysctl("net/ipv6/conf/all/accept_source_route", "1"),
       "/proc/sys/net/ipv6/conf/all/accept_source_route"},
      {"sysctl-rp-filter-default", sysctl("net/ipv4/conf/default/rp_filter", "0"), "/proc/sys/net/ipv4/conf/default/rp_filter"},
      {"sysctl-accept-redirects-default", sysctl("net/ipv4/conf/default/accept_redirects", "1"),
       "/proc/sys/net/ipv4/conf/default/accept_redirects"},
      {"sysctl-log-martians-default", sysctl("net/ipv4/conf/default/log_martians", "0"),
       "/proc/sys/net/ipv4/conf/default/log_martians"},
      {"no-samba", installed("samba"), "/var/lib/dpkg/status"},
      {"no-squid", installed("squid"), "/var/lib/dpkg/status"},
      {"no-dovecot", installed("dovecot-core"), "/var/lib/dpkg/status"},
      {"no-talk-client", installed("talk"), "/var/lib/dpkg/status"},
      {"no-prelink", installed("prelink"), "/var/lib/dpkg/status"},
  };
  for (const char* m : {"cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "squashfs", "udf", "usb-storage", "dccp", "sctp",
                        "rds", "tipc"}) {
    cases.push_back({fmt::format("kmod-{}-disabled", m), replace(modprobe, fmt::format("blacklist {}\n", m), ""), modprobe});
  }
  return cases;
}

TEST_F(Baseline, EveryCheckAddedIn11FailsOnItsOwnMisconfigurationAndErrsOnItsUnreadableFile) {
  auto cases = new_check_cases();
  // Every check from the first one added in 1.1 on has a case: a new check needs one too.
  std::set<std::string> with_case;
  for (const auto& c : cases) with_case.insert(c.id);
  bool added = false;
  for (const auto& c : policy_.checks) {
    added = added || c.id == "sudo-nopasswd";
    if (added) {
      EXPECT_TRUE(with_case.count(c.id)) << c.id << " has no misconfiguration case";
    }
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.id);
    auto it = std::find_if(policy_.checks.begin(), policy_.checks.end(), [&](const Check& k) { return k.id == c.id; });
    ASSERT_NE(it, policy_.checks.end());
    {
      RootTree t;
      build_hardened(t);
      c.misconfigure(t);
      ScanOptions o;
      o.root = t.root();
      o.now = test::kScanNow;
      auto r = Scanner(o).evaluate(*it);
      EXPECT_EQ(r.outcome, Outcome::fail) << outcome_name(r.outcome) << ": " << r.evidence;
    }
    {
      RootTree t;
      build_hardened(t);
      t.remove(c.unreadable);
      if (c.dangling) {
        t.link(c.unreadable, "/nonexistent/vigil-test" + c.unreadable);
      } else {
        t.dir(c.unreadable);
      }
      ScanOptions o;
      o.root = t.root();
      o.now = test::kScanNow;
      auto r = Scanner(o).evaluate(*it);
      EXPECT_EQ(r.outcome, Outcome::error) << c.unreadable << ": " << outcome_name(r.outcome) << ": " << r.evidence;
    }
  }
}

// Each way around a check the review of 745c8b6 found: the hardened tree with one change fails
// the check (and passes it without the change, above).
TEST_F(Baseline, ReviewedBypassesFail) {
  auto write = [](std::string path, std::string text) {
    return [path, text](const RootTree& t) { t.file(path, text); };
  };
  auto replace = [](std::string path, std::string from, std::string to) {
    return [path, from, to](const RootTree& t) { edit(t, path, from, to); };
  };
  const std::string hba = "/etc/postgresql/15/main/pg_hba.conf";
  const std::vector<std::pair<std::string, std::function<void(const RootTree&)>>> cases = {
      // 1: ip alone leaves IPv6 open; rules.v4 without rules.v6
      {"firewall-default-deny", write("/etc/nftables.conf",
                                      "table ip filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n")},
      {"firewall-default-deny",
       [](const RootTree& t) {
         t.remove("/etc/nftables.conf");
         t.file("/etc/iptables/rules.v4", "*filter\n:INPUT DROP [0:0]\nCOMMIT\n");
         t.link("/etc/systemd/system/multi-user.target.wants/netfilter-persistent.service",
                "/lib/systemd/system/netfilter-persistent.service");
       }},
      // 2: the file is right but nothing loads it at boot
      {"firewall-default-deny",
       [](const RootTree& t) { t.remove("/etc/systemd/system/multi-user.target.wants/nftables.service"); }},
      // 3: a later declaration of the chain accepts
      {"firewall-default-deny", [](const RootTree& t) {
         t.file("/etc/nftables.conf", read_tree_file(t, "/etc/nftables.conf") +
                                          "table inet filter {\n chain input {\n  policy accept;\n }\n}\n");
       }},
      // 4: a location with its own add_header
      {"nginx-hsts", write("/etc/nginx/sites-enabled/portal",
                           "server {\n listen 443 ssl;\n location /api { add_header X-Frame-Options DENY; }\n}\n")},
      // 5: mod_headers not loaded
      {"apache-hsts", [](const RootTree& t) {
         t.remove("/etc/apache2/mods-enabled/headers.load");
         t.file("/etc/apache2/sites-enabled/intranet.conf",
                "<VirtualHost *:443>\n SSLEngine on\n <IfModule mod_headers.c>\n"
                "  Header always set Strict-Transport-Security \"max-age=31536000\"\n </IfModule>\n</VirtualHost>\n");
       }},
      // 6: a later set and an unset
      {"apache-hsts", replace("/etc/apache2/sites-enabled/intranet.conf", "</VirtualHost>",
                              "  Header always set Strict-Transport-Security \"max-age=0\"\n</VirtualHost>")},
      {"apache-hsts", replace("/etc/apache2/sites-enabled/intranet.conf", "</VirtualHost>",
                              "  Header always unset Strict-Transport-Security\n</VirtualHost>")},
      // 7: a stream TLS server
      {"nginx-tls-protocols", [](const RootTree& t) {
         t.file("/etc/nginx/nginx.conf", read_tree_file(t, "/etc/nginx/nginx.conf") +
                                             "stream {\n  server { listen 5432 ssl; ssl_protocols TLSv1 TLSv1.2; }\n}\n");
       }},
      // 8: MFA only inside Match, one factor twice, optional or nullok OTP
      {"ssh-mfa-admin", write("/etc/ssh/sshd_config.d/20-mfa.conf",
                              "Match Group sudo\n  AuthenticationMethods publickey,password\n")},
      {"ssh-mfa-admin", write("/etc/ssh/sshd_config.d/20-mfa.conf", "AuthenticationMethods publickey,publickey\n")},
      {"ssh-mfa-admin", write("/etc/ssh/sshd_config.d/20-mfa.conf",
                              "AuthenticationMethods publickey,keyboard-interactive publickey\n")},
      {"ssh-mfa-admin", [](const RootTree& t) {
         t.remove("/etc/ssh/sshd_config.d/20-mfa.conf");
         t.file("/etc/ssh/sshd_config.d/30-nopubkey.conf", "PubkeyAuthentication no\n");
         t.file("/etc/pam.d/sshd", "auth optional pam_google_authenticator.so\n");
       }},
      {"ssh-mfa-admin", [](const RootTree& t) {
         t.remove("/etc/ssh/sshd_config.d/20-mfa.conf");
         t.file("/etc/ssh/sshd_config.d/30-nopubkey.conf", "PubkeyAuthentication no\n");
         t.file("/etc/pam.d/sshd", "auth required pam_google_authenticator.so nullok\n");
       }},
      // 9: group-writable, and a later weaker mode
      {"rsyslog-file-mode", replace("/etc/rsyslog.conf", "0640", "0620")},
      {"rsyslog-file-mode", write("/etc/rsyslog.d/50-app.conf", "$FileCreateMode 0644\n")},
      // 10: the other spelling later
      {"mysql-network", write("/etc/mysql/mariadb.conf.d/90-open.cnf", "[mysqld]\nbind_address = 0.0.0.0\n")},
      // 11: the agent installed but sending nowhere, or reading no log
      {"logs-forwarded", write("/etc/vigil/agent.yaml", "agent:\n  state_dir: /var/lib/vigil\n")},
      {"logs-forwarded", write("/etc/vigil/agent.yaml", "collector:\n  addresses: [c.example.gov.vn:8443]\n")},
      // 15a: freshclam without ClamAV itself
      {"antimalware-clamav", replace("/var/lib/dpkg/status", "Package: clamav-daemon\n", "Package: clamav-daemon-gone\n")},
      // 15b: TLS on but plain host lines for the network
      {"postgresql-network", [hba](const RootTree& t) {
         t.file("/etc/postgresql/15/main/postgresql.conf", "listen_addresses = '*'\nssl = on\n");
         t.file(hba, "local all postgres peer\nhost all all 0.0.0.0/0 scram-sha-256\n");
       }},
      {"postgresql-network", [hba](const RootTree& t) {
         t.file("/etc/postgresql/15/main/postgresql.conf", "listen_addresses = '*'\nssl = on\n");
         t.file(hba, "hostnossl all all ::/0 scram-sha-256\n");
       }},
      // 15g: only swap with a random key
      {"disk-encryption", write("/etc/crypttab", "cswap /dev/sda2 /dev/urandom swap,cipher=aes-xts-plain64,size=256\n")},
  };
  for (const auto& [id, misconfigure] : cases) {
    auto it = std::find_if(policy_.checks.begin(), policy_.checks.end(), [&](const Check& k) { return k.id == id; });
    ASSERT_NE(it, policy_.checks.end()) << id;
    RootTree t;
    build_hardened(t);
    misconfigure(t);
    ScanOptions o;
    o.root = t.root();
    o.now = test::kScanNow;
    auto r = Scanner(o).evaluate(*it);
    EXPECT_EQ(r.outcome, Outcome::fail) << id << ": " << outcome_name(r.outcome) << ": " << r.evidence;
  }
}

// What the review of 745c8b6 asked to keep passing.
TEST_F(Baseline, ReviewedChecksStillPassTheirGoodVariants) {
  auto write = [](std::string path, std::string text) {
    return [path, text](const RootTree& t) { t.file(path, text); };
  };
  const std::vector<std::pair<std::string, std::function<void(const RootTree&)>>> cases = {
      {"firewall-default-deny",
       [](const RootTree& t) {
         t.remove("/etc/nftables.conf");
         t.file("/etc/iptables/rules.v4", "*filter\n:INPUT DROP [0:0]\nCOMMIT\n");
         t.file("/etc/iptables/rules.v6", "*filter\n:INPUT DROP [0:0]\nCOMMIT\n");
         t.link("/etc/systemd/system/multi-user.target.wants/netfilter-persistent.service",
                "/lib/systemd/system/netfilter-persistent.service");
       }},
      {"apache-tls-protocols", write("/etc/apache2/mods-enabled/ssl.conf", "SSLProtocol all -TLSv1 -TLSv1.1\n")},
      {"ssh-mfa-admin", [](const RootTree& t) {
         t.remove("/etc/ssh/sshd_config.d/20-mfa.conf");
         t.file("/etc/ssh/sshd_config.d/30-nopubkey.conf", "PubkeyAuthentication no\n");
         t.file("/etc/pam.d/sshd", "@include common-auth\nauth requisite pam_oath.so usersfile=/etc/users.oath\n");
       }},
      {"rsyslog-file-mode", write("/etc/rsyslog.d/50-app.conf", "$FileCreateMode 0600\n")},
      {"postgresql-network", [](const RootTree& t) {
         t.file("/etc/postgresql/15/main/postgresql.conf", "listen_addresses = '*'\nssl = on\n");
         t.file("/etc/postgresql/15/main/pg_hba.conf",
                "local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\nhostssl all all 0.0.0.0/0 scram-sha-256\n");
       }},
      {"disk-encryption", write("/etc/crypttab", "cswap /dev/sda2 /dev/urandom swap\nsda3_crypt UUID=5e1c none luks\n")},
  };
  for (const auto& [id, change] : cases) {
    auto it = std::find_if(policy_.checks.begin(), policy_.checks.end(), [&](const Check& k) { return k.id == id; });
    ASSERT_NE(it, policy_.checks.end()) << id;
    RootTree t;
    build_hardened(t);
    change(t);
    ScanOptions o;
    o.root = t.root();
    o.now = test::kScanNow;
    auto r = Scanner(o).evaluate(*it);
    EXPECT_EQ(r.outcome, Outcome::pass) << id << ": " << outcome_name(r.outcome) << ": " << r.evidence;
  }
}

TEST_F(Baseline, LevelSelectsChecksAtOrBelowIt) {
  auto all = test::scan_by_id(policy_, tree_.root());
  auto level1 = test::scan_by_id(policy_, tree_.root(), 1);
  size_t want = 0;
  for (const auto& c : policy_.checks) want += c.level <= 1;
  EXPECT_EQ(level1.size(), want);
  EXPECT_LT(level1.size(), all.size());
  EXPECT_TRUE(level1.count("ssh-permit-root-login"));
  EXPECT_FALSE(level1.count("pam-password-history"));  // level 3
}

TEST_F(Baseline, ImageWithoutProcMakesRuntimeChecksNotApplicable) {
  tree_.remove("/proc");
  auto results = test::scan_by_id(policy_, tree_.root());
  EXPECT_EQ(results["sysctl-ip-forward"].outcome, Outcome::not_applicable);
  EXPECT_EQ(results["no-telnet-listener"].outcome, Outcome::not_applicable);
  EXPECT_EQ(results["pass-max-days"].outcome, Outcome::pass);
}

TEST_F(Baseline, ResultsAreComplianceCheckEvents) {
  ScanOptions o;
  o.root = tree_.root();
  o.now = test::kScanNow;
  Scanner s(o);
  auto results = s.scan(policy_);
  auto doc = scan_document(policy_, o, results, root_host_name(o.root));
  EXPECT_EQ(doc["policy"], "debian-baseline");
  EXPECT_EQ(doc["root"], tree_.root());
  EXPECT_TRUE(doc["level"].is_null());
  ASSERT_EQ(doc["results"].size(), results.size());
  const auto& first = doc["results"][0];
  EXPECT_EQ(first["event"]["kind"], "state");
  EXPECT_EQ(first["event"]["dataset"], "compliance.check");
  EXPECT_EQ(first["rule"]["id"], policy_.checks[0].id);
  EXPECT_EQ(first["rule"]["name"], policy_.checks[0].title.en);
  EXPECT_EQ(first["vigil"]["check"]["result"], "pass");
  EXPECT_EQ(first["vigil"]["policy"]["id"], "debian-baseline");
  EXPECT_EQ(first["vigil"]["check"]["level"], policy_.checks[0].level);
  EXPECT_TRUE(first["vigil"]["compliance"]["cis-debian12"].is_array());
  EXPECT_EQ(first["host"]["name"], "hardened-host");
  EXPECT_EQ(doc["summary"]["pass"], results.size());
  EXPECT_EQ(doc["summary"]["score"], 1.0);
}

}  // namespace
}  // namespace vigil::agent::checks
