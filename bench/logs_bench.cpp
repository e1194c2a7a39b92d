// Lines per second of each log parser. Reads the public logs of ../shared/data (or
// $VIGIL_SHARED_DATA) when present, else a few built-in lines of each format.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/logs/log_parser.h"

namespace {

using vigil::Event;
using vigil::logs::make_parser;
using vigil::logs::ParseContext;

std::vector<std::string> load(const char* relative, std::vector<std::string> fallback) {
  std::filesystem::path root;
  if (const char* env = std::getenv("VIGIL_SHARED_DATA")) {
    root = env;
  } else {
    root = std::filesystem::path(VIGIL_SOURCE_DIR) / ".." / "shared" / "data";
  }
  std::ifstream in(root / "logs" / relative, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (in && std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines.empty() ? fallback : lines;
}

void run(benchmark::State& state, const char* format, const std::vector<std::string>& lines) {
  auto parser = std::move(make_parser(format).value());
  auto ctx = ParseContext::at(format, vigil::Timestamp::now(), 0, "bench");
  Event event;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& line = lines[i];
    parser->parse(line, ctx, event);
    benchmark::DoNotOptimize(event);
    bytes += static_cast<int64_t>(line.size());
    if (++i == lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.counters["unparsed"] = static_cast<double>(parser->counters().unparsed);
}

void BM_SyslogSshd(benchmark::State& state) {
  static const auto lines = load("loghub/OpenSSH/OpenSSH_2k.log",
                                 {"Dec 10 07:07:45 LabSZ sshd[24206]: Failed password for invalid user test9 from "
                                  "52.80.34.196 port 36060 ssh2",
                                  "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"});
  run(state, "syslog", lines);
}
BENCHMARK(BM_SyslogSshd);

void BM_SyslogLinux(benchmark::State& state) {
  static const auto lines = load("loghub/Linux/Linux_2k.log",
                                 {"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= "
                                  "uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4"});
  run(state, "syslog", lines);
}
BENCHMARK(BM_SyslogLinux);

void BM_SyslogFirewall(benchmark::State& state) {
  static const auto lines =
      load("crowdsec-hub/iptables-scan-multi-port/iptables-scan-multi-port.log",
           {"Sep 30 10:09:23 scw-d95986 kernel: [19955416.516358] IN=ens2 OUT= "
            "MAC=de:1c:88:64:10:19:5e:e1:a4:3b:cf:f0:08:00 "
            "SRC=62.34.17.168 DST=10.73.140.49 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=25313 PROTO=TCP SPT=52220 DPT=80 "
            "WINDOW=1024 RES=0x00 SYN URGP=0"});
  run(state, "syslog", lines);
}
BENCHMARK(BM_SyslogFirewall);

void BM_ApacheAccess(benchmark::State& state) {
  static const auto lines = load(
      "elastic-examples/apache_logs",
      {"83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash-monitorama-2013/images/"
       "kibana-search.png HTTP/1.1\" 200 203023 \"http://semicomplete.com/presentations/logstash-monitorama-2013/\" "
       "\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 "
       "Safari/537.36\""});
  run(state, "apache", lines);
}
BENCHMARK(BM_ApacheAccess);

void BM_ApacheError(benchmark::State& state) {
  static const auto lines = load("loghub/Apache/Apache_2k.log",
                                 {"[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6"});
  run(state, "apache_error", lines);
}
BENCHMARK(BM_ApacheError);

void BM_NginxError(benchmark::State& state) {
  static const std::vector<std::string> lines = {
      "2024/01/01 12:00:00 [error] 123#0: *1 open() \"/var/www/x\" failed (2: No such file or directory), client: "
      "192.0.2.7, server: example.org, request: \"GET /x?y HTTP/1.1\", host: \"example.org\""};
  run(state, "nginx_error", lines);
}
BENCHMARK(BM_NginxError);

void BM_Auditd(benchmark::State& state) {
  static const std::vector<std::string> lines = {
      "type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7fffd19c5592 "
      "a1=0 a2=7fffd19c4b50 a3=a items=1 ppid=2686 pid=3538 auid=500 uid=500 gid=500 euid=500 suid=500 fsuid=500 "
      "egid=500 sgid=500 fsgid=500 tty=pts0 ses=1 comm=\"cat\" exe=\"/bin/cat\" "
      "subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key=\"sshd_config\"",
      "type=PROCTITLE msg=audit(1364481363.243:24287): proctitle=636174002F6574632F7373682F737368645F636F6E666967"};
  run(state, "auditd", lines);
}
BENCHMARK(BM_Auditd);

}  // namespace

BENCHMARK_MAIN();
