// The log parsers against real public logs and their upstream labels (../shared/data/logs, see
// its README): loghub templates, fail2ban failJSON comments, crowdsec-hub assertions, and figures
// recomputed from the files with independent, naive splitting.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/logs/log_parser.h"
#include "tests/support/test_support.h"

namespace vigil::logs {
namespace {

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // loghub files have CRLF endings
    lines.push_back(line);
  }
  return lines;
}

std::filesystem::path log_file(const char* relative) { return test::shared_data_dir() / "logs" / relative; }

// Splits one CSV record (RFC 4180 quoting; loghub files keep each record on one line).
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : s) {
    if (c == ' ') {
      words.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  words.push_back(cur);
  return words;
}

std::string str(const Event& e, FieldId id) {
  const std::string* s = e.get_string(id);
  return s ? *s : std::string();
}

std::string ip(const Event& e, FieldId id = fields::source_ip) {
  const IpAddress* a = e.get_ip(id);
  return a ? a->to_string() : std::string();
}

int64_t num(const Event& e, FieldId id) {
  const int64_t* v = e.get_int(id);
  return v ? *v : -1;
}

std::unique_ptr<LogParser> parser(const char* format) { return std::move(make_parser(format).value()); }

ParseContext context(const char* format, const char* reference) {
  return ParseContext::at(format, *Timestamp::parse(reference), 0);
}

// The value after "key=" up to the next space.
std::string after_key(const std::string& s, const std::string& key) {
  size_t pos = s.find(key);
  if (pos == std::string::npos) return {};
  std::string v = s.substr(pos + key.size());
  return v.substr(0, v.find(' '));
}

TEST(LoghubOpenSsh, EveryLineIsSshdAndAgreesWithTheTemplates) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto lines = read_lines(log_file("loghub/OpenSSH/OpenSSH_2k.log"));
  auto labels = read_lines(log_file("loghub/OpenSSH/OpenSSH_2k.log_structured.csv"));
  ASSERT_EQ(lines.size(), 2000u);
  ASSERT_EQ(labels.size(), lines.size() + 1);  // header

  // Template -> the action (and outcome) our reader must give.
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"E1", {"ssh_login", "success"}},
      {"E2", {"connection_closed", ""}},
      {"E3", {"no_identification", ""}},
      {"E4", {"too_many_auth_failures", "failure"}},
      {"E5", {"too_many_auth_failures", "failure"}},
      {"E6", {"disconnect", ""}},
      {"E7", {"disconnect", ""}},
      {"E8", {"ssh_login", "failure"}},
      {"E9", {"ssh_login", "failure"}},
      {"E10", {"ssh_login", "failure"}},
      {"E11", {"", ""}},
      {"E12", {"invalid_user", "failure"}},
      {"E13", {"invalid_user", "failure"}},
      {"E14", {"ssh_login", "failure"}},
      {"E15", {"authentication_failure", "failure"}},
      {"E16", {"authentication_failure", "failure"}},
      {"E17", {"authentication_failure", "failure"}},
      {"E18", {"max_retries", ""}},
      {"E19", {"authentication_failure", "failure"}},
      {"E20", {"authentication_failure", "failure"}},
      {"E21", {"user_unknown", ""}},
      {"E22", {"session_closed", "success"}},
      {"E23", {"session_opened", "success"}},
      {"E24", {"disconnect", ""}},
      {"E25", {"disconnect", ""}},
      {"E26", {"disconnect", ""}},
      {"E27", {"possible_break_in", ""}},
  };

  auto p = parser("syslog");
  auto ctx = context("syslog", "2016-12-31T00:00:00Z");
  std::map<std::string, int> per_template;
  int failures = 0, break_ins = 0, failed_password_checked = 0;
  Event e;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto label = split_csv(labels[i + 1]);
    ASSERT_EQ(label.size(), 9u) << labels[i + 1];
    const std::string& content = label[6];
    const std::string& id = label[7];
    SCOPED_TRACE(lines[i]);
    ASSERT_TRUE(p->parse(lines[i], ctx, e));
    EXPECT_EQ(str(e, fields::event_dataset), "sshd");
    EXPECT_EQ(str(e, fields::event_original), lines[i]);
    std::string message = str(e, fields::message);
    while (!message.empty() && message.back() == ' ') message.pop_back();  // loghub trims
    EXPECT_EQ(message, content);
    EXPECT_EQ(str(e, fields::host_name), "LabSZ");
    EXPECT_EQ(num(e, fields::process_pid), std::stoll(label[5]));
    auto it = expected.find(id);
    ASSERT_NE(it, expected.end()) << "template " << id;
    EXPECT_EQ(str(e, fields::event_action), it->second.first) << id;
    EXPECT_EQ(str(e, fields::event_outcome), it->second.second) << id;
    ++per_template[id];
    if (str(e, fields::event_outcome) == "failure") ++failures;

    auto words = split_words(content);
    if (id == "E8" || id == "E9" || id == "E10" || id == "E14" || id == "E1") {
      // "... for [invalid user] U from IP port P ..."
      size_t from = 0;
      for (size_t w = 0; w < words.size(); ++w) {
        if (words[w] == "from") from = w;
      }
      ASSERT_GT(from, 0u);
      // sshd prints the user verbatim ("invalid user  0101" is the user " 0101")
      size_t for_pos = content.find(" for ") + 5;
      if (content.compare(for_pos, 13, "invalid user ") == 0) for_pos += 13;
      EXPECT_EQ(str(e, fields::user_name), content.substr(for_pos, content.rfind(" from ") - for_pos));
      EXPECT_EQ(ip(e), words[from + 1]);
      EXPECT_EQ(std::to_string(num(e, fields::source_port)), words[from + 3].substr(0, words[from + 3].find(']')));
      ++failed_password_checked;
    } else if (id == "E13") {  // Invalid user U from IP
      EXPECT_EQ(str(e, fields::user_name), content.substr(13, content.rfind(" from ") - 13));
      EXPECT_EQ(ip(e), words.back());
    } else if (id == "E27") {
      ++break_ins;
      size_t open = content.find('[');
      EXPECT_EQ(ip(e), content.substr(open + 1, content.find(']') - open - 1));
    } else if (id == "E19" || id == "E20" || id == "E15" || id == "E16" || id == "E17") {
      std::string rhost = after_key(content, "rhost=");
      if (IpAddress::parse(rhost)) {
        EXPECT_EQ(ip(e), rhost);
      } else {
        EXPECT_EQ(str(e, field("source.domain")), rhost);
      }
      EXPECT_EQ(str(e, fields::user_name), after_key(content, " user="));
    }
  }
  EXPECT_EQ(p->counters().parsed, 2000u);
  EXPECT_EQ(p->counters().unparsed, 0u);
  EXPECT_GT(break_ins, 0);
  EXPECT_EQ(break_ins, per_template["E27"]);
  EXPECT_GT(failed_password_checked, 0);
  // The README: "About 1140 lines are auth failures or invalid users".
  EXPECT_GT(failures, 1000);
  EXPECT_LT(failures, 1300);
  std::cout << "[ INFO     ] OpenSSH_2k: " << failures << " failure events, " << break_ins << " break-in attempts\n";
}

