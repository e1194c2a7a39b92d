// The simulated agents' identities: enrolled as vigil-agent enrolls (agent/ship/identity.cpp's
// protocol, not its code: the agent writes a state_dir, we write one cache file), kept per CA pin.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/agents_sim/agents_sim.h"
#include "common/net/https_client.h"
#include "common/pki/pki.h"
#include "common/version.h"

namespace vigil::bench {

namespace fs = std::filesystem;

Result<ConsoleAccess> load_console_access(const fs::path& path) {
  config::YamlReader r(path.string());
  auto root = r.load_file();
  ConsoleAccess c;
  std::string ca_path;
  if (root) {
    config::MapReader m(r, *root, "vigilctl");
    std::string url;
    if (auto v = m.require("console"); v && r.read(v, url, "console")) {
      std::string_view rest = url;
      std::optional<config::Endpoint> ep;
      if (rest.rfind("https://", 0) == 0) {
        rest.remove_prefix(8);
        while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
        ep = config::parse_endpoint(rest);
      }
      if (ep) {
        c.console = *ep;
      } else {
        r.error(v, "console: expected https://HOST:PORT");
      }
    }
    if (auto v = m.require("ca")) r.read_path(v, ca_path, "ca");
    if (auto v = m.require("token")) r.read(v, c.token, "token");
    m.finish();
  }
  if (r.diagnostics().has_errors()) return make_error(r.diagnostics().to_string());
  auto ca = pki::read_file(ca_path);
  if (!ca) return make_error(ca.error());
  c.ca_pem = *ca;
  return c;
}

namespace {

// The CA the collector serves at GET /v1/ca whose pin is `pin` (during a rotation it serves two),
// fetched over a connection that trusts nothing yet, as the agent does before sending a token.
Result<std::string> pinned_ca(const config::Endpoint& agents, const std::string& pin) {
  net::HttpsClientOptions o;
  o.host = agents.host;
  o.port = agents.port;
  o.verify_server = false;
  net::HttpsClient client(o);
  auto r = client.request("GET", "/v1/ca", "");
  if (!r) return make_error(r.error());
  if (r->status != 200) return make_error(fmt::format("the collector answered {} to GET /v1/ca", r->status));
  auto bundle = pki::split_certs(r->body);
  if (!bundle) return make_error("the collector's CA is not a certificate: " + bundle.error());
  for (const auto& pem : *bundle) {
    auto ca = pki::cert_from_pem(pem);
    if (!ca) return make_error("the collector's CA is not a certificate: " + ca.error());
    auto p = pki::spki_pin(*ca);
    if (p && *p == pin) return pem;
  }
  return make_error(
      fmt::format("the collector at {} does not present the CA of pin {} (another collector "
                  "on that port?)",
                  agents.to_string(), pin));
}

// A one-time enrollment token, as `vigilctl tokens create` asks for it.
Result<std::string> create_token(net::HttpsClient& console, const EnrollSetup& s) {
  nlohmann::json body{{"agency", s.agency}, {"level", s.level}, {"ttl_hours", 1}};
  auto r = console.request("POST", "/api/v1/tokens", body.dump(),
                           {{"Authorization", "Bearer " + s.console.token}, {"Content-Type", "application/json"}});
  if (!r) return make_error("console API: " + r.error());
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    return make_error(fmt::format("console API refused a token ({}): {}", r->status, r->body.substr(0, 200)));
  }
  return j["token"].get<std::string>();
}

// One enrollment: the pin check, a key and CSR made here, token and CSR over a connection verified
// against the pinned CA.
Result<SimIdentity> enroll_one(const EnrollSetup& s, const std::string& token, const std::string& host) {
  auto pinned = pinned_ca(s.agents, s.ca_pin);
  if (!pinned) return make_error(pinned.error());
  auto key = pki::generate_key();
  if (!key) return make_error(key.error());
  auto csr = pki::make_csr(*key, host);
  if (!csr) return make_error(csr.error());
  auto csr_pem = pki::to_pem(*csr);
  auto key_pem = pki::to_pem(*key);
  if (!csr_pem || !key_pem) return make_error("cannot encode the key or the CSR");
  net::HttpsClientOptions o;
  o.host = s.agents.host;
  o.port = s.agents.port;
  o.tls.ca_pem = *pinned;
  net::HttpsClient client(o);
  nlohmann::json body{{"token", token}, {"csr", *csr_pem}, {"host", host}, {"version", kVersion}};
  auto r = client.request("POST", "/v1/enroll", body.dump(), {{"Content-Type", "application/json"}});
  if (!r) return make_error(r.error());
  auto answer = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    std::string why = answer.is_object() && answer.contains("error") && answer["error"].is_string()
                          ? answer["error"].get<std::string>()
                          : r->body.substr(0, 200);
    return make_error(fmt::format("enrollment refused by the collector ({}): {}", r->status, why));
  }
  if (!answer.is_object() || !answer.contains("agent_id") || !answer["agent_id"].is_string() ||
      !answer.contains("certificate") || !answer["certificate"].is_string()) {
    return make_error("the collector's enrollment answer is malformed");
  }
  return SimIdentity{answer["agent_id"].get<std::string>(), host, *key_pem, answer["certificate"].get<std::string>()};
}

