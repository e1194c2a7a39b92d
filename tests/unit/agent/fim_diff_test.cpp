// File integrity comparison and events: what a re-check of a changed tree reports.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/fim/content.h"
#include "agent/fim/diff.h"
#include "agent/fim/events.h"
#include "agent/fim/scanner.h"
#include "common/event/json.h"
#include "common/pki/pki.h"
#include "tests/support/test_support.h"

namespace vigil::agent::fim {
namespace {

namespace fs = std::filesystem;

class FimDiff : public ::testing::Test {
 protected:
  std::string root() const { return dir_.path().string(); }
  std::string p(const std::string& rel) const { return root() + "/" + rel; }
  void file(const std::string& rel, const std::string& content, mode_t mode = 0644) const {
    fs::create_directories(fs::path(p(rel)).parent_path());
    std::ofstream(p(rel), std::ios::binary | std::ios::trunc) << content;
    ::chmod(p(rel).c_str(), mode);
  }
  ScanOptions options() const {
    ScanOptions o;
    o.roots.push_back(Root{root(), true, {"*.log"}});
    return o;
  }
  void take_baseline() {
    baseline_ = Baseline{};
    Scanner s(options());
    ASSERT_TRUE(s.run([&](const FileInfo& f) { baseline_.add(f); }));
    baseline_.finish();
  }
  // A re-check: changes in report order (creations and changes in walk order, then deletions).
  std::vector<Change> check(bool full = false) {
    ScanOptions o = options();
    o.full = full;
    o.missing_root_is_error = false;
    Scanner s(o);
    Comparer cmp(baseline_);
    std::vector<Change> out;
    Change c;
    EXPECT_TRUE(s.run(
        [&](const FileInfo& f) {
          if (cmp.observe(f, c)) out.push_back(c);
        },
        &baseline_));
    cmp.deletions([&](std::string_view path) { return s.in_scope(path); }, [&](const Change& d) { out.push_back(d); });
    return out;
  }
  // "type path [attributes]" per change, the root's prefix cut.
  std::vector<std::string> summary(const std::vector<Change>& changes) const {
    std::vector<std::string> out;
    for (const auto& c : changes) {
      std::string s = std::string(change_type_name(c.type)) + " " + c.entry().path.substr(root().size());
      for (auto a : attribute_names(c.changed)) s += " " + std::string(a);
      out.push_back(s);
    }
    return out;
  }

  vigil::test::TempDir dir_;
  Baseline baseline_;
};

TEST_F(FimDiff, UnchangedTreeReportsNothing) {
  file("etc/passwd", "root:x:0:0\n");
  file("www/index.html", "<h1>hi</h1>");
  take_baseline();
  EXPECT_TRUE(check().empty());
  EXPECT_TRUE(check(true).empty());
}

TEST_F(FimDiff, ContentChangeListsHashSizeAndMtimeWithPreviousValues) {
  file("www/index.html", "<h1>hi</h1>");
  take_baseline();
  auto before = baseline_.info(*baseline_.find(p("www/index.html")));
  file("www/index.html", "<h1>hacked by x</h1>");
  struct timespec ts[2] = {{0, UTIME_OMIT}, {before.mtime_ns / 1'000'000'000 + 5, 0}};
  ::utimensat(AT_FDCWD, p("www/index.html").c_str(), ts, 0);  // mtime surely moves
  auto changes = check();
  EXPECT_EQ(summary(changes), (std::vector<std::string>{"change /www/index.html hash size mtime"}));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].before.sha256, before.sha256);
  EXPECT_NE(changes[0].now.sha256, before.sha256);
}

TEST_F(FimDiff, ModeChangeIsOnlyMode) {
  file("etc/sudoers", "root ALL=(ALL) ALL\n", 0440);
  take_baseline();
  ::chmod(p("etc/sudoers").c_str(), 0666);
  EXPECT_EQ(summary(check()), (std::vector<std::string>{"change /etc/sudoers mode"}));
}

TEST_F(FimDiff, OwnerChangeIsOnlyOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  file("etc/shadow", "root:*:1::::::\n", 0640);
  take_baseline();
  ASSERT_EQ(::chown(p("etc/shadow").c_str(), 1234, 5678), 0);
  auto changes = check();
  EXPECT_EQ(summary(changes), (std::vector<std::string>{"change /etc/shadow owner"}));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].now.uid, 1234u);
  EXPECT_EQ(changes[0].before.uid, 0u);
}