TEST(CrowdsecSshBf, InvalidUsersFromTheAttacker) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto p = parser("syslog");
  auto ctx = context("syslog", "2024-12-31T00:00:00Z");
  int n = 0;
  Event e;
  for (const auto& line : read_lines(log_file("crowdsec-hub/ssh-bf/ssh-bf.log"))) {
    if (line.empty()) continue;
    SCOPED_TRACE(line);
    ASSERT_TRUE(p->parse(line, ctx, e));
    EXPECT_EQ(str(e, fields::event_dataset), "sshd");
    EXPECT_EQ(str(e, fields::event_action), "invalid_user");
    EXPECT_EQ(str(e, fields::event_outcome), "failure");
    EXPECT_EQ(ip(e), "35.188.49.176");
    EXPECT_EQ(num(e, fields::source_port), 53502);
    EXPECT_EQ(str(e, fields::user_name).rfind("pascal", 0), 0u);
    ++n;
  }
  EXPECT_EQ(n, 6);
}

struct Labelled {
  nlohmann::json label;
  std::string line;
};

// Each log line that follows a "# failJSON: {...}" comment, with its label.
std::vector<Labelled> fail2ban_cases(const char* relative) {
  std::vector<Labelled> out;
  std::optional<nlohmann::json> pending;
  for (const auto& line : read_lines(log_file(relative))) {
    if (line.rfind("# failJSON:", 0) == 0) {
      pending = nlohmann::json::parse(line.substr(11));
    } else if (!line.empty() && line[0] != '#' && pending) {
      out.push_back({*pending, line});
      pending.reset();
    }
  }
  return out;
}

