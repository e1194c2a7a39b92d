// Agent groups and their bundles (routes in endpoints.cpp; shared/DESIGN.md "Groups and bundles").
#include <fmt/format.h>

#include "collector/api/routes/common.h"
#include "collector/api/routes/endpoints.h"
#include "collector/fleet/bundle_builder.h"
#include "common/fleet/bundle.h"
#include "common/log/logging.h"
#include "common/pki/pki.h"

namespace vigil::collector::routes {

namespace {

nlohmann::json group_json(const GroupRecord& g) {
  return {{"name", g.name},
          {"description", g.description},
          {"version", g.version},
          {"agents", g.agents},
          {"created", g.created.to_string()}};
}

nlohmann::json bundle_json(const BundleRecord& b) {
  return {{"group", b.group},
          {"version", b.version},
          {"sha256", b.sha256},
          {"author", b.author},
          {"message", b.message},
          {"created", b.created.to_string()},
          {"rollback_of", b.rollback_of}};
}

struct FoundGroup {
  std::optional<GroupRecord> group;
  net::HttpResponse refusal;
};
FoundGroup find_group(const Call& c) {
  const std::string& name = c.capture("name");
  auto g = c.env.store.get_group(name);
  if (!g) return {std::nullopt, error(503, "store unavailable")};
  if (!g->has_value()) return {std::nullopt, error(404, "no group " + name)};
  return {std::move(*g), {}};
}

// Signs and stores `bundle` as the group's next version (the number is filled in).
Result<BundleRecord> store_signed(const Call& c, fleet::Bundle bundle) {
  auto key = c.env.signing_key;
  return c.env.store.add_bundle(bundle.group, [&](int64_t version) -> Result<BundleRecord> {
    bundle.version = version;
    auto doc = fleet::to_document(bundle);
    if (!doc) return make_error(doc.error());
    if (doc->size() > fleet::kMaxDocumentBytes) {
      return make_error(fmt::format("the bundle is {} bytes once encoded; agents take at most {}", doc->size(),
                                    fleet::kMaxDocumentBytes));
    }
    auto sig = pki::sign_hex(*key, *doc);
    if (!sig) return make_error(sig.error());
    BundleRecord r;
    r.group = bundle.group;
    r.version = version;
    r.sha256 = pki::sha256_hex(*doc);
    r.signature = *sig;
    r.content = std::move(*doc);
    r.author = bundle.author;
    r.message = bundle.message;
    r.created = Timestamp::now();
    r.rollback_of = bundle.rollback_of;
    return r;
  });
}

// An admin limited to some agencies manages a group other than `default` when every agent in it
// (revoked ones too) is in those agencies (an empty group: yes); the others refused with why.
std::optional<net::HttpResponse> not_managed(const Call& c, const std::string& group) {
  if (c.caller.agencies.empty()) return std::nullopt;
  // Every new agent without a group joins `default`: only an admin of every agency manages it.
  if (group == kDefaultGroup) return error(403, "the default group is managed by admins without agency limits");
  auto agents = c.env.store.list_agents();
  if (!agents) return error(503, "store unavailable");
  for (const auto& a : *agents) {
    if (a.group == group && !c.caller.sees(a.agency)) {
      return error(403, "group " + group + " has agents of agencies you are not limited to");
    }
  }
  return std::nullopt;
}

std::optional<net::HttpResponse> no_signing_key(const Call& c) {
  if (c.env.signing_key) return std::nullopt;
  return error(503, "this collector has no bundle signing key: " + c.env.signing_key_problem);
}

// The group of the path for a push or a rollback: a signing key, the group, and a caller who
// manages it; else the refusal.
FoundGroup group_to_change(const Call& c) {
  if (auto refused = no_signing_key(c)) return {std::nullopt, *refused};
  FoundGroup found = find_group(c);
  if (!found.group) return found;
  if (auto refused = not_managed(c, found.group->name)) return {std::nullopt, *refused};
  return found;
}

}  // namespace

std::optional<net::HttpResponse> group_not_managed(const Call& c, const std::string& group) {
  return not_managed(c, group);
}

net::HttpResponse list_groups(const Call& c) {
  auto groups = c.env.store.list_groups();
  if (!groups) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : *groups) out.push_back(group_json(g));
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse create_group(const Call& c) {
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("name") || !body["name"].is_string()) {
    return error(400, "expected {\"name\": string, \"description\": string}");
  }
  std::string name = body["name"].get<std::string>();
  std::string description = body.contains("description") && body["description"].is_string()
                                ? body["description"].get<std::string>()
                                : std::string();
  if (!valid_user_name(name)) return error(400, "name: 1 to 64 of A-Z a-z 0-9 . _ @ -");
  if (!clean_name(description, 500) && !description.empty()) {
    return error(400, "description: at most 500 characters, no control characters");
  }
  auto added = c.env.store.add_group(name, description);
  if (!added) return error(503, "store unavailable");
  if (!*added) return error(409, "group " + name + " exists");
  c.env.log->info("group {} created by {}", name, c.caller.name);
  c.env.audit(c.caller.name, "group.create", name, description);
  GroupRecord g;
  g.name = name;
  g.description = description;
  g.created = Timestamp::now();
  return {200, group_json(g).dump(), "application/json", false};
}

