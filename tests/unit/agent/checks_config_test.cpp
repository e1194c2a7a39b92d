// The configuration readers (nginx, Apache, nftables) and the probes built on them and on other
// host files: web servers' TLS protocols, HSTS and directives, nftables base chains, YAML values,
// file ages, release end-of-life, accounts of administrator groups and per-file settings.
#include <gtest/gtest.h>

#include "agent/checks/config_tree.h"
#include "agent/checks/nftables_config.h"
#include "agent/checks/web_server_config.h"
#include "tests/unit/agent/checks_tree.h"

namespace vigil::agent::checks {
namespace {

using test::RootTree;

ConfFileSource reader(const HostRoot& h) {
  return [&h](const std::string& p) { return h.read(p); };
}

std::vector<std::string> names(const ConfNode& n) {
  std::vector<std::string> out;
  for (const auto& c : n.children) out.push_back(c.text() + (c.block ? " {}" : ""));
  return out;
}

// ---- readers -----------------------------------------------------------------------------------

TEST(ConfigTree, NginxFollowsIncludesRelativeToThePrefixInSortedOrder) {
  RootTree t;
  t.file("/etc/nginx/nginx.conf",
         "user www-data;  # the worker user\n"
         "http {\n"
         "  include conf.d/*.conf;\n"
         "  include /etc/nginx/sites-enabled/*;\n"
         "}\n");
  t.file("/etc/nginx/conf.d/b.conf", "server_tokens off;\n");
  t.file("/etc/nginx/conf.d/a.conf", "gzip on;\n");
  t.file("/etc/nginx/sites-enabled/default", "server {\n listen 443 ssl;\n}\n");
  HostRoot h(t.root());
  auto r = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf");
  ASSERT_EQ(r.status, FileRead::Status::ok) << r.reason;
  ASSERT_EQ(r.root.children.size(), 2u);
  const auto& http = r.root.children[1];
  EXPECT_EQ(names(http), (std::vector<std::string>{"gzip on", "server_tokens off", "server {}"}));
  EXPECT_EQ(http.children[1].where(), "/etc/nginx/conf.d/b.conf:1");
  EXPECT_EQ(http.children[2].children.at(0).text(), "listen 443 ssl");
}

TEST(ConfigTree, NginxCommentsQuotesAndVariables) {
  RootTree t;
  t.file("/etc/nginx/nginx.conf",
         "# a comment { with braces ;\n"
         "http {\n"
         "  add_header \"Strict-Transport-Security\" 'max-age=63072000; includeSubDomains' always;\n"
         "  set $a \"x;y\"; return 200 ${a}b; # trailing\n"
         "  log_format main '$remote_addr \\'quoted\\' #not-a-comment';\n"
         "}\n");
  HostRoot h(t.root());
  auto r = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf");
  ASSERT_EQ(r.status, FileRead::Status::ok) << r.reason;
  const auto& http = r.root.children.at(0);
  ASSERT_EQ(http.children.size(), 4u);
  EXPECT_EQ(http.children[0].words, (std::vector<std::string>{"add_header", "Strict-Transport-Security",
                                                              "max-age=63072000; includeSubDomains", "always"}));
  EXPECT_EQ(http.children[1].words, (std::vector<std::string>{"set", "$a", "x;y"}));
  EXPECT_EQ(http.children[2].words, (std::vector<std::string>{"return", "200", "${a}b"}));
  EXPECT_EQ(http.children[3].words[1], "main");
  EXPECT_EQ(http.children[3].words[2], "$remote_addr 'quoted' #not-a-comment");
  EXPECT_EQ(http.children[3].line, 5u);
}

TEST(ConfigTree, NginxErrorsNeverGiveAPartialTree) {
  RootTree t;
  HostRoot h(t.root());
  auto read = [&](const std::string& text) {
    t.file("/etc/nginx/nginx.conf", text);
    return read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf");
  };
  auto unclosed = read("http {\n server {\n listen 80;\n}\n");
  EXPECT_EQ(unclosed.status, FileRead::Status::error);
  EXPECT_NE(unclosed.reason.find("expecting \"}\" for \"http\""), std::string::npos) << unclosed.reason;
  EXPECT_TRUE(unclosed.root.children.empty());
  auto no_semicolon = read("http {\n listen 80\n}\n");
  EXPECT_EQ(no_semicolon.status, FileRead::Status::error);
  EXPECT_NE(no_semicolon.reason.find("nginx.conf:3: unexpected \"}\""), std::string::npos) << no_semicolon.reason;
  auto stray = read("}\n");
  EXPECT_EQ(stray.status, FileRead::Status::error);
  auto quote = read("http { add_header X \"open;\n}\n");
  EXPECT_NE(quote.reason.find("unterminated quoted string"), std::string::npos) << quote.reason;
  // A literal include that does not exist stops nginx; a glob matching nothing does not.
  auto missing = read("include /etc/nginx/nope.conf;\n");
  EXPECT_EQ(missing.status, FileRead::Status::error);
  EXPECT_NE(missing.reason.find("nginx.conf:1: included file /etc/nginx/nope.conf does not exist"), std::string::npos)
      << missing.reason;
  EXPECT_EQ(read("include /etc/nginx/none.d/*.conf;\n").status, FileRead::Status::ok);
  t.remove("/etc/nginx/nginx.conf");
  EXPECT_EQ(read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf").status, FileRead::Status::missing);
}

TEST(ConfigTree, IncludeLoopsDepthAndSizeAreCapped) {
  RootTree t;
  HostRoot h(t.root());
  t.file("/etc/nginx/nginx.conf", "include a.conf;\n");
  t.file("/etc/nginx/a.conf", "include b.conf;\n");
  t.file("/etc/nginx/b.conf", "include a.conf;\n");
  auto loop = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf");
  EXPECT_EQ(loop.status, FileRead::Status::error);
  EXPECT_NE(loop.reason.find("include loop: /etc/nginx/nginx.conf -> /etc/nginx/a.conf -> /etc/nginx/b.conf -> "
                             "/etc/nginx/a.conf"),
            std::string::npos)
      << loop.reason;

  t.file("/etc/nginx/b.conf", "include c.conf;\n");
  t.file("/etc/nginx/c.conf", "worker_processes 1;\n");
  ConfLimits shallow;
  shallow.max_include_depth = 2;
  EXPECT_EQ(read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", shallow).status,
            FileRead::Status::error);
  shallow.max_include_depth = 3;
  EXPECT_EQ(read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", shallow).status,
            FileRead::Status::ok);

  ConfLimits few;
  few.max_files = 3;
  auto files = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", few);
  EXPECT_NE(files.reason.find("more than 3 configuration files"), std::string::npos) << files.reason;

  std::string deep;
  for (int i = 0; i < 70; ++i) deep += "a {";
  for (int i = 0; i < 70; ++i) deep += "}";
  t.file("/etc/nginx/nginx.conf", deep);
  auto blocks = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf");
  EXPECT_NE(blocks.reason.find("blocks nested deeper than 64"), std::string::npos) << blocks.reason;

  // A directory where the main file should be is an error, not an absent server.
  t.remove("/etc/nginx/nginx.conf");
  t.dir("/etc/nginx/nginx.conf");
  EXPECT_EQ(read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf").status, FileRead::Status::error);
}

TEST(ConfigTree, ApacheSectionsContinuationsAndIncludes) {
  RootTree t;
  t.file("/etc/apache2/apache2.conf",
         "# ServerRoot \"/etc/apache2\"\n"
         "ServerTokens Prod\n"
         "IncludeOptional mods-enabled/*.load\n"
         "IncludeOptional conf-enabled/*.conf\n"
         "Include ports.conf\n"
         "IncludeOptional sites-enabled/\n"
         "<Directory /var/www/>\n"
         "    Options -Indexes \\\n"
         "        +FollowSymLinks\n"
         "</Directory>\n");
  t.file("/etc/apache2/ports.conf", "Listen 80\n<IfModule ssl_module>\n  Listen 443\n</IfModule>\n");
  t.file("/etc/apache2/sites-enabled/b.conf", "<VirtualHost *:443>\n  SSLEngine on\n</VirtualHost>\n");
  t.file("/etc/apache2/sites-enabled/a.conf", "<virtualhost *:80>\n  ServerName \"a example\"\n</VirtualHost>\n");
  HostRoot h(t.root());
  auto r = read_apache_config(h, reader(h), "/etc/apache2/apache2.conf");
  ASSERT_EQ(r.status, FileRead::Status::ok) << r.reason;
  EXPECT_EQ(names(r.root),
            (std::vector<std::string>{"ServerTokens Prod", "Listen 80", "IfModule ssl_module {}", "virtualhost *:80 {}",
                                      "VirtualHost *:443 {}", "Directory /var/www/ {}"}));
  EXPECT_EQ(r.root.children[3].children.at(0).words, (std::vector<std::string>{"ServerName", "a example"}));
  EXPECT_EQ(r.root.children[5].children.at(0).text(), "Options -Indexes +FollowSymLinks");
  EXPECT_EQ(r.root.children[5].children.at(0).line, 8u);

  t.file("/etc/apache2/apache2.conf", "Include conf-enabled/*.conf\n");
  auto nomatch = read_apache_config(h, reader(h), "/etc/apache2/apache2.conf");
  EXPECT_EQ(nomatch.status, FileRead::Status::error);
  EXPECT_NE(nomatch.reason.find("no file matches the wildcard /etc/apache2/conf-enabled/*.conf"), std::string::npos)
      << nomatch.reason;
  t.file("/etc/apache2/apache2.conf", "<VirtualHost *:443>\nSSLEngine on\n</Directory>\n");
  auto mismatch = read_apache_config(h, reader(h), "/etc/apache2/apache2.conf");
  EXPECT_NE(mismatch.reason.find("apache2.conf:3: </Directory> without a matching <Directory>"), std::string::npos)
      << mismatch.reason;
  t.file("/etc/apache2/apache2.conf", "<VirtualHost *:443>\nSSLEngine on\n");
  EXPECT_NE(read_apache_config(h, reader(h), "/etc/apache2/apache2.conf").reason.find("is not closed"),
            std::string::npos);
  t.file("/etc/apache2/apache2.conf", "Include ${APACHE_CONF}/x.conf\n");
  EXPECT_EQ(read_apache_config(h, reader(h), "/etc/apache2/apache2.conf").status, FileRead::Status::error);
  t.file("/etc/apache2/apache2.conf", "IncludeOptional /etc/apache2/none.conf\nIncludeOptional conf.d/*.conf\n");
  EXPECT_EQ(read_apache_config(h, reader(h), "/etc/apache2/apache2.conf").status, FileRead::Status::ok);
  t.file("/etc/apache2/apache2.conf", "Include /etc/apache2/none.conf\n");
  EXPECT_NE(read_apache_config(h, reader(h), "/etc/apache2/apache2.conf").reason.find("none.conf does not exist"),
            std::string::npos);
  t.file("/etc/apache2/apache2.conf", "ServerRoot \"/srv/httpd\"\nInclude extra.conf\n");
  t.file("/srv/httpd/extra.conf", "<Directory /srv/>\n</Directory>\n");
  EXPECT_EQ(read_apache_config(h, reader(h), "/etc/apache2/apache2.conf").status, FileRead::Status::ok);
  t.file("/etc/apache2/apache2.conf", "Include apache2.conf\n");
  EXPECT_NE(read_apache_config(h, reader(h), "/etc/apache2/apache2.conf").reason.find("include loop"),
            std::string::npos);
}

TEST(ConfigTree, NftablesNewlinesAndSemicolonsEndStatements) {
  RootTree t;
  t.file("/etc/nftables.conf",
         "#!/usr/sbin/nft -f\n"
         "flush ruleset\n"
         "include \"/etc/nftables.d/*.nft\"\n"
         "table inet filter {\n"
         "  chain input {\n"
         "    type filter hook input priority filter; policy drop;\n"
         "    tcp dport { 22, 443 } accept # admin and web\n"
         "  }\n"
         "}\n");
  t.file("/etc/nftables.d/extra.nft", "define lan = 10.0.0.0/8\n");
  HostRoot h(t.root());
  auto r = read_nftables_config(h, reader(h), "/etc/nftables.conf");
  ASSERT_EQ(r.status, FileRead::Status::ok) << r.reason;
  EXPECT_EQ(names(r.root),
            (std::vector<std::string>{"flush ruleset", "define lan = 10.0.0.0/8", "table inet filter {}"}));
  const auto& input = r.root.children[2].children.at(0);
  EXPECT_EQ(names(input), (std::vector<std::string>{"type filter hook input priority filter", "policy drop",
                                                    "tcp dport {}", "accept"}));
}

TEST(WebServerConfig, ApacheProtocolExpressionsGiveTheResultingSet) {
  auto set = [](std::vector<std::string> args) {
    auto r = apache_tls_protocols(args);
    EXPECT_TRUE(r) << r.error();
    return r ? *r : std::vector<std::string>{};
  };
  EXPECT_EQ(set({"all", "-SSLv3"}), (std::vector<std::string>{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}));
  EXPECT_EQ(set({"all", "-SSLv3", "-TLSv1", "-TLSv1.1"}), (std::vector<std::string>{"TLSv1.2", "TLSv1.3"}));
  // Debian's OpenSSL has no SSLv3: mod_ssl's `all` is TLSv1 and later.
  EXPECT_EQ(set({"all"}), (std::vector<std::string>{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}));
  EXPECT_EQ(set({"all", "-TLSv1", "-TLSv1.1"}), (std::vector<std::string>{"TLSv1.2", "TLSv1.3"}));
  EXPECT_EQ(set({"-all", "+TLSv1.2", "+TLSv1.3"}), (std::vector<std::string>{"TLSv1.2", "TLSv1.3"}));
  EXPECT_EQ(set({"TLSv1", "TLSv1.2"}), (std::vector<std::string>{"TLSv1.2"}));  // a bare word replaces
  EXPECT_EQ(set({"TLSv1.2", "+TLSv1"}), (std::vector<std::string>{"TLSv1", "TLSv1.2"}));
  EXPECT_FALSE(apache_tls_protocols({"all", "-TLSv9"}));
  EXPECT_FALSE(nginx_tls_protocols({"TLSv1.2", "tls13"}));
}

// ---- probes on inline policies -----------------------------------------------------------------

const char* kFramework = R"(framework:
  id: fw
  title: Test framework
controls:
  - {id: c1, title: One, group: server, levels: [1, 2], verified: true}
)";

const auto kNow = test::kScanNow;  // 2026-12-01 12:00 UTC

class ConfigProbes : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fws = load_frameworks({dir_.write("frameworks/fw.yaml", kFramework).string()});
    ASSERT_TRUE(fws) << fws.error();
    fws_ = std::move(*fws);
  }