// Checks an event against a failJSON label: time, and for match:true an auth failure from host.
void check_fail2ban(const Labelled& c, const Event& e, int& matched) {
  SCOPED_TRACE(c.line);
  EXPECT_EQ(str(e, fields::event_original), c.line);
  if (c.label.contains("time")) {
    // labels carry whole seconds
    EXPECT_EQ(e.time().ns / 1'000'000'000,
              Timestamp::parse(c.label["time"].get<std::string>() + "Z")->ns / 1'000'000'000);
  }
  if (!c.label.value("match", false)) return;
  ++matched;
  EXPECT_EQ(str(e, fields::event_outcome), "failure");
  std::string host = c.label["host"].get<std::string>();
  if (auto addr = IpAddress::parse(host)) {
    EXPECT_EQ(ip(e), addr->to_string());
  } else {
    EXPECT_EQ(str(e, field("source.domain")), host);
  }
}

TEST(Fail2banPamGeneric, MatchingLinesAreAuthFailuresFromTheLabelHost) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto cases = fail2ban_cases("fail2ban/pam-generic");
  ASSERT_EQ(cases.size(), 9u);
  auto p = parser("syslog");
  int matched = 0;
  Event e;
  for (const auto& c : cases) {
    // Each label names its year; RFC 3164 lines take theirs from the reference time.
    std::string year = c.label.value("time", std::string("2005")).substr(0, 4);
    auto ctx = ParseContext::at("syslog", *Timestamp::parse(year + "-12-31T00:00:00Z"), 0);
    ASSERT_TRUE(p->parse(c.line, ctx, e)) << c.line;
    check_fail2ban(c, e, matched);
    if (c.label.value("match", false)) {
      EXPECT_EQ(str(e, fields::event_action), "authentication_failure");
    }
  }
  EXPECT_EQ(matched, 8);
}

TEST(Fail2banApacheAuth, MatchingLinesAreAuthFailuresFromTheLabelHost) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto cases = fail2ban_cases("fail2ban/apache-auth");
  ASSERT_EQ(cases.size(), 45u);
  auto p = parser("apache_error");
  int matched = 0;
  Event e;
  for (const auto& c : cases) {
    std::string year = c.label.value("time", std::string("2013")).substr(0, 4);
    auto ctx = ParseContext::at("apache_error", *Timestamp::parse(year + "-12-31T00:00:00Z"), 0);
    ASSERT_TRUE(p->parse(c.line, ctx, e)) << c.line;
    EXPECT_EQ(str(e, fields::event_dataset), "apache.error");
    check_fail2ban(c, e, matched);
  }
  EXPECT_EQ(matched, 41);
  EXPECT_EQ(p->counters().unparsed, 0u);
}

