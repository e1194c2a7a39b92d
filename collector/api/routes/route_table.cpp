#include "collector/api/routes/route_table.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "collector/api/routes/common.h"

namespace vigil::collector {

bool Principal::sees(const std::string& agency) const {
  if (agencies.empty()) return true;
  for (const auto& a : agencies) {
    if (a == agency) return true;
  }
  return false;
}

namespace routes {

namespace {

// "/a/b" -> {"a", "b"}; "/" -> {""}. The path is not empty and starts with '/'.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

// "GET", "GET or POST", "GET, POST or PUT".
std::string one_of(const std::vector<std::string>& methods) {
  std::string out;
  for (size_t i = 0; i < methods.size(); ++i) {
    if (i > 0) out += i + 1 == methods.size() ? " or " : ", ";
    out += methods[i];
  }
  return out;
}

}  // namespace

const std::string& Call::capture(std::string_view name) const {
  for (const auto& [k, v] : captures) {
    if (k == name) return v;
  }
  throw std::logic_error(fmt::format("{} {}: the route captures no {{{}}}", request.method, request.target, name));
}

RouteTable::RouteTable(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (const Route& r : routes_) {
    const std::string entry = fmt::format("route {} {}", r.method, r.pattern);
    if (r.method.empty()) throw std::invalid_argument(entry + ": no method");
    if (!r.handler) throw std::invalid_argument(entry + ": no handler");
    if (r.pattern.empty() || r.pattern[0] != '/') throw std::invalid_argument(entry + ": the pattern must start with '/'");
    std::vector<Segment> segments;
    std::set<std::string, std::less<>> names;
    for (std::string_view s : split_path(r.pattern)) {
      if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
        std::string name(s.substr(1, s.size() - 2));
        if (name.empty() || name.find_first_of("{}") != std::string::npos) {
          throw std::invalid_argument(entry + ": a capture needs a name, {name}");
        }
        if (!names.insert(name).second) throw std::invalid_argument(entry + ": {" + name + "} captured twice");
        segments.push_back({std::move(name), true});
      } else {
        if (s.find_first_of("{}") != std::string_view::npos) {
          throw std::invalid_argument(entry + ": a capture is a whole segment, {name}");
        }
        segments.push_back({std::string(s), false});
      }
    }
    segments_.push_back(std::move(segments));
  }
  // No two entries of one method may match one path: which of them answers would hang on their order.
  for (size_t i = 0; i < routes_.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (routes_[i].method != routes_[j].method || segments_[i].size() != segments_[j].size()) continue;
      bool disjoint = false;
      for (size_t k = 0; k < segments_[i].size() && !disjoint; ++k) {
        const Segment& a = segments_[i][k];
        const Segment& b = segments_[j][k];
        disjoint = !a.capture && !b.capture && a.text != b.text;
      }
      if (!disjoint) {
        throw std::invalid_argument(fmt::format("routes {} {} and {} {} can match the same path", routes_[j].method,
                                                routes_[j].pattern, routes_[i].method, routes_[i].pattern));
      }
    }
  }
}

RouteTable::Match RouteTable::match(std::string_view method, std::string_view path) const {
  Match out;
  if (path.empty() || path[0] != '/') return out;
  const std::vector<std::string_view> parts = split_path(path);
  Captures captures;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const std::vector<Segment>& pattern = segments_[i];
    if (pattern.size() != parts.size()) continue;
    captures.clear();
    bool matched = true;
    for (size_t k = 0; k < parts.size() && matched; ++k) {
      if (!pattern[k].capture) {
        matched = pattern[k].text == parts[k];
        continue;
      }
      // An empty segment or a broken escape names nothing.
      auto value = parts[k].empty() ? std::nullopt : url_decode(parts[k]);
      matched = value.has_value();
      if (matched) captures.emplace_back(pattern[k].text, std::move(*value));
    }
    if (!matched) continue;
    if (routes_[i].method == method) {
      out.route = &routes_[i];
      out.captures = std::move(captures);
      out.allowed.clear();
      return out;
    }
    out.allowed.emplace_back(routes_[i].method);
  }
  std::sort(out.allowed.begin(), out.allowed.end());
  out.allowed.erase(std::unique(out.allowed.begin(), out.allowed.end()), out.allowed.end());
  return out;
}

std::string RouteTable::refusal(const Route& route, const Principal& p) {
  bool role_ok = true;
  std::string roles;
  switch (route.role) {
    case Role::any:
      break;
    case Role::not_auditor:
      role_ok = p.role != "auditor";
      roles = "the admin or analyst role";
      break;
    case Role::admin:
      role_ok = p.role == "admin";
      roles = "the admin role";
      break;
    case Role::admin_or_auditor:
      role_ok = p.role == "admin" || p.role == "auditor";
      roles = "the admin or auditor role";
      break;
  }
  const bool scope_ok = route.scope == Scope::per_agency || p.agencies.empty();
  if (role_ok && scope_ok) return {};
  if (!route.refused.empty()) return std::string(route.refused);
  if (route.scope == Scope::per_agency) return "this needs " + roles;
  if (roles.empty()) return "this covers every agency: not for a caller limited to some";
  return "this needs " + roles + " without agency limits";
}

net::HttpResponse RouteTable::dispatch(Env& env, const net::HttpRequest& request, const Principal& caller,
                                       std::string_view path, const Query& query) const {
  Match m = match(request.method, path);
  if (!m.route) {
    if (m.allowed.empty()) return error(404, "no such endpoint");
    net::HttpResponse resp = error(405, m.allowed.size() == 1 ? m.allowed[0] + " only" : one_of(m.allowed));
    std::string allow;
    for (const auto& method : m.allowed) allow += (allow.empty() ? "" : ", ") + method;
    resp.headers.emplace_back("Allow", std::move(allow));
    return resp;
  }
  if (std::string refused = refusal(*m.route, caller); !refused.empty()) return error(403, refused);
  return m.route->handler(Call{env, request, caller, query, m.captures});
}

}  // namespace routes
}  // namespace vigil::collector