  Result<LoadedPolicy> load(const std::string& condition) {
    return load_policy(dir_.write("policies/p.yaml",
                                  "policy: {id: p, title: P, version: '1'}\nchecks:\n  - id: c\n    title: T\n"
                                  "    rationale: R\n    remediation: M\n    level: 1\n    compliance: {fw: [c1]}\n"
                                  "    condition:\n      " +
                                      condition + "\n")
                           .string(),
                       fws_);
  }

  CheckResult run(const std::string& condition) {
    auto p = load(condition);
    EXPECT_TRUE(p) << p.error();
    if (!p) return {};
    policy_ = std::move(p->policy);
    ScanOptions o;
    o.root = tree_.root();
    o.now = kNow;
    Scanner s(o);
    return s.evaluate(policy_.checks.at(0));
  }

  void touch(const std::string& abs, std::chrono::system_clock::time_point t) { tree_.touch(abs, t); }

  vigil::test::TempDir dir_;
  LoadedFrameworks fws_;
  Policy policy_;
  RootTree tree_;
};

TEST_F(ConfigProbes, NginxProtocolsComeFromTheServerElseHttpElseTheBuiltInDefault) {
  const std::string probe = "nginx: {check: tls_protocols, min: TLSv1.2, default_safe_since: \"1.27.3\"}";
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n"
             "  ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n"
             "  server { listen 443 ssl; server_name a; ssl_protocols TLSv1.2 TLSv1.3; }\n"
             "  server { listen 80; server_name plain; }\n"
             "  include sites-enabled/*;\n"
             "}\n");
  tree_.file("/etc/nginx/sites-enabled/b", "server { listen [::]:8443 ssl; server_name b; }\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("server at /etc/nginx/sites-enabled/b:1 (b): ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 "
                            "(/etc/nginx/nginx.conf:2) allows TLSv1 TLSv1.1"),
            std::string::npos)
      << r.evidence;
  EXPECT_EQ(r.evidence.find("(a)"), std::string::npos) << r.evidence;

  tree_.file("/etc/nginx/sites-enabled/b", "server { listen [::]:8443 ssl; server_name b; ssl_protocols TLSv1.3; }\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;

  // Nothing sets it: the package version decides the built-in default; unknown counts as old.
  tree_.file("/etc/nginx/nginx.conf", "http { server { listen 443 ssl; } }\n");
  tree_.remove("/etc/nginx/sites-enabled");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("the built-in default of nginx (version unknown) is TLSv1 TLSv1.1"), std::string::npos)
      << r.evidence;
  tree_.file("/var/lib/dpkg/status", "Package: nginx\nStatus: install ok installed\nVersion: 1.22.1-9+deb12u1\n\n");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
  tree_.file("/var/lib/dpkg/status", "Package: nginx\nStatus: install ok installed\nVersion: 1.27.3-1\n\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_EQ(run("nginx: {check: tls_protocols}").outcome, Outcome::fail);  // no safe version named: unset fails

  tree_.file("/etc/nginx/nginx.conf", "http { server { listen 80; } }\n");
  EXPECT_EQ(run(probe).outcome, Outcome::not_applicable);
  // The legacy `ssl on;` (here from http) and QUIC listeners are TLS servers too.
  tree_.file("/etc/nginx/nginx.conf", "http { ssl on; server { listen 8443; } }\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);  // the package is 1.27.3 here
  tree_.file("/etc/nginx/nginx.conf", "http { ssl_protocols TLSv1.1 TLSv1.3; server { listen 443 quic; } }\n");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
  tree_.file("/etc/nginx/nginx.conf", "http { ssl_protocols TLSv1.2 SSLv9; server { listen 443 ssl; } }\n");
  EXPECT_EQ(run(probe).outcome, Outcome::error);
  tree_.file("/etc/nginx/nginx.conf", "http { include broken.conf; }\n");
  tree_.file("/etc/nginx/broken.conf", "server { listen 443 ssl;\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::error);
  EXPECT_NE(r.evidence.find("broken.conf"), std::string::npos) << r.evidence;
  tree_.remove("/etc/nginx");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
  EXPECT_EQ(run("nginx: {check: tls_protocols, missing: not_applicable}").outcome, Outcome::not_applicable);
}

TEST_F(ConfigProbes, NginxHstsFollowsAddHeaderInheritanceOnPublicTlsServers) {
  const std::string probe = "nginx: {check: hsts, min_max_age: 31536000}";
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n"
             "  add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;\n"
             "  server { listen 443 ssl; server_name inherits; }\n"
             "  server { listen 127.0.0.1:8443 ssl; server_name local; }\n"
             "}\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_NE(r.evidence.find("(inherits): Strict-Transport-Security \"max-age=63072000; includeSubDomains\" "
                            "(/etc/nginx/nginx.conf:2)"),
            std::string::npos)
      << r.evidence;
  EXPECT_EQ(r.evidence.find("local"), std::string::npos) << r.evidence;
  // An add_header of its own hides every add_header of http.
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n"
             "  add_header Strict-Transport-Security \"max-age=63072000\" always;\n"
             "  server { listen 443 ssl; server_name own; add_header X-Frame-Options DENY; }\n"
             "}\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("(own): no Strict-Transport-Security header"), std::string::npos) << r.evidence;
  tree_.file("/etc/nginx/nginx.conf",
             "http { server { listen 443 ssl; add_header Strict-Transport-Security max-age=300; } }\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("max-age below 31536000"), std::string::npos) << r.evidence;
  tree_.file("/etc/nginx/nginx.conf",
             "http { server { listen 127.0.0.1:443 ssl; } server { listen unix:/run/x.sock ssl; } }\n");
  EXPECT_EQ(run(probe).outcome, Outcome::not_applicable);
}

TEST_F(ConfigProbes, NginxDirectiveScopes) {
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n"
             "  server_tokens off;\n"
             "  server { listen 80; location /files { autoindex on; } }\n"
             "  server { listen 81; server_tokens on; }\n"
             "}\n");
  auto tokens = run("nginx: {check: directive, key: server_tokens, op: \"==\", value: \"off\", default: \"on\"}");
  EXPECT_EQ(tokens.outcome, Outcome::fail);
  EXPECT_NE(tokens.evidence.find("nginx.conf:4: server_tokens on (expected == off)"), std::string::npos)
      << tokens.evidence;
  EXPECT_EQ(run("nginx: {check: directive, key: server_tokens, scope: global, value: \"off\"}").outcome, Outcome::pass);
  auto autoindex = run("nginx: {check: directive, key: autoindex, scope: everywhere, op: \"!=\", value: \"on\"}");
  EXPECT_EQ(autoindex.outcome, Outcome::fail);
  EXPECT_NE(autoindex.evidence.find("nginx.conf:3: autoindex on"), std::string::npos) << autoindex.evidence;
  tree_.file("/etc/nginx/nginx.conf", "http { server { listen 80; } }\n");
  EXPECT_EQ(run("nginx: {check: directive, key: server_tokens, value: \"off\", default: \"on\"}").outcome,
            Outcome::fail);
  EXPECT_EQ(run("nginx: {check: directive, key: autoindex, scope: everywhere, op: \"!=\", value: \"on\"}").outcome,
            Outcome::pass);
}