TEST(CrowdsecIptables, FirewallEventsWithSourceAndPorts) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto p = parser("syslog");
  auto ctx = context("syslog", "2021-12-31T00:00:00Z");
  std::map<std::string, int> lines_per_source;
  std::map<std::string, std::set<int64_t>> ports_per_source;
  std::map<std::string, std::set<int64_t>> independent_ports_per_source;
  std::set<std::string> all_ports;
  Event e;
  for (const auto& line : read_lines(log_file("crowdsec-hub/iptables-scan-multi-port/iptables-scan-multi-port.log"))) {
    if (line.empty()) continue;
    SCOPED_TRACE(line);
    ASSERT_TRUE(p->parse(line, ctx, e));
    EXPECT_EQ(str(e, fields::event_dataset), "firewall");
    // Independently: the SRC= and DPT= words.
    std::string src = after_key(line, " SRC=");
    std::string dpt = after_key(line, " DPT=");
    EXPECT_EQ(ip(e), src);
    EXPECT_EQ(std::to_string(num(e, fields::destination_port)), dpt);
    EXPECT_EQ(ip(e, fields::destination_ip), after_key(line, " DST="));
    EXPECT_EQ(str(e, fields::observer_ingress_interface_name), after_key(line, " IN="));
    EXPECT_EQ(str(e, fields::network_transport), "tcp");
    ++lines_per_source[ip(e)];
    ports_per_source[ip(e)].insert(num(e, fields::destination_port));
    all_ports.insert(dpt);
    independent_ports_per_source[src].insert(std::stoll(dpt));
  }
  // The README's figures: 49 lines, 33 distinct ports, 3 sources (17, 16, 16 lines).
  EXPECT_EQ(p->counters().parsed, 49u);
  EXPECT_EQ(all_ports.size(), 33u);
  ASSERT_EQ(lines_per_source.size(), 3u);
  EXPECT_EQ(lines_per_source["62.34.17.168"], 17);
  EXPECT_EQ(lines_per_source["127.0.0.1"], 16);
  EXPECT_EQ(lines_per_source["127.0.0.2"], 16);
  for (const auto& [src, ports] : ports_per_source) {
    std::cout << "[ INFO     ] " << src << ": " << lines_per_source[src] << " lines, " << ports.size()
              << " distinct destination ports\n";
    EXPECT_EQ(ports, independent_ports_per_source[src]) << src;
    EXPECT_GT(ports.size(), 10u) << src;  // a multi-port scan from each source
  }
}

TEST(ElasticApacheLogs, TenThousandAccessEventsWithTheFileStatusCounts) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto lines = read_lines(log_file("elastic-examples/apache_logs"));
  ASSERT_EQ(lines.size(), 10000u);
  auto p = parser("apache");
  auto ctx = context("apache", "2015-06-01T00:00:00Z");
  std::map<int64_t, int> ours, independent;
  int events = 0;
  Event e;
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    EXPECT_TRUE(p->parse(line, ctx, e));
    EXPECT_EQ(str(e, fields::event_dataset), "apache.access");
    ++events;
    ++ours[num(e, fields::http_response_status_code)];
    // Independently: the status is the first word after the second double quote.
    size_t q1 = line.find('"');
    size_t q2 = line.find("\" ", q1 + 1);
    ASSERT_NE(q2, std::string::npos);
    ++independent[std::stoll(line.substr(q2 + 2, 3))];
    EXPECT_EQ(ip(e), line.substr(0, line.find(' ')));
  }
  EXPECT_EQ(events, 10000);
  EXPECT_EQ(p->counters().unparsed, 0u);
  EXPECT_EQ(ours, independent);
  // The README's figures.
  EXPECT_EQ(independent[200], 9126);
  EXPECT_EQ(independent[404], 213);
  EXPECT_EQ(independent[500], 3);
}

TEST(CrowdsecNginxSqli, ProbesAreAccessEventsWithTheirQuery) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto p = parser("nginx");
  auto ctx = context("nginx", "2021-12-31T00:00:00Z");
  int n = 0;
  Event e;
  for (const auto& line : read_lines(log_file("crowdsec-hub/nginx-http-sqli-probing/nginx-http-sqli-probing.log"))) {
    if (line.empty()) continue;
    SCOPED_TRACE(line);
    ASSERT_TRUE(p->parse(line, ctx, e));
    EXPECT_EQ(str(e, fields::event_dataset), "nginx.access");
    EXPECT_EQ(ip(e), "127.0.0.1");
    EXPECT_EQ(num(e, fields::http_response_status_code), 404);
    EXPECT_FALSE(str(e, fields::url_query).empty());
    EXPECT_EQ(str(e, fields::user_agent_original), "curl/7.68.0");
    ++n;
  }
  EXPECT_EQ(n, 16);
}

