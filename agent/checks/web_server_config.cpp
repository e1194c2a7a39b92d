#include "agent/checks/web_server_config.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "agent/checks/host.h"

namespace vigil::agent::checks {

const std::vector<std::string>& tls_protocol_names() {
  static const std::vector<std::string> kNames = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
  return kNames;
}

namespace {

using Server = WebServerProbe::Server;

bool iequals(std::string_view a, std::string_view b) { return to_lower(a) == to_lower(b); }

std::optional<size_t> protocol_index(std::string_view name) {
  const auto& names = tls_protocol_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (iequals(names[i], name)) return i;
  }
  return std::nullopt;
}

std::vector<std::string> names_of(unsigned mask) {
  std::vector<std::string> out;
  for (size_t i = 0; i < tls_protocol_names().size(); ++i) {
    if (mask & (1u << i)) out.push_back(tls_protocol_names()[i]);
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = " ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? std::string(sep) : "") + v[i];
  return out;
}

// One server of the configuration: its own directives (not those of locations or directories)
// and where to fall back when it sets nothing.
struct Site {
  std::string label;
  std::vector<const ConfNode*> own;  // its directives, in order
  const ConfNode* block = nullptr;   // null: the main server (Apache) or the global context
  bool tls = false;
  bool is_public = true;
};

struct Model {
  Server server = Server::nginx;
  std::vector<const ConfNode*> global;  // nginx: main then http; Apache: the main server configuration
  std::vector<Site> sites;
  const ConfNode* root = nullptr;

  bool key_is(const ConfNode& n, std::string_view key) const {
    return server == Server::apache ? iequals(n.name(), key) : n.name() == key;
  }
  const ConfNode* last_of(const std::vector<const ConfNode*>& v, std::string_view key) const {
    const ConfNode* out = nullptr;
    for (const auto* n : v) {
      if (!n->block && key_is(*n, key)) out = n;
    }
    return out;
  }
  const ConfNode* effective(const Site& s, std::string_view key) const {
    if (const auto* n = last_of(s.own, key)) return n;
    return last_of(global, key);
  }
};

bool loopback_address(std::string addr) {
  addr = to_lower(addr);
  if (addr.rfind("unix:", 0) == 0) return true;  // a local socket is not reachable from the network
  return addr.rfind("127.", 0) == 0 || addr.rfind("[::1]", 0) == 0 || addr.rfind("localhost", 0) == 0;
}

// Apache: the directives of a section with <If...> sections read as if their condition held.
void flatten(const ConfNode& n, std::vector<const ConfNode*>& out) {
  for (const auto& c : n.children) {
    if (c.block && to_lower(c.name()).rfind("if", 0) == 0) {
      flatten(c, out);
    } else {
      out.push_back(&c);
    }
  }
}

Model build_model(Server server, const ConfNode& root) {
  Model m;
  m.server = server;
  m.root = &root;
  if (server == Server::nginx) {
    std::vector<const ConfNode*> http;
    for (const auto& c : root.children) {
      if (c.block && c.name() == "http")
        http.push_back(&c);
      else if (!c.block)
        m.global.push_back(&c);
    }
    for (const auto* h : http) {
      for (const auto& c : h->children) {
        if (!c.block) m.global.push_back(&c);
      }
    }
    for (const auto* h : http) {
      for (const auto& c : h->children) {
        if (!c.block || c.name() != "server") continue;
        Site s;
        s.block = &c;
        for (const auto& d : c.children) {
          if (!d.block) s.own.push_back(&d);
        }
        std::string names;
        bool any_listen = false, all_local = true;
        for (const auto* d : s.own) {
          if (d->name() == "server_name") names = d->args();
          if (d->name() == "listen" && d->words.size() >= 2) {
            any_listen = true;
            if (!loopback_address(d->words[1])) all_local = false;
            for (size_t i = 2; i < d->words.size(); ++i) {
              if (d->words[i] == "ssl" || d->words[i] == "quic") s.tls = true;
            }
          }
        }
        if (const auto* ssl = m.effective(s, "ssl"); ssl && ssl->words.size() >= 2 && ssl->words[1] == "on")
          s.tls = true;
        s.is_public = !any_listen || !all_local;
        s.label = fmt::format("server at {}{}", c.where(), names.empty() ? "" : " (" + names + ")");
        m.sites.push_back(std::move(s));
      }
    }
    return m;
  }
  std::vector<const ConfNode*> top;
  flatten(root, top);
  for (const auto* c : top) {
    if (!c->block) m.global.push_back(c);
  }
  Site main_server;
  main_server.label = "main server";
  if (const auto* e = m.last_of(m.global, "SSLEngine"); e && e->words.size() >= 2 && iequals(e->words[1], "on")) {
    main_server.tls = true;
    m.sites.push_back(main_server);
  }
  for (const auto* c : top) {
    if (!c->block || !iequals(c->name(), "VirtualHost")) continue;
    Site s;
    s.block = c;
    std::vector<const ConfNode*> inside;
    flatten(*c, inside);
    for (const auto* d : inside) {
      if (!d->block) s.own.push_back(d);
    }
    bool all_local = c->words.size() > 1;
    for (size_t i = 1; i < c->words.size(); ++i) {
      if (!loopback_address(c->words[i])) all_local = false;
    }
    s.is_public = !all_local;
    std::string names;
    if (const auto* n = m.last_of(s.own, "ServerName")) names = n->args();
    if (const auto* e = m.effective(s, "SSLEngine"); e && e->words.size() >= 2 && iequals(e->words[1], "on"))
      s.tls = true;
    s.label = fmt::format("<VirtualHost {}> at {}{}", c->args(), c->where(), names.empty() ? "" : " (" + names + ")");
    m.sites.push_back(std::move(s));
  }
  return m;
}

ProbeResult tls_protocols(const WebServerProbe& p, const Model& m, const std::optional<std::string>& version) {
  auto min = protocol_index(p.min_tls);
  if (!min) return {Outcome::error, fmt::format("unknown protocol {}", p.min_tls)};
  const bool nginx = p.server == Server::nginx;
  const char* key = nginx ? "ssl_protocols" : "SSLProtocol";
  std::vector<std::string> bad, good;
  size_t tls_sites = 0;
  for (const auto& s : m.sites) {
    if (!s.tls) continue;
    ++tls_sites;
    std::vector<std::string> args;
    std::string source;
    if (const auto* d = m.effective(s, key)) {
      args.assign(d->words.begin() + 1, d->words.end());
      source = fmt::format("{} {} ({})", key, d->args(), d->where());
    } else if (nginx) {
      bool safe = version && p.default_safe_since && compare_debian_versions(*version, *p.default_safe_since) >= 0;
      args = safe ? std::vector<std::string>{"TLSv1.2", "TLSv1.3"}
                  : std::vector<std::string>{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
      source = fmt::format("{} not set: the built-in default of nginx {} is {}", key,
                           version ? *version : "(version unknown)", join(args));
    } else {
      args = {"all", "-SSLv3"};
      source = fmt::format("{} not set: the built-in default is all -SSLv3", key);
    }
    auto set = nginx ? nginx_tls_protocols(args) : apache_tls_protocols(args);
    if (!set) return {Outcome::error, fmt::format("{}: {}", s.label, set.error())};
    std::vector<std::string> below;
    for (const auto& name : *set) {
      if (*protocol_index(name) < *min) below.push_back(name);
    }
    if (below.empty()) {
      good.push_back(fmt::format("{}: {}", s.label, source));
    } else {
      bad.push_back(fmt::format("{}: {} allows {}", s.label, source, join(below)));
    }
  }
  if (tls_sites == 0) return {Outcome::not_applicable, "no TLS server is configured"};
  if (!bad.empty()) return {Outcome::fail, fmt::format("{} (expected nothing below {})", join(bad, "; "), p.min_tls)};
  return {Outcome::pass, join(good, "; ")};
}

std::optional<long long> hsts_max_age(std::string_view value) {
  std::string v = to_lower(value);
  auto at = v.find("max-age");
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + 7;
  while (i < v.size() && (v[i] == ' ' || v[i] == '=' || v[i] == '"')) ++i;
  size_t j = i;
  while (j < v.size() && std::isdigit(static_cast<unsigned char>(v[j]))) ++j;
  return parse_int(std::string_view(v).substr(i, j - i));
}

// The Strict-Transport-Security header a site sends, as "value (file:line)", or nullopt.
std::optional<std::pair<const ConfNode*, std::string>> hsts_header(const Model& m, const Site& s) {
  if (m.server == Server::nginx) {
    // add_header directives are inherited from http only when the server has none of its own.
    bool own = std::any_of(s.own.begin(), s.own.end(), [](const ConfNode* n) { return n->name() == "add_header"; });
    const auto& list = own ? s.own : m.global;
    for (const auto* n : list) {
      if (n->name() == "add_header" && n->words.size() >= 3 && iequals(n->words[1], "Strict-Transport-Security")) {
        return std::make_pair(n, n->words[2]);
      }
    }
    return std::nullopt;
  }
  // Header [always|onsuccess] set|add|append|merge|setifempty Strict-Transport-Security value
  for (const auto* list : {&s.own, &m.global}) {
    for (const auto* n : *list) {
      if (n->block || !iequals(n->name(), "Header")) continue;
      size_t i = 1;
      if (i < n->words.size() && (iequals(n->words[i], "always") || iequals(n->words[i], "onsuccess"))) ++i;
      if (i + 2 >= n->words.size()) continue;
      static const char* kActions[] = {"set", "add", "append", "merge", "setifempty"};
      if (std::none_of(std::begin(kActions), std::end(kActions),
                       [&](const char* a) { return iequals(n->words[i], a); }))
        continue;
      if (!iequals(n->words[i + 1], "Strict-Transport-Security")) continue;
      return std::make_pair(n, n->words[i + 2]);
    }
  }
  return std::nullopt;
}

ProbeResult hsts(const WebServerProbe& p, const Model& m) {
  std::vector<std::string> bad, good;
  size_t sites = 0;
  for (const auto& s : m.sites) {
    if (!s.tls || !s.is_public) continue;
    ++sites;
    auto h = hsts_header(m, s);
    if (!h) {
      bad.push_back(fmt::format("{}: no Strict-Transport-Security header", s.label));
      continue;
    }
    auto age = hsts_max_age(h->second);
    if (!age || *age < p.min_max_age) {
      bad.push_back(fmt::format("{}: Strict-Transport-Security \"{}\" ({}): max-age below {}", s.label, h->second,
                                h->first->where(), p.min_max_age));
      continue;
    }
    good.push_back(fmt::format("{}: Strict-Transport-Security \"{}\" ({})", s.label, h->second, h->first->where()));
  }
  if (sites == 0) return {Outcome::not_applicable, "no TLS server reachable from the network is configured"};
  if (!bad.empty()) return {Outcome::fail, join(bad, "; ")};
  return {Outcome::pass, join(good, "; ")};
}

void every_occurrence(const Model& m, const ConfNode& n, std::string_view key, std::vector<const ConfNode*>& out) {
  for (const auto& c : n.children) {
    if (!c.block && m.key_is(c, key)) out.push_back(&c);
    if (c.block) every_occurrence(m, c, key, out);
  }
}

ProbeResult directive(const WebServerProbe& p, const Model& m) {
  std::vector<std::string> bad, good;
  auto judge = [&](const std::string& where, const ConfNode* n) {
    std::string value, e;
    if (n) {
      value = n->args();
      e = fmt::format("{}{}: {}", where.empty() ? "" : where + ": ", n->where(), n->text());
    } else if (p.default_value) {
      value = *p.default_value;
      e = fmt::format("{}{} not set; default '{}'", where.empty() ? "" : where + ": ", p.key, *p.default_value);
    } else {
      bad.push_back(fmt::format("{}{} is not set", where.empty() ? "" : where + ": ", p.key));
      return;
    }
    if (p.compare.test(value))
      good.push_back(e);
    else
      bad.push_back(fmt::format("{} (expected {})", e, p.compare.describe()));
  };
  using Scope = WebServerProbe::Scope;
  if (p.scope == Scope::everywhere) {
    std::vector<const ConfNode*> all;
    every_occurrence(m, *m.root, p.key, all);
    if (all.empty() && !p.default_value) return {Outcome::pass, fmt::format("{} is not set anywhere", p.key)};
    if (all.empty()) judge("", nullptr);
    for (const auto* n : all) judge("", n);
  } else if (p.scope == Scope::servers && !m.sites.empty()) {
    for (const auto& s : m.sites) judge(s.label, m.effective(s, p.key));  // what each server uses
  } else {
    judge("", m.last_of(m.global, p.key));
  }
  if (!bad.empty()) return {Outcome::fail, join(bad, "; ")};
  return {Outcome::pass, join(good, "; ")};
}

}  // namespace

Result<std::vector<std::string>> nginx_tls_protocols(const std::vector<std::string>& args) {
  unsigned mask = 0;
  for (const auto& a : args) {
    auto i = protocol_index(a);
    if (!i) return make_error(fmt::format("unknown protocol '{}' in ssl_protocols", a));
    mask |= 1u << *i;
  }
  return names_of(mask);
}

Result<std::vector<std::string>> apache_tls_protocols(const std::vector<std::string>& args) {
  const unsigned all = (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5);  // SSLv3 .. TLSv1.3
  unsigned mask = 0;
  for (const auto& a : args) {
    std::string_view w = a;
    char action = 0;
    if (!w.empty() && (w.front() == '+' || w.front() == '-')) {
      action = w.front();
      w.remove_prefix(1);
    }
    unsigned bits = 0;
    if (iequals(w, "all")) {
      bits = all;
    } else if (auto i = protocol_index(w)) {
      bits = 1u << *i;
    } else {
      return make_error(fmt::format("unknown protocol '{}' in SSLProtocol", a));
    }
    if (action == '-')
      mask &= ~bits;
    else if (action == '+')
      mask |= bits;
    else
      mask = bits;  // a word without + or - replaces what came before
  }
  return names_of(mask);
}

ProbeResult evaluate_web_server(const WebServerProbe& p, const ConfNode& root,
                                const std::optional<std::string>& version) {
  Model m = build_model(p.server, root);
  switch (p.kind) {
    case WebServerProbe::Kind::tls_protocols:
      return tls_protocols(p, m, version);
    case WebServerProbe::Kind::hsts:
      return hsts(p, m);
    case WebServerProbe::Kind::directive:
      return directive(p, m);
  }
  return {Outcome::error, "unknown web server check"};
}

}  // namespace vigil::agent::checks
