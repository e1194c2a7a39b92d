#include "agent/checks/compliance_runner.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/pki/pki.h"

namespace vigil::agent::checks {

namespace fs = std::filesystem;

namespace {

enum class Kind { policy, framework, other };

// The kind of a YAML file by its top-level keys, read as text so that a policy with a syntax
// error is still a policy (and its error reported with its position) rather than skipped.
Kind yaml_kind(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  for (size_t n = 0; n < 100000 && std::getline(in, line); ++n) {
    if (line.starts_with("policy:")) return Kind::policy;
    if (line.starts_with("framework:")) return Kind::framework;
  }
  return Kind::other;
}

void yaml_files_under(const fs::path& p, std::vector<fs::path>& out) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) {
    if (fs::exists(p, ec)) out.push_back(p);
    return;
  }
  for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto ext = it->path().extension();
    if (it->is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) out.push_back(it->path());
  }
}

std::string canonical_or_same(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? p.string() : c.string();
}

std::string reported_state(const CheckResult& r) {
  return fmt::format("{}\x1f{}", outcome_name(r.outcome), pki::sha256_hex(r.evidence).substr(0, 16));
}

}  // namespace

Result<PolicySet> load_policy_set(const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  config::Diagnostics missing;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      missing.add({config::Diagnostic::Severity::warning, p, 0, 0, "policy path does not exist"});
      continue;
    }
    yaml_files_under(p, files);
  }
  std::set<std::string> seen;
  std::vector<std::string> policy_files;
  std::vector<fs::path> framework_dirs;
  std::vector<std::string> framework_files;
  auto add_framework = [&](const fs::path& f) {
    if (seen.insert(canonical_or_same(f)).second) framework_files.push_back(f.string());
  };
  for (const auto& f : files) {
    switch (yaml_kind(f)) {
      case Kind::policy:
        if (seen.insert(canonical_or_same(f)).second) {
          policy_files.push_back(f.string());
          framework_dirs.emplace_back(default_frameworks_dir(f.string()));
        }
        break;
      case Kind::framework: add_framework(f); break;
      case Kind::other: break;
    }
  }
  for (const auto& dir : framework_dirs) {
    std::vector<fs::path> more;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) yaml_files_under(dir, more);
    for (const auto& f : more) {
      if (yaml_kind(f) == Kind::framework) add_framework(f);
    }
  }
  std::sort(policy_files.begin(), policy_files.end());
  std::sort(framework_files.begin(), framework_files.end());

  PolicySet out;
  out.diagnostics = std::move(missing);
  auto fws = load_frameworks(framework_files);
  if (!fws) return make_error(fws.error());
  out.frameworks = std::move(fws.value());
  for (const auto& d : out.frameworks.diagnostics.items()) out.diagnostics.add(d);
  std::string errors;
  std::set<std::string> ids;
  for (const auto& f : policy_files) {
    auto loaded = load_policy(f, out.frameworks);
    if (!loaded) {
      errors += loaded.error();
      continue;
    }
    for (const auto& d : loaded->diagnostics.items()) out.diagnostics.add(d);
    if (!ids.insert(loaded->policy.id).second) {
      errors += fmt::format("{}: duplicate policy id '{}'\n", f, loaded->policy.id);
      continue;
    }
    out.policies.push_back(std::move(loaded->policy));
  }
  if (!errors.empty()) return make_error(errors);
  return out;
}

ComplianceTracker::ComplianceTracker(fs::path state_file, std::chrono::seconds full_every)
    : file_(std::move(state_file)), full_every_(full_every) {
  std::error_code ec;
  if (!fs::exists(file_, ec)) return;
  auto text = pki::read_file(file_, 64 << 20);
  if (!text) {
    load_warning_ = text.error();
    return;
  }
  try {
    auto doc = nlohmann::json::parse(*text);
    last_full_ms_ = doc.at("last_full_ms").get<int64_t>();
    for (const auto& [k, v] : doc.at("reported").items()) last_[k] = v.get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    load_warning_ = fmt::format("{}: {}; every result will be reported again", file_.string(), e.what());
    last_full_ms_ = 0;
    last_.clear();
  }
}

bool ComplianceTracker::full_due(Timestamp at) const {
  if (last_full_ms_ == 0) return true;
  int64_t now_ms = at.ns / 1'000'000;
  return now_ms - last_full_ms_ >= std::chrono::duration_cast<std::chrono::milliseconds>(full_every_).count() ||
         now_ms < last_full_ms_;  // the clock went back
}

ComplianceTracker::Report ComplianceTracker::report(const Policy& policy, const std::vector<CheckResult>& results,
                                                    const std::string& host_name, Timestamp at) {
  Report out;
  out.full = full_due(at);
  for (const auto& r : results) {
    std::string key = policy.id + '\x1f' + r.check->id;
    std::string now = reported_state(r);
    auto it = last_.find(key);
    bool changed = it == last_.end() || it->second != now;
    if (changed) ++out.changed;
    if (!changed && !out.full) continue;
    Event e = to_event(policy, r, host_name, at);
    e.set(field("vigil.scan.report"), std::string(out.full ? "full" : "change"));
    if (it != last_.end() && changed) {
      e.set(field("vigil.check.previous_result"), it->second.substr(0, it->second.find('\x1f')));
    }
    out.events.push_back(std::move(e));
    if (changed) {
      last_[key] = std::move(now);
      dirty_ = true;
    }
  }
  return out;
}

void ComplianceTracker::full_done(Timestamp at) {
  last_full_ms_ = at.ns / 1'000'000;
  dirty_ = true;
}

Result<void> ComplianceTracker::save() {
  if (!dirty_) return {};
  nlohmann::json doc;
  doc["last_full_ms"] = last_full_ms_;
  doc["reported"] = nlohmann::json::object();
  for (const auto& [k, v] : last_) doc["reported"][k] = v;
  auto r = pki::write_file(file_, doc.dump(), false);
  if (r) dirty_ = false;
  return r;
}

}  // namespace vigil::agent::checks