TEST_F(FimDiff, CreationDeletionAndRename) {
  file("www/a.html", "a");
  file("www/old.php", "<?php echo 1;");
  take_baseline();
  file("www/shell.php", "<?php system($_GET['c']);");
  fs::remove(p("www/a.html"));
  fs::rename(p("www/old.php"), p("www/new.php"));
  // Directory mtimes moved; a directory's own change is reported only for mode, owner, inode.
  EXPECT_EQ(summary(check()), (std::vector<std::string>{"creation /www/new.php", "creation /www/shell.php",
                                                        "deletion /www/a.html", "deletion /www/old.php"}));
}

TEST_F(FimDiff, DeepMkdirReportsEveryNewDirectory) {
  file("keep", "k");
  take_baseline();
  file("a/b/c/d/e/f.php", "x");
  EXPECT_EQ(summary(check()),
            (std::vector<std::string>{"creation /a", "creation /a/b", "creation /a/b/c", "creation /a/b/c/d",
                                      "creation /a/b/c/d/e", "creation /a/b/c/d/e/f.php"}));
  // And removing the tree reports every entry of it.
  take_baseline();
  fs::remove_all(p("a"));
  EXPECT_EQ(check().size(), 6u);
}

TEST_F(FimDiff, SymlinkRetargetAndTypeChange) {
  fs::create_symlink("/etc/passwd", p("link"));
  file("thing", "file");
  take_baseline();
  fs::remove(p("link"));
  fs::create_symlink("/etc/shadow", p("link"));
  fs::remove(p("thing"));
  fs::create_directory(p("thing"));
  auto changes = check();
  ASSERT_EQ(changes.size(), 2u);
  // The file system may give the new link the inode the old one freed.
  EXPECT_EQ(changes[0].changed & ~attr::inode, attr::target) << summary(changes)[0];
  EXPECT_EQ(changes[0].before.target, "/etc/passwd");
  EXPECT_EQ(changes[1].type, ChangeType::change);
  EXPECT_TRUE(changes[1].changed & attr::type);
}

TEST_F(FimDiff, IgnoredAndOutOfScopeEntriesAreNotDeletions) {
  file("app.log", "l");
  file("x", "x");
  take_baseline();
  // A baseline entry the current globs ignore (taken with other globs) and one outside the roots.
  FileInfo ignored;
  ignored.path = p("old.log");
  ignored.type = EntryType::file;
  FileInfo outside;
  outside.path = root() + "-elsewhere/file";
  outside.type = EntryType::file;
  Baseline b;
  for (size_t i = 0; i < baseline_.size(); ++i) b.add(baseline_.info(i));
  b.add(ignored);
  b.add(outside);
  b.finish();
  baseline_ = std::move(b);
  EXPECT_TRUE(check().empty());
}

TEST(FimCompare, UnreadableIsNeverUnchanged) {
  FileInfo before;
  before.path = "/etc/shadow";
  before.type = EntryType::file;
  before.has_hash = true;
  before.sha256.fill(7);
  Baseline b;
  b.add(before);
  b.finish();
  FileInfo now = before;
  now.has_hash = false;
  now.error = "open: Permission denied";
  Comparer cmp(b);
  Change c;
  ASSERT_TRUE(cmp.observe(now, c));
  EXPECT_EQ(c.type, ChangeType::change);
  EXPECT_EQ(c.changed, 0u);  // nothing could be compared, and that is reported
  EXPECT_EQ(cmp.counts().unreadable, 1u);
  // Readable again with the same content: a change of what is known only if the hash differs.
  EXPECT_EQ(compare(before, before), 0u);
}

TEST(FimCompare, DirectoryTimesAreNotChanges) {
  FileInfo a;
  a.path = "/d";
  a.type = EntryType::dir;
  a.mtime_ns = 1;
  FileInfo b = a;
  b.mtime_ns = 2;
  b.size = 4096;
  EXPECT_EQ(compare(a, b), 0u);
  b.mode = 0777;
  EXPECT_EQ(compare(a, b), attr::mode);
}