TEST(LoghubLinux, EveryLineParsesAndProgramsMatchTheLabels) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto lines = read_lines(log_file("loghub/Linux/Linux_2k.log"));
  auto labels = read_lines(log_file("loghub/Linux/Linux_2k.log_structured.csv"));
  ASSERT_EQ(lines.size(), 2000u);
  ASSERT_EQ(labels.size(), 2001u);
  auto p = parser("syslog");
  auto ctx = context("syslog", "2005-12-31T00:00:00Z");
  std::map<std::string, int> datasets;
  int su_labels = 0, sshd_labels = 0, failures_from_150 = 0, independent_150 = 0, pam_failures = 0;
  Event e;
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    auto label = split_csv(labels[i + 1]);
    ASSERT_GE(label.size(), 8u);
    p->parse(lines[i], ctx, e);
    ++datasets[str(e, fields::event_dataset)];
    const std::string& component = label[5];
    if (component.rfind("su(", 0) == 0 || component == "su") {
      ++su_labels;
      EXPECT_EQ(str(e, fields::event_dataset), "su");
    }
    if (component.rfind("sshd", 0) == 0) {
      ++sshd_labels;
      EXPECT_EQ(str(e, fields::event_dataset), "sshd");
    }
    if (component.find('(') == std::string::npos && component.find(' ') == std::string::npos && !component.empty() &&
        component != "syslogd") {
      EXPECT_EQ(str(e, fields::process_name), component);
    }
    if (lines[i].find("authentication failure") != std::string::npos &&
        lines[i].find("rhost=150.183.249.110") != std::string::npos) {
      ++independent_150;
    }
    if (ip(e) == "150.183.249.110" && str(e, fields::event_outcome) == "failure") ++failures_from_150;
    if (lines[i].find("authentication failure;") != std::string::npos) {
      ++pam_failures;
      EXPECT_EQ(str(e, fields::event_action), "authentication_failure");
      EXPECT_EQ(str(e, fields::event_outcome), "failure");
      std::string rhost = after_key(lines[i], " rhost=");
      if (rhost.empty()) {
        EXPECT_FALSE(e.has(fields::source_ip));
      } else if (IpAddress::parse(rhost)) {
        EXPECT_EQ(ip(e), rhost);
      } else {
        EXPECT_EQ(str(e, field("source.domain")), rhost);
      }
    }
  }
  EXPECT_EQ(p->counters().lines, 2000u);
  EXPECT_EQ(p->counters().parsed + p->counters().unparsed, 2000u);
  EXPECT_EQ(p->counters().unparsed, 0u);
  EXPECT_EQ(datasets["su"], su_labels);
  EXPECT_EQ(datasets["sshd"], sshd_labels);
  EXPECT_EQ(independent_150, 80);  // the README's figure
  EXPECT_EQ(failures_from_150, independent_150);
  EXPECT_GT(pam_failures, 300);
}

TEST(LoghubApache, EveryErrorLineParsesWithTheLabelLevel) {
  VIGIL_REQUIRE_SHARED_DATA();
  auto lines = read_lines(log_file("loghub/Apache/Apache_2k.log"));
  auto labels = read_lines(log_file("loghub/Apache/Apache_2k.log_structured.csv"));
  ASSERT_EQ(lines.size(), 2000u);
  ASSERT_EQ(labels.size(), 2001u);
  auto p = parser("apache_error");
  auto ctx = context("apache_error", "2006-01-01T00:00:00Z");
  int with_client = 0, independent_client = 0;
  Event e;
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    auto label = split_csv(labels[i + 1]);
    ASSERT_EQ(label.size(), 6u);
    EXPECT_TRUE(p->parse(lines[i], ctx, e));
    EXPECT_EQ(str(e, fields::event_dataset), "apache.error");
    EXPECT_EQ(str(e, field("log.level")), label[2]);
    if (lines[i].find("[client ") != std::string::npos) ++independent_client;
    if (e.has(fields::source_ip)) ++with_client;
    // loghub's Content is the message (the client bracket is part of it there)
    std::string content = label[3];
    EXPECT_NE(content.find(str(e, fields::message)), std::string::npos);
  }
  EXPECT_EQ(p->counters().unparsed, 0u);
  EXPECT_EQ(with_client, independent_client);
  EXPECT_EQ(independent_client, 32);  // the README's figure
}

}  // namespace
}  // namespace vigil::logs
