// vigilctl: the operator's command line over the console API (HTTPS, API token). Tables for
// people, --json for scripts. Exit status 0 on success, 1 on any refusal or error (with the
// collector's message on stderr).
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "collector/app/vigilctl_cli.h"
#include "collector/report/compliance_report.h"
#include "common/config/yaml_reader.h"
#include "common/fleet/bundle.h"
#include "common/i18n/json_text.h"
#include "common/net/https_client.h"
#include "common/pki/pki.h"
#include "common/util/cli.h"

namespace vigil::collector {

namespace {

struct CtlConfig {
  config::Endpoint console;
  std::string ca_path;
  std::string token;
};

Result<CtlConfig> load_ctl_config(const std::string& path) {
  config::YamlReader r(path);
  auto root = r.load_file();
  CtlConfig c;
  if (root) {
    config::MapReader m(r, *root, "vigilctl");
    std::string url;
    if (auto v = m.require("console"); v && r.read(v, url, "console")) {
      std::string_view rest = url;
      if (rest.rfind("https://", 0) != 0) {
        r.error(v, "console: expected https://HOST:PORT");
      } else {
        rest.remove_prefix(8);
        while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
        auto ep = config::parse_endpoint(rest);
        if (!ep) {
          r.error(v, "console: expected https://HOST:PORT");
        } else {
          c.console = *ep;
        }
      }
    }
    if (auto v = m.require("ca")) r.read_path(v, c.ca_path, "ca");
    if (auto v = m.require("token")) r.read(v, c.token, "token");
    m.finish();
  }
  if (r.diagnostics().has_errors()) return make_error(r.diagnostics().to_string());
  return c;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == ':') {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("%{:02X}", ch);
    }
  }
  return out;
}

// A refusal by the collector: its status and the JSON it answered with (null when not JSON).
class Refused : public std::runtime_error {
 public:
  Refused(int code, const std::string& message, nlohmann::json answer)
      : std::runtime_error(fmt::format("the collector refused ({}): {}", code, message)),
        status(code),
        body(std::move(answer)) {}
  int status;
  nlohmann::json body;
};

class Console {
 public:
  explicit Console(const CtlConfig& c) : token_(c.token) {
    auto ca = pki::read_file(c.ca_path);
    if (!ca) throw std::runtime_error(ca.error());
    net::HttpsClientOptions o;
    o.host = c.console.host;
    o.port = c.console.port;
    o.tls.ca_pem = *ca;
    client_ = std::make_unique<net::HttpsClient>(o);
  }

  // The parsed JSON body of a 2xx answer; anything else throws with the collector's message.
  nlohmann::json call(const std::string& method, const std::string& target, const nlohmann::json& body = nullptr) {
    auto r = client_->request(method, target, body.is_null() ? std::string() : body.dump(),
                              {{"Authorization", "Bearer " + token_}, {"Content-Type", "application/json"}});
    if (!r) throw std::runtime_error("cannot reach the collector: " + r.error());
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (r->status < 200 || r->status > 299) {
      std::string msg = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                     : r->body;
      throw Refused(r->status, msg, j.is_discarded() ? nlohmann::json() : j);
    }
    if (j.is_discarded()) throw std::runtime_error("the collector answered with malformed JSON");
    return j;
  }

  // The body of a 2xx answer as it is (a report's HTML); anything else throws like call().
  std::string call_text(const std::string& method, const std::string& target) {
    auto r = client_->request(method, target, std::string(), {{"Authorization", "Bearer " + token_}});
    if (!r) throw std::runtime_error("cannot reach the collector: " + r.error());
    if (r->status < 200 || r->status > 299) {
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      std::string msg = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                     : r->body;
      throw Refused(r->status, msg, j.is_discarded() ? nlohmann::json() : j);
    }
    return r->body;
  }

 private:
  std::string token_;
  std::unique_ptr<net::HttpsClient> client_;
};

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// Characters a terminal shows: UTF-8 (one column each), the text of log lines and user names
// given by the agents kept, but controls (C0, DEL, C1: escape sequences) and invalid bytes
// replaced, so that a hostile value cannot move the cursor or recolour the terminal.
std::string printable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out += c == '\t' || c == '\n' || c == '\r' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    bool ok = n != 0 && i + n <= in.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
    // C1 controls are U+0080..U+009F, written C2 80..C2 9F.
    if (ok && c == 0xc2 && static_cast<unsigned char>(in[i + 1]) < 0xa0) ok = false;
    if (!ok) {
      out += '?';
      ++i;
      continue;
    }
    out.append(in.substr(i, n));
    i += n;
  }
  return out;
}

// Columns a printable() string takes: its code points.
using cli::columns;

// The first `max` columns of a printable() string, ending in "…" when cut.
std::string cut(const std::string& s, size_t max) {
  if (columns(s) <= max) return s;
  size_t keep = max == 0 ? 0 : max - 1, cols = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((s[i] & 0xc0) != 0x80 && cols++ == keep) break;
  }
  return s.substr(0, i) + (max == 0 ? "" : "…");
}

// The language of tables and messages (`vigilctl --lang vi`); the collector's JSON stays as it is.
i18n::Lang g_lang = i18n::Lang::en;
bool vi() { return g_lang == i18n::Lang::vi; }

// Column headings in Vietnamese.
std::string heading(const std::string& en) {
  static const std::map<std::string_view, std::string_view> kVi = {
      {"ACCEPTED BY", "NGƯỜI CHẤP NHẬN"}, {"ACTION", "HÀNH ĐỘNG"}, {"AGENCIES", "CƠ QUAN"}, {"AGENCY", "CƠ QUAN"},
      {"AGENT", "TÁC TỬ"}, {"AGENTS", "TÁC TỬ"}, {"APPLIED", "ĐÃ ÁP DỤNG"}, {"BUNDLE", "GÓI CẤU HÌNH"},
      {"BY", "NGƯỜI TẠO"}, {"CHECK", "KIỂM TRA"}, {"CREATED", "NGÀY TẠO"}, {"CREATED BY", "NGƯỜI TẠO"},
      {"DESCRIPTION", "MÔ TẢ"}, {"DESTINATION", "ĐÍCH"}, {"DETAIL", "CHI TIẾT"}, {"ERROR", "LỖI"},
      {"EXPIRES", "HẾT HẠN"}, {"FAIL", "KHÔNG ĐẠT"}, {"FRAMEWORK", "KHUNG TIÊU CHUẨN"}, {"GROUP", "NHÓM"},
      {"HOST", "MÁY CHỦ"}, {"HOSTS", "MÁY CHỦ"}, {"ID", "MÃ"}, {"LAST SEEN", "LẦN CUỐI THẤY"}, {"LEVEL", "CẤP ĐỘ"},
      {"MESSAGE", "GHI CHÚ"}, {"NAME", "TÊN"}, {"NOT CHECKED", "CHƯA KIỂM TRA"}, {"PASS", "ĐẠT"},
      {"REASON", "LÝ DO"}, {"REQUIREMENT", "YÊU CẦU"}, {"RESULT", "KẾT QUẢ"}, {"ROLE", "VAI TRÒ"}, {"RULE", "LUẬT"},
      {"SCORE", "ĐIỂM"}, {"SEVERITY", "MỨC ĐỘ"}, {"SOURCE", "NGUỒN"}, {"STATE", "TRẠNG THÁI"},
      {"STATUS", "TRẠNG THÁI"}, {"SYSTEM", "HỆ THỐNG"}, {"SYSTEMS", "HỆ THỐNG"}, {"TIME", "THỜI GIAN"},
      {"TITLE", "TIÊU ĐỀ"}, {"USER", "NGƯỜI DÙNG"}, {"VERDICT", "ĐÁNH GIÁ"}, {"VERSION", "PHIÊN BẢN"},
      {"WAIVED", "MIỄN TRỪ"}, {"WAIVER", "MIỄN TRỪ"}, {"WHO", "NGƯỜI THỰC HIỆN"}, {"ALERTS", "CẢNH BÁO"},
      {"ASSIGNEE", "NGƯỜI XỬ LÝ"}, {"AGENCY/HOST", "CƠ QUAN/MÁY CHỦ"}, {"DATASET", "LOẠI DỮ LIỆU"},
      {"DEADLINE", "THỜI HẠN"}, {"DETECTED", "PHÁT HIỆN LÚC"}, {"RECEIVED", "THỜI ĐIỂM NHẬN"}, {"SEQ", "SỐ THỨ TỰ"},
      {"SUMMARY", "TÓM TẮT"}, {"TARGET", "ĐỐI TƯỢNG"}};
  if (!vi()) return en;
  const size_t indent = en.find_first_not_of(' ');
  if (indent == std::string::npos) return en;
  auto it = kVi.find(std::string_view(en).substr(indent));
  return it == kVi.end() ? en : en.substr(0, indent) + std::string(it->second);
}

// A text of the collector's JSON in the chosen language (`key_vi` where given).
std::string text_of(const nlohmann::json& j, std::string_view key) { return i18n::text_in(j, key, g_lang); }

// A value the collector names in English (a status, a result, a verdict) as people read it: itself
// in English, in Vietnamese the console's word. By `kind`, since one English word can take two
// ("resolved": an alert handled, an incident fixed); a value without a Vietnamese word stays.
std::string word(std::string_view kind, const std::string& value) {
  using Key = std::pair<std::string_view, std::string_view>;
  static const std::map<Key, std::string_view> kVi = {
      {{"alert", "new"}, "mới"}, {{"alert", "acknowledged"}, "đã tiếp nhận"}, {{"alert", "resolved"}, "đã xử lý"},
      {{"alert", "false_positive"}, "cảnh báo nhầm"},
      {{"incident", "open"}, "mới mở"}, {{"incident", "contained"}, "đã ngăn chặn"},
      {{"incident", "resolved"}, "đã khắc phục"}, {{"incident", "reported"}, "đã báo cáo"},
      {{"agent", "active"}, "đang hoạt động"}, {{"agent", "revoked"}, "đã thu hồi"},
      {{"user", "active"}, "đang hoạt động"}, {{"user", "disabled"}, "đã vô hiệu hóa"},
      {{"waiver", "active"}, "đang hiệu lực"}, {{"waiver", "expired"}, "đã hết hạn"},
      {{"waiver", "ended"}, "đã chấm dứt"},
      {{"token", "active"}, "đang hiệu lực"}, {{"token", "expired"}, "đã hết hạn"},
      {{"token", "revoked"}, "đã thu hồi"},
      {{"result", "pass"}, "đạt"}, {{"result", "fail"}, "không đạt"}, {{"result", "error"}, "lỗi"},
      {{"result", "not_applicable"}, "không áp dụng"},
      {{"verdict", "fully"}, "đáp ứng đầy đủ"}, {{"verdict", "partly"}, "đáp ứng một phần"},
      {{"verdict", "not"}, "chưa đáp ứng"}, {{"verdict", "not_assessed"}, "chưa đánh giá"},
      {{"verdict", "not_required"}, "không yêu cầu"},
      {{"clock", "notify"}, "thông báo"}, {{"clock", "report"}, "báo cáo"}, {{"clock", "pending"}, "chưa đến hạn"},
      {{"clock", "overdue"}, "quá hạn"}, {{"clock", "met"}, "đúng hạn"}, {{"clock", "met_late"}, "trễ hạn"},
      {{"timeline", "created"}, "mở sự cố"}, {{"timeline", "alert"}, "thêm cảnh báo"},
      {{"timeline", "status"}, "đổi trạng thái"}, {{"timeline", "assign"}, "giao việc"},
      {{"timeline", "comment"}, "ghi chú"}, {{"timeline", "notified"}, "ghi nhận đã thông báo ban đầu"}};
  if (!vi()) return value;
  auto it = kVi.find(Key{kind, value});
  return it == kVi.end() ? value : std::string(it->second);
}

