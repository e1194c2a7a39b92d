// File integrity: declared deploy windows and deploy users (agent/fim/deploy.h), their agent.yaml
// keys, and the defacement rule (VGL-FIM-0010) on the marks they give.
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/config/agent_config.h"
#include "agent/fim/deploy.h"
#include "agent/fim/events.h"
#include "agent/rules/engine.h"
#include "agent/rules/rule_loader.h"
#include "tests/support/test_support.h"

namespace vigil::agent::fim {
namespace {

using Clock = std::chrono::system_clock;

DeployWindow window(const std::string& text) {
  std::string why;
  auto w = parse_deploy_window(text, why);
  EXPECT_TRUE(w) << text << ": " << why;
  return w.value_or(DeployWindow{});
}

std::string refused(const std::string& text) {
  std::string why;
  auto w = parse_deploy_window(text, why);
  EXPECT_FALSE(w) << text;
  return why;
}

// A local time of the agent: 1 December 2026 is a Tuesday.
Clock::time_point local(int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 11;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_isdst = -1;
  return Clock::from_time_t(std::mktime(&tm));
}

constexpr int kSun = 0, kMon = 1, kTue = 2, kWed = 3, kSat = 6;

TEST(FimDeployWindow, ADayAndItsMinutesBothEndsIncluded) {
  auto w = window("Tue 22:00-23:59");
  EXPECT_TRUE(w.covers(kTue, 22 * 60));
  EXPECT_TRUE(w.covers(kTue, 23 * 60 + 59));
  EXPECT_FALSE(w.covers(kTue, 21 * 60 + 59));
  EXPECT_FALSE(w.covers(kWed, 22 * 60 + 30));
  EXPECT_FALSE(w.covers(kMon, 22 * 60 + 30));
}

TEST(FimDeployWindow, RangesListsAndEveryDay) {
  auto weekdays = window("Mon-Fri 19:00-21:00");
  for (int d = kMon; d <= 5; ++d) EXPECT_TRUE(weekdays.covers(d, 20 * 60)) << d;
  EXPECT_FALSE(weekdays.covers(kSat, 20 * 60));
  EXPECT_FALSE(weekdays.covers(kSun, 20 * 60));
  auto wrap = window("Sat-Mon 01:00-05:00");
  EXPECT_TRUE(wrap.covers(kSat, 60) && wrap.covers(kSun, 60) && wrap.covers(kMon, 60));
  EXPECT_FALSE(wrap.covers(kTue, 60));
  auto list = window("tuesday,Thu 10:00-11:00");
  EXPECT_TRUE(list.covers(kTue, 630) && list.covers(4, 630));
  EXPECT_FALSE(list.covers(kWed, 630));
  auto daily = window("* 03:00-04:00");
  for (int d = 0; d < 7; ++d) EXPECT_TRUE(daily.covers(d, 200)) << d;
  EXPECT_EQ(window("daily 03:00-04:00").days, daily.days);
}

TEST(FimDeployWindow, PastMidnightRunsIntoTheNextDay) {
  auto w = window("Sat 23:00-02:00");
  EXPECT_TRUE(w.covers(kSat, 23 * 60 + 30));
  EXPECT_TRUE(w.covers(kSun, 60));   // the early hours after Saturday
  EXPECT_FALSE(w.covers(kSat, 60));  // not the early hours of Saturday itself
  EXPECT_FALSE(w.covers(kSun, 23 * 60 + 30));
  EXPECT_FALSE(w.covers(kSun, 2 * 60 + 1));
}

TEST(FimDeployWindow, RefusesWhatIsNotAWindowAndSaysWhy) {
  EXPECT_NE(refused("Tue").find("DAYS HH:MM-HH:MM"), std::string::npos);
  EXPECT_NE(refused("Funday 10:00-11:00").find("'Funday' is not a day"), std::string::npos);
  EXPECT_NE(refused("Tue 24:00-25:00").find("not a time range"), std::string::npos);
  EXPECT_NE(refused("Tue 10:00").find("not a time range"), std::string::npos);
  EXPECT_NE(refused("Tue 9:00-10:00").find("not a time range"), std::string::npos);
  EXPECT_NE(refused("Tue 10:00-10:00").find("empty window"), std::string::npos);
  EXPECT_NE(refused("Mon-Xyz 10:00-11:00").find("'Mon-Xyz'"), std::string::npos);
}

TEST(FimDeployWindow, InWindowReadsTheAgentsLocalTime) {
  std::vector<DeployWindow> ws{window("Tue 22:00-23:59"), window("Sat 01:00-05:00")};
  EXPECT_TRUE(in_deploy_window(ws, local(1, 22, 30)));  // Tuesday
  EXPECT_FALSE(in_deploy_window(ws, local(1, 21, 59)));
  EXPECT_FALSE(in_deploy_window(ws, local(2, 22, 30)));  // Wednesday
  EXPECT_TRUE(in_deploy_window(ws, local(5, 4, 59)));    // Saturday
  EXPECT_FALSE(in_deploy_window({}, local(1, 22, 30)));
}

Change change_of(const std::string& path, int64_t ctime_ns) {
  Change c;
  c.type = ChangeType::change;
  c.now.path = path;
  c.now.type = EntryType::file;
  c.now.ctime_ns = ctime_ns;
  c.before = c.now;
  c.changed = attr::hash;
  return c;
}

TEST(FimDeployMarks, AChangeIsPlacedAtItsCtimeNotWhenFound) {
  const auto tuesday = local(1, 22, 30);
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tuesday.time_since_epoch()).count();
  const auto found = local(2, 9, 0);  // found by the scan the next morning
  EXPECT_EQ(when_changed(change_of("/var/www/index.html", ns), found), tuesday);
  Change gone;
  gone.type = ChangeType::deletion;
  gone.before = change_of("/var/www/index.html", ns).now;
  EXPECT_EQ(when_changed(gone, found), found);  // a deletion has no ctime of its own
}

TEST(FimDeployMarks, OnlyWhatIsDeclaredIsMarked) {
  const FieldId kWindow = field("vigil.fim.deploy_window");
  const FieldId kUser = field("vigil.fim.deploy_user");
  std::vector<DeployWindow> ws{window("Tue 22:00-23:59")};
  std::vector<std::string> users{"deploy", "www-deploy"};

  Event none;
  mark_deploy(none, {}, {}, local(1, 22, 30));
  EXPECT_EQ(none.get(kWindow), nullptr);
  EXPECT_EQ(none.get(kUser), nullptr);

  Event in;
  mark_deploy(in, ws, users, local(1, 22, 30));
  ASSERT_NE(in.get(kWindow), nullptr);
  EXPECT_EQ(in.get(kWindow)->to_string(), "true");
  EXPECT_EQ(in.get(kUser), nullptr);  // the change names no user

  Event out;
  out.set(fields::user_name, "mallory");
  mark_deploy(out, ws, users, local(1, 12, 0));
  EXPECT_EQ(out.get(kWindow)->to_string(), "false");
  EXPECT_EQ(out.get(kUser)->to_string(), "false");

  Event by_deploy;
  by_deploy.set(fields::user_name, "www-deploy");
  mark_deploy(by_deploy, {}, users, local(1, 12, 0));
  EXPECT_EQ(by_deploy.get(kWindow), nullptr);
  EXPECT_EQ(by_deploy.get(kUser)->to_string(), "true");
}

constexpr const char* kCollector = "collector:\n  addresses: [127.0.0.1:8443]\n";

TEST(FimConfig, DeployWindowsUsersAndDpkgLogAreRead) {
  auto loaded = load_agent_config_string("agent.yaml", std::string(kCollector) + R"(fim:
  deploy_windows: ["Tue 22:00-23:59", "Sat 01:00-05:00"]
  deploy_users: [deploy, www-deploy]
  dpkg_log: /tmp/dpkg.log
  dpkg_info: /tmp/dpkg-info
  package_window: 5m
  paths: [{path: /var/www}]
)");
  ASSERT_TRUE(loaded) << loaded.error();
  const auto& f = loaded->config.fim;
  ASSERT_EQ(f.deploy_windows.size(), 2u);
  EXPECT_EQ(f.deploy_windows[0].text, "Tue 22:00-23:59");
  EXPECT_TRUE(f.deploy_windows[1].covers(kSat, 120));
  EXPECT_EQ(f.deploy_users, (std::vector<std::string>{"deploy", "www-deploy"}));
  EXPECT_EQ(f.dpkg_log, "/tmp/dpkg.log");
  EXPECT_EQ(f.dpkg_info, "/tmp/dpkg-info");
  EXPECT_EQ(f.package_window, std::chrono::minutes(5));

  auto defaults = load_agent_config_string("agent.yaml", std::string(kCollector) + "fim: {paths: [{path: /etc}]}\n");
  ASSERT_TRUE(defaults) << defaults.error();
  EXPECT_TRUE(defaults->config.fim.deploy_windows.empty());
  EXPECT_EQ(defaults->config.fim.dpkg_log, kDefaultDpkgLog);
  EXPECT_EQ(defaults->config.fim.dpkg_info, kDefaultDpkgInfo);
  EXPECT_EQ(defaults->config.fim.package_window, std::chrono::minutes(10));

  auto off = load_agent_config_string("agent.yaml", std::string(kCollector) + "fim: {dpkg_log: \"\"}\n");
  ASSERT_TRUE(off) << off.error();
  EXPECT_TRUE(off->config.fim.dpkg_log.empty());
}

TEST(FimConfig, DeployAndPackageProblemsWithTheirPositions) {
  auto loaded = load_agent_config_string("agent.yaml", std::string(kCollector) + R"(fim:
  deploy_windows: ["Tue 22:00-23:59", "Funday 10:00-11:00", "Sat 25:00-26:00"]
  deploy_users: [deploy, ""]
  package_window: 10s
  dpkg_info: ""
)");
  ASSERT_FALSE(loaded);
  const std::string& e = loaded.error();
  EXPECT_NE(e.find("agent.yaml:4:39: error: fim.deploy_windows[1]: 'Funday' is not a day"), std::string::npos) << e;
  EXPECT_NE(e.find("agent.yaml:4:61: error: fim.deploy_windows[2]: '25:00-26:00' is not a time range"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("agent.yaml:5:"), std::string::npos) << e;  // the empty user
  EXPECT_NE(e.find("fim.deploy_users: an empty user name"), std::string::npos) << e;
  EXPECT_NE(e.find("agent.yaml:6:"), std::string::npos) << e;  // window below a minute
  EXPECT_NE(e.find("fim.package_window"), std::string::npos) << e;
  EXPECT_NE(e.find("fim.dpkg_info: expected a path"), std::string::npos) << e;
}

// The defacement rule on the shipped rules, with events as the agent makes them.
class FimDefacementRule : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = rules::load_rules({(vigil::test::source_dir() / "rules" / "detection").string()});
    ASSERT_TRUE(loaded) << loaded.error();
    set_ = loaded->set;
  }

