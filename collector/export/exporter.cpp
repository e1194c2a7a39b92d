#include "collector/export/exporter.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "collector/ingest/agent_identity.h"
#include "common/ingest/bounded_json.h"
#include "common/log/logging.h"
#include "common/net/https_client.h"
#include "common/pki/pki.h"
#include "common/util/host.h"

namespace vigil::collector {

namespace fs = std::filesystem;

namespace {

constexpr auto kTimeout = std::chrono::seconds(10);
constexpr size_t kMaxPending = 1000;  // alerts fetched per round (the oldest after the cursor)

// RFC 5424 SD-PARAM value: '"', '\' and ']' escaped.
std::string sd_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

// HOSTNAME / APP-NAME fields: printable US-ASCII without spaces, 1..255, "-" when empty.
std::string header_field(std::string_view v, size_t max) {
  std::string out;
  for (char c : v) {
    if (c > 32 && c < 127) out += c;
    if (out.size() == max) break;
  }
  return out.empty() ? "-" : out;
}

class SyslogSink : public ExportSink {
 public:
  explicit SyslogSink(const ExportSection& cfg) : cfg_(cfg), host_(local_host_name()) {}
  ~SyslogSink() override { close(); }

  Result<void> deliver(const AlertRecord& alert) override {
    if (fd_ >= 0 && peer_closed()) close();
    if (fd_ < 0) {
      if (auto r = connect_to(); !r) return r;
    }
    std::string msg = syslog_message(alert, alert.host.empty() ? host_ : alert.host);
    std::string frame = std::to_string(msg.size()) + " " + msg;  // RFC 6587 octet counting
    if (auto r = send_all(frame); !r) {
      close();
      return r;
    }
    return {};
  }

  void close() override {
    if (ssl_) {
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (ctx_) {
      SSL_CTX_free(ctx_);
      ctx_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // A receiver that went away has sent FIN: the socket reads as closed before we write to it.
  bool peer_closed() {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0;
  }

  Result<void> connect_to() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(cfg_.address.port);
    if (int rc = getaddrinfo(cfg_.address.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return make_error(fmt::format("{}: {}", cfg_.address.to_string(), gai_strerror(rc)));
    }
    std::string last = "no address";
    for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
      if (fd < 0) continue;
      int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kTimeout).count())) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
          rc = 0;
        } else {
          errno = err ? err : ETIMEDOUT;
        }
      }
      if (rc == 0) {
        fd_ = fd;
      } else {
        last = std::strerror(errno);
        ::close(fd);
      }
    }
    freeaddrinfo(res);
    if (fd_ < 0) return make_error(fmt::format("cannot connect to {}: {}", cfg_.address.to_string(), last));
    if (cfg_.tls) return start_tls();
    return {};
  }

  Result<void> start_tls() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, cfg_.ca.c_str(), nullptr) != 1) {
      close();
      return make_error("cannot read the CA certificates " + cfg_.ca);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, cfg_.address.host.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, cfg_.address.host.c_str()) != 1) {
      X509_VERIFY_PARAM_set1_host(param, cfg_.address.host.c_str(), 0);
    }
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (true) {
      int rc = SSL_connect(ssl_);
      if (rc == 1) return {};
      int err = SSL_get_error(ssl_, rc);
      if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) || !wait(err == SSL_ERROR_WANT_READ, deadline)) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        close();
        return make_error(fmt::format("TLS with {}: {}", cfg_.address.to_string(), buf));
      }
    }
  }

  bool wait(bool read, std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, static_cast<short>(read ? POLLIN : POLLOUT), 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  }

  Result<void> send_all(const std::string& data) {
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n;
      if (ssl_) {
        int rc = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
        if (rc > 0) {
          off += static_cast<size_t>(rc);
          continue;
        }
        int err = SSL_get_error(ssl_, rc);
        if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && wait(err == SSL_ERROR_WANT_READ, deadline)) continue;
        return make_error("TLS write to " + cfg_.address.to_string() + " failed");
      }
      n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait(false, deadline)) {
        continue;
      } else {
        return make_error(fmt::format("write to {}: {}", cfg_.address.to_string(), n < 0 ? std::strerror(errno) : "closed"));
      }
    }
    return {};
  }

  ExportSection cfg_;
  std::string host_;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