net::HttpResponse group_status(const Call& c) {
  FoundGroup found = find_group(c);
  if (!found.group) return found.refusal;
  auto agents = c.env.store.list_agents();
  if (!agents) return error(503, "store unavailable");
  nlohmann::json list = nlohmann::json::array();
  int64_t on_latest = 0;
  for (const auto& a : *agents) {
    if (a.group != found.group->name || a.status != "active" || !c.caller.sees(a.agency)) continue;
    const bool runs_group = a.bundle_group == a.group;
    const int64_t version = runs_group ? a.bundle_version : 0;
    if (version == found.group->version) ++on_latest;
    list.push_back({{"id", a.id},
                    {"host", a.host},
                    {"agency", a.agency},
                    {"agent_version", a.version},
                    {"bundle_group", a.bundle_group},
                    {"bundle_version", version},
                    {"applied_at", a.bundle_applied_at.ns ? a.bundle_applied_at.to_string() : ""},
                    {"error", a.bundle_error},
                    {"last_seen", a.last_seen.to_string()}});
  }
  nlohmann::json out{{"group", found.group->name},
                     {"description", found.group->description},
                     {"version", found.group->version},
                     {"agents", std::move(list)},
                     {"on_latest", on_latest}};
  return {200, out.dump(), "application/json", false};
}

net::HttpResponse group_history(const Call& c) {
  FoundGroup found = find_group(c);
  if (!found.group) return found.refusal;
  auto bundles = c.env.store.list_bundles(found.group->name);
  if (!bundles) return error(503, "store unavailable");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : *bundles) out.push_back(bundle_json(b));
  return {200, out.dump(), "application/json", false};
}

// {files: [{path, content}], message} -> {group, version, sha256}; 422 {error, problems: [...]}
// when the agent's loaders refuse a file (each problem `path:line:column: message`).
net::HttpResponse push_bundle(const Call& c) {
  FoundGroup found = group_to_change(c);
  if (!found.group) return found.refusal;
  auto body = request_json(c.request.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("files") || !body["files"].is_array()) {
    return error(400, "expected {\"files\": [{\"path\": ..., \"content\": ...}], \"message\": string}");
  }
  fleet::Bundle bundle;
  bundle.group = found.group->name;
  bundle.author = c.caller.name;
  bundle.created = Timestamp::now().to_string();
  if (body.contains("message") && body["message"].is_string()) bundle.message = body["message"].get<std::string>();
  if (bundle.message.size() > 1000) return error(400, "message: at most 1000 characters");
  for (const auto& f : body["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("content") ||
        !f["content"].is_string()) {
      return error(400, "each file is {\"path\": string, \"content\": string}");
    }
    bundle.files.push_back({f["path"].get<std::string>(), f["content"].get<std::string>()});
  }
  static const compliance::LoadedFrameworks kNone;
  auto valid = validate_bundle_files(bundle.files, c.env.frameworks ? *c.env.frameworks : kNone);
  if (!valid) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& line : split_lines(valid.error())) {
      if (!line.empty()) problems.push_back(line);
    }
    c.env.log->warn("bundle for group {} pushed by {} refused: {} problem(s)", bundle.group, c.caller.name,
                    problems.size());
    return {422,
            nlohmann::json{{"error", fmt::format("the bundle was refused: {} problem(s)", problems.size())},
                           {"problems", std::move(problems)}}
                .dump(),
            "application/json", false};
  }
  const size_t files = bundle.files.size();
  auto stored = store_signed(c, std::move(bundle));
  if (!stored) {
    c.env.log->error("storing a bundle for group {} failed: {}", found.group->name, stored.error());
    return error(503, "storing the bundle failed: " + stored.error());
  }
  c.env.log->info("group {}: version {} pushed by {} ({} files, sha256 {})", stored->group, stored->version,
                  c.caller.name, files, stored->sha256);
  c.env.audit(
      c.caller.name, "group.push", stored->group,
      fmt::format("version {}, {} files, sha256 {}: {}", stored->version, files, stored->sha256, stored->message));
  return {200,
          nlohmann::json{{"group", stored->group}, {"version", stored->version}, {"sha256", stored->sha256}}.dump(),
          "application/json", false};
}