// Left-aligned columns sized to their widest cell.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> head;
  for (const auto& h : header) head.push_back(heading(h));
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) width[i] = columns(head[i]);
  std::vector<std::vector<std::string>> shown;
  for (const auto& row : rows) {
    auto& cells = shown.emplace_back();
    for (const auto& cell : row) cells.push_back(printable(cell));
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) width[i] = std::max(width[i], columns(cells[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out.append(width[i] - std::min(width[i], columns(cells[i])) + 2, ' ');
    }
    std::puts(out.c_str());
  };
  line(head);
  for (const auto& row : shown) line(row);
}

// The width of the terminal on standard output; 160 when it is not one (COLUMNS if set).
size_t terminal_columns() {
  winsize ws{};
  if (::isatty(STDOUT_FILENO) == 1 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    char* end = nullptr;
    long n = std::strtol(c, &end, 10);
    if (end != c && *end == '\0' && n >= 40 && n <= 1000) return static_cast<size_t>(n);
  }
  return 160;
}

// "ip:port" ("[ip]:port" for IPv6), "ip" without a port, "" without an address.
std::string endpoint(const std::string& ip, const std::string& port) {
  if (ip.empty()) return "";
  if (port.empty() || port == "0") return ip;
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + port;
}

// A dotted path into a JSON object ("source.ip"), as text; "" when absent.
std::string field(const nlohmann::json& j, std::string_view path) {
  const nlohmann::json* cur = &j;
  while (!path.empty()) {
    auto dot = path.find('.');
    auto key = std::string(path.substr(0, dot));
    if (!cur->is_object()) return "";
    auto it = cur->find(key);
    if (it == cur->end()) return "";
    cur = &*it;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  if (cur->is_null()) return "";
  return cur->is_string() ? cur->get<std::string>() : cur->dump();
}

// An RFC 3339 time of `key`, to the second, as tables show it.
std::string time_str(const nlohmann::json& j, const char* key) {
  std::string when = str(j, key);
  if (when.size() > 19) when = when.substr(0, 19) + "Z";
  return when;
}

const char* severity_word(int s) {
  static const char* en[] = {"-", "info", "low", "medium", "high", "critical"};
  static const char* vi_words[] = {"-", "thông tin", "thấp", "trung bình", "cao", "nghiêm trọng"};
  const char* const* words = vi() ? vi_words : en;
  return s >= 1 && s <= 5 ? words[s] : words[0];
}

void print_json(const nlohmann::json& j) { std::puts(j.dump(2).c_str()); }

// A length of time as people read it on a deadline: 2d03h, 5h12m, 40m, 0m.
std::string span_text(int64_t seconds) {
  seconds = std::max<int64_t>(seconds, 0);
  int64_t d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60;
  if (vi()) {
    if (d > 0) return fmt::format("{} ngày {:02} giờ", d, h);
    if (h > 0) return fmt::format("{} giờ {:02} phút", h, m);
    return fmt::format("{} phút", m);
  }
  if (d > 0) return fmt::format("{}d{:02}h", d, h);
  if (h > 0) return fmt::format("{}h{:02}m", h, m);
  return fmt::format("{}m", m);
}

// The reporting clock of an incident in one cell: the first deadline not yet met, counting down
// ("notify in 5h12m"), overdue ones in capitals ("REPORT OVERDUE 3h05m"), else how they were met.
std::string deadline_text(const nlohmann::json& incident) {
  const auto& clock = incident.value("clock", nlohmann::json::object());
  bool late = false, any = false;
  for (const char* which : {"notify", "report"}) {
    const auto& c = clock.value(which, nlohmann::json::object());
    std::string state = c.value("state", "none");
    int64_t left = c.value("seconds_left", int64_t{0});
    if (state == "pending" && vi()) return fmt::format("{} trong {}", word("clock", which), span_text(left));
    if (state == "pending") return fmt::format("{} in {}", which, span_text(left));
    if (state == "overdue" && vi()) {
      return fmt::format("QUÁ HẠN {} {}", std::string_view(which) == "notify" ? "THÔNG BÁO" : "BÁO CÁO",
                         span_text(-left));
    }
    if (state == "overdue") {
      std::string w = which;
      for (auto& ch : w) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      return fmt::format("{} OVERDUE {}", w, span_text(-left));
    }
    if (state == "met_late") late = true;
    if (state != "none") any = true;
  }
  if (vi()) return !any ? "-" : late ? "trễ hạn" : "đúng hạn";
  return !any ? "-" : late ? "met late" : "met";
}

void print_incident(const nlohmann::json& i) {
  std::printf(vi() ? "Sự cố %s: %s\n" : "Incident %s: %s\n", str(i, "id").c_str(), printable(str(i, "title")).c_str());
  std::printf(vi() ? "  mức độ %s, trạng thái %s, người xử lý %s, người mở %s lúc %s\n"
                   : "  severity %s, status %s, assignee %s, opened by %s at %s\n",
              severity_word(i.value("severity", 0)), word("incident", str(i, "status")).c_str(),
              str(i, "assignee").empty() ? "-" : printable(str(i, "assignee")).c_str(),
              printable(str(i, "created_by")).c_str(), time_str(i, "created_at").c_str());
  std::printf(vi() ? "  phát hiện lúc %s; thời hạn: %s\n" : "  detected %s; deadline: %s\n",
              time_str(i, "detected_at").c_str(), deadline_text(i).c_str());
  for (const char* which : {"notify", "report"}) {
    const auto& c = i["clock"][which];
    std::string state = c.value("state", "none");
    if (state == "none") {
      std::printf(vi() ? "  %s: không có thời hạn\n" : "  %s: no deadline\n", word("clock", which).c_str());
    } else {
      std::printf(vi() ? "  %s: hạn %s, %s%s%s\n" : "  %s: due %s, %s%s%s\n", word("clock", which).c_str(),
                  time_str(c, "due").c_str(), word("clock", state).c_str(),
                  c.contains("done_at") ? (vi() ? ", thực hiện lúc " : " at ") : "",
                  c.contains("done_at") ? time_str(c, "done_at").c_str() : "");
    }
  }
  std::string agencies, hosts;
  for (const auto& a : i.value("agencies", nlohmann::json::array())) agencies += (agencies.empty() ? "" : ", ") + printable(a.get<std::string>());
  for (const auto& h : i.value("hosts", nlohmann::json::array())) hosts += (hosts.empty() ? "" : ", ") + printable(h.get<std::string>());
  std::string systems;
  for (const auto& s : i.value("systems", nlohmann::json::array())) systems += (systems.empty() ? "" : ", ") + printable(s.get<std::string>());
  std::printf(vi() ? "  cơ quan: %s\n  máy chủ: %s\n  hệ thống thông tin: %s\n\nCảnh báo:\n"
                   : "  agencies: %s\n  hosts: %s\n  systems: %s\n\nAlerts:\n",
              agencies.c_str(), hosts.c_str(),
              systems.empty() ? (vi() ? "(không có: máy chủ chưa gắn hệ thống)" : "(none: unassigned hosts)")
                              : systems.c_str());
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : i.value("alerts", nlohmann::json::array())) {
    rows.push_back({str(a, "id"), time_str(a, "time"), severity_word(a.value("severity", 0)), str(a, "agency"),
                    str(a, "host"), str(a, "source_ip"), str(a, "user_name"), str(a, "rule_id"), text_of(a, "rule_name")});
  }
  print_table({"ID", "TIME", "SEVERITY", "AGENCY", "HOST", "SOURCE", "USER", "RULE", "NAME"}, rows);
  std::puts(vi() ? "\nDiễn biến xử lý:" : "\nTimeline:");
  rows.clear();
  for (const auto& e : i.value("timeline", nlohmann::json::array())) {
    const std::string action = str(e, "action");
    rows.push_back({time_str(e, "time"), str(e, "who"), word("timeline", action),
                    action == "status" ? word("incident", str(e, "value")) : str(e, "value")});
  }
  print_table({"TIME", "WHO", "ACTION", "DETAIL"}, rows);
}

// One page of a list endpoint: GET path?limit=N plus the filters given (empty ones left out); a
// table of `row(entry)` for people, the JSON for scripts.
template <typename Row>
void print_list(Console& console, bool json, const std::string& path, int limit,
                const std::vector<std::pair<const char*, std::string>>& filters,
                const std::vector<std::string>& header, Row&& row, const char* none) {
  std::string q = fmt::format("{}?limit={}", path, limit);
  for (const auto& [key, value] : filters) {
    if (!value.empty()) q += fmt::format("&{}={}", key, url_encode(value));
  }
  auto j = console.call("GET", q);
  if (json) return print_json(j);
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : j) rows.push_back(row(e));
  print_table(header, rows);
  if (rows.empty()) std::puts(none);
}

