// agents_sim --collector-dir DIR --agents N --seconds S [--rate EVENTS_PER_S]: N enrolled agents
// against the collector `vigil-collector init --dir DIR` made, from one process (issue 23).
//
// Each agent holds one mutual-TLS connection (from 127.0.0.0/8 source addresses, within the
// collector's max_connections_per_source), sends an agent.health record at once and then every
// heartbeat interval (30 s, as agent.health_interval), and its share of --rate events as the
// agent's shipper does: NDJSON records {"epoch","seq","event"} in POST /v1/batches, at most one
// batch in flight and one every 200 ms (spool.sync_interval), zstd from 1 KiB. Every answer is
// checked: 200, "acked" the batch's last seq, "stored" all of its records, none quarantined.
// Figures: agents connected, heartbeats, events stored per second, acknowledgement latency, the
// collector's CPU and RSS. Exit 1 on any error (enrollment, connection, refused or wrong ack).
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "bench/agents_sim/agents_sim.h"
#include "collector/config/collector_config.h"
#include "common/event/event.h"
#include "common/event/value.h"
#include "common/net/tls.h"
#include "common/pki/pki.h"
#include "common/util/cli.h"
#include "common/util/compress.h"
#include "common/version.h"

namespace vigil::bench {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  std::string collector_dir;
  size_t agents = 0;
  double seconds = 0;
  double rate = 0;
  std::string cache;
  int collector_pid = 0;
  std::string agency = "agents-sim";
  unsigned per_source = 0;  // 0: the collector's max_connections_per_source, else 250
  double heartbeat = 30;
  unsigned enroll_workers = 2;
  std::string report;
};

// The agent's shipper bounds (agent/config/agent_config.h): records and bytes per batch, and the
// spool's sync interval that paces deliveries.
constexpr size_t kBatchMaxRecords = 1000;
constexpr auto kSyncInterval = 200ms;
// Connections being opened at once, so the collector's accept queue is never the bottleneck.
constexpr size_t kConnectWindow = 64;
// Bounds of an answer from the collector (its answers are small JSON objects).
constexpr size_t kMaxAnswerHead = 16 * 1024;
constexpr size_t kMaxAnswerBody = 1 << 20;
constexpr size_t kMaxHeaderLines = 100;

// --- figures ------------------------------------------------------------------------------------

// Latency histogram: buckets 2 % wide from 1 µs to ~20 min; percentiles within 1 %.
class Latencies {
 public:
  void add(Clock::duration d) {
    const double us =
        std::max(1.0, static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
    size_t i = static_cast<size_t>(std::log(us) / std::log(kStep));
    ++buckets_[std::min(i, buckets_.size() - 1)];
    ++count_;
  }
  uint64_t count() const { return count_; }
  // Milliseconds at percentile p (0..100); 0 with no samples.
  double percentile(double p) const {
    if (count_ == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= std::max<uint64_t>(rank, 1)) return std::pow(kStep, static_cast<double>(i) + 0.5) / 1000.0;
    }
    return 0;
  }

 private:
  static constexpr double kStep = 1.02;
  std::array<uint64_t, 1100> buckets_{};
  uint64_t count_ = 0;
};

struct Stats {
  uint64_t connected = 0;
  uint64_t connect_failures = 0;
  uint64_t lost = 0;      // connections that broke or were closed by the collector
  uint64_t refused = 0;   // answers other than 200
  uint64_t bad_acks = 0;  // 200 with a wrong acked / stored / quarantined
  uint64_t timeouts = 0;  // no answer within the collector's request timeout
  uint64_t heartbeats_sent = 0;
  uint64_t heartbeats_acked = 0;
  uint64_t batches_sent = 0;
  uint64_t batches_acked = 0;
  uint64_t events_sent = 0;
  uint64_t events_acked = 0;  // events (not health records) in acknowledged batches
  uint64_t records_stored = 0;
  uint64_t alerts_sent = 0;
  uint64_t bytes_raw = 0;
  uint64_t bytes_sent = 0;
  Latencies latency;
  Latencies steady_latency;  // answers once every agent is connected (no handshakes beside them)
  std::vector<std::string> first_errors;  // the first few, for the report
  uint64_t errors() const { return connect_failures + lost + refused + bad_acks + timeouts; }
};

// CPU and memory of a process from /proc.
struct ProcSample {
  double cpu_seconds = 0;
  uint64_t rss_kib = 0;
  uint64_t hwm_kib = 0;
  bool ok = false;
};

ProcSample sample_process(int pid) {
  ProcSample s;
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) in parentheses: state is field 3,
  // utime 14, stime 15.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return s;
  std::vector<std::string_view> fields;
  std::string_view rest = std::string_view(text).substr(close + 2);
  while (!rest.empty()) {
    const size_t sp = rest.find(' ');
    fields.push_back(rest.substr(0, sp));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  if (fields.size() < 13) return s;
  uint64_t utime = 0, stime = 0;
  std::from_chars(fields[11].data(), fields[11].data() + fields[11].size(), utime);
  std::from_chars(fields[12].data(), fields[12].data() + fields[12].size(), stime);
  s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::strtoull(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_kib = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  s.ok = true;
  return s;
}

// The process listening on TCP `port`: the socket's inode from /proc/net/tcp{,6}, then the
// process holding a descriptor on it. 0 when none is found (another user's process, say).
int find_listener(uint16_t port) {
  std::vector<std::string> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::vector<std::string> f;
      size_t i = 0;
      while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ') ++j;
        if (j > i) f.emplace_back(line.substr(i, j - i));
        i = j;
      }
      if (f.size() < 10 || f[3] != "0A") continue;  // LISTEN
      const size_t colon = f[1].rfind(':');
      if (colon == std::string::npos) continue;
      if (std::strtoul(f[1].c_str() + colon + 1, nullptr, 16) == port) inodes.push_back("socket:[" + f[9] + "]");
    }
  }
  if (inodes.empty()) return 0;
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const std::string name = proc.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    const int pid = std::atoi(name.c_str());
    if (pid == getpid()) continue;
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(proc.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      auto target = fs::read_symlink(fd.path(), link_ec);
      if (!link_ec && std::find(inodes.begin(), inodes.end(), target.string()) != inodes.end()) return pid;
    }
  }
  return 0;
}

// The soft RLIMIT_NOFILE of another process (its /proc/PID/limits), 0 when unknown.
uint64_t process_nofile(int pid) {
  std::ifstream in(fmt::format("/proc/{}/limits", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) == 0) return std::strtoull(line.c_str() + 14, nullptr, 10);
  }
  return 0;
}

// --- events ---------------------------------------------------------------------------------------

// What agents send, by share: sshd authentication lines, nginx access lines, network flows, DNS,
// and alerts (2 %), in the shapes `vigil-agent replay` writes them.
class EventMaker {
 public:
  explicit EventMaker(uint64_t seed) : rng_(seed) {}