// {to?} -> {group, version, sha256, rollback_of}: version `to` (default: the one before the current)
// made current again under a new number, so agents never go backwards in numbering.
net::HttpResponse rollback_group(const Call& c) {
  FoundGroup found = group_to_change(c);
  if (!found.group) return found.refusal;
  auto body = request_json(c.request.body);
  if (!c.request.body.empty() && (body.is_discarded() || !body.is_object())) return error(400, "expected {\"to\": N}");
  int64_t to = found.group->version - 1;
  if (body.is_object() && body.contains("to")) {
    if (!body["to"].is_number_integer()) return error(400, "to: a version number");
    to = body["to"].get<int64_t>();
  }
  if (to < 1 || to >= found.group->version) {
    return error(400, fmt::format("to: a version from 1 to {} (the current is {})", found.group->version - 1,
                                  found.group->version));
  }
  auto old = c.env.store.get_bundle(found.group->name, to);
  if (!old) return error(503, "store unavailable");
  if (!old->has_value()) return error(404, fmt::format("group {} has no version {}", found.group->name, to));
  if (pki::sha256_hex((*old)->content) != (*old)->sha256) {
    c.env.log->error("group {}: version {}: its stored hash no longer matches its content (changed in storage)",
                     found.group->name, to);
    return error(409, fmt::format("version {} changed in storage since it was pushed: not rolled back to", to));
  }
  // Re-signed only what this collector signed for this group and version, and what still loads:
  // a row rewritten in storage (content and hash together) is refused, not laundered.
  auto pub = pki::public_pem(*c.env.signing_key);
  if (!pub) return error(500, pub.error());
  if (auto ok = pki::verify_hex(*pub, (*old)->content, (*old)->signature); !ok) {
    c.env.log->error(
        "group {}: version {}: its stored signature does not verify with this collector's key "
        "(changed in storage, or signed with another key)",
        found.group->name, to);
    return error(409,
                 fmt::format("version {} does not verify with this collector's signing key: not rolled back to", to));
  }
  auto parsed = fleet::from_document((*old)->content);
  if (!parsed) return error(500, "version " + std::to_string(to) + " does not read: " + parsed.error());
  if (parsed->group != found.group->name || parsed->version != to) {
    return error(409, fmt::format("the stored version {} is signed as group '{}' version {}", to, parsed->group,
                                  parsed->version));
  }
  static const compliance::LoadedFrameworks kNone;
  if (auto valid = validate_bundle_files(parsed->files, c.env.frameworks ? *c.env.frameworks : kNone); !valid) {
    return error(422, fmt::format("version {} no longer passes the checks of a push:\n{}", to, valid.error()));
  }
  fleet::Bundle bundle = std::move(*parsed);
  bundle.author = c.caller.name;
  bundle.created = Timestamp::now().to_string();
  bundle.message = fmt::format("rollback to version {}", to);
  bundle.rollback_of = to;
  auto stored = store_signed(c, std::move(bundle));
  if (!stored) return error(503, "storing the bundle failed: " + stored.error());
  c.env.log->info("group {}: version {} restores version {} (rollback by {})", stored->group, stored->version, to,
                  c.caller.name);
  c.env.audit(c.caller.name, "group.rollback", stored->group,
              fmt::format("version {} restores version {}", stored->version, to));
  return {200,
          nlohmann::json{
              {"group", stored->group}, {"version", stored->version}, {"sha256", stored->sha256}, {"rollback_of", to}}
              .dump(),
          "application/json", false};
}

}  // namespace vigil::collector::routes
