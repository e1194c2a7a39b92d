// The console API's routing: a table of {method, pattern, role, scope, handler}, matched and
// checked in one place. Patterns are path templates whose `{name}` segments capture one path
// segment each (url-decoded, never empty): "/api/v1/agents/{id}/revoke". The console's own table
// is routes/endpoints.cpp; this file knows nothing of its endpoints.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net/http_types.h"

namespace vigil::collector {

// Who is calling: an API token ("token:NAME") or a logged-in user.
struct Principal {
  std::string name;
  std::string role;
  std::vector<std::string> agencies;  // empty: every agency
  std::string session_hash;           // set when authenticated by a session
  bool sees(const std::string& agency) const;
};

namespace routes {

struct Env;  // what handlers work with (routes/common.h)

// Which roles may call an endpoint.
enum class Role { any, not_auditor, admin, admin_or_auditor };
// Whether a caller limited to some agencies may call it at all (unlimited: no), or the handler
// answers for the agencies the caller sees (per_agency).
enum class Scope { per_agency, unlimited };

using Query = std::map<std::string, std::string>;
using Captures = std::vector<std::pair<std::string, std::string>>;  // {name, decoded segment}

// One request as a handler sees it, after authentication and the role and scope checks.
struct Call {
  Env& env;
  const net::HttpRequest& request;
  const Principal& caller;
  const Query& query;
  const Captures& captures;
  // The segment the pattern captured as {name}; throws std::logic_error when it has none.
  const std::string& capture(std::string_view name) const;
};

// A handler's type; `Handler list_agents, get_agent;` declares two (routes/endpoints.h).
using Handler = net::HttpResponse(const Call&);

struct Route {
  std::string_view method;
  std::string_view pattern;
  Role role;
  Scope scope;
  Handler* handler;
  std::string_view refused = {};  // the 403's message; empty: one said by role and scope
};

class RouteTable {
 public:
  // Throws std::invalid_argument naming the entry when a pattern is malformed (not starting with
  // '/', an empty or repeated capture name, a brace inside a segment), a method is empty, or two
  // entries of one method could match the same path ("/a/{x}" and "/a/b" could).
  explicit RouteTable(std::vector<Route> routes);

  struct Match {
    const Route* route = nullptr;       // the entry for the method and path; null when none
    Captures captures;                  // its captured segments
    std::vector<std::string> allowed;   // route null: the methods the path has (none: no such path)
  };
  Match match(std::string_view method, std::string_view path) const;

  // The message refusing `p` the route, empty when `p` may call it.
  static std::string refusal(const Route& route, const Principal& p);

  // Matches, answers 404 (no such path), 405 (with Allow) or 403 (role or scope), else calls the
  // handler.
  net::HttpResponse dispatch(Env& env, const net::HttpRequest& request, const Principal& caller,
                             std::string_view path, const Query& query) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Segment {
    std::string text;  // the literal, or the capture's name
    bool capture = false;
  };
  std::vector<Route> routes_;
  std::vector<std::vector<Segment>> segments_;  // per route
};

}  // namespace routes
}  // namespace vigil::collector