  // Appends one event's JSON for `host`; returns true when it is an alert.
  bool append(std::string& out, const std::string& host, const std::string& ts, std::string_view syslog_time,
              std::string_view nginx_time) {
    const unsigned roll = pick(1000);
    const std::string id = new_event_id();
    if (roll < 20) {
      append_alert(out, host, ts, id);
      return true;
    }
    if (roll < 320) {
      append_sshd(out, host, ts, id, syslog_time);
    } else if (roll < 620) {
      append_nginx(out, host, ts, id, nginx_time);
    } else if (roll < 870) {
      append_flow(out, host, ts, id);
    } else {
      append_dns(out, host, ts, id);
    }
    return false;
  }

 private:
  unsigned pick(unsigned n) { return static_cast<unsigned>(rng_() % n); }
  template <size_t N>
  const char* any(const std::array<const char*, N>& a) {
    return a[pick(N)];
  }
  std::string outside_ip() { return fmt::format("{}.{}.{}.{}", any(kNets), pick(256), pick(256), 1 + pick(254)); }
  std::string inside_ip() { return fmt::format("10.{}.{}.{}", pick(4), pick(256), 1 + pick(254)); }

  void append_sshd(std::string& out, const std::string& host, const std::string& ts, const std::string& id,
                   std::string_view syslog_time) {
    const unsigned pid = 1000 + pick(60000), port = 1024 + pick(64000);
    const std::string ip = pick(4) == 0 ? inside_ip() : outside_ip();
    const char* user = any(kUsers);
    const unsigned kind = pick(10);
    std::string message, action = "ssh_login", outcome = "failure", method = "password";
    if (kind < 6) {
      message = fmt::format("Failed password for {} from {} port {} ssh2", user, ip, port);
    } else if (kind < 8) {
      message = fmt::format("Accepted publickey for {} from {} port {} ssh2: ED25519 SHA256:{}", user, ip, port,
                            pki::random_token(12));
      outcome = "success";
      method = "publickey";
    } else {
      message = fmt::format("Invalid user {} from {} port {}", user, ip, port);
      action = "invalid_user";
      method.clear();
    }
    fmt::format_to(
        std::back_inserter(out),
        R"({{"@timestamp":"{}","event":{{"action":"{}","dataset":"sshd","id":"{}","kind":"event",)"
        R"("original":"{} {} sshd[{}]: {}","outcome":"{}"}},"host":{{"name":"{}"}},)"
        R"("log":{{"file":{{"path":"/var/log/auth.log"}}}},"message":"{}","process":{{"name":"sshd","pid":{}}},)"
        R"("source":{{"ip":"{}","port":{}}},"user":{{"name":"{}"}})",
        ts, action, id, syslog_time, host, pid, message, outcome, host, message, pid, ip, port, user);
    if (!method.empty()) fmt::format_to(std::back_inserter(out), R"(,"vigil":{{"ssh":{{"method":"{}"}}}})", method);
    out += '}';
  }

  void append_nginx(std::string& out, const std::string& host, const std::string& ts, const std::string& id,
                    std::string_view nginx_time) {
    const std::string ip = outside_ip();
    const char* path = any(kPaths);
    const char* method = pick(8) == 0 ? "POST" : "GET";
    const unsigned status = std::array<unsigned, 8>{200, 200, 200, 200, 304, 301, 404, 500}[pick(8)];
    const unsigned bytes = status == 304 ? 0 : 200 + pick(200000);
    const char* agent = any(kAgents);
    std::string_view ext = path;
    const size_t dot = ext.rfind('.');
    ext = dot == std::string_view::npos || ext.find('/', dot) != std::string_view::npos ? std::string_view()
                                                                                        : ext.substr(dot + 1);
    fmt::format_to(
        std::back_inserter(out),
        R"({{"@timestamp":"{}","event":{{"dataset":"nginx.access","id":"{}","kind":"event",)"
        R"("original":"{} - - [{}] \"{} {} HTTP/1.1\" {} {} \"-\" \"{}\""}},"host":{{"name":"{}"}},)"
        R"("http":{{"request":{{"method":"{}"}},"response":{{"body":{{"bytes":{}}},"status_code":{}}},"version":"1.1"}},)"
        R"("log":{{"file":{{"path":"/var/log/nginx/access.log"}}}},"source":{{"ip":"{}"}},"url":{{)",
        ts, id, ip, nginx_time, method, path, status, bytes, agent, host, method, bytes, status, ip);
    if (!ext.empty()) fmt::format_to(std::back_inserter(out), R"("extension":"{}",)", ext);
    fmt::format_to(std::back_inserter(out), R"("original":"{}","path":"{}"}},"user_agent":{{"original":"{}"}}}})", path,
                   path, agent);
  }

  void append_flow(std::string& out, const std::string& host, const std::string& ts, const std::string& id) {
    const bool udp = pick(3) == 0;
    const unsigned dport = udp ? std::array<unsigned, 3>{53, 123, 514}[pick(3)]
                               : std::array<unsigned, 6>{443, 443, 80, 22, 5432, 8443}[pick(6)];
    const unsigned sport = 1024 + pick(64000);
    const unsigned spk = 1 + pick(40), dpk = 1 + pick(40);
    const unsigned sb = spk * (60 + pick(400)), db = dpk * (60 + pick(1400));
    const std::string src = inside_ip(), dst = pick(2) ? outside_ip() : inside_ip();
    fmt::format_to(
        std::back_inserter(out),
        R"({{"@timestamp":"{}","destination":{{"bytes":{},"ip":"{}","packets":{},"port":{}}},)"
        R"("event":{{"dataset":"network.flow","end":"{}","id":"{}","kind":"event","start":"{}"}},)"
        R"("host":{{"name":"{}"}},"network":{{"bytes":{},"community_id":"1:{}=","packets":{},"transport":"{}"}},)"
        R"("source":{{"bytes":{},"ip":"{}","packets":{},"port":{}}},"vigil":{{"flow":{{"end_reason":"{}"}}}}}})",
        ts, db, dst, dpk, dport, ts, id, ts, host, sb + db, pki::random_token(20), spk + dpk, udp ? "udp" : "tcp", sb,
        src, spk, sport, udp ? "idle_timeout" : "tcp_fin");
  }

  void append_dns(std::string& out, const std::string& host, const std::string& ts, const std::string& id) {
    const char* name = any(kDomains);
    const std::string src = inside_ip();
    const unsigned sport = 1024 + pick(64000), qid = pick(65536);
    fmt::format_to(std::back_inserter(out),
                   R"({{"@timestamp":"{}","destination":{{"ip":"10.0.0.53","port":53}},"dns":{{"answers":["{}"],)"
                   R"("id":{},"question":{{"name":"{}","type":"A"}},"response_code":"NOERROR","type":"answer"}},)"
                   R"("event":{{"dataset":"network.dns","id":"{}","kind":"event"}},"host":{{"name":"{}"}},)"
                   R"("network":{{"protocol":"dns","transport":"udp"}},"source":{{"ip":"{}","port":{}}}}})",
                   ts, outside_ip(), qid, name, id, host, src, sport);
  }

  void append_alert(std::string& out, const std::string& host, const std::string& ts, const std::string& id) {
    struct Rule {
      const char* id;
      const char* name;
      const char* dataset;
      int severity;
      const char* word;
    };
    static constexpr std::array<Rule, 4> kRules{{
        {"VGL-LOG-0001", "SSH password guessing against this host", "sshd", 4, "high"},
        {"VGL-LOG-0003", "SSH user enumeration", "sshd", 3, "medium"},
        {"VGL-WEB-0001", "SQL injection attempt in a request", "nginx.access", 4, "high"},
        {"VGL-NET-0001", "TCP port scan", "network.flow", 3, "medium"},
    }};
    const Rule& r = kRules[pick(kRules.size())];
    const std::string ip = outside_ip();
    const unsigned count = 5 + pick(20);
    fmt::format_to(std::back_inserter(out),
                   R"({{"@timestamp":"{}","event":{{"dataset":"{}","id":"{}","kind":"alert","severity":{}}},)"
                   R"("host":{{"name":"{}"}},"rule":{{"id":"{}","name":"{}"}},"source":{{"ip":"{}"}},)"
                   R"("vigil":{{"alert":{{"count":{}}},"evidence":{{"ids":["{}","{}"]}},"severity":"{}"}}}})",
                   ts, r.dataset, id, r.severity, host, r.id, r.name, ip, count, new_event_id(), new_event_id(),
                   r.word);
  }

  static constexpr std::array<const char*, 6> kNets{"203.0.113", "198.51.100", "192.0.2",
                                                    "45.155",    "185.220",    "103.27"};
  static constexpr std::array<const char*, 10> kUsers{"root",     "admin", "deploy", "ubuntu", "oracle",
                                                      "postgres", "test",  "git",    "backup", "nguyenvana"};
  static constexpr std::array<const char*, 10> kPaths{
      "/",      "/index.html",      "/static/app.js", "/static/site.css",      "/api/v1/status",
      "/login", "/images/logo.png", "/wp-login.php",  "/dich-vu-cong/tra-cuu", "/favicon.ico"};
  static constexpr std::array<const char*, 4> kAgents{
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
      "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "curl/7.88.1",
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"};
  static constexpr std::array<const char*, 8> kDomains{"dichvucong.gov.vn", "www.google.com",       "update.debian.org",
                                                       "api.github.com",    "mail.example.gov.vn",  "ntp.ubuntu.com",
                                                       "cdn.jsdelivr.net",  "x9f3k2.badexample.net"};
  std::mt19937_64 rng_;
};