TEST_F(ConfigProbes, ApacheVirtualHostsInheritTheMainServer) {
  const std::string probe = "apache: {check: tls_protocols, min: TLSv1.2}";
  tree_.file("/etc/apache2/apache2.conf",
             "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
             "LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so\n"
             "SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1\n"
             "IncludeOptional sites-enabled/*.conf\n");
  tree_.file("/etc/apache2/sites-enabled/site.conf",
             "<IfModule mod_ssl.c>\n"
             "<VirtualHost _default_:443>\n"
             "  ServerName portal.example.gov.vn\n"
             "  SSLEngine on\n"
             "  Header always set Strict-Transport-Security \"max-age=63072000; includeSubDomains\"\n"
             "</VirtualHost>\n"
             "</IfModule>\n"
             "<VirtualHost *:80>\n</VirtualHost>\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_NE(
      r.evidence.find("(portal.example.gov.vn): SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1 (/etc/apache2/apache2.conf:3)"),
      std::string::npos)
      << r.evidence;
  EXPECT_EQ(run("apache: {check: hsts, min_max_age: 31536000}").outcome, Outcome::pass);

  tree_.file("/etc/apache2/apache2.conf",
             "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nIncludeOptional sites-enabled/*.conf\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("SSLProtocol not set: the built-in default is all -SSLv3 allows TLSv1 TLSv1.1"),
            std::string::npos)
      << r.evidence;
  tree_.file("/etc/apache2/sites-enabled/site.conf",
             "<VirtualHost 127.0.0.1:443>\n SSLEngine on\n SSLProtocol -all +TLSv1.3\n</VirtualHost>\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
  EXPECT_EQ(run("apache: {check: hsts}").outcome, Outcome::not_applicable);  // loopback only
  tree_.file("/etc/apache2/sites-enabled/site.conf",
             "<VirtualHost *:443>\n SSLEngine on\n Header set X-Frame-Options DENY\n</VirtualHost>\n");
  EXPECT_EQ(run("apache: {check: hsts}").outcome, Outcome::fail);

  tree_.file("/etc/apache2/apache2.conf",
             "ServerTokens Prod\nTraceEnable Off\n<Directory /var/www/>\n Options Indexes\n</Directory>\n");
  EXPECT_EQ(run("apache: {check: directive, key: servertokens, scope: global, value: prod, default: full}").outcome,
            Outcome::pass);
  EXPECT_EQ(run("apache: {check: directive, key: TraceEnable, value: \"off\", default: \"on\"}").outcome,
            Outcome::pass);
  auto indexes =
      run("apache: {check: directive, key: Options, scope: everywhere, op: not_matches, value: "
          "\"(^|\\\\s)\\\\+?Indexes\"}");
  EXPECT_EQ(indexes.outcome, Outcome::fail);
  EXPECT_NE(indexes.evidence.find("apache2.conf:4: Options Indexes"), std::string::npos) << indexes.evidence;
  tree_.link("/etc/apache2/apache2.conf", "/nonexistent");
  EXPECT_EQ(run(probe).outcome, Outcome::error);
}

TEST_F(ConfigProbes, NftablesNeedsAnInetOrIpAndIp6InputChainWithPolicyDrop) {
  tree_.file("/etc/nftables.conf",
             "table inet filter {\n"
             "  chain input {\n    type filter hook input priority 0; policy drop;\n  }\n"
             "  chain forward { type filter hook forward priority 0; policy drop; }\n"
             "}\n");
  auto r = run("nftables: {hook: input, policy: drop}");
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_NE(r.evidence.find("table inet filter chain input (/etc/nftables.conf:2): hook input policy drop"),
            std::string::npos)
      << r.evidence;
  // Debian's shipped file: a base chain without a policy accepts.
  tree_.file("/etc/nftables.conf",
             "table inet filter {\n  chain input {\n    type filter hook input priority filter;\n  }\n}\n");
  r = run("nftables: {}");
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("hook input policy accept"), std::string::npos) << r.evidence;
  tree_.file("/etc/nftables.conf", "table ip6 f6 { chain i { type filter hook input priority 0; policy drop; } }\n");
  EXPECT_EQ(run("nftables: {}").outcome, Outcome::fail);
  tree_.file(
      "/etc/nftables.conf",
      "add table ip filter\nadd chain ip filter input { type filter hook input priority 0 ; policy drop ; }\n"
      "add table ip6 filter\nadd chain ip6 filter input { type filter hook input priority 0 ; policy drop ; }\n");
  EXPECT_EQ(run("nftables: {}").outcome, Outcome::pass);
  tree_.file("/etc/nftables.conf", "include \"/etc/nft.d/*.nft\"\n");
  tree_.file("/etc/nft.d/fw.nft",
             "table inet fw {\n chain in {\n  type filter hook input priority 0\n  policy drop\n }\n}\n");
  EXPECT_EQ(run("nftables: {}").outcome, Outcome::pass);
  tree_.file("/etc/nft.d/fw.nft", "table inet fw {\n chain in {\n");
  EXPECT_EQ(run("nftables: {}").outcome, Outcome::error);
  tree_.remove("/etc/nftables.conf");
  EXPECT_EQ(run("nftables: {}").outcome, Outcome::fail);
  EXPECT_EQ(run("nftables: {missing: pass}").outcome, Outcome::pass);
}

