#include "agent/fleet/bundle_client.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/event/fields.h"
#include "common/fleet/bundle.h"
#include "common/ingest/bounded_json.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::agent::fleet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSigningKeyFile = "signing-key.pub";

std::string bundle_dir_name(const std::string& group, int64_t version) { return fmt::format("{}-{}", group, version); }

}  // namespace

BundleClient::BundleClient(std::string state_dir)
    : state_dir_(std::move(state_dir)),
      dir_((fs::path(state_dir_) / "bundles").string()),
      log_(logging::get("bundle")) {}

void BundleClient::load() {
  std::lock_guard lock(mutex_);
  if (auto key = pki::read_file(fs::path(state_dir_) / kSigningKeyFile)) signing_key_ = *key;
  auto text = pki::read_file(fs::path(dir_) / "current.json");
  if (!text) return;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("group") || !j["group"].is_string() || !j.contains("version") ||
      !j["version"].is_number_integer()) {
    log_->warn("{}/current.json is malformed: running without a group bundle until the collector sends one", dir_);
    return;
  }
  if (auto h = j.find("high"); h != j.end() && h->is_object()) {
    for (const auto& [g, v] : h->items()) {
      if (::vigil::fleet::valid_group_name(g) && v.is_number_integer() && high_.size() < 1000)
        high_[g] = v.get<int64_t>();
    }
  }
  StagedBundle b;
  b.group = j["group"].get<std::string>();
  b.version = j["version"].get<int64_t>();
  b.sha256 = j.value("sha256", "");
  if (!::vigil::fleet::valid_group_name(b.group)) {
    log_->warn("{}/current.json names no valid group: running without a group bundle", dir_);
    return;
  }
  high_[b.group] = std::max(high_[b.group], b.version);
  if (b.version > 0) {
    b.dir = (fs::path(dir_) / bundle_dir_name(b.group, b.version)).string();
    std::error_code ec;
    if (!fs::is_directory(b.dir, ec)) {
      log_->warn("the files of group {} version {} are gone from {}: fetching it again", b.group, b.version, dir_);
      return;
    }
  }
  running_ = b;
  applied_at_ = j.value("applied_at", "");
  result_ = "applied";
}

bool BundleClient::ensure_signing_key(const Fetch& fetch) {
  {
    std::lock_guard lock(mutex_);
    if (!signing_key_.empty()) return true;
  }
  // Enrolled before this collector signed bundles: the key over this mutual-TLS connection, which
  // the CA pinned at enrollment vouches for; kept from then on.
  auto got = fetch("/v1/signing-key");
  if (!got || got->first != 200) return false;
  if (got->second.size() > 4096 || got->second.find("-----BEGIN PUBLIC KEY-----") == std::string::npos) return false;
  if (auto w = pki::write_file(fs::path(state_dir_) / kSigningKeyFile, got->second, false); !w) {
    log_->warn("cannot keep the collector's signing key: {}", w.error());
  }
  log_->info("the collector's bundle signing key is {}", pki::key_fingerprint(got->second));
  std::lock_guard lock(mutex_);
  signing_key_ = got->second;
  return true;
}

void BundleClient::refuse(const std::string& group, int64_t version, const std::string& reason) {
  std::lock_guard lock(mutex_);
  log_->warn("bundle of group {} version {} refused: {}; the agent keeps running {}", group, version, reason,
             running_.version > 0 ? fmt::format("group {} version {}", running_.group, running_.version)
                                  : std::string("without a group bundle"));
  refused_group_ = group;
  refused_version_ = version;
  result_ = "rejected: " + reason;
}

void BundleClient::on_answer(std::string_view answer, const Fetch& fetch) {
  auto parsed = ingest::parse_bounded_json(answer, 4);
  if (!parsed || !parsed->is_object()) return;
  auto it = parsed->find("bundle");
  if (it == parsed->end() || !it->is_object()) return;
  const auto& b = *it;
  if (!b.contains("group") || !b["group"].is_string() || !b.contains("version") || !b["version"].is_number_integer()) {
    return;
  }
  const std::string group = b["group"].get<std::string>();
  const int64_t version = b["version"].get<int64_t>();
  // Version 0 (the group has nothing pushed yet) is unsigned: it changes nothing here, and the
  // agent keeps what it runs until a signed version comes.
  if (version <= 0 || !::vigil::fleet::valid_group_name(group)) return;
  {
    std::lock_guard lock(mutex_);
    auto same = [&](const std::optional<StagedBundle>& x) { return x && x->group == group && x->version == version; };
    if (same(staged_) || same(applying_)) return;
    if (running_.group == group && running_.version == version) return;
    if (refused_group_ == group && refused_version_ == version) return;
  }
  if (!ensure_signing_key(fetch)) {
    // Fetched again with the next answer; nothing to refuse yet.
    log_->warn("group {} has version {}, but the collector's signing key could not be fetched", group, version);
    return;
  }
  (void)fetch_and_stage(group, version, fetch);
}