// An agent.health record's event, shaped as the daemon's (agent/app/daemon.cpp health_event: the
// capture, logs and rules counters of a quiet agent, its delivery and spool counters), ~1.8 KiB.
std::string health_event(const std::string& host, const std::string& ts, uint64_t batches, uint64_t bytes_raw,
                         uint64_t bytes_sent) {
  return fmt::format(
      R"({{"@timestamp":"{}","agent":{{"version":"{}"}},"event":{{"dataset":"agent.health","id":"{}","kind":")"
      R"(metric"}},"host":{{"name":"{}"}},"vigil":{{"health":{{"decode":{{"decoded":0,"fragments_uncaptured":)"
      R"(0,"ipv4_fragments":0,"ipv6_fragments":0,"malformed":{{"bad_fragment":0,"bad_ip_version":0,"bad_ipv4_)"
      R"(header_length":0,"bad_ipv4_total_length":0,"bad_tcp_data_offset":0,"bad_udp_length":0,"too_many_ipv6)"
      R"(_extensions":0,"too_many_vlan_tags":0,"truncated_ethernet":0,"truncated_icmp":0,"truncated_icmpv6":0)"
      R"(,"truncated_ipv4":0,"truncated_ipv6":0,"truncated_ipv6_extension":0,"truncated_null":0,"truncated_sl)"
      R"(l":0,"truncated_sll2":0,"truncated_tcp":0,"truncated_udp":0,"truncated_vlan":0,"unsupported_link_typ)"
      R"(e":0}},"malformed_total":0,"not_ip":0,"other_transport":0,"packets":0,"truncated_payload":0}},"event)"
      R"(s":{{"anomaly":0,"anomaly_suppressed":0,"flow":0,"protocol":0}},"flow":{{"created":0,"ended":0,"evic)"
      R"(ted":0,"max_flows":1157049,"packets":0}},"proto":{{"dns_malformed":0,"dns_messages":0,"http_gave_up")"
      R"(:0,"http_transactions":0,"ssh_gave_up":0,"ssh_sessions":0,"streams_unknown":0,"tls_gave_up":0,"tls_h)"
      R"(andshakes":0}},"reassembly":{{"evicted":0,"overlaps":0,"reassembled":0,"timed_out":0,"too_large":0}})"
      R"(,"stream":{{"active":0,"bytes":0,"created":0,"evicted":0,"gap_bytes":0,"gaps":0,"memory":0,"memory_o)"
      R"(verflows":0,"midstream":0,"retransmitted_bytes":0,"segments_cut":0,"window_overflows":0}}}},"logs":{)"
      R"({"cut":0,"lines":6,"unparsed":0}},"rules":{{"alerts":1,"evidence_shed":0,"groups_evicted":0,"loaded")"
      R"(:30,"rejected":0,"version":"9eb1a588a0088a8e"}},"ship":{{"batches":{},"bytes_raw":{},"bytes_sent":{})"
      R"(,"failures":0,"renewal_failures":0,"renewals":0}},"spool":{{"bytes":{},"dropped_alerts":0,"dropped_e)"
      R"(vents":0,"errors":0,"pending":0,"refused":0}}}}}})",
      ts, kVersion, new_event_id(), host, batches, bytes_raw, bytes_sent, 4096 + bytes_raw % 65536);
}

// --- the collector's answer ---------------------------------------------------------------------------