class JsonlSink : public ExportSink {
 public:
  explicit JsonlSink(const ExportSection& cfg) : path_(cfg.path) {}
  ~JsonlSink() override { close(); }

  Result<void> deliver(const AlertRecord& alert) override {
    if (fd_ < 0) {
      std::error_code ec;
      fs::create_directories(fs::path(path_).parent_path(), ec);
      fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
      if (fd_ < 0) return make_error(fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
    }
    std::string line = alert_json(alert) + "\n";
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(fd_) != 0) {
      std::string err = std::strerror(errno);
      close();
      return make_error(fmt::format("cannot write {}: {}", path_, err));
    }
    return {};
  }

  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class WebhookSink : public ExportSink {
 public:
  explicit WebhookSink(const ExportSection& cfg) : cfg_(cfg) {}

  Result<void> deliver(const AlertRecord& alert) override {
    if (!client_) {
      auto ca = pki::read_file(cfg_.ca, 16 << 20);
      if (!ca) return make_error(ca.error());
      std::string rest = cfg_.url.substr(8);  // after https://
      size_t slash = rest.find('/');
      std::string hostport = rest.substr(0, slash);
      target_ = slash == std::string::npos ? "/" : rest.substr(slash);
      auto ep = config::parse_endpoint(hostport.find(':') == std::string::npos ? hostport + ":443" : hostport);
      if (!ep) return make_error("webhook: bad address in " + cfg_.url);
      net::HttpsClientOptions o;
      o.host = ep->host;
      o.port = ep->port;
      o.tls.ca_pem = *ca;
      o.timeout = kTimeout;
      client_ = std::make_unique<net::HttpsClient>(std::move(o));
    }
    auto r = client_->request("POST", target_, alert_json(alert), {{"Content-Type", "application/json"}});
    if (!r) {
      client_.reset();
      return make_error(r.error());
    }
    if (r->status < 200 || r->status > 299) {
      client_.reset();
      return make_error(fmt::format("webhook answered {}", r->status));
    }
    return {};
  }

  void close() override { client_.reset(); }

 private:
  ExportSection cfg_;
  std::string target_;
  std::unique_ptr<net::HttpsClient> client_;
};

}  // namespace