Result<StagedBundle> BundleClient::fetch_and_stage(const std::string& group, int64_t version, const Fetch& fetch) {
  auto got = fetch("/v1/bundle");
  if (!got || got->first != 200) {
    // A passing failure: tried again with the next answer.
    std::string why = !got ? got.error() : fmt::format("the collector answered {}", got->first);
    log_->warn("fetching the bundle of group {} version {} failed: {}", group, version, why);
    return make_error(why);
  }
  auto envelope = ::vigil::fleet::from_envelope(got->second);
  if (!envelope) {
    refuse(group, version, envelope.error());
    return make_error(envelope.error());
  }
  std::string key;
  int64_t high = 0;
  {
    std::lock_guard lock(mutex_);
    key = signing_key_;
    if (auto it = high_.find(group); it != high_.end()) high = it->second;
  }
  auto bundle = ::vigil::fleet::verify(*envelope, key, group, group, high);
  if (!bundle) {
    refuse(envelope->group, envelope->version, bundle.error());
    return make_error(bundle.error());
  }
  // Written whole under a staging name, then renamed: a crash leaves no half bundle in use.
  std::error_code ec;
  const fs::path staging = fs::path(dir_) / ".staging";
  const fs::path target = fs::path(dir_) / bundle_dir_name(bundle->group, bundle->version);
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  for (const auto& f : bundle->files) {
    const fs::path out = staging / f.path;  // paths were checked: relative, under rules/ or policies/
    fs::create_directories(out.parent_path(), ec);
    if (auto w = pki::write_file(out, f.content, false); !w) {
      log_->error("staging the bundle of group {} version {} failed: {}", bundle->group, bundle->version, w.error());
      return make_error(w.error());
    }
  }
  // Renamed into place and handed over under the lock: the main loop never sees half of it, and
  // never removes it while it waits to be applied.
  std::lock_guard lock(mutex_);
  if (applying_ && applying_->dir == target.string()) return make_error("that version is being applied");
  fs::remove_all(target, ec);
  fs::rename(staging, target, ec);
  if (ec) {
    log_->error("staging the bundle of group {} version {} failed: {}", bundle->group, bundle->version, ec.message());
    return make_error(ec.message());
  }
  log_->info("bundle of group {} version {} verified ({} files, sha256 {}): applying it", bundle->group,
             bundle->version, bundle->files.size(), envelope->sha256);
  StagedBundle staged{bundle->group, bundle->version, envelope->sha256, target.string()};
  staged_ = staged;
  return staged;
}

std::optional<StagedBundle> BundleClient::take_staged() {
  std::lock_guard lock(mutex_);
  auto out = std::move(staged_);
  staged_.reset();
  applying_ = out;
  return out;
}

void BundleClient::retry_refused() {
  std::lock_guard lock(mutex_);
  refused_version_ = -1;
  refused_group_.clear();
}

void BundleClient::set_result(const std::string& result) {
  std::lock_guard lock(mutex_);
  result_ = result;
}

void BundleClient::applied(const StagedBundle& b) {
  std::lock_guard lock(mutex_);
  applying_.reset();
  running_ = b;
  applied_at_ = Timestamp::now().to_string();
  result_ = "applied";
  refused_version_ = -1;
  high_[b.group] = std::max(high_[b.group], b.version);
  nlohmann::json high = nlohmann::json::object();
  for (const auto& [g, v] : high_) high[g] = v;
  nlohmann::json current{{"group", b.group},
                         {"version", b.version},
                         {"sha256", b.sha256},
                         {"applied_at", applied_at_},
                         {"high", std::move(high)}};
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (auto w = pki::write_file(fs::path(dir_) / "current.json", current.dump() + "\n", false); !w) {
    log_->error("cannot record the bundle that runs: {}", w.error());
  }
  // Other versions' files go, but not what the shipper is staging or has staged meanwhile.
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string p = entry.path().string();
    if (!entry.is_directory() || p == b.dir || entry.path().filename() == ".staging" ||
        (staged_ && p == staged_->dir)) {
      continue;
    }
    fs::remove_all(entry.path(), ec);
  }
  if (b.version > 0) {
    log_->info("bundle of group {} version {} applied", b.group, b.version);
  } else {
    log_->info("group {} has no bundle: running without one", b.group);
  }
}

void BundleClient::rejected(const StagedBundle& b, const std::string& reason) {
  refuse(b.group, b.version, reason);
  std::lock_guard lock(mutex_);
  applying_.reset();
  std::error_code ec;
  if (!b.dir.empty() && b.dir != running_.dir && !(staged_ && staged_->dir == b.dir)) fs::remove_all(b.dir, ec);
}

BundleParts parts_of(const std::string& dir) {
  BundleParts out;
  if (dir.empty()) return out;
  std::error_code ec;
  if (fs::is_directory(fs::path(dir) / "rules", ec)) out.rules.push_back((fs::path(dir) / "rules").string());
  if (fs::is_directory(fs::path(dir) / "policies", ec)) out.policies.push_back((fs::path(dir) / "policies").string());
  const fs::path overlay = fs::path(dir) / std::string(::vigil::fleet::kOverlayPath);
  if (fs::is_regular_file(overlay, ec)) out.overlay = overlay.string();
  return out;
}

BundleParts BundleClient::parts() const {
  std::lock_guard lock(mutex_);
  return parts_of(running_.dir);
}

void BundleClient::put_health(Event& h) const {
  std::lock_guard lock(mutex_);
  h.set(field("vigil.bundle.group"), running_.group);
  h.set(field("vigil.bundle.version"), running_.version);
  h.set(field("vigil.bundle.applied_at"), applied_at_);
  h.set(field("vigil.bundle.result"), result_);
}

}  // namespace vigil::agent::fleet
