#include "agent/checks/compliance_runner.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/config/content_files.h"
#include "common/pki/pki.h"

namespace vigil::agent::checks {

namespace fs = std::filesystem;

namespace {

// "outcome\x1fevidence digest": what the state file remembers of a reported result.
std::string reported_state(std::string_view outcome, const std::string& evidence) {
  return fmt::format("{}\x1f{}", outcome, pki::sha256_hex(evidence).substr(0, 16));
}

}  // namespace

Result<PolicySet> load_policy_set(const std::vector<std::string>& paths) {
  // One walk (common/config/content_files.h); rule files are the rule loader's.
  config::ContentFiles walked;
  std::set<std::string> seen;
  config::walk_content(paths, true, walked, seen);
  config::Diagnostics missing;
  for (const auto& p : walked.missing) {
    missing.add({config::Diagnostic::Severity::warning, p, 0, 0, "policy path does not exist"});
  }
  std::vector<std::string> policy_files;
  std::vector<std::string> framework_files;
  std::vector<std::string> framework_dirs;
  for (const auto& f : walked.files) {
    if (f.kind == config::ContentKind::policy) {
      policy_files.push_back(f.path.string());
      framework_dirs.push_back(default_frameworks_dir(f.path.string()));
    } else if (f.kind == config::ContentKind::framework) {
      framework_files.push_back(f.path.string());
    }
  }
  // The catalogues beside the policies (<policy dir>/../frameworks), where they exist.
  std::error_code ec;
  std::erase_if(framework_dirs, [&](const std::string& d) { return !fs::is_directory(d, ec); });
  config::ContentFiles beside;
  config::walk_content(framework_dirs, true, beside, seen);
  for (const auto& f : beside.of(config::ContentKind::framework)) framework_files.push_back(f.string());
  std::sort(policy_files.begin(), policy_files.end());
  std::sort(framework_files.begin(), framework_files.end());

  PolicySet out;
  out.diagnostics = std::move(missing);
  out.files = policy_files;
  out.files.insert(out.files.end(), framework_files.begin(), framework_files.end());
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
  std::vector<Event> events;
  events.reserve(results.size());
  for (const auto& r : results) events.push_back(to_event(policy, r, host_name, at));
  return report(std::move(events), host_name, at);
}

ComplianceTracker::Report ComplianceTracker::report(std::vector<Event> events, const std::string& host_name,
                                                    Timestamp at, size_t* skipped) {
  Report out;
  out.full = full_due(at);
  static const std::string kNoEvidence;
  for (auto& e : events) {
    const std::string* policy = e.get_string(fields::policy_id);
    const std::string* check = e.get_string(fields::rule_id);
    const std::string* result = e.get_string(fields::check_result);
    if (!policy || !check || !result) {
      if (skipped) ++*skipped;
      continue;
    }
    const std::string* evidence = e.get_string(fields::check_evidence);
    std::string key = *policy + '\x1f' + *check;
    std::string now = reported_state(*result, evidence ? *evidence : kNoEvidence);
    auto it = last_.find(key);
    bool changed = it == last_.end() || it->second != now;
    if (changed) ++out.changed;
    if (!changed && !out.full) continue;
    e.set(fields::timestamp, at);
    if (!host_name.empty()) e.set(fields::host_name, host_name);
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