  // The rules that alert on a change of `path` at `at`, marked with the windows and users.
  std::multiset<std::string> alerts(const std::string& path, Clock::time_point at, ChangeType type = ChangeType::change,
                                    const std::string& user = "") {
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
    Change c = change_of(path, ns);
    c.type = type;
    if (type == ChangeType::creation) c.before = {};
    if (type == ChangeType::deletion) {
      c.before = c.now;
      c.now = {};
    }
    Event e = to_event(c, "web1", Timestamp{ns});
    if (!user.empty()) e.set(fields::user_name, user);
    mark_deploy(e, windows_, users_, when_changed(c, at));
    rules::Engine engine(set_);
    std::vector<Event> out;
    engine.process(e, out);
    std::multiset<std::string> ids;
    for (const auto& a : out) ids.insert(*a.get_string(fields::rule_id));
    return ids;
  }

  std::shared_ptr<const rules::RuleSet> set_;
  std::vector<DeployWindow> windows_{window("Tue 22:00-23:59")};
  std::vector<std::string> users_{"deploy"};
};

TEST_F(FimDefacementRule, APageChangedOutsideTheWindowAlerts) {
  const auto outside = local(2, 3, 14);  // Wednesday night
  using S = std::multiset<std::string>;
  EXPECT_EQ(alerts("/var/www/html/index.html", outside), S{"VGL-FIM-0010"});
  EXPECT_EQ(alerts("/srv/www/site/assets/app.js", outside), S{"VGL-FIM-0010"});
  EXPECT_EQ(alerts("/usr/share/nginx/html/css/site.CSS", outside), S{"VGL-FIM-0010"});
  EXPECT_EQ(alerts("/var/www/html/about.htm", outside, ChangeType::creation), S{"VGL-FIM-0010"});
  // An index page of any kind: a changed index.php is a defacement too (its creation is a web shell).
  EXPECT_EQ(alerts("/var/www/html/index.php", outside), S{"VGL-FIM-0010"});
}