TEST(FimEvents, ChangeEventCarriesEcsFieldsAndPreviousValues) {
  Change c;
  c.type = ChangeType::change;
  c.before.path = "/var/www/html/index.php";
  c.before.type = EntryType::file;
  c.before.mode = 0644;
  c.before.size = 10;
  c.before.has_hash = true;
  c.before.sha256.fill(0x11);
  c.now = c.before;
  c.now.mode = 04755;
  c.now.uid = 33;
  c.now.size = 12;
  c.now.sha256.fill(0x22);
  c.now.mtime_ns = 1'700'000'000'000'000'000;
  c.changed = compare(c.before, c.now);
  auto j = to_json(to_event(c, "web01", Timestamp::from_seconds(1'700'000'100)));
  EXPECT_EQ(j["event"]["kind"], "event");
  EXPECT_EQ(j["event"]["dataset"], "file.integrity");
  EXPECT_EQ(j["event"]["category"], nlohmann::json::array({"file"}));
  EXPECT_EQ(j["event"]["type"], nlohmann::json::array({"change"}));
  EXPECT_EQ(j["host"]["name"], "web01");
  EXPECT_EQ(j["file"]["path"], "/var/www/html/index.php");
  EXPECT_EQ(j["file"]["name"], "index.php");
  EXPECT_EQ(j["file"]["directory"], "/var/www/html");
  EXPECT_EQ(j["file"]["extension"], "php");
  EXPECT_EQ(j["file"]["type"], "file");
  EXPECT_EQ(j["file"]["mode"], "4755");
  EXPECT_EQ(j["file"]["uid"], "33");
  EXPECT_EQ(j["file"]["gid"], "0");
  EXPECT_EQ(j["file"]["size"], 12);
  EXPECT_EQ(j["file"]["mtime"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j["file"]["hash"]["sha256"], std::string(64, '2'));
  EXPECT_EQ(j["vigil"]["fim"]["changed"], nlohmann::json::array({"hash", "size", "mode", "owner", "mtime"}));
  const auto& prev = j["vigil"]["fim"]["previous"];
  EXPECT_EQ(prev["hash"]["sha256"], std::string(64, '1'));
  EXPECT_EQ(prev["size"], 10);
  EXPECT_EQ(prev["mode"], "0644");
  EXPECT_EQ(prev["uid"], "0");
  EXPECT_EQ(prev["mtime"], "1970-01-01T00:00:00Z");
  EXPECT_FALSE(prev.contains("inode"));
  EXPECT_EQ(j["event"]["id"].get<std::string>().size(), 26u);
}

TEST(FimEvents, DeletionDescribesTheLastKnownEntry) {
  Change c;
  c.type = ChangeType::deletion;
  c.before.path = "/etc/cron.d/backdoor";
  c.before.type = EntryType::file;
  c.before.has_hash = true;
  auto j = to_json(to_event(c, "", Timestamp::from_seconds(1)));
  EXPECT_EQ(j["event"]["type"], nlohmann::json::array({"deletion"}));
  EXPECT_EQ(j["file"]["path"], "/etc/cron.d/backdoor");
  EXPECT_FALSE(j.contains("vigil"));
  EXPECT_FALSE(j.contains("host"));
  Change l;
  l.type = ChangeType::creation;
  l.now.path = "/etc/.hidden";
  l.now.type = EntryType::symlink;
  l.now.target = "/tmp/x";
  auto k = to_json(to_event(l, "h", Timestamp::from_seconds(1)));
  EXPECT_EQ(k["file"]["target_path"], "/tmp/x");
  EXPECT_FALSE(k["file"].contains("extension"));
  EXPECT_FALSE(k["file"].contains("hash"));
}

// What changed inside a text file (Wazuh's report_changes): unified diffs, bounded.
TEST(FimContent, UnifiedDiffShowsTheChangedLinesWithContext) {
  const std::string before = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n";
  const std::string after = "a\nb\nc\nd\ne\nF\ng\nh\ni\nj\nk\nl\nm\nn\n";
  EXPECT_EQ(unified_diff(before, after, "/etc/x.conf"),
            "--- a/etc/x.conf\n+++ b/etc/x.conf\n"
            "@@ -3,7 +3,7 @@\n c\n d\n e\n-f\n+F\n g\n h\n i\n"
            "@@ -11,3 +11,4 @@\n k\n l\n m\n+n\n");
  EXPECT_EQ(unified_diff(before, before, "/etc/x.conf"), "");
  // From nothing, and to nothing; a last line without '\n' is a line.
  EXPECT_EQ(unified_diff("", "root ALL=(ALL) NOPASSWD: ALL", "/etc/sudoers.d/x"),
            "--- a/etc/sudoers.d/x\n+++ b/etc/sudoers.d/x\n@@ -0,0 +1 @@\n+root ALL=(ALL) NOPASSWD: ALL\n");
  EXPECT_EQ(unified_diff("x\n", "", "/f"), "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-x\n");
  // Two nearby changes share one hunk.
  EXPECT_EQ(unified_diff("1\n2\n3\n4\n5\n", "1\nX\n3\nY\n5\n", "/f"),
            "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n-4\n+Y\n 5\n");
}

TEST(FimContent, LargeDiffsAreCutAndHugeOnesStillDiffed) {
  std::string before, after;
  for (int i = 0; i < 3000; ++i) {
    before += "line " + std::to_string(i) + "\n";
    after += "changed line " + std::to_string(i) + "\n";
  }
  // 3000 x 3000 lines differ: past the table's room, one replacement, cut at the limit.
  auto d = unified_diff(before, after, "/etc/big");
  EXPECT_LE(d.size(), kMaxDiffText + 64);
  EXPECT_NE(d.find("... (diff cut at 8192 bytes)\n"), std::string::npos);
  EXPECT_EQ(d.rfind("-line 0\n", 200), d.find("-line 0\n"));
  EXPECT_NE(d.find("@@ -1,3000 +1,3000 @@"), std::string::npos) << d.substr(0, 200);
}

TEST(FimContent, SecretsAreNeverKept) {
  for (const char* path : {"/etc/shadow", "/etc/gshadow-", "/etc/ssh/ssh_host_ed25519_key", "/etc/ssl/private/site.pem",
                           "/etc/app/server.key", "/etc/krb5.keytab", "/etc/app/db_password.conf",
                           "/etc/security/opasswd", "/etc/ssl/private"}) {
    EXPECT_TRUE(diff_denied(path, {})) << path;
  }
  for (const char* path : {"/etc/passwd", "/etc/sudoers", "/etc/ssh/sshd_config", "/etc/crontab", "/etc/group"}) {
    EXPECT_FALSE(diff_denied(path, {})) << path;
  }
  EXPECT_TRUE(diff_denied("/etc/app/credentials.conf", {"etc/app/credentials.conf"}));
  EXPECT_TRUE(diff_denied("/etc/app/x.cred", {"*.cred"}));
  EXPECT_TRUE(diff_by_default("/etc"));
  EXPECT_TRUE(diff_by_default("/etc/nginx"));
  EXPECT_FALSE(diff_by_default("/etcetera"));
  EXPECT_FALSE(diff_by_default("/var/www"));
}

TEST(FimContent, StoreKeepsOnlyTheTextItWasGivenAndRetainsWhatIsNamed) {
  test::TempDir dir;
  const std::string f = (dir.path() / "conf").string();
  std::ofstream(f) << "PermitRootLogin no\n";
  Sha256 h{};
  {
    auto hex = pki::sha256_hex("PermitRootLogin no\n");
    for (size_t i = 0; i < 32; ++i) h[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  auto text = ContentStore::read_text(f, h);
  ASSERT_TRUE(text);
  Sha256 other = h;
  other[0] ^= 1;
  EXPECT_FALSE(ContentStore::read_text(f, other));  // changed since it was hashed: no content
  std::ofstream(dir.path() / "bin", std::ios::binary) << std::string("a\0b", 3);
  EXPECT_FALSE(ContentStore::read_text((dir.path() / "bin").string(), h));  // binary
  fs::create_symlink(f, dir.path() / "link");
  EXPECT_FALSE(ContentStore::read_text((dir.path() / "link").string(), h));  // never followed

  ContentStore store((dir.path() / "store").string(), 30);
  EXPECT_TRUE(store.put(h, *text));
  EXPECT_EQ(store.get(h), *text);
  EXPECT_EQ(fs::status(dir.path() / "store").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_FALSE(store.put(other, "this content does not fit the 30-byte cap"));
  EXPECT_EQ(store.refused(), 1u);
  store.retain({});
  EXPECT_FALSE(store.has(h));
  EXPECT_EQ(store.bytes(), 0u);
}

}  // namespace
}  // namespace vigil::agent::fim
