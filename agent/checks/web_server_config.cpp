#include "agent/checks/web_server_config.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "agent/checks/host.h"

namespace vigil::agent::checks {

const std::vector<std::string>& tls_protocol_names() {
  static const std::vector<std::string> kNames = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
  return kNames;
}

const std::vector<std::string>& nginx_packages() {
  static const std::vector<std::string> kNames = {"nginx", "nginx-core", "nginx-light", "nginx-full", "nginx-extras"};
  return kNames;
}

namespace {

using Server = WebServerProbe::Server;

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

// One server of the configuration: its own directives (not those of locations or directories)
// and where to fall back when it sets nothing.
struct Site {
  std::string label;
  std::vector<const ConfNode*> own;       // its directives, in order
  std::vector<const ConfNode*> fallback;  // where a directive it does not set comes from, in order
  const ConfNode* block = nullptr;        // null: the main server (Apache) or the global context
  bool tls = false;
  bool is_public = true;
  bool http = true;  // nginx: false for the servers of `stream` and `mail`
};

struct Model {
  Server server = Server::nginx;
  std::vector<const ConfNode*> global;  // nginx: main then http; Apache: the main server configuration
  std::vector<Site> sites;
  const ConfNode* root = nullptr;
  // Apache: directives read from a conditional section whose condition is not known here
  // (<IfVersion>, <IfDefine>, <If>, <Else>...): read as if it held, but only one of the
  // alternatives applies.
  std::set<const ConfNode*> conditional;

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
    return last_of(s.fallback, key);
  }
  // Every value the site may end up with: the effective directive and, while it comes from an
  // unresolved conditional section, the ones it would replace. A trailing null: the built-in default.
  std::vector<const ConfNode*> candidates(const Site& s, std::string_view key) const {
    std::vector<const ConfNode*> seq;
    for (const auto* list : {&s.fallback, &s.own}) {
      for (const auto* n : *list) {
        if (!n->block && key_is(*n, key)) seq.push_back(n);
      }
    }
    std::vector<const ConfNode*> out;
    for (auto it = seq.rbegin(); it != seq.rend(); ++it) {
      out.push_back(*it);
      if (!conditional.count(*it)) return out;
    }
    out.push_back(nullptr);
    return out;
  }
};

bool loopback_address(std::string addr) {
  addr = to_lower(addr);
  if (addr.rfind("unix:", 0) == 0) return true;  // a local socket is not reachable from the network
  return addr.rfind("127.", 0) == 0 || addr.rfind("[::1]", 0) == 0 || addr.rfind("localhost", 0) == 0;
}

// Apache: the modules the configuration loads (LoadModule anywhere in the tree, by identifier,
// ssl_module) and those Debian's apache2 has built in (apache2 -l).
void loaded_modules(const ConfNode& n, std::set<std::string>& out) {
  for (const auto& c : n.children) {
    if (c.block) {
      loaded_modules(c, out);
    } else if (iequals(c.name(), "LoadModule") && c.words.size() >= 2) {
      out.insert(to_lower(c.words[1]));
    }
  }
}

// `mod_headers.c` and `headers_module` name the same module.
std::string module_identifier(std::string_view name) {
  std::string n = to_lower(name);
  if (n.size() > 2 && n.ends_with(".c")) {
    n.resize(n.size() - 2);
    if (n.rfind("mod_", 0) == 0) n = n.substr(4);
    return n + "_module";
  }
  return n;
}

struct Sections {
  std::set<std::string> modules;
  std::set<const ConfNode*>* conditional;
};

// Apache: the directives of a section with its conditional sections expanded: <IfModule> as the
// loaded modules decide, the others (<IfVersion>, <IfDefine>, <If>...) read as if their condition
// held and their directives marked conditional.
void flatten(const ConfNode& n, std::vector<const ConfNode*>& out, const Sections& sx, bool in_conditional = false) {
  for (const auto& c : n.children) {
    if (c.block && iequals(c.name(), "IfModule")) {
      std::string_view arg = c.words.size() >= 2 ? std::string_view(c.words[1]) : std::string_view();
      bool negate = !arg.empty() && arg.front() == '!';
      if (negate) arg.remove_prefix(1);
      if (sx.modules.count(module_identifier(arg)) != negate) flatten(c, out, sx, in_conditional);
    } else if (c.block && to_lower(c.name()).rfind("if", 0) == 0) {
      flatten(c, out, sx, true);
    } else if (c.block && to_lower(c.name()).rfind("else", 0) == 0) {
      flatten(c, out, sx, true);
    } else {
      if (in_conditional) sx.conditional->insert(&c);
      out.push_back(&c);
    }
  }
}

// nginx: the `server` blocks of a context (http, stream, mail) with its directives and the main
// context's as fallback.
void nginx_sites(Model& m, const std::vector<const ConfNode*>& main, const ConfNode& ctx, bool http) {
  std::vector<const ConfNode*> fallback = main;
  for (const auto& c : ctx.children) {
    if (!c.block) fallback.push_back(&c);
  }
  for (const auto& c : ctx.children) {
    if (!c.block || c.name() != "server") continue;
    Site s;
    s.block = &c;
    s.http = http;
    s.fallback = fallback;
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
    if (const auto* ssl = m.effective(s, "ssl"); ssl && ssl->words.size() >= 2 && ssl->words[1] == "on") s.tls = true;
    if (ctx.name() == "mail") {  // STARTTLS negotiates TLS on the plain port
      if (const auto* st = m.effective(s, "starttls"); st && st->words.size() >= 2 && st->words[1] != "off")
        s.tls = true;
    }
    s.is_public = !any_listen || !all_local;
    s.label = fmt::format("{}server at {}{}", http ? "" : ctx.name() + " ", c.where(),
                          names.empty() ? "" : " (" + names + ")");
    m.sites.push_back(std::move(s));
  }
}

Model build_model(Server server, const ConfNode& root) {
  Model m;
  m.server = server;
  m.root = &root;
  if (server == Server::nginx) {
    std::vector<const ConfNode*> main;
    for (const auto& c : root.children) {
      if (!c.block) main.push_back(&c);
    }
    m.global = main;
    for (const auto& c : root.children) {
      if (c.block && c.name() == "http") {
        for (const auto& d : c.children) {
          if (!d.block) m.global.push_back(&d);
        }
      }
    }
    for (const char* ctx : {"http", "stream", "mail"}) {
      for (const auto& c : root.children) {
        if (c.block && c.name() == ctx) nginx_sites(m, main, c, std::string_view(ctx) == "http");
      }
    }
    return m;
  }
  Sections sx{{"core_module", "so_module", "watchdog_module", "http_core_module", "log_config_module", "logio_module",
               "version_module", "unixd_module"},
              &m.conditional};
  loaded_modules(root, sx.modules);
  std::vector<const ConfNode*> top;
  flatten(root, top, sx);
  for (const auto* c : top) {
    if (!c->block) m.global.push_back(c);
  }
  Site main_server;
  main_server.label = "main server";
  main_server.fallback = m.global;
  if (const auto* e = m.last_of(m.global, "SSLEngine"); e && e->words.size() >= 2 && iequals(e->words[1], "on")) {
    main_server.tls = true;
    m.sites.push_back(main_server);
  }
  for (const auto* c : top) {
    if (!c->block || !iequals(c->name(), "VirtualHost")) continue;
    Site s;
    s.block = c;
    s.fallback = m.global;
    std::vector<const ConfNode*> inside;
    flatten(*c, inside, sx);
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
    // Apache: a value from an unresolved conditional section may not apply; every alternative must pass.
    std::vector<const ConfNode*> options =
        nginx ? std::vector<const ConfNode*>{m.effective(s, key)} : m.candidates(s, key);
    std::vector<std::string> site_bad, site_good;
    for (const auto* d : options) {
      std::vector<std::string> args;
      std::string source;
      if (d) {
        args.assign(d->words.begin() + 1, d->words.end());
        source = fmt::format("{} {} ({}{})", key, d->args(), d->where(), m.conditional.count(d) ? ", conditional" : "");
      } else if (nginx) {
        bool safe = version && p.default_safe_since && compare_debian_versions(*version, *p.default_safe_since) >= 0;
        args = safe ? std::vector<std::string>{"TLSv1.2", "TLSv1.3"}
                    : std::vector<std::string>{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
        source = fmt::format("{} not set: the built-in default of nginx {} is {}", key,
                             version ? *version : "(version unknown)", join(args, " "));
      } else {
        args = {"all", "-SSLv3"};
        source = fmt::format("{} not set{}: the built-in default is all -SSLv3", key,
                             options.size() > 1 ? " outside conditional sections" : "");
      }
      auto set = nginx ? nginx_tls_protocols(args) : apache_tls_protocols(args);
      if (!set) return {Outcome::error, fmt::format("{}: {}", s.label, set.error())};
      std::vector<std::string> below;
      for (const auto& name : *set) {
        if (*protocol_index(name) < *min) below.push_back(name);
      }
      if (below.empty()) {
        site_good.push_back(source);
      } else {
        site_bad.push_back(fmt::format("{} allows {}", source, join(below, " ")));
      }
    }
    if (site_bad.empty()) {
      good.push_back(fmt::format("{}: {}", s.label, join(site_good, "; ")));
    } else {
      bad.push_back(fmt::format("{}: {}", s.label, join(site_bad, "; ")));
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

struct Hsts {
  std::string context;               // where requests get this header: the server, or a location in it
  const ConfNode* header = nullptr;  // null: no Strict-Transport-Security header
  std::string value;
};

// nginx: the first Strict-Transport-Security among the add_header directives of a context.
Hsts nginx_hsts_of(std::string context, const std::vector<const ConfNode*>& headers) {
  for (const auto* n : headers) {
    if (n->words.size() >= 3 && iequals(n->words[1], "Strict-Transport-Security"))
      return {std::move(context), n, n->words[2]};
  }
  return {std::move(context), nullptr, {}};
}

std::vector<const ConfNode*> add_headers_of(const ConfNode& block) {
  std::vector<const ConfNode*> out;
  for (const auto& c : block.children) {
    if (!c.block && c.name() == "add_header") out.push_back(&c);
  }
  return out;
}

// nginx: a location (or an `if` in it) with any add_header of its own inherits none from above;
// without, it inherits the enclosing context's.
void nginx_locations(const ConfNode& block, const std::vector<const ConfNode*>& inherited, std::vector<Hsts>& out) {
  for (const auto& c : block.children) {
    if (!c.block || (c.name() != "location" && c.name() != "if")) continue;
    auto own = add_headers_of(c);
    const auto& effective = own.empty() ? inherited : own;
    out.push_back(nginx_hsts_of(fmt::format("{} {} ({})", c.name(), c.args(), c.where()), effective));
    nginx_locations(c, effective, out);
  }
}

// Apache: the Header directives of the main server then of the virtual host replayed in order
// (set, add, append, merge, setifempty, unset), for the `always` and the `onsuccess` table apart;
// what each table holds at the end is sent.
std::vector<Hsts> apache_hsts(const Site& s) {
  std::optional<std::pair<const ConfNode*, std::string>> table[2];  // onsuccess, always
  for (const auto* list : {&s.fallback, &s.own}) {
    for (const auto* n : *list) {
      if (n->block || !iequals(n->name(), "Header")) continue;
      size_t i = 1;
      int t = 0;
      if (i < n->words.size() && iequals(n->words[i], "always")) {
        t = 1;
        ++i;
      } else if (i < n->words.size() && iequals(n->words[i], "onsuccess")) {
        ++i;
      }
      if (i + 1 >= n->words.size() || !iequals(n->words[i + 1], "Strict-Transport-Security")) continue;
      const std::string action = to_lower(n->words[i]);
      auto& cur = table[t];
      if (action == "unset") {
        cur.reset();
        continue;
      }
      if (i + 2 >= n->words.size()) continue;
      const std::string& v = n->words[i + 2];
      if (action == "set") {
        cur = std::make_pair(n, v);
      } else if (action == "add" || action == "setifempty") {
        if (!cur) cur = std::make_pair(n, v);  // add: a second header; browsers take the first
      } else if (action == "append" || action == "merge") {
        if (!cur) {
          cur = std::make_pair(n, v);
        } else if (action == "append" || cur->second.find(v) == std::string::npos) {
          cur = std::make_pair(n, cur->second + ", " + v);
        }
      }
    }
  }
  std::vector<Hsts> out;
  for (int t : {1, 0}) {
    if (table[t]) out.push_back({"", table[t]->first, table[t]->second});
  }
  if (out.empty()) out.push_back({"", nullptr, {}});
  return out;
}

// Every Strict-Transport-Security header a site's responses may carry, by context.
std::vector<Hsts> hsts_headers(const Model& m, const Site& s) {
  if (m.server == Server::apache) return apache_hsts(s);
  // add_header directives are inherited from http only when the server has none of its own.
  std::vector<const ConfNode*> own, global;
  for (const auto* n : s.own) {
    if (n->name() == "add_header") own.push_back(n);
  }
  for (const auto* n : m.global) {
    if (n->name() == "add_header") global.push_back(n);
  }
  const auto& server = own.empty() ? global : own;
  std::vector<Hsts> out{nginx_hsts_of("", server)};
  if (s.block) nginx_locations(*s.block, server, out);
  return out;
}

ProbeResult hsts(const WebServerProbe& p, const Model& m) {
  std::vector<std::string> bad, good;
  size_t sites = 0;
  for (const auto& s : m.sites) {
    if (!s.tls || !s.is_public || !s.http) continue;
    ++sites;
    for (const auto& h : hsts_headers(m, s)) {
      std::string label = h.context.empty() ? s.label : fmt::format("{}, {}", s.label, h.context);
      if (!h.header) {
        bad.push_back(fmt::format("{}: no Strict-Transport-Security header", label));
        continue;
      }
      auto age = hsts_max_age(h.value);
      if (!age || *age < p.min_max_age) {
        bad.push_back(fmt::format("{}: Strict-Transport-Security \"{}\" ({}): max-age below {}", label, h.value,
                                  h.header->where(), p.min_max_age));
        continue;
      }
      good.push_back(fmt::format("{}: Strict-Transport-Security \"{}\" ({})", label, h.value, h.header->where()));
    }
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
  } else if (p.scope == Scope::servers &&
             std::any_of(m.sites.begin(), m.sites.end(), [](const Site& s) { return s.http; })) {
    for (const auto& s : m.sites) {
      if (s.http) judge(s.label, m.effective(s, p.key));  // what each (http) server uses
    }
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
  // `all`: TLSv1 .. TLSv1.3. mod_ssl's `all` includes SSLv3 only when OpenSSL has it, and Debian's
  // OpenSSL is built with no-ssl3 (httpd 2.4 mod_ssl documentation, SSLProtocol).
  const unsigned all = (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5);
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