TEST_F(FimDefacementRule, QuietInsideTheWindowForOtherFilesAndOutsideWebRoots) {
  const auto inside = local(1, 22, 45);  // Tuesday's window
  const auto outside = local(2, 3, 14);
  EXPECT_TRUE(alerts("/var/www/html/index.html", inside).empty());
  EXPECT_TRUE(alerts("/var/www/html/app.js", inside, ChangeType::creation).empty());
  EXPECT_TRUE(alerts("/var/www/html/uploads/photo.jpg", outside).empty());  // not a page
  EXPECT_TRUE(alerts("/home/ann/site/index.html", outside).empty());        // not a web root
  EXPECT_TRUE(alerts("/var/www/html/index.html", outside, ChangeType::deletion).empty());
}

TEST_F(FimDefacementRule, AUserWhoIsNotADeployUserAlertsEvenInTheWindow) {
  const auto inside = local(1, 22, 45);
  EXPECT_EQ(alerts("/var/www/html/index.html", inside, ChangeType::change, "www-data"),
            std::multiset<std::string>{"VGL-FIM-0010"});
  EXPECT_TRUE(alerts("/var/www/html/index.html", inside, ChangeType::change, "deploy").empty());
}

TEST_F(FimDefacementRule, SilentWhereNoWindowIsDeclared) {
  windows_.clear();
  users_.clear();
  EXPECT_TRUE(alerts("/var/www/html/index.html", local(2, 3, 14)).empty());
}

}  // namespace
}  // namespace vigil::agent::fim