TEST_F(ConfigProbes, YamlValuesByDottedKey) {
  tree_.file("/etc/mongod.conf",
             "storage:\n  dbPath: /var/lib/mongodb\nnet:\n  port: 27017\n  bindIp: 127.0.0.1,::1\n"
             "security:\n  authorization: enabled\nlisten: [a, b]\n");
  auto bind =
      run("yaml: {path: /etc/mongod.conf, key: net.bindIp, op: matches, value: \"^(127\\\\.0\\\\.0\\\\.1|::1|,)+$\"}");
  EXPECT_EQ(bind.outcome, Outcome::pass) << bind.evidence;
  EXPECT_EQ(bind.evidence, "/etc/mongod.conf: net.bindIp: 127.0.0.1,::1");
  EXPECT_EQ(run("yaml: {path: /etc/mongod.conf, key: security.authorization, value: enabled}").outcome, Outcome::pass);
  EXPECT_EQ(run("yaml: {path: /etc/mongod.conf, key: listen, value: \"a,b\"}").outcome, Outcome::pass);
  EXPECT_EQ(run("yaml: {path: /etc/mongod.conf, key: net.bindIpAll, value: \"false\", default: \"false\"}").outcome,
            Outcome::pass);
  EXPECT_EQ(run("yaml: {path: /etc/mongod.conf, key: net.tls.mode, value: requireTLS}").outcome, Outcome::fail);
  EXPECT_EQ(run("yaml: {path: /etc/mongod.conf, key: net, value: x}").outcome, Outcome::error);  // a map
  tree_.file("/etc/mongod.conf", "net: [unclosed\n");
  EXPECT_EQ(run("yaml: {path: /etc/mongod.conf, key: net.bindIp, value: x}").outcome, Outcome::error);
  tree_.remove("/etc/mongod.conf");
  EXPECT_EQ(run("yaml: {path: /etc/mongod.conf, key: net.bindIp, value: x, missing: not_applicable}").outcome,
            Outcome::not_applicable);
}