struct AnswerHead {
  int status = 0;
  size_t content_length = 0;
  bool close = false;
};

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A response head (status line and header fields, CRLF-terminated, ending with an empty line),
// read strictly: HTTP/1.1 only, a three-digit status, token header names, no folded lines, no
// bare CR or LF, exactly one Content-Length of at most kMaxAnswerBody, no Transfer-Encoding (our
// collector never chunks a small answer).
Result<AnswerHead> parse_head(std::string_view head) {
  AnswerHead h;
  auto next_line = [&head](std::string_view& line) {
    const size_t end = head.find("\r\n");
    if (end == std::string_view::npos) return false;
    line = head.substr(0, end);
    head.remove_prefix(end + 2);
    return line.find('\r') == std::string_view::npos && line.find('\n') == std::string_view::npos;
  };
  std::string_view line;
  if (!next_line(line)) return make_error("answer: malformed status line");
  const bool digits = line.size() >= 12 &&
                      std::all_of(line.begin() + 9, line.begin() + 12, [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || line.substr(0, 9) != "HTTP/1.1 " || (line.size() > 12 && line[12] != ' ')) {
    return make_error(fmt::format("answer: malformed status line '{}'", line.substr(0, 80)));
  }
  h.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (h.status < 100) return make_error("answer: malformed status code");
  bool have_length = false;
  size_t lines = 0;
  while (true) {
    if (!next_line(line)) return make_error("answer: malformed header line");
    if (line.empty()) break;
    if (++lines > kMaxHeaderLines) return make_error("answer: too many header lines");
    const size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), is_tchar)) {
      return make_error(fmt::format("answer: malformed header line '{}'", line.substr(0, 80)));
    }
    std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(name, "content-length")) {
      size_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (have_length || value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        return make_error("answer: malformed or repeated Content-Length");
      }
      if (n > kMaxAnswerBody) return make_error(fmt::format("answer: body of {} bytes is over the bound", n));
      h.content_length = n;
      have_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      return make_error("answer: Transfer-Encoding is not expected");
    } else if (iequals(name, "connection")) {
      h.close = iequals(value, "close");
    }
  }
  if (!head.empty()) return make_error("answer: bytes after the head's end");
  if (!have_length) return make_error("answer: no Content-Length");
  return h;
}

// --- the fleet -----------------------------------------------------------------------------------------

struct SimAgent {
  explicit SimAgent(asio::io_context& io) : timer(io) {}
  enum class State { waiting, connecting, ready, busy, closed };
  const SimIdentity* id = nullptr;
  pki::Key key;
  pki::Cert cert;
  asio::ip::address_v4 source;
  std::unique_ptr<ssl::stream<tcp::socket>> stream;
  asio::steady_timer timer;
  uint64_t timer_gen = 0;
  State state = State::waiting;
  std::string epoch;
  uint64_t seq = 0;  // the last seq sent
  double owed = 0;   // events due and not sent yet (fractional)
  Clock::time_point accrued_at{};
  Clock::time_point next_health{};
  Clock::time_point second_health{};
  Clock::time_point last_send{};
  std::string out;
  std::string in;
  Clock::time_point sent_at{};
  uint64_t batch_records = 0;
  uint64_t batch_events = 0;
  bool batch_health = false;
  uint64_t batches = 0;
  uint64_t bytes_raw = 0;
  uint64_t bytes_sent = 0;
};

