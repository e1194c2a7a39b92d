// Group bundles: paths, the signed document, and what an agent accepts (common/fleet/bundle.h);
// the collector's check of pushed files (collector/fleet/bundle_builder.h); a bundle's rules over
// local ones (agent/rules/rule_loader.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/rules/rule_loader.h"
#include "collector/fleet/bundle_builder.h"
#include "common/fleet/bundle.h"
#include "common/pki/pki.h"
#include "tests/support/test_support.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

const char* kRule = R"(- id: bundle-test-rule
  title: Bundle test rule
  severity: medium
  when:
    message: {contains: "BUNDLE-MARK"}
)";

struct Signed {
  fleet::Envelope envelope;
  std::string public_key;
};

Signed make_signed(const std::string& group, int64_t version, const std::string& content = kRule) {
  auto key = pki::generate_signing_key();
  EXPECT_TRUE(key) << key.error();
  fleet::Bundle b;
  b.group = group;
  b.version = version;
  b.created = "2026-12-06T00:00:00Z";
  b.author = "token:admin";
  b.files.push_back({"rules/test.yaml", content});
  auto doc = fleet::to_document(b);
  EXPECT_TRUE(doc) << doc.error();
  auto sig = pki::sign_hex(*key, *doc);
  EXPECT_TRUE(sig) << sig.error();
  return {{group, version, pki::sha256_hex(*doc), *sig, *doc}, *pki::public_pem(*key)};
}

TEST(BundlePaths, KnownKindsOnlyAndNoEscape) {
  EXPECT_EQ(*fleet::classify_path("rules/ssh.yaml"), fleet::FileKind::rule);
  EXPECT_EQ(*fleet::classify_path("rules/lists/ips.txt"), fleet::FileKind::list);
  EXPECT_EQ(*fleet::classify_path("policies/base.yml"), fleet::FileKind::policy);
  for (const char* bad : {"", "/etc/passwd", "rules/../x.yaml", "rules//x.yaml", "rules/./x.yaml", "rules/x.sh",
                          "policies/x.txt", "other/x.yaml", "rules", "rules/x y.yaml", "rules/x.yaml/"}) {
    EXPECT_FALSE(fleet::classify_path(bad)) << bad;
  }
}

TEST(BundleDocument, RoundTripsAndRefusesBinary) {
  fleet::Bundle b;
  b.group = "web";
  b.version = 3;
  b.created = "2026-12-06T00:00:00Z";
  b.author = "admin";
  b.message = "tiếng Việt";
  b.files.push_back({"rules/a.yaml", kRule});
  auto doc = fleet::to_document(b);
  ASSERT_TRUE(doc) << doc.error();
  auto back = fleet::from_document(*doc);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->group, "web");
  EXPECT_EQ(back->version, 3);
  EXPECT_EQ(back->message, "tiếng Việt");
  ASSERT_EQ(back->files.size(), 1u);
  EXPECT_EQ(back->files[0].content, kRule);
  b.files[0].content = std::string("\xff\xfe", 2);
  EXPECT_FALSE(fleet::to_document(b));
  EXPECT_FALSE(fleet::from_document(R"({"format":"vigil-bundle/1","group":"g","version":1,"created":"","author":"",
    "message":"","rollback_of":0,"files":[{"path":"../x.yaml","content":""}]})"));
}

TEST(BundleVerify, AcceptsTheSignedBundle) {
  auto s = make_signed("web", 2);
  auto b = fleet::verify(s.envelope, s.public_key, "web", "web", 1);
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->version, 2);
}

TEST(BundleVerify, RefusesTamperedWrongKeyReplayAndOtherGroup) {
  auto s = make_signed("web", 2);
  {
    auto e = s.envelope;
    e.document[e.document.size() / 2] ^= 1;  // one bit changed in storage
    auto b = fleet::verify(e, s.public_key, "web", "", 0);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().find("hash"), std::string::npos) << b.error();
    e.sha256 = pki::sha256_hex(e.document);  // the hash made to fit: the signature still does not
    b = fleet::verify(e, s.public_key, "web", "", 0);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().find("signature"), std::string::npos) << b.error();
  }
  {
    auto other = make_signed("web", 2);
    auto b = fleet::verify(s.envelope, other.public_key, "web", "", 0);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().find("signature"), std::string::npos) << b.error();
  }
  {
    auto b = fleet::verify(s.envelope, s.public_key, "web", "web", 2);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().find("replay"), std::string::npos) << b.error();
    EXPECT_TRUE(fleet::verify(s.envelope, s.public_key, "web", "db", 7));  // another group's numbering
  }
  {
    auto b = fleet::verify(s.envelope, s.public_key, "db", "", 0);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().find("'db'"), std::string::npos) << b.error();
    auto e = s.envelope;
    e.version = 9;  // the envelope says another version than the signed document
    EXPECT_FALSE(fleet::verify(e, s.public_key, "web", "", 0));
  }
}