TEST_F(ConfigProbes, FileAgeTakesTheNewestMatch) {
  using std::chrono::hours;
  tree_.file("/var/lib/clamav/daily.cvd", "old");
  tree_.file("/var/lib/clamav/daily.cld", "new");
  touch("/var/lib/clamav/daily.cvd", kNow - hours(24 * 30));
  touch("/var/lib/clamav/daily.cld", kNow - hours(30));
  auto r = run("file_age: {path: \"/var/lib/clamav/daily.c[lv]d\", max_days: 3}");
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_EQ(r.evidence, "/var/lib/clamav/daily.cld modified 2026-11-30 06:00 UTC (1 days ago)");
  touch("/var/lib/clamav/daily.cld", kNow - hours(24 * 4));
  r = run("file_age: {path: \"/var/lib/clamav/daily.c[lv]d\", max_days: 3}");
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("(expected at most 3 days)"), std::string::npos) << r.evidence;
  EXPECT_EQ(run("file_age: {path: \"/var/lib/clamav/main.c[lv]d\", max_days: 3}").outcome, Outcome::fail);
  tree_.link("/var/lib/apt/periodic/update-success-stamp", "/nonexistent");
  EXPECT_EQ(run("file_age: {path: /var/lib/apt/periodic/update-success-stamp, max_days: 3, missing: error}").outcome,
            Outcome::error);
}