class Fleet {
 public:
  Fleet(asio::io_context& io, ssl::context& ctx, tcp::endpoint target, std::string host, const Options& o,
        std::chrono::milliseconds connect_timeout, std::chrono::milliseconds request_timeout)
      : io_(io),
        ctx_(ctx),
        target_(std::move(target)),
        host_(std::move(host)),
        options_(o),
        per_agent_rate_(o.rate / static_cast<double>(o.agents)),
        heartbeat_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.heartbeat))),
        connect_timeout_(connect_timeout),
        request_timeout_(request_timeout),
        events_(std::random_device{}()),
        tick_(io),
        end_(io) {}

  Result<void> add(const SimIdentity& id, asio::ip::address_v4 source) {
    auto a = std::make_unique<SimAgent>(io_);
    a->id = &id;
    auto key = pki::key_from_pem(id.key_pem);
    auto cert = pki::cert_from_pem(id.cert_pem);
    if (!key || !cert) return make_error(fmt::format("agent {}: cached key or certificate unreadable", id.agent_id));
    a->key = std::move(*key);
    a->cert = std::move(*cert);
    a->source = source;
    a->epoch = fmt::format("{:016x}", std::uniform_int_distribution<uint64_t>()(seed_));
    agents_.push_back(std::move(a));
    return {};
  }

  // Runs until every agent connected, then `seconds` more, then until the answers in flight came.
  void run(const std::function<void()>& on_all_connected, const std::function<void()>& on_tick) {
    on_all_connected_ = on_all_connected;
    on_tick_ = on_tick;
    started_ = Clock::now();
    while (next_connect_ < agents_.size() && next_connect_ < kConnectWindow) connect(*agents_[next_connect_++]);
    arm_tick();
    io_.run();
  }

  const Stats& stats() const { return stats_; }
  Stats snapshot_at_steady() const { return steady_stats_; }
  double connect_phase_seconds() const { return std::chrono::duration<double>(steady_at_ - started_).count(); }
  double steady_seconds() const { return std::chrono::duration<double>(stopped_at_ - steady_at_).count(); }
  size_t open_connections() const {
    return static_cast<size_t>(std::count_if(agents_.begin(), agents_.end(), [](const auto& a) {
      return a->state == SimAgent::State::ready || a->state == SimAgent::State::busy;
    }));
  }

 private:
  void error(SimAgent& a, uint64_t& counter, const std::string& what) {
    ++counter;
    if (stats_.first_errors.size() < 10) stats_.first_errors.push_back(fmt::format("{}: {}", a.id->host, what));
    close(a);
  }

  void close(SimAgent& a) {
    const bool was_in_flight = a.state == SimAgent::State::busy || a.state == SimAgent::State::connecting;
    a.state = SimAgent::State::closed;
    ++a.timer_gen;
    a.timer.cancel();
    if (a.stream) {
      boost::system::error_code ignored;
      a.stream->lowest_layer().close(ignored);
    }
    if (was_in_flight) done_in_flight();
  }

  // Arms the agent's one timer; a newer arming makes older firings stale.
  template <typename F>
  void arm(SimAgent& a, Clock::time_point at, F f) {
    const uint64_t gen = ++a.timer_gen;
    a.timer.expires_at(at);
    a.timer.async_wait([this, &a, gen, f](const boost::system::error_code& ec) {
      if (ec || gen != a.timer_gen) return;
      f(a);
    });
  }

  void connect(SimAgent& a) {
    a.state = SimAgent::State::connecting;
    ++in_flight_;
    a.stream = std::make_unique<ssl::stream<tcp::socket>>(io_, ctx_);
    SSL* ssl_handle = a.stream->native_handle();
    if (SSL_use_certificate(ssl_handle, a.cert.get()) != 1 || SSL_use_PrivateKey(ssl_handle, a.key.get()) != 1 ||
        SSL_set_tlsext_host_name(ssl_handle, host_.c_str()) != 1) {
      return connected(a, "cannot set the TLS identity");
    }
    a.stream->set_verify_callback(ssl::host_name_verification(host_));
    boost::system::error_code ec;
    auto& sock = a.stream->lowest_layer();
    sock.open(tcp::v4(), ec);
    // The port is chosen at connect, by (source, destination): many sources, one port range each.
    int one = 1;
    if (!ec) ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (!ec) sock.bind(tcp::endpoint(a.source, 0), ec);
    if (ec) return connected(a, fmt::format("cannot bind {}: {}", a.source.to_string(), ec.message()));
    arm(a, Clock::now() + connect_timeout_,
        [this](SimAgent& x) { connected(x, "connect and handshake not done in time"); });
    sock.async_connect(target_, [this, &a](const boost::system::error_code& e) {
      if (a.state != SimAgent::State::connecting) return;
      if (e) return connected(a, fmt::format("connect from {}: {}", a.source.to_string(), e.message()));
      a.stream->async_handshake(ssl::stream_base::client, [this, &a](const boost::system::error_code& h) {
        if (a.state != SimAgent::State::connecting) return;
        connected(a, h ? "TLS handshake: " + h.message() : std::string());
      });
    });
  }

  void connected(SimAgent& a, const std::string& failure) {
    if (!failure.empty()) {
      error(a, stats_.connect_failures, failure);
    } else {
      ++stats_.connected;
      a.state = SimAgent::State::ready;
      done_in_flight();
      const auto now = Clock::now();
      // The agent's first health record goes at start; the second at a random point of the first
      // interval, so the fleet's heartbeats spread evenly over it as a real fleet's do.
      a.next_health = now;
      a.second_health = now + std::chrono::duration_cast<Clock::duration>(
                                  heartbeat_ * std::uniform_real_distribution<double>(0.0, 1.0)(seed_));
      a.accrued_at = now;
      a.last_send = now - kSyncInterval;
      schedule(a);
    }
    ++connects_done_;
    if (next_connect_ < agents_.size()) {
      connect(*agents_[next_connect_++]);
    } else if (connects_done_ == agents_.size()) {
      all_connected();
    }
  }

  void all_connected() {
    steady_at_ = Clock::now();
    steady_stats_ = stats_;
    if (on_all_connected_) on_all_connected_();
    const auto stop_at =
        steady_at_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.seconds));
    end_.expires_at(stats_.connected == 0 ? steady_at_ : stop_at);
    end_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) begin_stop();
    });
  }

  // No new batches; those in flight are awaited (each has its own timeout).
  void begin_stop() {
    stopping_ = true;
    stopped_at_ = Clock::now();
    for (auto& a : agents_) {
      if (a->state != SimAgent::State::ready) continue;
      ++a->timer_gen;
      a->timer.cancel();
      // An idle connection the collector closed since the last answer shows as end of stream, or as
      // bytes it wrote unasked (a TLS close_notify).
      char byte = 0;
      const ssize_t n = ::recv(a->stream->lowest_layer().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || n > 0) {
        error(*a, stats_.lost,
              n == 0 ? "the collector closed the idle connection" : "the collector wrote on an idle connection");
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        error(*a, stats_.lost, fmt::format("idle connection: {}", std::strerror(errno)));
      }
    }
    maybe_finish();
  }

  // The next delivery: the heartbeat when due, events when one is owed, at most one per sync
  // interval.
  void schedule(SimAgent& a) {
    if (stopping_ || a.state != SimAgent::State::ready) return;
    Clock::time_point due = a.next_health;
    if (per_agent_rate_ > 0) {
      const double wait_s = std::max(0.0, (1.0 - a.owed) / per_agent_rate_);
      const auto events_due =
          a.accrued_at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
      due = std::min(due, std::max(events_due, a.last_send + kSyncInterval));
    }
    arm(a, due, [this](SimAgent& x) { send(x); });
  }

  void send(SimAgent& a) {
    if (stopping_ || a.state != SimAgent::State::ready) return;
    const auto now = Clock::now();
    a.owed += per_agent_rate_ * std::chrono::duration<double>(now - a.accrued_at).count();
    a.accrued_at = now;
    const bool health = now >= a.next_health;
    size_t events = static_cast<size_t>(std::min<double>(std::floor(a.owed), kBatchMaxRecords - 1));
    if (!health && events == 0) return schedule(a);
    a.owed -= static_cast<double>(events);

    const Timestamp ts_now = Timestamp::now();
    const std::string ts = ts_now.to_string();
    const std::time_t secs = static_cast<std::time_t>(ts_now.ns / 1'000'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char syslog_time[32], nginx_time[40];
    std::strftime(syslog_time, sizeof syslog_time, "%b %e %H:%M:%S", &tm);
    std::strftime(nginx_time, sizeof nginx_time, "%d/%b/%Y:%H:%M:%S +0000", &tm);

    std::string body;
    body.reserve(events * 700 + (health ? 900 : 0));
    auto record = [&](auto&& write_event) {
      fmt::format_to(std::back_inserter(body), R"({{"epoch":"{}","seq":{},"event":)", a.epoch, ++a.seq);
      write_event();
      body += "}\n";
    };
    uint64_t alerts = 0;
    for (size_t i = 0; i < events; ++i) {
      record([&] { alerts += events_.append(body, a.id->host, ts, syslog_time, nginx_time) ? 1 : 0; });
    }
    if (health) {
      record([&] { body += health_event(a.id->host, ts, a.batches, a.bytes_raw, a.bytes_sent); });
      a.next_health = a.second_health > now ? a.second_health : now + heartbeat_;
      a.second_health = {};
    }
    // As the shipper: zstd from 1 KiB (below it the headers cost more than compression saves).
    std::string packed;
    if (body.size() >= 1024) packed = compress::encode(compress::Codec::zstd, body);
    const std::string& payload = packed.empty() ? body : packed;
    a.out.clear();
    fmt::format_to(
        std::back_inserter(a.out),
        "POST /v1/batches HTTP/1.1\r\nHost: {}\r\nUser-Agent: vigil\r\nContent-Type: application/x-ndjson\r\n"
        "{}Content-Length: {}\r\n\r\n",
        host_, packed.empty() ? "" : "Content-Encoding: zstd\r\n", payload.size());
    a.out += payload;
    a.batch_records = events + (health ? 1 : 0);
    a.batch_events = events;
    a.batch_health = health;
    a.bytes_raw += body.size();
    a.bytes_sent += payload.size();
    ++a.batches;
    stats_.bytes_raw += body.size();
    stats_.bytes_sent += payload.size();
    stats_.batches_sent++;
    stats_.events_sent += events;
    stats_.alerts_sent += alerts;
    if (health) stats_.heartbeats_sent++;
    a.last_send = now;
    a.sent_at = now;
    a.state = SimAgent::State::busy;
    ++in_flight_;
    arm(a, now + request_timeout_, [this](SimAgent& x) {
      error(x, stats_.timeouts, fmt::format("no answer to a batch within {} s", request_timeout_.count() / 1000));
    });
    asio::async_write(*a.stream, asio::buffer(a.out), [this, &a](const boost::system::error_code& ec, size_t) {
      if (a.state != SimAgent::State::busy) return;
      if (ec) return error(a, stats_.lost, "sending a batch: " + ec.message());
      read_head(a);
    });
  }

  void read_head(SimAgent& a) {
    a.in.clear();
    asio::async_read_until(
        *a.stream, asio::dynamic_buffer(a.in, kMaxAnswerHead), "\r\n\r\n",
        [this, &a](const boost::system::error_code& ec, size_t head_size) {
          if (a.state != SimAgent::State::busy) return;
          if (ec == asio::error::not_found) return error(a, stats_.refused, "answer head over 16 KiB");
          if (ec) return error(a, stats_.lost, "reading the answer: " + ec.message());
          auto head = parse_head(std::string_view(a.in).substr(0, head_size));
          if (!head) return error(a, stats_.refused, head.error());
          const size_t want = head_size + head->content_length;
          if (a.in.size() > want) return error(a, stats_.refused, "answer: bytes after its body");
          if (a.in.size() == want) return answered(a, *head, head_size);
          asio::async_read(*a.stream, asio::dynamic_buffer(a.in, want), asio::transfer_exactly(want - a.in.size()),
                           [this, &a, h = *head, head_size](const boost::system::error_code& e, size_t) {
                             if (a.state != SimAgent::State::busy) return;
                             if (e) return error(a, stats_.lost, "reading the answer: " + e.message());
                             answered(a, h, head_size);
                           });
        });
  }

  void answered(SimAgent& a, const AnswerHead& head, size_t head_size) {
    const auto now = Clock::now();
    std::string_view body = std::string_view(a.in).substr(head_size);
    if (head.status != 200) {
      return error(a, stats_.refused, fmt::format("batch refused ({}): {}", head.status, body.substr(0, 200)));
    }
    auto j = nlohmann::json::parse(body, nullptr, false);
    auto unsigned_at = [&j](const char* key) -> std::optional<uint64_t> {
      if (!j.is_object()) return std::nullopt;
      auto it = j.find(key);
      if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
      return it->get<uint64_t>();
    };
    const auto acked = unsigned_at("acked"), stored = unsigned_at("stored"), quarantined = unsigned_at("quarantined");
    if (!acked || *acked != a.seq) {
      return error(a, stats_.bad_acks,
                   fmt::format("acked {} for a batch ending at seq {}", body.substr(0, 100), a.seq));
    }
    if (!stored || *stored != a.batch_records) {
      return error(
          a, stats_.bad_acks,
          fmt::format("stored {} of {} records: {}", stored.value_or(0), a.batch_records, body.substr(0, 200)));
    }
    if (quarantined && *quarantined != 0) {
      return error(a, stats_.bad_acks, fmt::format("{} record(s) quarantined: {}", *quarantined, body.substr(0, 200)));
    }
    stats_.latency.add(now - a.sent_at);
    if (steady_at_ != Clock::time_point{}) stats_.steady_latency.add(now - a.sent_at);
    stats_.batches_acked++;
    stats_.records_stored += *stored;
    stats_.events_acked += a.batch_events;
    if (a.batch_health) stats_.heartbeats_acked++;
    if (head.close) return error(a, stats_.lost, "the collector closed the connection after an answer");
    a.state = SimAgent::State::ready;
    ++a.timer_gen;
    a.timer.cancel();
    a.in.clear();
    a.in.shrink_to_fit();
    a.out.clear();
    a.out.shrink_to_fit();
    done_in_flight();
    schedule(a);
  }

  void done_in_flight() {
    --in_flight_;
    maybe_finish();
  }

  void maybe_finish() {
    if (stopping_ && in_flight_ == 0 && !finished_) {
      finished_ = true;
      for (auto& a : agents_) {
        if (a->state != SimAgent::State::closed) {
          a->state = SimAgent::State::closed;
          ++a->timer_gen;
          a->timer.cancel();
          boost::system::error_code ignored;
          if (a->stream) a->stream->lowest_layer().close(ignored);
        }
      }
      tick_.cancel();
    }
  }

  // Once a second: the progress callback.
  void arm_tick() {
    tick_.expires_after(1s);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || finished_) return;
      if (on_tick_) on_tick_();
      arm_tick();
    });
  }

  asio::io_context& io_;
  ssl::context& ctx_;
  tcp::endpoint target_;
  std::string host_;
  const Options& options_;
  double per_agent_rate_;
  Clock::duration heartbeat_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds request_timeout_;
  EventMaker events_;
  std::mt19937_64 seed_{std::random_device{}()};
  asio::steady_timer tick_;
  asio::steady_timer end_;
  std::vector<std::unique_ptr<SimAgent>> agents_;
  size_t next_connect_ = 0;
  size_t connects_done_ = 0;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
  Clock::time_point started_{};
  Clock::time_point steady_at_{};
  Clock::time_point stopped_at_{};
  Stats stats_;
  Stats steady_stats_;
  std::function<void()> on_all_connected_;
  std::function<void()> on_tick_;
};