// A cached identity is used when its certificate reads, names the agent and is valid for an hour
// more (this simulator does not renew).
bool usable(const SimIdentity& id) {
  auto cert = pki::cert_from_pem(id.cert_pem);
  if (!cert || pki::common_name(*cert) != id.agent_id) return false;
  auto v = pki::validity(*cert);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  return v && v->first <= now && now + 3600 < v->second && !id.key_pem.empty();
}

// The cache of one CA: identities.jsonl (one JSON object per line, appended), 0600, in a 0700
// directory, locked for the run so two simulators never share identities.
class Cache {
 public:
  static Result<Cache> open(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    Cache c;
    c.path_ = dir / "identities.jsonl";
    c.fd_ = ::open(c.path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (c.fd_ < 0) return make_error(fmt::format("cannot open {}: {}", c.path_.string(), std::strerror(errno)));
    if (::flock(c.fd_, LOCK_EX | LOCK_NB) != 0) {
      return make_error(fmt::format("{} is in use by another agents_sim", c.path_.string()));
    }
    return c;
  }
  Cache() = default;
  Cache(Cache&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)) {}
  Cache& operator=(Cache&&) = delete;
  ~Cache() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Every well-formed line; `dropped` counts the others and the unusable identities.
  std::vector<SimIdentity> read(size_t& dropped) const {
    std::vector<SimIdentity> out;
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      auto text = [&](const char* key) {
        return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
      };
      SimIdentity id{text("agent_id"), text("host"), text("key"), text("cert")};
      if (id.agent_id.empty() || !usable(id)) {
        ++dropped;
        continue;
      }
      out.push_back(std::move(id));
    }
    return out;
  }

  Result<void> append(const SimIdentity& id) {
    std::string line =
        nlohmann::json{{"agent_id", id.agent_id}, {"host", id.host}, {"key", id.key_pem}, {"cert", id.cert_pem}}
            .dump() +
        "\n";
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return make_error(fmt::format("cannot write {}: {}", path_.string(), std::strerror(errno)));
    }
    return {};
  }

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  int fd_ = -1;
};

}  // namespace

Result<EnrollOutcome> load_or_enroll(const EnrollSetup& setup, size_t n) {
  const auto started = std::chrono::steady_clock::now();
  if (setup.ca_pin.rfind("sha256:", 0) != 0) return make_error("the CA pin is not sha256:<hex>");
  auto cache = Cache::open(setup.cache_dir / setup.ca_pin.substr(7));
  if (!cache) return make_error(cache.error());
  EnrollOutcome out;
  // The CA, checked against the pin: what every connection of the run is verified with.
  auto pinned = pinned_ca(setup.agents, setup.ca_pin);
  if (!pinned) return make_error(pinned.error());
  out.ca_pem = *pinned;

  std::vector<SimIdentity> cached = cache->read(out.cache_dropped);
  if (cached.size() > n) cached.resize(n);
  out.reused = cached.size();
  out.identities = std::move(cached);
  // Host names go on from the highest cached one, so a host never names two agents.
  size_t next_host = out.identities.size();
  for (const auto& id : out.identities) {
    unsigned k = 0;
    if (std::sscanf(id.host.c_str(), "sim-%u", &k) == 1) next_host = std::max<size_t>(next_host, k);
  }
  const size_t missing = n - out.identities.size();
  if (missing > 0) {
    std::printf("enrolling %zu agents (%zu from the cache %s)\n", missing, out.reused, cache->path().c_str());
    std::fflush(stdout);
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // out and the cache
  auto work = [&] {
    net::HttpsClientOptions co;
    co.host = setup.console.console.host;
    co.port = setup.console.console.port;
    co.tls.ca_pem = setup.console.ca_pem;
    net::HttpsClient console(co);
    while (!stop) {
      const size_t i = next++;
      if (i >= missing) break;
      const std::string host = fmt::format("sim-{:05}", next_host + i + 1);
      auto token = create_token(console, setup);
      auto id = token ? enroll_one(setup, *token, host) : Result<SimIdentity>(make_error(token.error()));
      std::lock_guard lock(mutex);
      if (!id) {
        out.errors.push_back(fmt::format("{}: {}", host, id.error()));
        stop = true;  // the run needs all of them
        break;
      }
      if (auto w = cache->append(*id); !w) {
        out.errors.push_back(w.error());
        stop = true;
        break;
      }
      out.identities.push_back(std::move(*id));
      ++out.enrolled;
      if (out.enrolled % 500 == 0) {
        std::printf("  %zu of %zu enrolled\n", out.enrolled, missing);
        std::fflush(stdout);
      }
    }
  };
  std::vector<std::thread> workers;
  const unsigned w =
      std::max(1u, std::min<unsigned>(setup.workers, static_cast<unsigned>(std::max<size_t>(missing, 1))));
  for (unsigned k = 0; missing > 0 && k < w; ++k) workers.emplace_back(work);
  for (auto& t : workers) t.join();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

}  // namespace vigil::bench