TEST_F(ConfigProbes, OsReleaseEndOfLifeFromTheTable) {
  const std::string probe =
      "os_release: {eol: {debian: {\"10\": \"2024-06-30\", \"11\": \"2026-08-31\", \"12\": \"2028-06-30\"}, "
      "ubuntu: {\"20.04\": \"2025-05-31\", \"24.04\": \"2029-05-31\"}}}";
  tree_.file("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_NE(r.evidence.find("supported until 2028-06-30"), std::string::npos) << r.evidence;
  tree_.file("/etc/os-release", "ID=debian\nVERSION_ID=\"11\"\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("security support ended 2026-08-31"), std::string::npos) << r.evidence;
  tree_.file("/etc/os-release", "ID=debian\nVERSION_ID=\"9\"\n");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
  tree_.file("/etc/os-release", "ID=debian\nVERSION_ID=\"13\"\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
  tree_.file("/etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n");
  EXPECT_EQ(run(probe).outcome, Outcome::error);  // between two rows: the table needs it
  tree_.file("/etc/os-release", "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n");
  EXPECT_EQ(run(probe).outcome, Outcome::not_applicable);
  tree_.file("/etc/os-release", "ID=alpine\nVERSION_ID=3.20\n");
  EXPECT_EQ(run(probe).outcome, Outcome::not_applicable);
  tree_.remove("/etc/os-release");
  tree_.file("/usr/lib/os-release", "ID=ubuntu\nVERSION_ID=\"20.04\"\n");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
  tree_.remove("/usr/lib/os-release");
  EXPECT_EQ(run(probe).outcome, Outcome::error);
  EXPECT_FALSE(load("os_release: {eol: {debian: {\"12\": \"June 2028\"}}}"));
}

TEST_F(ConfigProbes, AccountsOfAdministratorGroups) {
  tree_.file("/etc/passwd",
             "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
             "bob:x:1001:27::/home/bob:/bin/bash\ncarol:x:1002:1002::/home/carol:/bin/bash\n");
  tree_.file("/etc/group", "root:x:0:\nsudo:x:27:alice\nusers:x:100:carol\n");
  tree_.file("/etc/shadow",
             "root:!:19000:0:99999:7:::\nalice:$y$h:19000:1:60:7:::\nbob:$y$h:19000:1:90:7:::\ncarol:$y$h:19000:0:"
             "99999:7:::\n");
  auto r = run("accounts: {check: password_max_days, max: 60, groups: [sudo, wheel]}");
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("1 account(s) with password max age above 60 days among sudo, wheel: bob (max 90)"),
            std::string::npos)
      << r.evidence;
  tree_.file("/etc/shadow",
             "root:!:19000:0:99999:7:::\nalice:$y$h:19000:1:60:7:::\nbob:!:19000:1:90:7:::\n"
             "carol:$y$h:19000:0:99999:7:::\n");
  r = run("accounts: {check: password_max_days, max: 60, groups: [sudo], users: [root]}");
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_NE(r.evidence.find("(1 checked)"), std::string::npos) << r.evidence;
  tree_.remove("/etc/group");
  EXPECT_EQ(run("accounts: {check: password_max_days, max: 60, groups: [sudo]}").outcome, Outcome::error);
}

TEST_F(ConfigProbes, SettingPerFileJudgesEveryFile) {
  tree_.file("/etc/php/8.2/fpm/php.ini", "[PHP]\nexpose_php = Off\n");
  tree_.file("/etc/php/8.2/apache2/php.ini", "[PHP]\nexpose_php = On\n");
  const std::string probe =
      "setting: {path: [\"/etc/php/*/apache2/php.ini\", \"/etc/php/*/fpm/php.ini\"], key: expose_php, "
      "op: in, value: [\"off\", \"0\"], default: \"on\", per_file: true}";
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail);
  EXPECT_NE(r.evidence.find("/etc/php/8.2/apache2/php.ini:2: expose_php = On"), std::string::npos) << r.evidence;
  tree_.file("/etc/php/8.2/apache2/php.ini", "[PHP]\nexpose_php = Off\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
  tree_.dir("/etc/php/8.3/fpm/php.ini");
  EXPECT_EQ(run(probe).outcome, Outcome::error);
  tree_.remove("/etc/php");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
}

TEST_F(ConfigProbes, NewProbeKindsAreValidated) {
  auto e = [&](const std::string& cond) {
    auto r = load(cond);
    return r ? std::string() : r.error();
  };
  EXPECT_NE(e("nginx: {check: tls, min: TLSv1.2}").find("check"), std::string::npos);
  EXPECT_NE(e("nginx: {check: tls_protocols, min: TLS1.2}").find("min"), std::string::npos);
  EXPECT_NE(e("apache: {check: directive, value: x}").find("key"), std::string::npos);
  EXPECT_NE(e("nftables: {hook: inbound}").find("hook"), std::string::npos);
  EXPECT_NE(e("yaml: {path: etc/mongod.conf, key: a, value: b}").find("absolute"), std::string::npos);
  EXPECT_NE(e("file_age: {path: /x}").find("max_days"), std::string::npos);
  EXPECT_NE(e("nginx: {check: hsts, bogus: 1}").find("bogus"), std::string::npos);
}

// ---- fixes from the review of 745c8b6 ----------------------------------------------------------

TEST(ConfigTree, NodeAndWordCapsBoundMemoryAndNeverGiveAPartialTree) {
  RootTree t;
  HostRoot h(t.root());
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "a;";
  t.file("/etc/nginx/nginx.conf", many);
  ConfLimits few;
  few.max_nodes = 999;
  auto r = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", few);
  EXPECT_EQ(r.status, FileRead::Status::error);
  EXPECT_NE(r.reason.find("more than 999 configuration directives"), std::string::npos) << r.reason;
  EXPECT_TRUE(r.root.children.empty());
  few.max_nodes = 1000;
  EXPECT_EQ(read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", few).status, FileRead::Status::ok);
  // Blocks count too.
  t.file("/etc/nginx/nginx.conf", "a { b { c; } }\n");
  few.max_nodes = 2;
  EXPECT_EQ(read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", few).status,
            FileRead::Status::error);

  ConfLimits words;
  words.max_words_per_statement = 8;
  t.file("/etc/nginx/nginx.conf", "server_name a b c d e f g h i;\n");
  r = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", words);
  EXPECT_NE(r.reason.find("a directive of more than 8 words"), std::string::npos) << r.reason;
  words.max_words_per_statement = 4096;
  words.max_words = 10;
  t.file("/etc/nginx/nginx.conf", "a b c d;\ne f g h;\ni j k l;\n");
  r = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf", "/etc/nginx", words);
  EXPECT_NE(r.reason.find("more than 10 configuration words"), std::string::npos) << r.reason;

  // Apache directives and sections are counted as well.
  std::string lines;
  for (int i = 0; i < 50; ++i) lines += "ServerTokens Prod\n";
  t.file("/etc/apache2/apache2.conf", lines);
  ConfLimits apache;
  apache.max_nodes = 49;
  EXPECT_EQ(read_apache_config(h, reader(h), "/etc/apache2/apache2.conf", "/etc/apache2", apache).status,
            FileRead::Status::error);

  // The default cap stops a file of `a;` long before its memory grows past a few tens of MB.
  std::string big;
  big.reserve(600'000);
  for (int i = 0; i < 300'000; ++i) big += "a;";
  t.file("/etc/nginx/nginx.conf", big);
  r = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf");
  EXPECT_NE(r.reason.find("more than 200000 configuration directives"), std::string::npos) << r.reason;
}

TEST(ConfigTree, NodesShareTheirFileName) {
  RootTree t;
  HostRoot h(t.root());
  t.file("/etc/nginx/nginx.conf", "a;\nb;\nhttp { c; }\n");
  auto r = read_nginx_config(h, reader(h), "/etc/nginx/nginx.conf");
  ASSERT_EQ(r.status, FileRead::Status::ok) << r.reason;
  ASSERT_EQ(r.root.children.size(), 3u);
  EXPECT_EQ(r.root.children[0].file.get(), r.root.children[2].children[0].file.get());
  EXPECT_EQ(r.root.children[2].children[0].where(), "/etc/nginx/nginx.conf:3");
}

ConfNode nft(const std::string& text) {
  RootTree t;
  HostRoot h(t.root());
  t.file("/etc/nftables.conf", text);
  auto r = read_nftables_config(h, reader(h), "/etc/nftables.conf");
  EXPECT_EQ(r.status, FileRead::Status::ok) << r.reason;
  return r.root;
}

TEST(Nftables, IpAloneLeavesIpv6OpenIpWithIp6OrInetCovers) {
  NftablesProbe p;
  const std::string ip = "table ip f { chain i { type filter hook input priority 0; policy drop; } }\n";
  const std::string ip6 = "table ip6 f { chain i { type filter hook input priority 0; policy drop; } }\n";
  auto r = evaluate_nftables(p, nft(ip));
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("IPv6 is not covered"), std::string::npos) << r.evidence;
  EXPECT_EQ(evaluate_nftables(p, nft(ip6)).outcome, Outcome::fail);
  EXPECT_EQ(evaluate_nftables(p, nft(ip + ip6)).outcome, Outcome::pass);
  EXPECT_EQ(evaluate_nftables(p, nft("table inet f { chain i { type filter hook input priority 0; policy drop; } }\n"))
                .outcome,
            Outcome::pass);
  // A table without a family is ip.
  EXPECT_EQ(
      evaluate_nftables(p, nft("table f { chain i { type filter hook input priority 0; policy drop; } }\n")).outcome,
      Outcome::fail);
}

TEST(Nftables, TheLastDeclarationOfAChainWins) {
  NftablesProbe p;
  const std::string drop =
      "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n";
  auto r = evaluate_nftables(p, nft(drop + "table inet filter {\n chain input {\n  policy accept;\n }\n}\n"));
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("table inet filter chain input (/etc/nftables.conf:7): hook input policy accept"),
            std::string::npos)
      << r.evidence;
  EXPECT_EQ(
      evaluate_nftables(p, nft("table inet filter {\n chain input {\n  type filter hook input priority 0;\n }\n}\n" +
                               std::string("table inet filter { chain input { policy drop; } }\n")))
          .outcome,
      Outcome::pass);
  // flush ruleset and delete table forget what came before.
  EXPECT_EQ(evaluate_nftables(p, nft(drop + "flush ruleset\n")).outcome, Outcome::fail);
  EXPECT_EQ(evaluate_nftables(p, nft(drop + "delete table inet filter\n")).outcome, Outcome::fail);
  EXPECT_EQ(evaluate_nftables(p, nft("flush ruleset\n" + drop)).outcome, Outcome::pass);
  // Another table's accepting chain does not undo a drop: a packet dropped by any base chain is dropped.
  EXPECT_EQ(evaluate_nftables(p, nft(drop + "table inet other { chain i { type filter hook input priority 10; } }\n"))
                .outcome,
            Outcome::pass);
}

TEST_F(ConfigProbes, NginxHstsOfLocationsWithTheirOwnAddHeader) {
  const std::string probe = "nginx: {check: hsts, min_max_age: 31536000}";
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n"
             "  add_header Strict-Transport-Security \"max-age=63072000\" always;\n"
             "  server {\n    listen 443 ssl;\n    server_name s;\n"
             "    location / { }\n"
             "    location /api {\n      add_header X-Frame-Options DENY;\n    }\n"
             "  }\n"
             "}\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("(s), location /api (/etc/nginx/nginx.conf:7): no Strict-Transport-Security header"),
            std::string::npos)
      << r.evidence;
  EXPECT_EQ(r.evidence.find("location / ("), std::string::npos) << r.evidence;  // inherits, passes
  // Nested: an `if` or inner location with its own add_header.
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n  add_header Strict-Transport-Security \"max-age=63072000\" always;\n"
             "  server { listen 443 ssl;\n"
             "    location / { location /in { if ($x) { add_header X-A b; } } }\n  }\n}\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("if ($x)"), std::string::npos) << r.evidence;
  tree_.file(
      "/etc/nginx/nginx.conf",
      "http {\n  server { listen 443 ssl;\n    add_header Strict-Transport-Security \"max-age=63072000\" always;\n"
      "    location /api { add_header X-A b; add_header Strict-Transport-Security \"max-age=63072000\" always; }\n"
      "  }\n}\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
}

TEST_F(ConfigProbes, ApacheIfModuleFollowsTheLoadedModules) {
  tree_.file(
      "/etc/apache2/apache2.conf",
      "IncludeOptional mods-enabled/*.load\n"
      "<VirtualHost *:443>\n SSLEngine on\n"
      " <IfModule mod_headers.c>\n  Header always set Strict-Transport-Security \"max-age=63072000\"\n </IfModule>\n"
      "</VirtualHost>\n");
  tree_.dir("/etc/apache2/mods-enabled");
  const std::string hsts = "apache: {check: hsts, min_max_age: 31536000}";
  auto r = run(hsts);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;  // mod_headers is not enabled: no header
  tree_.file("/etc/apache2/mods-enabled/headers.load",
             "LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so\n");
  EXPECT_EQ(run(hsts).outcome, Outcome::pass);
  // `!` and the module identifier form.
  tree_.file("/etc/apache2/apache2.conf",
             "IncludeOptional mods-enabled/*.load\n"
             "<IfModule !headers_module>\n SSLProtocol all\n</IfModule>\n"
             "<IfModule headers_module>\n SSLProtocol -all +TLSv1.2\n</IfModule>\n"
             "<VirtualHost *:443>\n SSLEngine on\n</VirtualHost>\n");
  r = run("apache: {check: tls_protocols, min: TLSv1.2}");
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  tree_.remove("/etc/apache2/mods-enabled/headers.load");
  EXPECT_EQ(run("apache: {check: tls_protocols, min: TLSv1.2}").outcome, Outcome::fail);
}

TEST_F(ConfigProbes, ApacheTlsFromAnUnresolvedConditionalMustPassInEveryAlternative) {
  const std::string probe = "apache: {check: tls_protocols, min: TLSv1.2}";
  tree_.file("/etc/apache2/apache2.conf",
             "SSLProtocol all -SSLv3\n"
             "<IfVersion >= 2.4.99>\n SSLProtocol -all +TLSv1.2\n</IfVersion>\n"
             "<VirtualHost *:443>\n SSLEngine on\n</VirtualHost>\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("SSLProtocol all -SSLv3 (/etc/apache2/apache2.conf:1) allows TLSv1 TLSv1.1"),
            std::string::npos)
      << r.evidence;
  tree_.file("/etc/apache2/apache2.conf",
             "<IfDefine SECURE>\n SSLProtocol -all +TLSv1.2\n</IfDefine>\n"
             "<VirtualHost *:443>\n SSLEngine on\n</VirtualHost>\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;  // without SECURE: the built-in default
  EXPECT_NE(r.evidence.find("built-in default"), std::string::npos) << r.evidence;
  // A later unconditional value decides whatever the condition.
  tree_.file("/etc/apache2/apache2.conf",
             "<IfVersion < 2.4>\n SSLProtocol all\n</IfVersion>\nSSLProtocol -all +TLSv1.2 +TLSv1.3\n"
             "<VirtualHost *:443>\n SSLEngine on\n</VirtualHost>\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
}

TEST_F(ConfigProbes, ApacheHstsReplaysHeaderSetAndUnsetInOrder) {
  const std::string probe = "apache: {check: hsts, min_max_age: 31536000}";
  auto conf = [&](const std::string& main, const std::string& vhost) {
    tree_.file("/etc/apache2/apache2.conf", "LoadModule headers_module x.so\n" + main +
                                                "<VirtualHost *:443>\n SSLEngine on\n" + vhost + "</VirtualHost>\n");
  };
  conf("",
       " Header always set Strict-Transport-Security \"max-age=63072000\"\n"
       " Header always set Strict-Transport-Security \"max-age=0\"\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("\"max-age=0\" (/etc/apache2/apache2.conf:5): max-age below"), std::string::npos)
      << r.evidence;
  conf("Header always set Strict-Transport-Security \"max-age=63072000\"\n",
       " Header always unset Strict-Transport-Security\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("no Strict-Transport-Security header"), std::string::npos) << r.evidence;
  conf("Header always unset Strict-Transport-Security\n",
       " Header always set Strict-Transport-Security \"max-age=63072000\"\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
  // The onsuccess table is apart: its unset leaves the always header, its weak value fails.
  conf("Header always set Strict-Transport-Security \"max-age=63072000\"\n",
       " Header unset Strict-Transport-Security\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
  conf("Header always set Strict-Transport-Security \"max-age=63072000\"\n",
       " Header set Strict-Transport-Security \"max-age=60\"\n");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
}

TEST_F(ConfigProbes, NginxStreamAndMailTlsServersAreJudged) {
  const std::string probe = "nginx: {check: tls_protocols, min: TLSv1.2, default_safe_since: \"1.27.3\"}";
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n  ssl_protocols TLSv1.2 TLSv1.3;\n  server { listen 443 ssl; }\n}\n"
             "stream {\n  server {\n    listen 5432 ssl;\n    ssl_protocols TLSv1 TLSv1.2;\n  }\n}\n");
  auto r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("stream server at /etc/nginx/nginx.conf:6: ssl_protocols TLSv1 TLSv1.2"), std::string::npos)
      << r.evidence;
  // http's ssl_protocols is not stream's: the stream server gets the built-in default.
  tree_.file("/etc/nginx/nginx.conf",
             "http {\n  ssl_protocols TLSv1.2 TLSv1.3;\n}\nstream {\n  server { listen 5432 ssl; }\n}\n");
  EXPECT_EQ(run(probe).outcome, Outcome::fail);
  tree_.file("/etc/nginx/nginx.conf",
             "stream {\n  ssl_protocols TLSv1.2 TLSv1.3;\n  server { listen 5432 ssl; }\n}\n"
             "mail {\n  server { listen 143; protocol imap; starttls on; }\n}\n");
  r = run(probe);
  EXPECT_EQ(r.outcome, Outcome::fail) << r.evidence;
  EXPECT_NE(r.evidence.find("mail server at"), std::string::npos) << r.evidence;
  tree_.file("/etc/nginx/nginx.conf",
             "stream {\n  ssl_protocols TLSv1.2 TLSv1.3;\n  server { listen 5432 ssl; }\n}\n"
             "mail {\n  ssl_protocols TLSv1.3;\n  server { listen 993 ssl; protocol imap; }\n}\n");
  EXPECT_EQ(run(probe).outcome, Outcome::pass);
  // HSTS and server directives are about http servers only.
  EXPECT_EQ(run("nginx: {check: hsts}").outcome, Outcome::not_applicable);
}

TEST_F(ConfigProbes, FileAgeInTheFutureIsAnError) {
  tree_.file("/var/lib/clamav/daily.cld", "x");
  touch("/var/lib/clamav/daily.cld", kNow + std::chrono::hours(24 * 365));
  auto r = run("file_age: {path: \"/var/lib/clamav/daily.c[lv]d\", max_days: 3}");
  EXPECT_EQ(r.outcome, Outcome::error) << r.evidence;
  EXPECT_NE(r.evidence.find("in the future: clock skew or tampering"), std::string::npos) << r.evidence;
  // Past 2262 (beyond a nanosecond system_clock): still an error, no overflow.
  timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = 9'000'000'000'000LL;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  if (::utimensat(AT_FDCWD, (tree_.path() / "var/lib/clamav/daily.cld").c_str(), ts, 0) == 0) {
    EXPECT_EQ(run("file_age: {path: \"/var/lib/clamav/daily.c[lv]d\", max_days: 3}").outcome, Outcome::error);
  }
  // Within a day ahead (a clock a little fast): fresh.
  touch("/var/lib/clamav/daily.cld", kNow + std::chrono::hours(2));
  EXPECT_EQ(run("file_age: {path: \"/var/lib/clamav/daily.c[lv]d\", max_days: 3}").outcome, Outcome::pass);
}

TEST_F(ConfigProbes, YamlCountsTheItemsOfAList) {
  tree_.file(
      "/etc/vigil/agent.yaml",
      "collector:\n  addresses: [c.example.gov.vn:8443]\nlogs:\n  - {path: /var/log/auth.log, format: syslog}\n");
  EXPECT_EQ(run("yaml: {path: /etc/vigil/agent.yaml, key: logs, count: true, op: \">=\", value: 1}").outcome,
            Outcome::pass);
  auto r = run("yaml: {path: /etc/vigil/agent.yaml, key: collector.addresses, count: true, op: \">=\", value: 1}");
  EXPECT_EQ(r.outcome, Outcome::pass) << r.evidence;
  EXPECT_EQ(r.evidence, "/etc/vigil/agent.yaml: collector.addresses has 1 item(s)");
  tree_.file("/etc/vigil/agent.yaml", "collector:\n  addresses: []\n");
  EXPECT_EQ(
      run("yaml: {path: /etc/vigil/agent.yaml, key: collector.addresses, count: true, op: \">=\", value: 1}").outcome,
      Outcome::fail);
  EXPECT_EQ(run("yaml: {path: /etc/vigil/agent.yaml, key: logs, count: true, op: \">=\", value: 1}").outcome,
            Outcome::fail);
  EXPECT_EQ(run("yaml: {path: /etc/vigil/agent.yaml, key: collector, count: true, op: \">=\", value: 1}").outcome,
            Outcome::error);  // a map, not a list
}

}  // namespace
}  // namespace vigil::agent::checks