// --- setup -------------------------------------------------------------------------------------------

// The source address of connection group k: 127.0.0.2, 127.0.0.3, ... (never .0 or .255 in the last
// two octets, never 127.0.0.1, which other clients of the collector use).
asio::ip::address_v4 source_address(size_t k) {
  uint32_t n = 2;
  for (size_t i = 0; i < k; ++i) {
    ++n;
    while ((n & 0xff) == 0 || (n & 0xff) == 0xff || ((n >> 8) & 0xff) == 0xff) ++n;
  }
  return asio::ip::address_v4((127u << 24) | n);
}

int self_rss_kib() { return static_cast<int>(sample_process(getpid()).rss_kib); }

int run(const Options& o) {
  const fs::path dir(o.collector_dir);
  auto loaded = collector::load_collector_config((dir / "collector.yaml").string());
  if (!loaded) {
    std::fprintf(stderr, "agents_sim: %s\n", loaded.error().c_str());
    return 1;
  }
  const auto& cc = loaded->config.collector;
  // Where to dial: the agents listener, on this machine (connections come from 127.0.0.0/8).
  std::string dial = cc.agents_listen.host;
  if (dial.empty() || dial == "0.0.0.0" || dial == "::" || dial == "[::]") dial = "127.0.0.1";
  boost::system::error_code aec;
  auto target_address = asio::ip::make_address_v4(dial, aec);
  if (aec || (target_address.to_uint() >> 24) != 127) {
    std::fprintf(stderr,
                 "agents_sim: the collector's agents listener is %s; the simulator spreads its connections over "
                 "127.0.0.0/8 and needs a collector listening on loopback or on all addresses\n",
                 cc.agents_listen.to_string().c_str());
    return 1;
  }
  const config::Endpoint agents_ep{dial, cc.agents_listen.port};

  // Limits: ours (descriptors) and the collector's (connections, per source).
  const rlim_t need = static_cast<rlim_t>(o.agents) + 64;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < need) {
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
      std::fprintf(stderr,
                   "agents_sim: %zu agents need %llu open files; the hard limit is %llu: raise it (ulimit -Hn, "
                   "LimitNOFILE=) or run fewer agents\n",
                   o.agents, static_cast<unsigned long long>(need), static_cast<unsigned long long>(lim.rlim_max));
      return 1;
    }
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      std::fprintf(stderr, "agents_sim: cannot raise RLIMIT_NOFILE to %llu: %s\n",
                   static_cast<unsigned long long>(need), std::strerror(errno));
      return 1;
    }
    std::printf("raised RLIMIT_NOFILE from %llu to %llu for %zu agents\n", static_cast<unsigned long long>(before),
                static_cast<unsigned long long>(need), o.agents);
  }
  if (o.agents > cc.limits.max_connections) {
    std::fprintf(stderr,
                 "agents_sim: %zu agents, but the collector takes at most %u connections "
                 "(collector.limits.max_connections)\n",
                 o.agents, cc.limits.max_connections);
    return 1;
  }
  const uint32_t collector_per_source = cc.limits.max_connections_per_source;
  size_t per_source = o.per_source > 0 ? o.per_source : (collector_per_source > 0 ? collector_per_source : 250);
  if (collector_per_source > 0 && per_source > collector_per_source) {
    std::fprintf(stderr, "agents_sim: --per-source %zu is over the collector's max_connections_per_source %u\n",
                 per_source, collector_per_source);
    return 1;
  }
  const size_t sources = (o.agents + per_source - 1) / per_source;
  if (o.heartbeat * 1000 >= static_cast<double>(cc.limits.idle_timeout.count())) {
    std::fprintf(stderr,
                 "agents_sim: warning: heartbeats every %.0f s, but the collector closes connections idle "
                 "for %lld s (collector.limits.idle_timeout)\n",
                 o.heartbeat, static_cast<long long>(cc.limits.idle_timeout.count() / 1000));
  }

  // The collector's process, for its CPU and memory.
  int pid = o.collector_pid > 0 ? o.collector_pid : find_listener(cc.agents_listen.port);
  if (pid > 0) {
    const uint64_t nofile = process_nofile(pid);
    std::printf("collector: pid %d (RLIMIT_NOFILE %llu)\n", pid, static_cast<unsigned long long>(nofile));
    if (nofile > 0 && nofile < o.agents + 32) {
      std::fprintf(stderr, "agents_sim: warning: the collector may open %llu files, fewer than %zu agents need\n",
                   static_cast<unsigned long long>(nofile), o.agents);
    }
  } else {
    std::printf("collector: process not found (no listener on port %u visible here); no CPU or RSS figures\n",
                cc.agents_listen.port);
  }

  // Identities.
  auto ca_file = pki::read_file(fs::path(cc.pki_dir) / "ca.crt");
  if (!ca_file) {
    std::fprintf(stderr, "agents_sim: %s\n", ca_file.error().c_str());
    return 1;
  }
  auto first_ca = pki::split_certs(*ca_file);
  auto ca_cert = first_ca ? pki::cert_from_pem(first_ca->front()) : Result<pki::Cert>(make_error(first_ca.error()));
  auto pin = ca_cert ? pki::spki_pin(*ca_cert) : Result<std::string>(make_error(ca_cert.error()));
  if (!pin) {
    std::fprintf(stderr, "agents_sim: the collector's CA: %s\n", pin.error().c_str());
    return 1;
  }
  auto console = load_console_access(dir / "vigilctl.yaml");
  if (!console) {
    std::fprintf(stderr, "agents_sim: %s\n", console.error().c_str());
    return 1;
  }
  EnrollSetup setup;
  setup.agents = agents_ep;
  setup.ca_pin = *pin;
  setup.console = *console;
  setup.agency = o.agency;
  setup.cache_dir = o.cache.empty() ? dir / "agents_sim-cache" : fs::path(o.cache);
  setup.workers = o.enroll_workers;
  auto enrolled = load_or_enroll(setup, o.agents);
  if (!enrolled) {
    std::fprintf(stderr, "agents_sim: %s\n", enrolled.error().c_str());
    return 1;
  }
  std::printf("identities: %zu reused from the cache (CA %s), %zu enrolled in %.1f s%s\n", enrolled->reused,
              pin->c_str(), enrolled->enrolled, enrolled->seconds,
              enrolled->cache_dropped ? fmt::format(", {} cached ones unusable", enrolled->cache_dropped).c_str() : "");
  if (!enrolled->errors.empty()) {
    for (const auto& e : enrolled->errors) std::fprintf(stderr, "agents_sim: enrollment failed: %s\n", e.c_str());
    return 1;
  }

  // Connections.
  ssl::context ctx(ssl::context::tls_client);
  if (auto t = net::configure_tls(ctx, net::TlsFiles{enrolled->ca_pem, "", ""}, false, true); !t) {
    std::fprintf(stderr, "agents_sim: TLS: %s\n", t.error().c_str());
    return 1;
  }
  // Idle connections give their TLS read and write buffers back (most of the time all are idle).
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  asio::io_context io(1);
  const auto connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cc.limits.handshake_timeout) + 20s;
  const auto request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cc.limits.request_timeout);
  Fleet fleet(io, ctx, tcp::endpoint(target_address, agents_ep.port), dial, o, connect_timeout, request_timeout);
  for (size_t i = 0; i < o.agents; ++i) {
    if (auto added = fleet.add(enrolled->identities[i], source_address(i / per_source)); !added) {
      std::fprintf(stderr, "agents_sim: %s\n", added.error().c_str());
      return 1;
    }
  }
  std::printf(
      "connecting %zu agents to %s from %zu source address(es) (127.0.0.2 ...; at most %zu each%s), "
      "heartbeat every %.0f s, %.0f events/s in all, for %.0f s\n",
      o.agents, agents_ep.to_string().c_str(), sources, per_source,
      collector_per_source ? fmt::format(", collector's bound {}", collector_per_source).c_str() : "", o.heartbeat,
      o.rate, o.seconds);
  std::fflush(stdout);

  const int self_before = self_rss_kib();
  ProcSample at_start = pid > 0 ? sample_process(pid) : ProcSample{};
  ProcSample at_steady{};
  uint64_t peak_rss = at_start.rss_kib;
  int self_peak = self_before;
  int ticks = 0;
  fleet.run(
      [&] {
        if (pid > 0) at_steady = sample_process(pid);
        std::printf("all %zu connection attempts done in %.1f s: %llu connected\n", o.agents,
                    fleet.connect_phase_seconds(), static_cast<unsigned long long>(fleet.stats().connected));
        std::fflush(stdout);
      },
      [&] {
        if (pid > 0) peak_rss = std::max(peak_rss, sample_process(pid).rss_kib);
        self_peak = std::max(self_peak, self_rss_kib());
        if (++ticks % 10 == 0) {
          const auto& s = fleet.stats();
          std::printf("  %3d s: %zu open, heartbeats %llu/%llu acked, events %llu/%llu acked, %llu errors\n", ticks,
                      fleet.open_connections(), static_cast<unsigned long long>(s.heartbeats_acked),
                      static_cast<unsigned long long>(s.heartbeats_sent),
                      static_cast<unsigned long long>(s.events_acked), static_cast<unsigned long long>(s.events_sent),
                      static_cast<unsigned long long>(s.errors()));
          std::fflush(stdout);
        }
      });
  ProcSample at_end = pid > 0 ? sample_process(pid) : ProcSample{};
  if (at_end.ok) peak_rss = std::max(peak_rss, at_end.rss_kib);

  // Report.
  const Stats& s = fleet.stats();
  const Stats before = fleet.snapshot_at_steady();
  const double steady = fleet.steady_seconds();
  const double connect_s = fleet.connect_phase_seconds();
  const uint64_t steady_events = s.events_acked - before.events_acked;
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("agents connected:   %llu of %zu (%zu source addresses)\n", u(s.connected), o.agents, sources);
  std::printf("heartbeats:         %llu sent, %llu acked\n", u(s.heartbeats_sent), u(s.heartbeats_acked));
  std::printf("batches:            %llu sent, %llu acked; %llu records stored; %.1f MiB raw, %.1f MiB sent\n",
              u(s.batches_sent), u(s.batches_acked), u(s.records_stored), static_cast<double>(s.bytes_raw) / 1048576.0,
              static_cast<double>(s.bytes_sent) / 1048576.0);
  std::printf("events stored:      %llu (%llu alerts sent); %.1f/s over the %.1f s run (asked %.0f/s)\n",
              u(s.events_acked), u(s.alerts_sent), steady > 0 ? static_cast<double>(steady_events) / steady : 0.0,
              steady, o.rate);
  std::printf("ack latency:        p50 %.2f ms, p99 %.2f ms, max %.2f ms (%llu answers)\n", s.latency.percentile(50),
              s.latency.percentile(99), s.latency.percentile(100), u(s.latency.count()));
  std::printf("  all connected:    p50 %.2f ms, p99 %.2f ms, max %.2f ms (%llu answers after the last connection)\n",
              s.steady_latency.percentile(50), s.steady_latency.percentile(99), s.steady_latency.percentile(100),
              u(s.steady_latency.count()));
  double cpu_connect = 0, cpu_steady = 0;
  if (at_start.ok && at_steady.ok && at_end.ok) {
    cpu_connect = at_steady.cpu_seconds - at_start.cpu_seconds;
    cpu_steady = at_end.cpu_seconds - at_steady.cpu_seconds;
    std::printf(
        "collector CPU:      %.2f s while connecting (%.0f %% of a core over %.1f s), %.2f s over the run "
        "(%.1f %% of a core over %.1f s)\n",
        cpu_connect, connect_s > 0 ? 100 * cpu_connect / connect_s : 0.0, connect_s, cpu_steady,
        steady > 0 ? 100 * cpu_steady / steady : 0.0, steady);
    std::printf("collector RSS:      %.1f MiB at start, %.1f MiB at the end, %.1f MiB peak sampled (VmHWM %.1f MiB)\n",
                static_cast<double>(at_start.rss_kib) / 1024, static_cast<double>(at_end.rss_kib) / 1024,
                static_cast<double>(peak_rss) / 1024, static_cast<double>(at_end.hwm_kib) / 1024);
  } else if (pid > 0) {
    std::printf("collector:          process %d gone before the end of the run\n", pid);
  }
  std::printf("agents_sim RSS:     %.1f MiB peak (%.1f KiB per connection)\n", static_cast<double>(self_peak) / 1024,
              o.agents ? static_cast<double>(self_peak - self_before) / static_cast<double>(o.agents) : 0.0);
  std::printf("errors:             %llu (connect %llu, lost %llu, refused %llu, wrong ack %llu, timed out %llu)\n",
              u(s.errors()), u(s.connect_failures), u(s.lost), u(s.refused), u(s.bad_acks), u(s.timeouts));
  for (const auto& e : s.first_errors) std::printf("  %s\n", e.c_str());

  if (!o.report.empty()) {
    nlohmann::json r{{"agents", o.agents},
                     {"connected", s.connected},
                     {"sources", sources},
                     {"reused", enrolled->reused},
                     {"enrolled", enrolled->enrolled},
                     {"enroll_seconds", enrolled->seconds},
                     {"ca_pin", *pin},
                     {"heartbeats_sent", s.heartbeats_sent},
                     {"heartbeats_acked", s.heartbeats_acked},
                     {"batches_acked", s.batches_acked},
                     {"records_stored", s.records_stored},
                     {"events_stored", s.events_acked},
                     {"alerts_sent", s.alerts_sent},
                     {"events_per_second", steady > 0 ? static_cast<double>(steady_events) / steady : 0.0},
                     {"steady_seconds", steady},
                     {"connect_seconds", connect_s},
                     {"ack_p50_ms", s.latency.percentile(50)},
                     {"ack_p99_ms", s.latency.percentile(99)},
                     {"ack_p99_all_connected_ms", s.steady_latency.percentile(99)},
                     {"collector_pid", pid},
                     {"collector_cpu_connect_s", cpu_connect},
                     {"collector_cpu_run_s", cpu_steady},
                     {"collector_rss_end_kib", at_end.rss_kib},
                     {"collector_rss_peak_kib", peak_rss},
                     {"errors", s.errors()},
                     {"first_errors", s.first_errors}};
    if (auto w = pki::write_file(o.report, r.dump(2) + "\n", false); !w) {
      std::fprintf(stderr, "agents_sim: %s\n", w.error().c_str());
      return 1;
    }
  }
  return s.errors() == 0 && s.connected == o.agents ? 0 : 1;
}

}  // namespace

}  // namespace vigil::bench