// One line from stdin, echo off when it is a terminal.
std::string read_secret_line(const char* prompt) {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt);
    std::fflush(stderr);
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fputs("\n", stderr);
  }
  if (!got) {
    throw std::runtime_error(vi() ? "chưa nhập mật khẩu (qua đầu vào chuẩn hoặc tại dấu nhắc)"
                                  : "no password given (on standard input or at the prompt)");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// A new password: from standard input when it is not a terminal (scripts), else asked twice.
std::string read_new_password(const std::string& user) {
  std::string first = read_secret_line(((vi() ? "Mật khẩu mới của " : "New password for ") + user + ": ").c_str());
  if (::isatty(STDIN_FILENO) == 1 && read_secret_line(vi() ? "Nhập lại: " : "Again: ") != first) {
    throw std::runtime_error(vi() ? "hai lần nhập mật khẩu không khớp" : "the passwords differ");
  }
  return first;
}

std::string score_text(const nlohmann::json& j) {
  return j.contains("score") && j["score"].is_number() ? fmt::format("{:.1f}%", 100.0 * j["score"].get<double>())
                                                       : std::string(vi() ? "chưa có" : "n/a");
}

void print_compliance(const nlohmann::json& doc) {
  const auto& agencies = doc["agencies"];
  for (const auto& a : agencies) {
    std::printf(vi() ? "Cơ quan %s: khung tiêu chuẩn %s, %s tác tử (%s mất liên lạc, %s chưa từng quét)\n"
                     : "Agency %s: framework %s, %s agent(s) (%s silent, %s never scanned)\n",
                str(a, "agency").c_str(),
                str(a, "framework").c_str(), str(a, "agents").c_str(), str(a, "agents_silent").c_str(),
                str(a, "agents_never_scanned").c_str());
    std::printf(vi() ? "  kiểm tra: %s đạt, %s không đạt, %s lỗi, %s không áp dụng, %s miễn trừ, %s chưa kiểm tra; điểm %s\n"
                     : "  checks: %s pass, %s fail, %s error, %s not applicable, %s waived, %s not checked; score %s\n",
                str(a, "pass").c_str(), str(a, "fail").c_str(), str(a, "error").c_str(),
                str(a, "not_applicable").c_str(), str(a, "waived").c_str(), str(a, "not_checked").c_str(),
                score_text(a).c_str());
    if (a.contains("trend")) {
      const auto& t = a["trend"];
      std::string change = t["score_change"].is_number()
                               ? fmt::format("{:+.1f} {}", 100.0 * t["score_change"].get<double>(), vi() ? "điểm" : "points")
                               : std::string(vi() ? "không rõ" : "n/a");
      std::printf(vi() ? "  xu hướng từ %s: điểm trước đó %s (%s), %zu kiểm tra đổi kết quả\n"
                       : "  trend since %s: score was %s (%s), %zu check(s) changed result\n",
                  str(t, "since").c_str(),
                  score_text(t["previous"]).c_str(), change.c_str(), t["changes"].size());
    }
    // Agency → system (level) → host.
    std::vector<std::vector<std::string>> sections;
    auto section = [&](const nlohmann::json& s, const std::string& name, const std::string& level) {
      std::string hosts;
      for (const auto& h : s.value("hosts", nlohmann::json::array())) {
        hosts += (hosts.empty() ? "" : ",") + str(h, "host");
      }
      sections.push_back({"   " + name, level, score_text(s), str(s, "pass"), str(s, "fail"), str(s, "error"),
                          str(s, "waived"), str(s, "not_checked"), hosts.empty() ? "-" : hosts});
    };
    for (const auto& s : a.value("systems", nlohmann::json::array())) section(s, str(s, "name"), str(s, "level"));
    if (a.contains("unassigned") && !a["unassigned"].value("hosts", nlohmann::json::array()).empty()) {
      section(a["unassigned"], vi() ? "(chưa gắn hệ thống)" : "(unassigned)", vi() ? "riêng" : "own");
    }
    if (!sections.empty()) {
      print_table({"   SYSTEM", "LEVEL", "SCORE", "PASS", "FAIL", "ERROR", "WAIVED", "NOT CHECKED", "HOSTS"}, sections);
    }
    const auto& al = a["alerts_open"];
    std::printf(vi() ? "  cảnh báo đang mở: %s nghiêm trọng, %s cao, %s trung bình, %s thấp, %s thông tin\n"
                     : "  open alerts: %s critical, %s high, %s medium, %s low, %s info\n",
                str(al, "critical").c_str(),
                str(al, "high").c_str(), str(al, "medium").c_str(), str(al, "low").c_str(), str(al, "info").c_str());
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : a["groups"]) {
      rows.push_back({"   " + str(g, "group"), score_text(g), str(g, "pass"), str(g, "fail"), str(g, "error"),
                      str(g, "waived")});
    }
    if (!rows.empty()) print_table({"   GROUP", "SCORE", "PASS", "FAIL", "ERROR", "WAIVED"}, rows);
    std::map<std::string, int> verdicts;
    rows.clear();
    for (const auto& c : a["self_assessment"]) {
      ++verdicts[str(c, "verdict")];
      rows.push_back({"   " + str(c, "id") + (c.value("verified", true) ? "" : "*"), word("verdict", str(c, "verdict")),
                      str(c, "pass"), str(c, "fail"), str(c, "error"), str(c, "waived")});
    }
    if (!rows.empty()) {
      std::printf(vi() ? "  tự đánh giá (Thông tư 12/2022): %d đáp ứng đầy đủ, %d đáp ứng một phần, %d chưa đáp ứng, "
                         "%d chưa đánh giá, %d không yêu cầu\n"
                       : "  self-assessment (Circular 12/2022): %d fully, %d partly, %d not implemented, %d not assessed, "
                         "%d not required\n",
                  verdicts["fully"], verdicts["partly"], verdicts["not"], verdicts["not_assessed"],
                  verdicts["not_required"]);
      print_table({"   REQUIREMENT", "VERDICT", "PASS", "FAIL", "ERROR", "WAIVED"}, rows);
    }
    rows.clear();
    for (const auto& f : a["failing"]) {
      rows.push_back({"   " + str(f, "host"), str(f, "check"), str(f, "level"), word("result", str(f, "result")),
                      text_of(f, "title")});
    }
    if (!rows.empty()) {
      std::puts(vi() ? "  kiểm tra không đạt:" : "  failing checks:");
      print_table({"   HOST", "CHECK", "LEVEL", "RESULT", "TITLE"}, rows);
    }
    rows.clear();
    for (const auto& w : a["waived_results"]) {
      const auto& wv = w["waiver"];
      rows.push_back({"   " + str(w, "host"), str(w, "check"), word("result", str(w, "result")), str(wv, "id"),
                      str(wv, "expires").substr(0, 10), str(wv, "reason")});
    }
    if (!rows.empty()) {
      std::puts(vi() ? "  kết quả được miễn trừ:" : "  waived results:");
      print_table({"   HOST", "CHECK", "RESULT", "WAIVER", "EXPIRES", "REASON"}, rows);
    }
    std::puts("");
  }
  if (agencies.empty()) std::puts(vi() ? "(chưa có cơ quan nào)" : "(no agencies yet)");
}

// The hits of one search as a table: the summary column takes what the terminal has left.
void print_hits(const nlohmann::json& doc) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> summaries;
  for (const auto& hit : doc.value("hits", nlohmann::json::array())) {
    const auto& e = hit.contains("event") ? hit["event"] : nlohmann::json::object();
    rows.push_back({time_str(hit, "time"), str(hit, "agency") + "/" + str(hit, "host"), field(e, "event.dataset"),
                    endpoint(field(e, "source.ip"), field(e, "source.port")),
                    endpoint(field(e, "destination.ip"), field(e, "destination.port")), field(e, "user.name")});
    std::string summary = field(e, "event.original");
    if (summary.empty()) summary = field(e, "rule.name");
    if (summary.empty()) summary = field(e, "message");
    summaries.push_back(printable(summary));
  }
  const std::vector<std::string> header = {"TIME", "AGENCY/HOST", "DATASET", "SOURCE", "DESTINATION", "USER"};
  size_t used = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    size_t w = columns(heading(header[i]));
    for (const auto& r : rows) w = std::max(w, columns(printable(r[i])));
    used += w + 2;
  }
  size_t room = std::max<size_t>(30, terminal_columns() > used ? terminal_columns() - used : 0);
  auto with_summary = header;
  with_summary.emplace_back("SUMMARY");
  for (size_t i = 0; i < rows.size(); ++i) rows[i].push_back(cut(summaries[i], room));
  if (!rows.empty()) print_table(with_summary, rows);
  std::string window = vi() ? fmt::format("từ {} đến {}", time_str(doc, "since"), time_str(doc, "until"))
                             : fmt::format("{} to {}", time_str(doc, "since"), time_str(doc, "until"));
  if (rows.empty()) {
    std::printf(vi() ? "không có sự kiện nào khớp trong khoảng %s\n" : "no events match from %s\n", window.c_str());
  } else if (doc.contains("next") && doc["next"].is_string()) {
    std::printf(vi() ? "%zu kết quả trong khoảng %s, mới nhất trước; còn kết quả cũ hơn: thêm --before %s\n"
                     : "%zu hits from %s, newest first; more are older: add --before %s\n",
                rows.size(), window.c_str(), doc["next"].get<std::string>().c_str());
  } else {
    std::printf(vi() ? "%zu kết quả%s trong khoảng %s; không còn kết quả nào khác\n" : "%zu hit%s from %s; no more\n",
                rows.size(), rows.size() == 1 || vi() ? "" : "s", window.c_str());
  }
}

// GET /api/v1/events: a table or the document; a query the collector cannot read is shown with
// a caret under the position it names.
int search_events(Console& console, bool json, const std::string& query, const std::string& since,
                  const std::string& until, int limit, const std::string& before) {
  std::string target = fmt::format("/api/v1/events?q={}&limit={}", url_encode(query), limit);
  if (!since.empty()) target += "&since=" + url_encode(since);
  if (!until.empty()) target += "&until=" + url_encode(until);
  if (!before.empty()) target += "&before=" + url_encode(before);
  nlohmann::json doc;
  try {
    doc = console.call("GET", target);
  } catch (const Refused& r) {
    std::fprintf(stderr, "vigilctl: %s\n", r.what());
    const auto pos = r.body.is_object() && r.body.contains("position") && r.body["position"].is_number_unsigned()
                         ? std::optional<size_t>(r.body["position"].get<size_t>())
                         : std::nullopt;
    if (r.status == 400 && pos && *pos <= query.size()) {
      const char* label = vi() ? "  truy vấn: " : "  query: ";
      std::fprintf(stderr, "%s%s\n%*s^\n", label, printable(query).c_str(),
                   static_cast<int>(columns(label) + columns(printable(query.substr(0, *pos)))), "");
    }
    return 1;
  }
  if (json) {
    print_json(doc);
  } else {
    print_hits(doc);
  }
  return 0;
}