TEST(BundleValidate, RefusesWithPositionsInTheBundle) {
  compliance::LoadedFrameworks none;
  EXPECT_TRUE(collector::validate_bundle_files({{"rules/a.yaml", kRule}}, none));
  auto bad = collector::validate_bundle_files(
      {{"rules/a.yaml", kRule}, {"rules/b.yaml", "- title: no id\n  severity: medium\n  when: {message: x}\n"}}, none);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("rules/b.yaml:1:"), std::string::npos) << bad.error();
  EXPECT_EQ(bad.error().find("/tmp"), std::string::npos) << bad.error();
  auto kind = collector::validate_bundle_files({{"rules/run.sh", "echo"}}, none);
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.error().find("no known kind"), std::string::npos) << kind.error();
  auto policy_in_rules =
      collector::validate_bundle_files({{"rules/p.yaml", "policy: {id: p, title: P}\nchecks: []\n"}}, none);
  EXPECT_FALSE(policy_in_rules);
}

TEST(BundleValidate, ListsStayInsideTheBundleAndOverlaysMoveNoTrust) {
  compliance::LoadedFrameworks none;
  const std::string list_rule = "- id: list-rule\n  title: L\n  severity: low\n  when:\n    message: {in_file: %s}\n";
  auto with_list = [&](const std::string& where) {
    std::string text = list_rule;
    text.replace(text.find("%s"), 2, where);
    return text;
  };
  EXPECT_TRUE(collector::validate_bundle_files({{"rules/a.yaml", with_list("l.txt")}, {"rules/l.txt", "x\n"}}, none));
  for (const char* outside : {"/etc/passwd", "../../../etc/passwd", "/dev/zero"}) {
    auto r = collector::validate_bundle_files({{"rules/a.yaml", with_list(outside)}}, none);
    ASSERT_FALSE(r) << outside;
    EXPECT_NE(r.error().find("rules/a.yaml:5:"), std::string::npos) << r.error();
  }
  auto overlay = [&](const std::string& text) {
    return collector::validate_bundle_files({{"rules/a.yaml", kRule}, {"config/agent.yaml", text}}, none);
  };
  EXPECT_TRUE(overlay("logs:\n  - {path: /var/log/app.log, format: syslog}\npolicies: {interval: 12h}\n"));
  EXPECT_TRUE(overlay("capture: {bpf: \"not port 22\"}\n"));
  for (const char* bad : {"collector: {addresses: [\"evil:1\"]}\n", "agent: {user: root}\n",
                          "logs:\n  - {path: /var/lib/vigil/agent.key, format: raw}\n",
                          "logs:\n  - {path: relative.log, format: syslog}\n", "rules: {paths: [/etc/vigil/x]}\n",
                          "capture: {bpf: \"this is not a filter\"}\n", "policies: {run: external}\n"}) {
    auto r = overlay(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("config/agent.yaml:"), std::string::npos) << r.error();
  }
}

TEST(BundleRules, ReplaceLocalRulesOfTheSameId) {
  test::TempDir tmp;
  fs::create_directories(tmp.path() / "local");
  fs::create_directories(tmp.path() / "bundle");
  std::ofstream(tmp.path() / "local" / "a.yaml") << kRule;
  std::string replacement = kRule;
  replacement.replace(replacement.find("Bundle test rule"), 16, "Replaced by bundle");
  std::ofstream(tmp.path() / "bundle" / "a.yaml") << replacement;
  auto loaded = agent::rules::load_rules({(tmp.path() / "local").string()}, {(tmp.path() / "bundle").string()});
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_EQ(loaded->set->rules.size(), 1u);
  EXPECT_EQ(loaded->set->rules[0]->title.en, "Replaced by bundle");
  bool said = false;
  for (const auto& d : loaded->diagnostics.items()) said = said || d.message.find("replaced") != std::string::npos;
  EXPECT_TRUE(said);
  // Without the bundle the same id twice is an error, as before.
  EXPECT_FALSE(agent::rules::load_rules({(tmp.path() / "local").string(), (tmp.path() / "bundle").string()}));
}

}  // namespace
}  // namespace vigil