int main(int argc, char** argv) {
  using vigil::bench::Options;
  Options o;
  CLI::App app{
      "agents_sim: N enrolled agents against one collector, from one process: heartbeats, batches, "
      "acknowledgements checked, the collector's CPU and memory reported."};
  vigil::cli::setup_app(app, "agents_sim");
  app.add_option("--collector-dir", o.collector_dir, "What 'vigil-collector init --dir DIR' made")->required();
  app.add_option("--agents", o.agents, "Agents to run")->required()->check(CLI::Range(size_t{1}, size_t{100000}));
  app.add_option("--seconds", o.seconds, "Seconds to run once all are connected")
      ->required()
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--rate", o.rate, "Events per second over all agents (0: heartbeats only)")
      ->check(CLI::Range(0.0, 1e7));
  app.add_option("--cache", o.cache, "Identity cache (default DIR/agents_sim-cache), one directory per CA pin");
  app.add_option("--collector-pid", o.collector_pid, "The collector's pid (default: the process on the agents port)");
  app.add_option("--agency", o.agency, "Agency the agents enroll in");
  app.add_option("--per-source", o.per_source,
                 "Connections per source address (default: the collector's max_connections_per_source, else 250)");
  app.add_option("--heartbeat", o.heartbeat, "Seconds between heartbeats (agent.health_interval)")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--enroll-workers", o.enroll_workers, "Enrollments in flight")->check(CLI::Range(1u, 16u));
  app.add_option("--report", o.report, "Also write the figures as JSON to this file");
  return vigil::cli::run(app, argc, argv, [&] { return vigil::bench::run(o); });
}