// Dotted versions compared number by number ("0.9.2" < "0.10.0"); a suffix after the numbers
// ("-rc1", "+git") compares as text. "" is older than any.
bool version_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    auto number = [](const std::string& s, size_t& at, bool& ok) {
      uint64_t n = 0;
      ok = at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]));
      while (at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]))) n = n * 10 + static_cast<uint64_t>(s[at++] - '0');
      return n;
    };
    bool oka = false, okb = false;
    uint64_t na = number(a, i, oka), nb = number(b, j, okb);
    if (!oka || !okb) return a.substr(std::min(i, a.size())) < b.substr(std::min(j, b.size()));
    if (na != nb) return na < nb;
    const bool dota = i < a.size() && a[i] == '.', dotb = j < b.size() && b[j] == '.';
    if (dota != dotb) return !dota;  // 1.2 < 1.2.1
    if (!dota) return a.substr(i) < b.substr(j);
    ++i;
    ++j;
  }
  return false;
}

struct GroupArgs {
  std::string description;
  std::string rules;
  std::string policies;
  std::string config;
  std::string message;
  int64_t rollback_to = 0;
};

// vigilctl groups create|list|status|history|push|rollback.
int groups_command(Console& console, bool json, const std::string& name, const std::string& what,
                   const GroupArgs& a) {
  const std::string base = "/api/v1/groups/" + url_encode(name);
  if (what == "create") {
    auto j = console.call("POST", "/api/v1/groups", {{"name", name}, {"description", a.description}});
    if (json) return print_json(j), 0;
    std::printf(vi() ? "đã tạo nhóm %s\n" : "group %s created\n", name.c_str());
  } else if (what == "list") {
    auto j = console.call("GET", "/api/v1/groups");
    if (json) return print_json(j), 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : j) {
      rows.push_back({str(g, "name"), str(g, "version"), str(g, "agents"), printable(str(g, "description"))});
    }
    print_table({"GROUP", "VERSION", "AGENTS", "DESCRIPTION"}, rows);
  } else if (what == "status") {
    auto j = console.call("GET", base + "/status");
    if (json) return print_json(j), 0;
    std::printf(vi() ? "nhóm %s: phiên bản %s; %s trên %zu tác tử đang chạy phiên bản này\n"
                     : "group %s: version %s; %s of %zu agents run it\n",
                name.c_str(), str(j, "version").c_str(), str(j, "on_latest").c_str(), j["agents"].size());
    std::vector<std::vector<std::string>> rows;
    for (const auto& ag : j["agents"]) {
      rows.push_back({str(ag, "id"), printable(str(ag, "host")), str(ag, "bundle_version"), time_str(ag, "applied_at"),
                      printable(str(ag, "error"))});
    }
    print_table({"AGENT", "HOST", "VERSION", "APPLIED", "ERROR"}, rows);
  } else if (what == "history") {
    auto j = console.call("GET", base + "/history");
    if (json) return print_json(j), 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : j) {
      std::string note = printable(str(b, "message"));
      rows.push_back({str(b, "version"), time_str(b, "created"), printable(str(b, "author")),
                      str(b, "sha256").substr(0, 12), note});
    }
    print_table({"VERSION", "CREATED", "BY", "SHA256", "MESSAGE"}, rows);
  } else if (what == "push") {
    size_t budget = 0;
    nlohmann::json files = nlohmann::json::array();
    std::string problems;
    for (const auto& [dir, prefix] : {std::pair{a.rules, "rules"}, std::pair{a.policies, "policies"}}) {
      if (dir.empty()) continue;
      auto read = fleet::read_bundle_dir(dir, prefix, budget);
      if (!read) {
        problems += read.error();
        continue;
      }
      for (auto& f : *read) files.push_back({{"path", f.path}, {"content", std::move(f.content)}});
    }
    if (!a.config.empty()) {
      std::error_code ec;
      auto text = std::filesystem::is_symlink(a.config, ec) ? Result<std::string>(make_error(a.config + ": a symlink"))
                                                : pki::read_file(a.config, fleet::kMaxBundleBytes);
      if (!text) {
        problems += text.error() + "\n";
      } else {
        files.push_back({{"path", std::string(fleet::kOverlayPath)}, {"content", std::move(*text)}});
      }
    }
    if (!problems.empty()) {
      std::fprintf(stderr,
                   vi() ? "vigilctl: gói cấu hình chưa được gửi:\n%s" : "vigilctl: the bundle was not sent:\n%s",
                   problems.c_str());
      return 1;
    }
    nlohmann::json j;
    try {
      j = console.call("POST", base + "/bundles", {{"files", std::move(files)}, {"message", a.message}});
    } catch (const Refused& r) {
      std::fprintf(stderr, "vigilctl: %s\n", r.what());
      if (r.body.is_object() && r.body.contains("problems") && r.body["problems"].is_array()) {
        for (const auto& p : r.body["problems"]) {
          if (p.is_string()) std::fprintf(stderr, "%s\n", printable(p.get<std::string>()).c_str());
        }
      }
      return 1;
    }
    if (json) return print_json(j), 0;
    std::printf(vi() ? "nhóm %s: phiên bản %s\n" : "group %s: version %s\n", name.c_str(), str(j, "version").c_str());
  } else {
    nlohmann::json body = nlohmann::json::object();
    if (a.rollback_to > 0) body["to"] = a.rollback_to;
    auto j = console.call("POST", base + "/rollback", body);
    if (json) return print_json(j), 0;
    std::printf(vi() ? "nhóm %s: phiên bản %s (nội dung của phiên bản %s)\n"
                     : "group %s: version %s (content of version %s)\n",
                name.c_str(), str(j, "version").c_str(), str(j, "rollback_of").c_str());
  }
  return 0;
}

}  // namespace