std::string alert_json(const AlertRecord& a) {
  auto parsed = ingest::parse_bounded_json(a.evidence);
  nlohmann::json alert = parsed ? std::move(*parsed) : nlohmann::json(a.evidence);
  impose_agent_identity(alert, a.agent_id, a.host);
  nlohmann::json j = {{"id", a.id},
                      {"@timestamp", a.time.to_string()},
                      {"agent", {{"id", a.agent_id}, {"host", a.host}}},
                      {"agency", a.agency},
                      {"rule", {{"id", a.rule_id}, {"name", a.rule_name}}},
                      {"severity", a.severity},
                      {"status", a.status},
                      {"alert", std::move(alert)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string syslog_message(const AlertRecord& a, const std::string& host_name) {
  // Facility local0 (16); severity from the alert's: critical 2, high 3, medium 4, low 5, info 6.
  int sev = std::clamp(7 - a.severity, 2, 6);
  return fmt::format("<{}>1 {} {} vigil-collector - alert [vigil@32473 id=\"{}\" rule=\"{}\" severity=\"{}\" "
                     "agent=\"{}\" agency=\"{}\"] {}",
                     16 * 8 + sev, a.time.to_string(), header_field(host_name, 255), a.id, sd_escape(a.rule_id),
                     a.severity, sd_escape(a.agent_id), sd_escape(a.agency), alert_json(a));
}

Exporter::Exporter(TriageStore& store, const std::vector<ExportSection>& exports, std::string data_dir)
    : store_(store), dir_((fs::path(data_dir) / "exports").string()) {
  for (const auto& cfg : exports) {
    Export e;
    e.config = cfg;
    if (cfg.kind == "syslog") e.sink = std::make_unique<SyslogSink>(cfg);
    if (cfg.kind == "jsonl") e.sink = std::make_unique<JsonlSink>(cfg);
    if (cfg.kind == "webhook") e.sink = std::make_unique<WebhookSink>(cfg);
    e.stats = std::make_unique<ExportStats>();
    exports_.push_back(std::move(e));
  }
}

Exporter::~Exporter() { stop(); }

void Exporter::start() {
  if (exports_.empty()) return;
  auto log = logging::get("export");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  for (auto& e : exports_) {
    auto text = pki::read_file(fs::path(dir_) / (e.config.name + ".cursor"), 64);
    int64_t cursor = 0;
    if (text) {
      cursor = std::strtoll(text->c_str(), nullptr, 10);
    } else if (!e.config.from_beginning) {
      AlertFilter newest;
      newest.limit = 1;
      auto latest = store_.list_alerts(newest);
      if (latest && !latest->empty()) cursor = latest->front().id;
      save_cursor(e, cursor);
    }
    e.stats->cursor = cursor;
    log->info("export {} ({}): after alert {}", e.config.name, e.config.kind, cursor);
  }
  loop_.start(std::chrono::seconds(1), [this] {
    auto now = std::chrono::steady_clock::now();
    for (auto& e : exports_) {
      if (now >= e.retry_at && !loop_.stopping()) run_export(e);
    }
  });
}

void Exporter::stop() {
  loop_.stop();
  for (auto& e : exports_) e.sink->close();
}

void Exporter::wake() { loop_.wake(); }

bool Exporter::save_cursor(const Export& e, int64_t id) {
  return bool(pki::write_file(fs::path(dir_) / (e.config.name + ".cursor"), std::to_string(id) + "\n", false));
}

void Exporter::run_export(Export& e) {
  auto log = logging::get("export");
  const int64_t cursor = e.stats->cursor.load();
  // The store lists newest first: page back to the cursor, keeping the oldest alerts after it.
  std::deque<AlertRecord> pending;
  AlertFilter f;
  f.min_severity = e.config.min_severity;
  f.limit = 200;
  while (!loop_.stopping()) {
    auto page = store_.list_alerts(f);
    if (!page) {
      log->warn("export {}: store: {}", e.config.name, page.error());
      return;
    }
    bool reached = false;
    for (auto& a : *page) {
      if (a.id <= cursor) {
        reached = true;
        break;
      }
      pending.push_back(std::move(a));
      if (pending.size() > kMaxPending) pending.pop_front();  // a newer one waits for the next round
    }
    if (reached || page->size() < static_cast<size_t>(f.limit)) break;
    f.before_id = page->back().id;
  }
  for (auto it = pending.rbegin(); it != pending.rend() && !loop_.stopping(); ++it) {
    // Lists leave the evidence out; the alert as exported carries it.
    if (it->evidence.empty()) {
      auto full = store_.get_alert(it->id);
      if (full && *full) *it = std::move(**full);
    }
    auto r = e.sink->deliver(*it);
    if (!r) {
      ++e.stats->failures;
      if (e.backoff.count() == 0) log->warn("export {}: {} (alerts wait, retrying)", e.config.name, r.error());
      e.backoff = std::min<std::chrono::milliseconds>(std::max<std::chrono::milliseconds>(e.backoff * 2, std::chrono::seconds(1)),
                                                      std::chrono::seconds(60));
      e.retry_at = std::chrono::steady_clock::now() + e.backoff;
      e.sink->close();
      return;
    }
    if (!save_cursor(e, it->id)) log->error("export {}: cannot save its cursor in {}", e.config.name, dir_);
    e.stats->cursor = it->id;
    ++e.stats->delivered;
    if (e.backoff.count() != 0) {
      log->info("export {}: delivering again", e.config.name);
      e.backoff = std::chrono::milliseconds(0);
    }
  }
}

}  // namespace vigil::collector