int vigilctl_main(int argc, char** argv) {
  CLI::App app{"vigilctl: the operator's command line for a Vigil collector (tokens, agents, alerts, incidents, users, audit).",
               "vigilctl"};
  cli::setup_app(app, "vigilctl");
  app.footer([] {
    return std::string(
        "Every subcommand has its own --help (vigilctl alerts list --help).\n"
        "File: /etc/vigil/vigilctl.yaml (console URL, CA, API token), written by 'vigil-collector init'.\n"
        "Exit status: 0 success, 1 on any refusal or error (the collector's message is printed).");
  });
  std::string config_path = "/etc/vigil/vigilctl.yaml";
  bool json = false;
  app.add_option("-c,--config", config_path, "vigilctl configuration (console URL, CA, API token)")
      ->capture_default_str();
  app.add_flag("--json", json, "Print the collector's JSON instead of tables");
  std::string lang = "en";
  app.add_option("--lang", lang, "Language of tables and messages: en (default) or vi (also VIGIL_LANG)")
      ->envname("VIGIL_LANG")
      ->check(CLI::IsMember({"en", "vi"}));
  app.require_subcommand(1);
  // Global options anywhere on the line (`vigilctl alerts list --json -c FILE`, as DESIGN.md
  // writes them): a subcommand passes what it does not know up to its parent. Set before any
  // subcommand is added, which inherits it.
  app.fallthrough();

  auto* status = app.add_subcommand("status", "Agents and new alerts at a glance");

  auto* tokens = app.add_subcommand("tokens", "Enrollment tokens")->require_subcommand(1);
  std::string agency;
  int level = 0;
  int ttl_hours = 24;
  auto* tokens_create = tokens->add_subcommand("create", "Create a one-time enrollment token (printed alone)");
  tokens_create->add_option("--agency", agency, "Agency the agent belongs to (created if new)")->required();
  auto* token_level_opt =
      tokens_create->add_option("--level", level, "The agent's own security level 1-5 (default: the highest of its --system)")
          ->check(CLI::Range(1, 5));
  std::vector<std::string> token_systems;
  auto* token_systems_opt = tokens_create->add_option(
      "--system", token_systems, "An information system of the agency the agent serves (repeat for several)");
  tokens_create->callback([&] {
    if (token_level_opt->count() == 0 && token_systems_opt->count() == 0) {
      throw CLI::ValidationError("tokens create: give --level, --system or both");
    }
  });
  tokens_create->add_option("--ttl-hours", ttl_hours, "Hours until the token expires")
      ->capture_default_str()
      ->check(CLI::Range(1, 720));
  std::string token_group;
  tokens_create->add_option("--group", token_group, "Group the agent joins at enrollment (default: default)");

  auto* agents = app.add_subcommand("agents", "Enrolled agents")->require_subcommand(1);
  std::string agent_id;
  auto* agents_list = agents->add_subcommand("list", "List agents");
  bool outdated = false;
  agents_list->add_flag("--outdated", outdated, "Only agents running an older program than the newest seen");
  auto* agents_get = agents->add_subcommand("get", "Show one agent");
  agents_get->add_option("ID", agent_id, "Agent id")->required();
  auto* agents_revoke = agents->add_subcommand("revoke", "Revoke an agent's certificate; it can no longer deliver");
  agents_revoke->add_option("ID", agent_id, "Agent id")->required();

  int new_level = 0;
  std::string new_group;
  auto* agents_set =
      agents->add_subcommand("set", "Change an agent's security level (what its checks are held to) or its group");
  agents_set->add_option("ID", agent_id, "Agent id")->required();
  auto* level_opt = agents_set->add_option("--level", new_level, "Security level 1-5")->check(CLI::Range(1, 5));
  auto* group_opt = agents_set->add_option("--group", new_group, "Group whose bundle the agent runs");
  std::vector<std::string> new_systems;
  bool no_system = false;
  auto* systems_opt = agents_set->add_option(
      "--system", new_systems, "The information systems it serves, replacing its set (repeat for several)");
  auto* no_system_opt =
      agents_set->add_flag("--no-system", no_system, "It serves no system (unassigned: its own level)")->excludes(systems_opt);
  agents_set->callback([&] {
    if (level_opt->count() == 0 && group_opt->count() == 0 && systems_opt->count() == 0 && no_system_opt->count() == 0) {
      throw CLI::ValidationError("agents set: give --level, --group, --system or --no-system");
    }
  });

  auto* systems = app.add_subcommand("systems", "Information systems: the level the law gives, the hosts serving them")
                      ->require_subcommand(1);
  std::string system_name, system_agency, system_description;
  int system_level = 0;
  auto* systems_create = systems->add_subcommand("create", "Create an information system of an agency (admin)");
  systems_create->add_option("NAME", system_name, "System name (e.g. cong-dich-vu-cong)")->required();
  systems_create->add_option("--agency", system_agency, "Its agency (created if new)")->required();
  systems_create->add_option("--level", system_level, "Its security level 1-5")->required()->check(CLI::Range(1, 5));
  systems_create->add_option("--description", system_description, "What it is");
  auto* systems_list = systems->add_subcommand("list", "List systems by agency with their levels and hosts");
  systems_list->add_option("--agency", system_agency, "Only this agency");
  auto* systems_get = systems->add_subcommand("get", "Show one system and its hosts");
  systems_get->add_option("NAME", system_name, "System name")->required();
  auto* systems_set = systems->add_subcommand("set", "Change a system's level or description (admin)");
  systems_set->add_option("NAME", system_name, "System name")->required();
  auto* system_level_opt = systems_set->add_option("--level", system_level, "Security level 1-5")->check(CLI::Range(1, 5));
  auto* system_description_opt = systems_set->add_option("--description", system_description, "What it is");
  systems_set->callback([&] {
    if (system_level_opt->count() == 0 && system_description_opt->count() == 0) {
      throw CLI::ValidationError("systems set: give --level, --description or both");
    }
  });

  auto* groups = app.add_subcommand("groups", "Agent groups and the signed bundles of rules and policies pushed to them")
                     ->require_subcommand(1);
  std::string group_name, group_description, push_rules, push_policies, push_config, push_message;
  int64_t rollback_to = 0;
  auto* groups_create = groups->add_subcommand("create", "Create a group (admin)");
  groups_create->add_option("NAME", group_name, "Group name ([A-Za-z0-9._@-], at most 64)")->required();
  groups_create->add_option("--description", group_description, "What the group is for");
  auto* groups_list = groups->add_subcommand("list", "List groups with their current version and agents");
  auto* groups_status =
      groups->add_subcommand("status", "Per agent of a group: the version it runs, when it applied it, its last error");
  groups_status->add_option("NAME", group_name, "Group")->required();
  auto* groups_history = groups->add_subcommand("history", "A group's versions, newest first");
  groups_history->add_option("NAME", group_name, "Group")->required();
  auto* groups_push = groups->add_subcommand(
      "push", "Check rules and policies with the agent's loaders, then sign and store them as the group's next "
              "version (admin); every problem is printed as file:line:column");
  groups_push->add_option("NAME", group_name, "Group")->required();
  groups_push->add_option("--rules", push_rules, "Directory of rule files (*.yaml, *.yml) and value lists (*.txt)")
      ->required();
  groups_push->add_option("--policies", push_policies, "Directory of compliance policies (*.yaml, *.yml)");
  groups_push->add_option("--config", push_config,
                          "agent.yaml overlay: logs, rules, policies.interval, capture.bpf (nothing that moves trust)");
  groups_push->add_option("--message", push_message, "Why (kept in the history and the audit log)");
  auto* groups_rollback = groups->add_subcommand(
      "rollback", "Make an earlier version's content current again, as a new version number (admin)");
  groups_rollback->add_option("NAME", group_name, "Group")->required();
  groups_rollback->add_option("--to", rollback_to, "Version to restore (default: the one before the current)");

  auto* agencies = app.add_subcommand("agencies", "Agencies and their compliance framework")->require_subcommand(1);
  auto* agencies_list = agencies->add_subcommand("list", "List agencies");
  std::string agency_name, framework;
  auto* agencies_set = agencies->add_subcommand("set", "Choose the framework an agency is reported against");
  agencies_set->add_option("NAME", agency_name, "Agency")->required();
  agencies_set->add_option("--framework", framework, "Catalogue id (tcvn11930, tcvn14423, cis-debian12)")->required();

  auto* alerts = app.add_subcommand("alerts", "Alerts and their triage")->require_subcommand(1);
  std::string severity, alert_status, alert_agency, alert_agent, rule, since_id, alert_source;
  int limit = 50;
  auto* alerts_list = alerts->add_subcommand("list", "List alerts, newest first");
  alerts_list->add_option("--severity", severity, "At least this severity: info|low|medium|high|critical or 1-5");
  alerts_list->add_option("--status", alert_status, "new|acknowledged|resolved|false_positive");
  alerts_list->add_option("--agency", alert_agency, "Only this agency");
  alerts_list->add_option("--agent", alert_agent, "Only this agent id");
  alerts_list->add_option("--rule", rule, "Only this rule id");
  alerts_list->add_option("--source", alert_source, "Only alerts whose source address is this IP or in this CIDR block");
  alerts_list->add_option("--before", since_id, "Only alerts older than this alert id (next page)");
  alerts_list->add_option("--limit", limit, "At most this many")->capture_default_str()->check(CLI::Range(1, 1000));
  std::string alert_id, value;
  auto* alerts_get = alerts->add_subcommand("get", "Show one alert with its evidence and history");
  alerts_get->add_option("ID", alert_id, "Alert id")->required();
  struct StatusCmd {
    const char* name;
    const char* status;
    const char* help;
  };
  const StatusCmd status_cmds[] = {{"ack", "acknowledged", "Acknowledge an alert"},
                                   {"resolve", "resolved", "Mark an alert resolved"},
                                   {"false-positive", "false_positive", "Mark an alert a false positive"},
                                   {"reopen", "new", "Set an alert back to new"}};
  std::vector<std::pair<CLI::App*, const char*>> status_subs;
  for (const auto& sc : status_cmds) {
    auto* sub = alerts->add_subcommand(sc.name, sc.help);
    sub->add_option("ID", alert_id, "Alert id")->required();
    status_subs.emplace_back(sub, sc.status);
  }
  auto* alerts_assign = alerts->add_subcommand("assign", "Assign an alert to someone");
  alerts_assign->add_option("ID", alert_id, "Alert id")->required();
  alerts_assign->add_option("USER", value, "Who takes it")->required();
  auto* alerts_comment = alerts->add_subcommand("comment", "Add a comment to an alert");
  alerts_comment->add_option("ID", alert_id, "Alert id")->required();
  alerts_comment->add_option("TEXT", value, "The comment")->required();

  auto* incidents = app.add_subcommand("incidents", "Incidents: alerts worked as one case, with the reporting clock")
                        ->require_subcommand(1);
  std::string incident_id, incident_title, incident_severity, incident_status, incident_alert, incident_at,
      incident_note, incident_lang = "vi", incident_out, incident_before;
  std::vector<std::string> incident_alerts;
  int incident_limit = 100;
  auto* incidents_create = incidents->add_subcommand(
      "create", "Open an incident from one or more alerts; its deadlines count from the earliest alert");
  incidents_create->add_option("--title", incident_title, "What happened, in one line")->required();
  incidents_create->add_option("--alert", incident_alerts, "An alert id (repeat for several)")->required();
  incidents_create->add_option("--severity", incident_severity, "info|low|medium|high|critical or 1-5")->required();
  auto* incidents_list = incidents->add_subcommand(
      "list", "List incidents, newest first, with the deadline counting down (overdue ones in capitals)");
  incidents_list->add_option("--status", incident_status, "open|contained|resolved|reported, or active (not reported)");
  incidents_list->add_option("--before", incident_before, "Only incidents older than this id (next page)");
  incidents_list->add_option("--limit", incident_limit, "At most this many")->capture_default_str()->check(CLI::Range(1, 1000));
  auto* incidents_get = incidents->add_subcommand("get", "Show one incident: clock, alerts, timeline");
  incidents_get->add_option("ID", incident_id, "Incident id")->required();
  auto* incidents_add_alert = incidents->add_subcommand("add-alert", "Add an alert to an incident");
  incidents_add_alert->add_option("ID", incident_id, "Incident id")->required();
  incidents_add_alert->add_option("ALERT", incident_alert, "Alert id")->required();
  auto* incidents_status = incidents->add_subcommand(
      "status", "Move an incident forward: open, contained, resolved, reported (reported stops the report clock)");
  incidents_status->add_option("ID", incident_id, "Incident id")->required();
  incidents_status->add_option("STATUS", incident_status, "contained|resolved|reported")
      ->required()
      ->check(CLI::IsMember({"open", "contained", "resolved", "reported"}));
  auto* incidents_assign = incidents->add_subcommand("assign", "Assign an incident to someone");
  incidents_assign->add_option("ID", incident_id, "Incident id")->required();
  incidents_assign->add_option("USER", incident_note, "Who runs it")->required();
  auto* incidents_comment = incidents->add_subcommand("comment", "Add a comment (an action taken, a finding)");
  incidents_comment->add_option("ID", incident_id, "Incident id")->required();
  incidents_comment->add_option("TEXT", incident_note, "The comment")->required();
  auto* incidents_notified = incidents->add_subcommand(
      "notified", "Record that the first notification to the authority was made (stops the first clock)");
  incidents_notified->add_option("ID", incident_id, "Incident id")->required();
  incidents_notified->add_option("--at", incident_at, "When it was made (RFC 3339; default now)");
  incidents_notified->add_option("--note", incident_note, "To whom, by what means, reference");
  auto* incidents_report = incidents->add_subcommand(
      "report", "The incident as one printable HTML file (timeline, evidence, actions taken)");
  incidents_report->add_option("ID", incident_id, "Incident id")->required();
  incidents_report->add_option("--lang", incident_lang, "vi (default) or en")->check(CLI::IsMember({"vi", "en"}));
  incidents_report->add_option("--out", incident_out, "Write it to this file instead of standard output");

  auto* events = app.add_subcommand("events", "Stored events (log lines, flows, checks)")->require_subcommand(1);
  std::string events_query, events_since, events_until, events_before;
  int events_limit = 50;
  auto* events_search = events->add_subcommand(
      "search", "Search events, newest first: field:value, field:prefix*, source.ip:10.0.0.0/8, field>N, "
                "words and \"phrases\" of the original line, AND OR NOT ( )");
  events_search->add_option("QUERY", events_query, "The query (quote it for the shell; \"\" matches every event)")
      ->required();
  events_search->add_option("--since", events_since,
                            "Start of the window: 30m, 24h, 7d ago, YYYY-MM-DD or RFC 3339 (default: 24h before --until)");
  events_search->add_option("--until", events_until, "End of the window, in the same forms (default: now)");
  events_search->add_option("--limit", events_limit, "At most this many")->capture_default_str()->check(CLI::Range(1, 1000));
  events_search->add_option("--before", events_before, "The cursor a previous search printed (next page)");

  auto* users = app.add_subcommand("users", "Local users of the console (admin)")->require_subcommand(1);
  std::string user_name, user_role;
  std::vector<std::string> user_agencies;
  auto* users_add = users->add_subcommand(
      "add", "Add a user; the password is read from standard input, or asked for at a terminal");
  users_add->add_option("NAME", user_name, "User name ([A-Za-z0-9._@-], at most 64)")->required();
  users_add->add_option("--role", user_role, "admin, analyst or auditor")
      ->required()
      ->check(CLI::IsMember({"admin", "analyst", "auditor"}));
  users_add->add_option("--agency", user_agencies, "Limit the user to this agency (repeat for several)");
  auto* users_list = users->add_subcommand("list", "List users");
  auto* users_disable = users->add_subcommand("disable", "Disable a user and end the user's sessions");
  users_disable->add_option("NAME", user_name, "User name")->required();
  auto* users_enable = users->add_subcommand("enable", "Enable a disabled user");
  users_enable->add_option("NAME", user_name, "User name")->required();
  auto* users_passwd = users->add_subcommand("passwd", "Set a user's password (ends the user's sessions)");
  users_passwd->add_option("NAME", user_name, "User name")->required();

  auto* api_tokens = app.add_subcommand("api-tokens", "API tokens for scripts (admin)")->require_subcommand(1);
  std::string api_token_name, api_token_role;
  std::vector<std::string> api_token_agencies;
  auto* api_tokens_create = api_tokens->add_subcommand("create", "Create an API token (printed alone, once)");
  api_tokens_create->add_option("NAME", api_token_name, "Name in the audit log ([A-Za-z0-9._@-], at most 64)")
      ->required();
  api_tokens_create->add_option("--role", api_token_role, "admin, analyst or auditor")
      ->required()
      ->check(CLI::IsMember({"admin", "analyst", "auditor"}));
  api_tokens_create->add_option("--agency", api_token_agencies, "Limit the token to this agency (repeat for several)");
  std::string api_token_expires, api_token_id;
  api_tokens_create->add_option("--expires", api_token_expires, "When the token stops working (YYYY-MM-DD or RFC 3339)");
  auto* api_tokens_list = api_tokens->add_subcommand("list", "List API tokens (ids, roles, expiry; never the secrets)");
  auto* api_tokens_revoke = api_tokens->add_subcommand("revoke", "Revoke an API token now");
  api_tokens_revoke->add_option("ID", api_token_id, "Token id (from api-tokens list)")->required();

  auto* quarantine =
      app.add_subcommand("quarantine", "Records the collector refused to store, with why (admin, auditor)")
          ->require_subcommand(1);
  std::string quarantine_agent, quarantine_before;
  int quarantine_limit = 50;
  auto* quarantine_list = quarantine->add_subcommand("list", "List quarantined records, newest first");
  quarantine_list->add_option("--agent", quarantine_agent, "Only records of this agent");
  quarantine_list->add_option("--before", quarantine_before, "Only records older than this id (next page)");
  quarantine_list->add_option("--limit", quarantine_limit, "At most this many")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));

  auto* audit = app.add_subcommand("audit", "The audit log of changes and logins (admin, auditor)")->require_subcommand(1);
  std::string audit_who, audit_action, audit_before;
  int audit_limit = 50;
  auto* audit_list = audit->add_subcommand("list", "List audit entries, newest first");
  audit_list->add_option("--who", audit_who, "Only entries by this user or token");
  audit_list->add_option("--action", audit_action, "Only this action (e.g. alert.status, login.failure)");
  audit_list->add_option("--before", audit_before, "Only entries older than this id (next page)");
  audit_list->add_option("--limit", audit_limit, "At most this many")->capture_default_str()->check(CLI::Range(1, 1000));

  auto* report = app.add_subcommand("report", "Reports")->require_subcommand(1);
  std::string report_agency;
  bool report_all = false;
  auto* report_compliance =
      report->add_subcommand("compliance", "Compliance of each agency against its framework (latest results)");
  auto* agency_opt = report_compliance->add_option("--agency", report_agency, "One agency");
  report_compliance->add_flag("--all", report_all, "Every agency")->excludes(agency_opt);
  std::string report_format = "text", report_lang = "vi", report_out;
  report_compliance->add_option("--format", report_format, "text (default), json, csv, or html (one printable A4 file)")
      ->check(CLI::IsMember({"text", "json", "csv", "html"}));
  auto* report_lang_opt =
      report_compliance
          ->add_option("--lang", report_lang, "Language of the report: vi (default for html) or en; text follows it when given")
          ->check(CLI::IsMember({"vi", "en"}));
  report_compliance->add_option("--out", report_out, "Write the report to this file instead of standard output");
  std::string report_since;
  report_compliance->add_option("--since", report_since,
                                "Trend against this date (YYYY-MM-DD or RFC 3339): the score then, the checks "
                                "whose result changed, the alerts raised since");

  auto* waivers = app.add_subcommand("waivers", "Waivers of compliance checks (accepted exceptions)")->require_subcommand(1);
  std::string waiver_agency, waiver_agent, waiver_policy, waiver_check, waiver_reason, waiver_accepted_by,
      waiver_expires;
  int64_t waiver_id = 0;
  bool waivers_active = false;
  auto* waivers_add = waivers->add_subcommand("add", "Waive a check for one agent or a whole agency until a date (admin)");
  waivers_add->add_option("--agency", waiver_agency, "Agency")->required();
  waivers_add->add_option("--agent", waiver_agent, "Only this agent (default: every agent of the agency)");
  waivers_add->add_option("--policy", waiver_policy, "Only the check of this policy (default: any policy)");
  waivers_add->add_option("--check", waiver_check, "Check id")->required();
  waivers_add->add_option("--reason", waiver_reason, "Why the exception is accepted")->required();
  waivers_add->add_option("--accepted-by", waiver_accepted_by, "Who accepted the risk")->required();
  waivers_add->add_option("--expires", waiver_expires, "Expiry (YYYY-MM-DD or RFC 3339), at most five years ahead")
      ->required();
  auto* waivers_list = waivers->add_subcommand("list", "List waivers, newest first");
  waivers_list->add_option("--agency", waiver_agency, "Only this agency");
  waivers_list->add_flag("--active", waivers_active, "Only waivers in force now");
  auto* waivers_expire = waivers->add_subcommand("expire", "End a waiver now: its checks count as they are again (admin)");
  waivers_expire->add_option("ID", waiver_id, "Waiver id")->required();

  return cli::run(app, argc, argv, [&]() -> int {
    g_lang = i18n::parse_lang(lang).value_or(i18n::Lang::en);
    auto cfg = load_ctl_config(config_path);
    if (!cfg) {
      std::fprintf(stderr, "%s\n", cfg.error().c_str());
      return 1;
    }
    try {
      Console console(*cfg);
      if (status->parsed()) {
        auto j = console.call("GET", "/api/v1/status");
        if (json) {
          print_json(j);
        } else {
          std::printf(vi() ? "máy chủ thu thập %s: %s tác tử (%s đang hoạt động), %s cảnh báo mới, "
                             "%s bản ghi bị cách ly; vai trò của bạn: %s\n"
                           : "collector %s: %s agents (%s active), %s new alerts, %s records quarantined; you are %s\n",
                      cfg->console.to_string().c_str(), str(j, "agents").c_str(), str(j, "agents_active").c_str(),
                      str(j, "alerts_new").c_str(), str(j, "records_quarantined").c_str(), str(j, "role").c_str());
        }
      } else if (tokens_create->parsed()) {
        nlohmann::json body{{"agency", agency}, {"ttl_hours", ttl_hours}};
        if (level != 0) body["level"] = level;
        if (!token_systems.empty()) body["systems"] = token_systems;
        if (!token_group.empty()) body["group"] = token_group;
        auto j = console.call("POST", "/api/v1/tokens", body);
        if (json) {
          print_json(j);
        } else {
          std::puts(str(j, "token").c_str());
        }
      } else if (agents_list->parsed()) {
        auto j = console.call("GET", "/api/v1/agents");
        if (outdated) {
          // Those running a program older than the newest any agent reports.
          std::string newest;
          for (const auto& a : j) {
            if (version_less(newest, str(a, "version"))) newest = str(a, "version");
          }
          nlohmann::json older = nlohmann::json::array();
          for (const auto& a : j) {
            if (version_less(str(a, "version"), newest)) older.push_back(a);
          }
          j = std::move(older);
        }
        if (json) {
          print_json(j);
        } else {
          std::vector<std::vector<std::string>> rows;
          for (const auto& a : j) {
            std::string served;
            for (const auto& s : a.value("systems", nlohmann::json::array())) {
              served += (served.empty() ? "" : ",") + s.get<std::string>();
            }
            rows.push_back({str(a, "id"), str(a, "agency"), served.empty() ? "-" : served, str(a, "level"),
                            str(a, "host"), str(a, "version"), str(a, "group"), str(a, "bundle_version"),
                            word("agent", str(a, "status")), str(a, "last_seen")});
          }
          print_table({"ID", "AGENCY", "SYSTEMS", "LEVEL", "HOST", "VERSION", "GROUP", "BUNDLE", "STATUS", "LAST SEEN"},
                      rows);
        }
      } else if (agents_get->parsed()) {
        print_json(console.call("GET", "/api/v1/agents/" + url_encode(agent_id)));
      } else if (agents_revoke->parsed()) {
        auto j = console.call("POST", "/api/v1/agents/" + url_encode(agent_id) + "/revoke");
        if (json) {
          print_json(j);
        } else {
          std::printf(vi() ? "đã thu hồi tác tử %s\n" : "agent %s revoked\n", agent_id.c_str());
        }
      } else if (agents_set->parsed()) {
        if (level_opt->count() > 0) {
          console.call("POST", "/api/v1/agents/" + url_encode(agent_id) + "/level", {{"level", new_level}});
          std::printf(vi() ? "tác tử %s: cấp độ %d\n" : "agent %s: security level %d\n", agent_id.c_str(), new_level);
        }
        if (group_opt->count() > 0) {
          console.call("POST", "/api/v1/agents/" + url_encode(agent_id) + "/group", {{"group", new_group}});
          std::printf(vi() ? "tác tử %s: nhóm %s\n" : "agent %s: group %s\n", agent_id.c_str(), new_group.c_str());
        }
        if (systems_opt->count() > 0 || no_system) {
          auto j = console.call("POST", "/api/v1/agents/" + url_encode(agent_id) + "/systems",
                                {{"systems", no_system ? std::vector<std::string>{} : new_systems}});
          std::string served;
          for (const auto& s : j["systems"]) served += (served.empty() ? "" : ", ") + s.get<std::string>();
          if (served.empty()) served = vi() ? "(không có: chưa gắn hệ thống)" : "(none: unassigned)";
          std::printf(vi() ? "tác tử %s: hệ thống thông tin %s\n" : "agent %s: systems %s\n", agent_id.c_str(),
                      served.c_str());
        }
      } else if (systems_create->parsed()) {
        nlohmann::json body{{"name", system_name}, {"agency", system_agency}, {"level", system_level}};
        if (!system_description.empty()) body["description"] = system_description;
        auto j = console.call("POST", "/api/v1/systems", body);
        if (json) {
          print_json(j);
        } else {
          std::printf(vi() ? "hệ thống thông tin %s: cơ quan %s, cấp độ %d\n" : "system %s: agency %s, level %d\n",
                      system_name.c_str(), system_agency.c_str(), system_level);
        }
      } else if (systems_list->parsed()) {
        auto j = console.call("GET", "/api/v1/systems" + (system_agency.empty() ? "" : "?agency=" + url_encode(system_agency)));
        if (json) {
          print_json(j);
        } else {
          std::vector<std::vector<std::string>> rows;
          for (const auto& s : j) {
            rows.push_back({str(s, "agency"), str(s, "name"), str(s, "level"), str(s, "agents"), str(s, "description")});
          }
          print_table({"AGENCY", "SYSTEM", "LEVEL", "HOSTS", "DESCRIPTION"}, rows);
          if (rows.empty()) {
            std::puts(vi() ? "(chưa có hệ thống nào: vigilctl systems create TÊN --agency CƠ_QUAN --level N)"
                           : "(no systems: vigilctl systems create NAME --agency A --level N)");
          }
        }
      } else if (systems_get->parsed()) {
        auto j = console.call("GET", "/api/v1/systems/" + url_encode(system_name));
        if (json) {
          print_json(j);
        } else {
          std::printf(vi() ? "Hệ thống thông tin %s: cơ quan %s, cấp độ %s\n  %s\n\nMáy chủ:\n"
                           : "System %s: agency %s, level %s\n  %s\n\nHosts:\n",
                      str(j, "name").c_str(), str(j, "agency").c_str(), str(j, "level").c_str(),
                      printable(str(j, "description")).c_str());
          std::vector<std::vector<std::string>> rows;
          for (const auto& h : j["hosts"]) {
            rows.push_back({str(h, "id"), str(h, "host"), word("agent", str(h, "status")), time_str(h, "last_seen")});
          }
          print_table({"AGENT", "HOST", "STATUS", "LAST SEEN"}, rows);
        }
      } else if (systems_set->parsed()) {
        nlohmann::json body = nlohmann::json::object();
        if (system_level_opt->count() > 0) body["level"] = system_level;
        if (system_description_opt->count() > 0) body["description"] = system_description;
        console.call("POST", "/api/v1/systems/" + url_encode(system_name), body);
        std::printf(vi() ? "đã cập nhật hệ thống thông tin %s\n" : "system %s changed\n", system_name.c_str());
      } else if (groups->parsed()) {
        return groups_command(console, json, group_name, groups_create->parsed() ? "create"
                                                         : groups_list->parsed()     ? "list"
                                                         : groups_status->parsed()   ? "status"
                                                         : groups_history->parsed()  ? "history"
                                                         : groups_push->parsed()     ? "push"
                                                                                     : "rollback",
                              {group_description, push_rules, push_policies, push_config, push_message, rollback_to});
      } else if (agencies_list->parsed()) {
        auto j = console.call("GET", "/api/v1/agencies");
        if (json) {
          print_json(j);
        } else {
          std::vector<std::vector<std::string>> rows;
          for (const auto& a : j) rows.push_back({str(a, "name"), str(a, "framework")});
          print_table({"AGENCY", "FRAMEWORK"}, rows);
        }
      } else if (agencies_set->parsed()) {
        console.call("POST", "/api/v1/agencies/" + url_encode(agency_name) + "/framework", {{"framework", framework}});
        std::printf(vi() ? "cơ quan %s: báo cáo theo khung tiêu chuẩn %s\n" : "agency %s: reported against %s\n",
                    agency_name.c_str(), framework.c_str());
      } else if (alerts_list->parsed()) {
        std::string q = fmt::format("/api/v1/alerts?limit={}", limit);
        auto add = [&](const char* k, const std::string& v) {
          if (!v.empty()) q += fmt::format("&{}={}", k, url_encode(v));
        };
        add("severity", severity);
        add("status", alert_status);
        add("agency", alert_agency);
        add("agent", alert_agent);
        add("rule", rule);
        add("before", since_id);
        add("source", alert_source);
        auto j = console.call("GET", q);
        if (json) {
          print_json(j);
        } else {
          std::vector<std::vector<std::string>> rows;
          for (const auto& a : j) {
            int sev = a.value("severity", 0);
            rows.push_back({str(a, "id"), time_str(a, "time"), severity_word(sev), word("alert", str(a, "status")),
                            str(a, "agency"),
                            str(a, "host"), endpoint(str(a, "source_ip"), str(a, "source_port")), str(a, "user_name"),
                            endpoint(str(a, "destination_ip"), str(a, "destination_port")), str(a, "rule_id"),
                            text_of(a, "rule_name")});
          }
          print_table({"ID", "TIME", "SEVERITY", "STATUS", "AGENCY", "HOST", "SOURCE", "USER", "DESTINATION", "RULE",
                       "NAME"},
                      rows);
          if (rows.empty()) std::puts(vi() ? "(không có cảnh báo nào phù hợp)" : "(no alerts match)");
        }
      } else if (events_search->parsed()) {
        return search_events(console, json, events_query, events_since, events_until, events_limit, events_before);
      } else if (report_compliance->parsed()) {
        if (!report_all && report_agency.empty()) {
          throw std::runtime_error(vi() ? "report compliance: hãy chỉ rõ --agency TÊN hoặc --all"
                                        : "report compliance: give --agency NAME or --all");
        }
        std::string target = "/api/v1/reports/compliance?format=json";
        if (!report_agency.empty()) target += "&agency=" + url_encode(report_agency);
        if (!report_since.empty()) target += "&since=" + url_encode(report_since);
        auto j = console.call("GET", target);
        if (json) report_format = "json";
        std::string text;
        if (report_format == "csv") {
          text = compliance_csv(j);
        } else if (report_format == "html") {
          text = compliance_html(j, report_lang == "en" ? ReportLang::en : ReportLang::vi);
        } else if (report_format == "json") {
          text = j.dump(2) + "\n";
        }
        if (report_format == "text" && report_out.empty()) {
          if (report_lang_opt->count() > 0) g_lang = i18n::parse_lang(report_lang).value_or(g_lang);
          print_compliance(j);
        } else if (report_out.empty()) {
          std::fwrite(text.data(), 1, text.size(), stdout);
        } else {
          std::ofstream out(report_out, std::ios::binary | std::ios::trunc);
          out << text;
          if (!out.flush()) throw std::runtime_error((vi() ? "không ghi được " : "cannot write ") + report_out);
          std::printf(vi() ? "đã ghi báo cáo vào %s\n" : "report written to %s\n", report_out.c_str());
        }
      } else if (waivers_add->parsed()) {
        nlohmann::json body = {{"agency", waiver_agency},  {"check", waiver_check},
                               {"reason", waiver_reason},  {"accepted_by", waiver_accepted_by},
                               {"expires", waiver_expires}};
        if (!waiver_agent.empty()) body["agent"] = waiver_agent;
        if (!waiver_policy.empty()) body["policy"] = waiver_policy;
        auto j = console.call("POST", "/api/v1/waivers", body);
        if (json) {
          print_json(j);
        } else {
          const std::string scope =
              !waiver_agent.empty() ? waiver_agent : (vi() ? "cơ quan " : "agency ") + waiver_agency;
          std::printf(vi() ? "miễn trừ %s: kiểm tra %s được miễn trừ cho %s đến hết %s\n"
                           : "waiver %s: %s waived for %s until %s\n",
                      str(j, "id").c_str(), waiver_check.c_str(), scope.c_str(), waiver_expires.c_str());
        }
      } else if (waivers_list->parsed()) {
        std::string q = "/api/v1/waivers";
        std::string sep = "?";
        if (!waiver_agency.empty()) {
          q += sep + "agency=" + url_encode(waiver_agency);
          sep = "&";
        }
        if (waivers_active) q += sep + "active=1";
        auto j = console.call("GET", q);
        if (json) {
          print_json(j);
        } else {
          std::vector<std::vector<std::string>> rows;
          for (const auto& w : j) {
            std::string check = str(w, "policy").empty() ? str(w, "check") : str(w, "policy") + "/" + str(w, "check");
            rows.push_back({str(w, "id"), str(w, "agency"),
                            str(w, "agent_id").empty() ? (vi() ? "(tất cả)" : "(all)") : str(w, "agent_id"), check,
                            word("waiver", str(w, "state")), str(w, "expires").substr(0, 10), str(w, "accepted_by"),
                            str(w, "reason")});
          }
          print_table({"ID", "AGENCY", "AGENT", "CHECK", "STATE", "EXPIRES", "ACCEPTED BY", "REASON"}, rows);
          if (rows.empty()) std::puts(vi() ? "(không có miễn trừ nào)" : "(no waivers)");
        }
      } else if (waivers_expire->parsed()) {
        console.call("POST", fmt::format("/api/v1/waivers/{}/expire", waiver_id));
        std::printf(vi() ? "đã chấm dứt miễn trừ %lld\n" : "waiver %lld expired\n", static_cast<long long>(waiver_id));
      } else if (users_add->parsed()) {
        std::string password = read_new_password(user_name);
        console.call("POST", "/api/v1/users",
                     {{"name", user_name}, {"password", password}, {"role", user_role}, {"agencies", user_agencies}});
        std::string scope = vi() ? ", mọi cơ quan" : ", every agency";
        for (size_t i = 0; i < user_agencies.size(); ++i) {
          scope = (i ? scope + ", " : std::string(vi() ? ", cơ quan: " : ", agencies: ")) + user_agencies[i];
        }
        std::printf(vi() ? "đã thêm người dùng %s (%s%s)\n" : "user %s added (%s%s)\n", user_name.c_str(),
                    user_role.c_str(), scope.c_str());
      } else if (api_tokens_list->parsed()) {
        auto j = console.call("GET", "/api/v1/api-tokens");
        if (json) {
          print_json(j);
        } else {
          std::vector<std::vector<std::string>> rows;
          for (const auto& t : j) {
            std::string scope;
            for (const auto& a : t.value("agencies", nlohmann::json::array())) {
              scope += (scope.empty() ? "" : ",") + a.get<std::string>();
            }
            rows.push_back({str(t, "id"), str(t, "name"), str(t, "role"), scope.empty() ? "*" : scope,
                            word("token", str(t, "state")),
                            t["expires"].is_string() ? str(t, "expires") : (vi() ? "không hết hạn" : "never"),
                            str(t, "created_by")});
          }
          print_table({"ID", "NAME", "ROLE", "AGENCIES", "STATE", "EXPIRES", "CREATED BY"}, rows);
        }
      } else if (api_tokens_revoke->parsed()) {
        auto j = console.call("POST", "/api/v1/api-tokens/" + url_encode(api_token_id) + "/revoke");
        if (json) {
          print_json(j);
        } else {
          std::printf(vi() ? "đã thu hồi token API %s\n" : "API token %s revoked\n", api_token_id.c_str());
        }
      } else if (api_tokens_create->parsed()) {
        nlohmann::json body{{"name", api_token_name}, {"role", api_token_role}, {"agencies", api_token_agencies}};
        if (!api_token_expires.empty()) body["expires"] = api_token_expires;
        auto j = console.call("POST", "/api/v1/api-tokens", body);
        if (json) {
          print_json(j);
        } else {
          std::puts(str(j, "token").c_str());
        }
      } else if (users_list->parsed()) {
        auto j = console.call("GET", "/api/v1/users");
        if (json) {
          print_json(j);
        } else {
          std::vector<std::vector<std::string>> rows;
          for (const auto& u : j) {
            std::string scope;
            for (const auto& a : u["agencies"]) scope += (scope.empty() ? "" : ", ") + a.get<std::string>();
            rows.push_back({str(u, "name"), str(u, "role"), scope.empty() ? (vi() ? "(tất cả)" : "(all)") : scope,
                            word("user", u.value("disabled", false) ? "disabled" : "active"), str(u, "created")});
          }
          print_table({"USER", "ROLE", "AGENCIES", "STATUS", "CREATED"}, rows);
          if (rows.empty()) std::puts(vi() ? "(chưa có người dùng nào)" : "(no users yet)");
        }
      } else if (users_disable->parsed() || users_enable->parsed()) {
        const char* verb = users_disable->parsed() ? "disable" : "enable";
        console.call("POST", "/api/v1/users/" + url_encode(user_name) + "/" + verb);
        if (vi()) {
          std::printf(users_disable->parsed() ? "đã vô hiệu hóa người dùng %s\n" : "đã kích hoạt lại người dùng %s\n",
                      user_name.c_str());
        } else {
          std::printf("user %s %sd\n", user_name.c_str(), verb);
        }
      } else if (users_passwd->parsed()) {
        std::string password = read_new_password(user_name);
        console.call("POST", "/api/v1/users/" + url_encode(user_name) + "/password", {{"password", password}});
        std::printf(vi() ? "đã đổi mật khẩu của %s; các phiên đăng nhập của người dùng này đã kết thúc\n"
                         : "password of %s changed; the user's sessions have ended\n",
                    user_name.c_str());
      } else if (quarantine_list->parsed()) {
        print_list(
            console, json, "/api/v1/quarantine", quarantine_limit,
            {{"agent", quarantine_agent}, {"before", quarantine_before}}, {"ID", "RECEIVED", "AGENT", "SEQ", "REASON"},
            [](const nlohmann::json& e) -> std::vector<std::string> {
              return {str(e, "id"), time_str(e, "received"), str(e, "agent_id"), str(e, "seq"), str(e, "reason")};
            },
            vi() ? "(không có bản ghi nào bị cách ly)" : "(no quarantined records)");
      } else if (audit_list->parsed()) {
        print_list(
            console, json, "/api/v1/audit", audit_limit,
            {{"who", audit_who}, {"action", audit_action}, {"before", audit_before}},
            {"ID", "TIME", "WHO", "ACTION", "TARGET", "DETAIL"},
            [](const nlohmann::json& e) -> std::vector<std::string> {
              return {str(e, "id"), time_str(e, "time"), str(e, "who"), str(e, "action"), str(e, "target"),
                      str(e, "detail")};
            },
            vi() ? "(không có mục nào phù hợp)" : "(no entries match)");
      } else if (incidents_create->parsed()) {
        nlohmann::json ids = nlohmann::json::array();
        for (const auto& a : incident_alerts) ids.push_back(a);
        auto j = console.call("POST", "/api/v1/incidents",
                              {{"title", incident_title}, {"severity", incident_severity}, {"alerts", ids}});
        if (json) {
          print_json(j);
        } else {
          auto i = console.call("GET", "/api/v1/incidents/" + str(j, "id"));
          std::printf(vi() ? "đã mở sự cố %s; thời hạn: %s\n" : "incident %s opened; deadline: %s\n",
                      str(j, "id").c_str(), deadline_text(i).c_str());
        }
      } else if (incidents_list->parsed()) {
        print_list(
            console, json, "/api/v1/incidents", incident_limit, {{"status", incident_status}, {"before", incident_before}},
            {"ID", "SEVERITY", "STATUS", "DEADLINE", "DETECTED", "ASSIGNEE", "AGENCIES", "HOSTS", "ALERTS", "TITLE"},
            [](const nlohmann::json& i) -> std::vector<std::string> {
              std::string where, hosts;
              for (const auto& a : i.value("agencies", nlohmann::json::array())) where += (where.empty() ? "" : ",") + a.get<std::string>();
              for (const auto& h : i.value("hosts", nlohmann::json::array())) hosts += (hosts.empty() ? "" : ",") + h.get<std::string>();
              return {str(i, "id"), severity_word(i.value("severity", 0)), word("incident", str(i, "status")),
                      deadline_text(i), time_str(i, "detected_at"), str(i, "assignee"), where, hosts,
                      str(i, "alert_count"), str(i, "title")};
            },
            vi() ? "(không có sự cố nào phù hợp)" : "(no incidents match)");
      } else if (incidents_get->parsed()) {
        auto j = console.call("GET", "/api/v1/incidents/" + url_encode(incident_id));
        if (json) {
          print_json(j);
        } else {
          print_incident(j);
        }
      } else if (incidents_add_alert->parsed()) {
        console.call("POST", "/api/v1/incidents/" + url_encode(incident_id) + "/alerts", {{"alert", incident_alert}});
        std::printf(vi() ? "đã thêm cảnh báo %s vào sự cố %s\n" : "alert %s added to incident %s\n",
                    incident_alert.c_str(), incident_id.c_str());
      } else if (incidents_status->parsed()) {
        console.call("POST", "/api/v1/incidents/" + url_encode(incident_id) + "/status", {{"status", incident_status}});
        std::printf(vi() ? "sự cố %s chuyển sang trạng thái %s\n" : "incident %s is now %s\n", incident_id.c_str(),
                    word("incident", incident_status).c_str());
      } else if (incidents_assign->parsed()) {
        console.call("POST", "/api/v1/incidents/" + url_encode(incident_id) + "/assign", {{"assignee", incident_note}});
        std::printf(vi() ? "đã giao sự cố %s cho %s\n" : "incident %s assigned to %s\n", incident_id.c_str(),
                    incident_note.c_str());
      } else if (incidents_comment->parsed()) {
        console.call("POST", "/api/v1/incidents/" + url_encode(incident_id) + "/comment", {{"text", incident_note}});
        std::printf(vi() ? "đã thêm ghi chú vào sự cố %s\n" : "comment added to incident %s\n", incident_id.c_str());
      } else if (incidents_notified->parsed()) {
        nlohmann::json body = {{"note", incident_note}};
        if (!incident_at.empty()) body["at"] = incident_at;
        console.call("POST", "/api/v1/incidents/" + url_encode(incident_id) + "/notified", body);
        std::printf(vi() ? "sự cố %s: đã ghi nhận thông báo ban đầu\n" : "incident %s: first notification recorded\n",
                    incident_id.c_str());
      } else if (incidents_report->parsed()) {
        std::string html =
            console.call_text("GET", "/api/v1/incidents/" + url_encode(incident_id) + "/report?lang=" + incident_lang);
        if (incident_out.empty()) {
          std::fwrite(html.data(), 1, html.size(), stdout);
        } else {
          std::ofstream out(incident_out, std::ios::binary | std::ios::trunc);
          out << html;
          if (!out.flush()) throw std::runtime_error((vi() ? "không ghi được " : "cannot write ") + incident_out);
          std::printf(vi() ? "đã ghi báo cáo vào %s\n" : "report written to %s\n", incident_out.c_str());
        }
      } else if (alerts_get->parsed()) {
        print_json(console.call("GET", "/api/v1/alerts/" + url_encode(alert_id)));
      } else if (alerts_assign->parsed()) {
        console.call("POST", "/api/v1/alerts/" + url_encode(alert_id) + "/assign", {{"assignee", value}});
        std::printf(vi() ? "đã giao cảnh báo %s cho %s\n" : "alert %s assigned to %s\n", alert_id.c_str(),
                    value.c_str());
      } else if (alerts_comment->parsed()) {
        console.call("POST", "/api/v1/alerts/" + url_encode(alert_id) + "/comment", {{"text", value}});
        std::printf(vi() ? "đã thêm ghi chú vào cảnh báo %s\n" : "comment added to alert %s\n", alert_id.c_str());
      } else {
        for (const auto& [sub, st] : status_subs) {
          if (!sub->parsed()) continue;
          console.call("POST", "/api/v1/alerts/" + url_encode(alert_id) + "/status", {{"status", st}});
          std::printf(vi() ? "cảnh báo %s chuyển sang trạng thái %s\n" : "alert %s is now %s\n", alert_id.c_str(),
                      word("alert", st).c_str());
        }
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vigilctl: %s\n", e.what());
      return 1;
    }
    return 0;
  });
}

}  // namespace vigil::collector
