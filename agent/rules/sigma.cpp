#include "agent/rules/sigma.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "common/pki/pki.h"

namespace vigil::agent::rules::sigma {

std::string_view builtin_logsources_yaml();  // generated from sigma_logsources.yaml

namespace {

using config::YamlReader;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An unsupported feature: the rule is skipped with this reason.
struct Rejected : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Invalid Sigma, already reported through the reader.
struct Invalid {};

// A Sigma value: literal text and wildcards. `\*`, `\?` and `\\` are escapes; any other
// backslash is a literal backslash.
struct Pattern {
  struct Piece {
    enum class Kind { text, any, one } kind;
    std::string text;
  };
  std::vector<Piece> pieces;
  bool has_wildcards() const {
    return std::any_of(pieces.begin(), pieces.end(), [](const Piece& p) { return p.kind != Piece::Kind::text; });
  }
  std::string literal() const {
    std::string s;
    for (const auto& p : pieces) s += p.text;
    return s;
  }
};

Pattern parse_wildcards(std::string_view v) {
  Pattern p;
  auto text = [&](char c) {
    if (p.pieces.empty() || p.pieces.back().kind != Pattern::Piece::Kind::text) p.pieces.push_back({Pattern::Piece::Kind::text, {}});
    p.pieces.back().text += c;
  };
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size() && (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\')) {
      text(v[++i]);
    } else if (c == '*') {
      p.pieces.push_back({Pattern::Piece::Kind::any, {}});
    } else if (c == '?') {
      p.pieces.push_back({Pattern::Piece::Kind::one, {}});
    } else {
      text(c);
    }
  }
  return p;
}

// windash: every dash or slash that starts a command-line flag, as each of - / – — ―.
std::vector<std::string> windash_variants(const std::string& v) {
  static constexpr std::string_view kDashes[] = {"-", "/", "\u2013", "\u2014", "\u2015"};
  std::vector<std::string> out;
  for (auto dash : kDashes) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
      bool flag_start = (v[i] == '-' || v[i] == '/') && (i == 0 || v[i - 1] == ' ') && i + 1 < v.size() &&
                        std::isalnum(static_cast<unsigned char>(v[i + 1]));
      if (flag_start) {
        s += dash;
      } else {
        s += v[i];
      }
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

struct Modifiers {
  std::string match;  // "", contains, startswith, endswith, re, cidr, gt, gte, lt, lte, exists
  bool all = false;
  bool cased = false;
  bool b64 = false;
  bool b64offset = false;
  bool windash = false;
  std::string re_flags;
};

Modifiers parse_modifiers(const std::vector<std::string_view>& mods) {
  Modifiers m;
  auto set_match = [&](std::string_view x) {
    if (!m.match.empty() && m.match != x) throw Rejected(fmt::format("modifiers '{}' and '{}' together", m.match, x));
    m.match = std::string(x);
  };
  for (auto raw : mods) {
    std::string mod = lower(raw);
    if (mod == "contains" || mod == "startswith" || mod == "endswith" || mod == "re" || mod == "cidr" ||
        mod == "gt" || mod == "gte" || mod == "lt" || mod == "lte" || mod == "exists") {
      set_match(mod);
    } else if (mod == "all") {
      m.all = true;
    } else if (mod == "cased") {
      m.cased = true;
    } else if (mod == "base64") {
      m.b64 = true;
    } else if (mod == "base64offset") {
      m.b64offset = true;
    } else if (mod == "windash") {
      m.windash = true;
    } else if (mod == "i" || mod == "m" || mod == "s") {
      m.re_flags += mod;
    } else if (mod == "utf16le" || mod == "utf16be" || mod == "utf16" || mod == "wide") {
      throw Rejected(fmt::format("modifier '{}' encodes Windows event data; our events are text", mod));
    } else if (mod == "expand") {
      throw Rejected("placeholders (modifier 'expand') are not supported");
    } else if (mod == "fieldref") {
      throw Rejected("modifier 'fieldref' (comparing two fields) is not supported");
    } else {
      throw Rejected(fmt::format("unknown modifier '{}'", raw));
    }
  }
  if (!m.re_flags.empty() && m.match != "re") throw Rejected("modifiers i, m and s apply to 're' only");
  if ((m.b64 || m.b64offset) && !m.match.empty() && m.match != "contains" && m.match != "startswith" &&
      m.match != "endswith") {
    throw Rejected(fmt::format("base64 with '{}'", m.match));
  }
  if (m.b64 && m.b64offset) throw Rejected("base64 and base64offset together");
  return m;
}

Condition null_condition(FieldId f) {
  Condition absent;
  absent.kind = Condition::Kind::field;
  absent.field = f;
  absent.op = Condition::Op::exists;
  absent.exists = false;
  Condition empty;
  empty.kind = Condition::Kind::field;
  empty.field = f;
  empty.op = Condition::Op::equals;
  empty.strings = {""};
  Condition any;
  any.kind = Condition::Kind::any;
  any.children = {std::move(absent), std::move(empty)};
  return any;
}

Condition combine(Condition::Kind kind, std::vector<Condition> parts) {
  if (parts.size() == 1) return std::move(parts[0]);
  Condition c;
  c.kind = kind;
  c.children = std::move(parts);
  return c;
}

std::shared_ptr<const RE2> compile_regex(const std::string& pattern, bool case_sensitive) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_case_sensitive(case_sensitive);
  opts.set_dot_nl(true);
  auto re = std::make_shared<RE2>(pattern, opts);
  if (!re->ok()) throw Rejected(fmt::format("regular expression '{}' is not supported by RE2: {}", pattern, re->error()));
  return re;
}

// The string matchers of one field's values: literals of one operation share a condition, wildcard
// values share one regular expression (an alternation), so a long keyword list costs one pass each.
class StringBucket {
 public:
  StringBucket(FieldId f, Condition::Op op) : field_(f), op_(op) {}

  void add(const std::string& value, bool cased, bool wildcards) {
    Pattern p = wildcards ? parse_wildcards(value) : Pattern{{{Pattern::Piece::Kind::text, value}}};
    if (!p.has_wildcards()) {
      auto& strings = cased ? cased_ : uncased_;
      strings.push_back(cased ? p.literal() : lower(p.literal()));
      return;
    }
    std::string re;
    if (op_ == Condition::Op::equals || op_ == Condition::Op::startswith) re += '^';
    for (const auto& piece : p.pieces) {
      switch (piece.kind) {
        case Pattern::Piece::Kind::text: re += RE2::QuoteMeta(piece.text); break;
        case Pattern::Piece::Kind::any: re += ".*"; break;
        case Pattern::Piece::Kind::one: re += '.'; break;
      }
    }
    if (op_ == Condition::Op::equals || op_ == Condition::Op::endswith) re += '$';
    (cased ? cased_re_ : uncased_re_).push_back(std::move(re));
  }

  void add_null() { nulls_ = true; }

  void finish(std::vector<Condition>& out) const {
    for (bool cased : {false, true}) {
      const auto& strings = cased ? cased_ : uncased_;
      if (!strings.empty()) {
        Condition c;
        c.kind = Condition::Kind::field;
        c.field = field_;
        c.op = op_;
        c.cased = cased;
        c.strings = strings;
        out.push_back(std::move(c));
      }
      const auto& res = cased ? cased_re_ : uncased_re_;
      if (!res.empty()) {
        std::string alternation;
        for (const auto& r : res) alternation += (alternation.empty() ? "(?:" : "|(?:") + r + ")";
        Condition c;
        c.kind = Condition::Kind::field;
        c.field = field_;
        c.op = Condition::Op::regex;
        c.regexes.push_back(compile_regex(alternation, cased));
        out.push_back(std::move(c));
      }
    }
    if (nulls_) out.push_back(null_condition(field_));
  }

 private:
  FieldId field_;
  Condition::Op op_;
  std::vector<std::string> uncased_, cased_, uncased_re_, cased_re_;
  bool nulls_ = false;
};

Condition::Op string_op(const std::string& match, bool keyword) {
  if (match == "contains") return Condition::Op::contains;
  if (match == "startswith") return Condition::Op::startswith;
  if (match == "endswith") return Condition::Op::endswith;
  return keyword ? Condition::Op::contains : Condition::Op::equals;
}

class Compiler {
 public:
  Compiler(YamlReader& r, const Mappings& m) : r_(r), mappings_(m) {}

  Document compile(const YAML::Node& doc) {
    Document out;
    size_t errors_before = r_.diagnostics().error_count();
    try {
      if (!doc.IsMap()) {
        r_.error(doc, "a Sigma document is a mapping (title, logsource, detection, ...)");
        throw Invalid{};
      }
      if (doc["action"]) throw Rejected("rule collections ('action: global/reset/repeat') are not supported");
      read_metadata(doc, out.rule);
      if (doc["correlation"]) {
        if (doc["generate"]) {
          cond_doc_generate_ = doc["generate"];
          has_doc_generate_ = true;
        }
        read_correlation(doc["correlation"], out);
        out.kind = Document::Kind::correlation;
      } else {
        read_detection(doc, out);
        out.kind = Document::Kind::rule;
      }
    } catch (const Rejected& e) {
      out.kind = Document::Kind::rejected;
      out.reason = e.what();
    } catch (const Invalid&) {
      out.kind = Document::Kind::invalid;
    }
    if (r_.diagnostics().error_count() != errors_before) out.kind = Document::Kind::invalid;
    return out;
  }

 private:
  std::string scalar(const YAML::Node& n, std::string_view what, bool required) {
    if (!n) {
      if (required) {
        r_.error(n, fmt::format("missing '{}'", what));
        throw Invalid{};
      }
      return {};
    }
    if (!n.IsScalar()) {
      r_.error(n, fmt::format("{}: expected a value", what));
      throw Invalid{};
    }
    return n.Scalar();
  }

  void read_translation(const YAML::Node& tr, Rule& rule) {
    config::MapReader m(r_, tr, "i18n");
    if (auto vi = m.get("vi")) {
      config::MapReader v(r_, vi, "i18n.vi");
      std::string text;
      if (auto t = v.get("title"); t && r_.read(t, text, "i18n.vi.title")) rule.title.vi = text;
      if (auto d = v.get("description"); d && r_.read(d, text, "i18n.vi.description")) rule.description.vi = text;
      v.finish();
    }
    m.finish();
  }

  void read_metadata(const YAML::Node& doc, Rule& rule) {
    rule.file = r_.file();
    rule.title = i18n::Text::both(scalar(doc["title"], "title", true));
    rule.id = scalar(doc["id"], "id", false);
    rule.name = scalar(doc["name"], "name", false);
    if (rule.id.empty()) rule.id = rule.name;
    if (rule.id.empty()) {
      r_.error(doc, "a Sigma rule needs an id (or a name)");
      throw Invalid{};
    }
    rule.description = i18n::Text::both(scalar(doc["description"], "description", false));
    // Our extension: `i18n: {vi: {title: ..., description: ...}}`; Sigma's own fields stay strings
    // (English) so other Sigma tools read the file as before.
    if (auto tr = doc["i18n"]) read_translation(tr, rule);
    rule.author = scalar(doc["author"], "author", false);
    rule.license = scalar(doc["license"], "license", false);
    // SigmaHQ's rules carry no licence field: they are published under the Detection Rule License.
    if (rule.license.empty()) rule.license = "DRL-1.1";
    std::string level = lower(scalar(doc["level"], "level", false));
    if (level.empty() || level == "medium") {
      rule.severity = Severity::medium;
    } else if (level == "informational") {
      rule.severity = Severity::info;
    } else if (level == "low") {
      rule.severity = Severity::low;
    } else if (level == "high") {
      rule.severity = Severity::high;
    } else if (level == "critical") {
      rule.severity = Severity::critical;
    } else {
      r_.error(doc["level"], fmt::format("level: '{}' is not informational, low, medium, high or critical", level));
      throw Invalid{};
    }
    // Our extension, as on native rules: `compliance: {framework: [control ids]}`.
    if (auto comp = doc["compliance"]) {
      if (!comp.IsMap()) {
        r_.error(comp, "compliance: expected a mapping of framework to control ids");
        throw Invalid{};
      }
      for (auto it = comp.begin(); it != comp.end(); ++it) {
        std::vector<std::string> controls;
        if (it->second.IsScalar()) {
          controls.push_back(it->second.Scalar());
        } else if (!r_.read_list(it->second, controls, "compliance")) {
          throw Invalid{};
        }
        rule.compliance.emplace_back(it->first.as<std::string>(""), std::move(controls));
      }
    }
    if (auto tags = doc["tags"]) {
      if (!tags.IsSequence()) {
        r_.error(tags, "tags: expected a list");
        throw Invalid{};
      }
      for (const auto& t : tags) {
        if (!t.IsScalar()) continue;
        rule.tags.push_back(t.Scalar());
        std::string l = lower(t.Scalar());
        if (l.rfind("attack.t", 0) == 0 && l.size() > 9 && std::isdigit(static_cast<unsigned char>(l[8]))) {
          std::string id = "T" + l.substr(8);
          for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          rule.techniques.push_back(id);
        }
      }
    }
  }

  // ---- detection rules ----

  void read_detection(const YAML::Node& doc, Document& out) {
    auto ls = doc["logsource"];
    if (!ls || !ls.IsMap()) {
      r_.error(ls ? ls : doc, "a Sigma rule needs a logsource mapping");
      throw Invalid{};
    }
    std::string product = lower(scalar(ls["product"], "logsource.product", false));
    std::string category = lower(scalar(ls["category"], "logsource.category", false));
    std::string service = lower(scalar(ls["service"], "logsource.service", false));
    const Logsource* source = mappings_.find(product, category, service);
    if (!source) {
      std::vector<std::string> parts;
      if (!product.empty()) parts.push_back("product: " + product);
      if (!category.empty()) parts.push_back("category: " + category);
      if (!service.empty()) parts.push_back("service: " + service);
      throw Rejected(fmt::format("logsource {{{}}} is not one the agent collects", fmt::join(parts, ", ")));
    }
    logsource_ = source;
    out.logsource = source;

    auto det = doc["detection"];
    if (!det || !det.IsMap()) {
      r_.error(det ? det : doc, "a Sigma rule needs a detection mapping");
      throw Invalid{};
    }
    auto cond = det["condition"];
    if (!cond) {
      r_.error(det, "detection: missing 'condition'");
      throw Invalid{};
    }
    for (auto it = det.begin(); it != det.end(); ++it) {
      std::string name = it->first.as<std::string>("");
      if (name == "condition" || name == "timeframe") continue;
      identifiers_.emplace_back(name, it->second);
    }
    Condition detection;
    if (cond.IsSequence()) {  // a list of conditions: any of them
      std::vector<Condition> alternatives;
      for (const auto& c : cond) alternatives.push_back(parse_condition(c));
      if (alternatives.empty()) {
        r_.error(cond, "condition: empty list");
        throw Invalid{};
      }
      detection = combine(Condition::Kind::any, std::move(alternatives));
    } else {
      detection = parse_condition(cond);
    }

    Rule& rule = out.rule;
    rule.datasets = source->datasets;
    rule.when.kind = Condition::Kind::all;
    Condition ds;
    ds.kind = Condition::Kind::field;
    ds.field = fields::event_dataset;
    ds.op = Condition::Op::equals;
    ds.strings = source->datasets;
    rule.when.children.push_back(std::move(ds));
    for (const auto& [f, values] : source->where) {
      Condition w;
      w.kind = Condition::Kind::field;
      w.field = f;
      w.op = Condition::Op::equals;
      for (const auto& v : values) w.strings.push_back(lower(v));
      rule.when.children.push_back(std::move(w));
    }
    rule.when.children.push_back(std::move(detection));
  }

  FieldId map_field(const std::string& name) {
    auto f = Mappings::resolve(*logsource_, name);
    if (!f) {
      throw Rejected(fmt::format("field '{}' has no mapping for this logsource (it is not in events the agent makes)",
                                 name));
    }
    return *f;
  }

  // One detection identifier's value: a map (AND), a list of maps (OR), or keywords.
  Condition compile_search(const YAML::Node& n, const std::string& name) {
    auto cached = compiled_.find(name);
    if (cached != compiled_.end()) return cached->second;
    Condition c = compile_search_node(n, name);
    compiled_.emplace(name, c);
    return c;
  }

  Condition compile_search_node(const YAML::Node& n, const std::string& name) {
    if (n.IsMap()) return compile_map(n, name);
    if (n.IsSequence()) {
      if (n.size() == 0) {
        r_.error(n, fmt::format("{}: empty list", name));
        throw Invalid{};
      }
      bool maps = n[0].IsMap();
      std::vector<Condition> parts;
      std::vector<YAML::Node> keywords;
      for (const auto& item : n) {
        if (item.IsMap() != maps || item.IsSequence()) {
          r_.error(item, fmt::format("{}: a list holds either field maps or keywords, not both", name));
          throw Invalid{};
        }
        if (maps) {
          parts.push_back(compile_map(item, name));
        } else {
          keywords.push_back(item);
        }
      }
      if (maps) return combine(Condition::Kind::any, std::move(parts));
      return compile_values(logsource_->keywords, {}, keywords, true, name);
    }
    if (n.IsScalar()) return compile_values(logsource_->keywords, {}, {n}, true, name);
    r_.error(n, fmt::format("{}: expected a map of fields, a list, or keywords", name));
    throw Invalid{};
  }

  Condition compile_map(const YAML::Node& n, const std::string& name) {
    std::vector<Condition> parts;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node val = it->second;
      if (!key.IsScalar()) {
        r_.error(key, fmt::format("{}: keys are field names with modifiers", name));
        throw Invalid{};
      }
      std::string_view k = key.Scalar();
      std::vector<std::string_view> pieces;
      size_t start = 0;
      while (true) {
        size_t bar = k.find('|', start);
        pieces.push_back(k.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
        if (bar == std::string_view::npos) break;
        start = bar + 1;
      }
      std::string field_name(pieces[0]);
      Modifiers mods = parse_modifiers({pieces.begin() + 1, pieces.end()});
      bool keyword = field_name.empty();
      FieldId f = keyword ? logsource_->keywords : map_field(field_name);
      std::vector<YAML::Node> values;
      if (val.IsSequence()) {
        for (const auto& v : val) values.push_back(v);
        if (values.empty()) {
          r_.error(val, fmt::format("{}.{}: empty list", name, k));
          throw Invalid{};
        }
      } else {
        values.push_back(val);
      }
      parts.push_back(compile_values(f, mods, values, keyword, fmt::format("{}.{}", name, k)));
    }
    if (parts.empty()) {
      r_.error(n, fmt::format("{}: empty selection", name));
      throw Invalid{};
    }
    return combine(Condition::Kind::all, std::move(parts));
  }

  Condition compile_values(FieldId f, const Modifiers& mods, const std::vector<YAML::Node>& values, bool keyword,
                           const std::string& what) {
    for (const auto& v : values) {
      if (!v.IsScalar() && !v.IsNull()) {
        r_.error(v, fmt::format("{}: expected a value or a list of values", what));
        throw Invalid{};
      }
    }
    auto text = [](const YAML::Node& v) { return v.IsNull() ? std::string() : v.Scalar(); };
    const std::string& m = mods.match;
    const Condition::Kind join = mods.all ? Condition::Kind::all : Condition::Kind::any;
    auto field_cond = [&](Condition::Op op) {
      Condition c;
      c.kind = Condition::Kind::field;
      c.field = f;
      c.op = op;
      c.cased = true;
      return c;
    };

    if (m == "exists") {
      if (values.size() != 1 || !values[0].IsScalar()) throw Rejected(what + ": exists takes true or false");
      std::string b = lower(values[0].Scalar());
      if (b != "true" && b != "false") throw Rejected(what + ": exists takes true or false");
      Condition c = field_cond(Condition::Op::exists);
      c.exists = b == "true";
      return c;
    }
    if (m == "gt" || m == "gte" || m == "lt" || m == "lte") {
      std::vector<Condition> parts;
      for (const auto& v : values) {
        Condition c = field_cond(m == "gt" ? Condition::Op::gt : m == "gte" ? Condition::Op::gte
                                 : m == "lt" ? Condition::Op::lt : Condition::Op::lte);
        std::string s = text(v);
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), c.number);
        if (ec != std::errc() || ptr != s.data() + s.size()) {
          r_.error(v, fmt::format("{}: expected a number", what));
          throw Invalid{};
        }
        parts.push_back(std::move(c));
      }
      return combine(join, std::move(parts));
    }
    if (m == "cidr") {
      std::vector<Condition> parts;
      Condition c = field_cond(Condition::Op::cidr);
      for (const auto& v : values) {
        auto net = parse_cidr(text(v));
        if (!net) {
          r_.error(v, fmt::format("{}: '{}' is not an address or ADDRESS/BITS", what, text(v)));
          throw Invalid{};
        }
        if (mods.all) {
          Condition one = field_cond(Condition::Op::cidr);
          one.cidrs.push_back(*net);
          parts.push_back(std::move(one));
        } else {
          c.cidrs.push_back(*net);
        }
      }
      if (!mods.all) return c;
      return combine(join, std::move(parts));
    }
    if (m == "re") {
      std::vector<Condition> parts;
      std::string flags = mods.re_flags.empty() ? "" : "(?" + mods.re_flags + ")";
      for (const auto& v : values) {
        if (v.IsNull()) throw Rejected(what + ": a regular expression cannot be null");
        RE2::Options opts;
        opts.set_log_errors(false);
        auto re = std::make_shared<RE2>(flags + v.Scalar(), opts);
        if (!re->ok()) {
          throw Rejected(fmt::format("{}: regular expression not supported by RE2: {}", what, re->error()));
        }
        Condition c = field_cond(Condition::Op::regex);
        c.regexes.push_back(std::move(re));
        parts.push_back(std::move(c));
      }
      return combine(join, std::move(parts));
    }

    // String matching: exact, contains, startswith, endswith, with wildcards and transforms.
    const Condition::Op op = string_op(m, keyword);
    auto add_value = [&](StringBucket& bucket, const YAML::Node& v) {
      if (v.IsNull()) {
        if (mods.b64 || mods.b64offset || mods.windash) throw Rejected(what + ": null with a transforming modifier");
        bucket.add_null();
        return;
      }
      std::vector<std::string> variants = mods.windash ? windash_variants(v.Scalar()) : std::vector<std::string>{v.Scalar()};
      for (const auto& variant : variants) {
        if (mods.b64 || mods.b64offset) {
          // The value is encoded as written (escapes resolved); base64 text is case-sensitive.
          std::string plain = parse_wildcards(variant).literal();
          if (parse_wildcards(variant).has_wildcards()) throw Rejected(what + ": wildcards inside a base64 value");
          if (mods.b64) {
            std::string enc = pki::base64(plain);
            if (op != Condition::Op::equals) {
              while (!enc.empty() && enc.back() == '=') enc.pop_back();
            }
            bucket.add(enc, true, false);
          } else {
            for (const auto& enc : base64_offsets(plain)) bucket.add(enc, true, false);
          }
        } else {
          bucket.add(variant, mods.cased, true);
        }
      }
    };
    if (!mods.all || values.size() == 1) {
      StringBucket bucket(f, op);
      for (const auto& v : values) add_value(bucket, v);
      std::vector<Condition> parts;
      bucket.finish(parts);
      return combine(Condition::Kind::any, std::move(parts));
    }
    std::vector<Condition> parts;
    for (const auto& v : values) {
      StringBucket bucket(f, op);
      add_value(bucket, v);
      std::vector<Condition> alternatives;
      bucket.finish(alternatives);
      parts.push_back(combine(Condition::Kind::any, std::move(alternatives)));
    }
    return combine(Condition::Kind::all, std::move(parts));
  }

  // ---- conditions: `not` binds tighter than `and`, `and` tighter than `or` ----

  struct Token {
    std::string text;  // lower-cased for keywords, as written for identifiers
    std::string raw;
  };

  Condition parse_condition(const YAML::Node& n) {
    if (!n.IsScalar()) {
      r_.error(n, "condition: expected an expression");
      throw Invalid{};
    }
    cond_node_ = n;
    const std::string& s = n.Scalar();
    if (s.find('|') != std::string::npos) {
      throw Rejected("legacy aggregation in the condition ('| count() ...'); use a correlation rule");
    }
    tokens_.clear();
    pos_ = 0;
    for (size_t i = 0; i < s.size();) {
      char c = s[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '(' || c == ')') {
        tokens_.push_back({std::string(1, c), std::string(1, c)});
        ++i;
      } else {
        size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != '(' && s[j] != ')') ++j;
        std::string raw = s.substr(i, j - i);
        tokens_.push_back({lower(raw), raw});
        i = j;
      }
    }
    if (tokens_.empty()) cond_error("empty condition");
    Condition c = parse_or();
    if (pos_ != tokens_.size()) cond_error(fmt::format("unexpected '{}'", tokens_[pos_].raw));
    return c;
  }

  [[noreturn]] void cond_error(const std::string& msg) {
    r_.error(cond_node_, "condition: " + msg);
    throw Invalid{};
  }

  bool accept(std::string_view word) {
    if (pos_ < tokens_.size() && tokens_[pos_].text == word) {
      ++pos_;
      return true;
    }
    return false;
  }

  Condition parse_or() {
    std::vector<Condition> parts{parse_and()};
    while (accept("or")) parts.push_back(parse_and());
    return combine(Condition::Kind::any, std::move(parts));
  }

  Condition parse_and() {
    std::vector<Condition> parts{parse_not()};
    while (accept("and")) parts.push_back(parse_not());
    return combine(Condition::Kind::all, std::move(parts));
  }

  Condition parse_not() {
    if (accept("not")) {
      Condition c;
      c.kind = Condition::Kind::not_;
      c.children.push_back(parse_not());
      return c;
    }
    return parse_primary();
  }

  Condition parse_primary() {
    if (pos_ >= tokens_.size()) cond_error("expression ends too early");
    if (accept("(")) {
      Condition c = parse_or();
      if (!accept(")")) cond_error("missing ')'");
      return c;
    }
    const Token& t = tokens_[pos_];
    if ((t.text == "1" || t.text == "all" || t.text == "any") && pos_ + 1 < tokens_.size() && tokens_[pos_ + 1].text == "of") {
      bool all = t.text == "all";
      pos_ += 2;
      if (pos_ >= tokens_.size()) cond_error("'of' needs 'them' or a name pattern");
      const Token& target = tokens_[pos_++];
      std::vector<Condition> parts;
      for (const auto& [name, node] : identifiers_) {
        bool take = target.text == "them" ? !name.starts_with('_') : glob_match(target.raw, name);
        if (take) parts.push_back(compile_search(node, name));
      }
      if (parts.empty()) cond_error(fmt::format("'{}' names no detection identifier", target.raw));
      return combine(all ? Condition::Kind::all : Condition::Kind::any, std::move(parts));
    }
    if (pos_ + 1 < tokens_.size() && tokens_[pos_ + 1].text == "of") {
      throw Rejected(fmt::format("'{} of' (only '1 of' and 'all of' are Sigma)", t.raw));
    }
    if (t.text == "and" || t.text == "or" || t.text == ")" || t.text == "of") cond_error(fmt::format("unexpected '{}'", t.raw));
    if (t.text == "near") throw Rejected("'near' (legacy temporal condition) is not supported; use a temporal correlation");
    ++pos_;
    for (const auto& [name, node] : identifiers_) {
      if (name == t.raw) return compile_search(node, name);
    }
    cond_error(fmt::format("'{}' is not a detection identifier", t.raw));
  }

  static bool glob_match(std::string_view pattern, std::string_view name) {
    // '*' only, as Sigma's "1 of selection_*"
    size_t star = pattern.find('*');
    if (star == std::string_view::npos) return pattern == name;
    std::string_view head = pattern.substr(0, star);
    std::string_view tail = pattern.substr(star + 1);
    if (!name.starts_with(head)) return false;
    name.remove_prefix(head.size());
    if (tail.find('*') == std::string_view::npos) return name.size() >= tail.size() && name.ends_with(tail);
    for (size_t i = 0; i <= name.size(); ++i) {
      if (glob_match(tail, name.substr(i))) return true;
    }
    return false;
  }

  // ---- correlations ----

  void read_correlation(const YAML::Node& n, Document& out) {
    if (!n.IsMap()) {
      r_.error(n, "correlation: expected a mapping");
      throw Invalid{};
    }
    Correlation& c = out.correlation;
    Rule& rule = out.rule;
    rule.is_correlation = true;
    c.type = lower(scalar(n["type"], "correlation.type", true));
    auto rules = n["rules"];
    if (!rules) {
      r_.error(n, "correlation: missing 'rules'");
      throw Invalid{};
    }
    if (rules.IsScalar()) {
      c.refs.push_back(rules.Scalar());
    } else if (rules.IsSequence() && rules.size() > 0) {
      for (const auto& x : rules) c.refs.push_back(scalar(x, "correlation.rules", true));
    } else {
      r_.error(rules, "correlation.rules: expected a rule name or a list of them");
      throw Invalid{};
    }
    if (auto g = n["group-by"]) {
      if (g.IsScalar()) {
        c.group_by.push_back(g.Scalar());
      } else if (g.IsSequence()) {
        for (const auto& x : g) c.group_by.push_back(scalar(x, "correlation.group-by", true));
      } else {
        r_.error(g, "correlation.group-by: expected a list of fields");
        throw Invalid{};
      }
    }
    if (auto a = n["aliases"]) {
      if (!a.IsMap()) {
        r_.error(a, "correlation.aliases: expected a mapping");
        throw Invalid{};
      }
      for (auto it = a.begin(); it != a.end(); ++it) {
        std::string alias = it->first.as<std::string>("");
        if (!it->second.IsMap()) {
          r_.error(it->second, "correlation.aliases: each alias maps rule names to fields");
          throw Invalid{};
        }
        for (auto jt = it->second.begin(); jt != it->second.end(); ++jt) {
          c.aliases[alias][jt->first.as<std::string>("")] = jt->second.as<std::string>("");
        }
      }
    }
    // `generate` inside `correlation:` (or beside it, as some writers put it).
    const YAML::Node inner = n["generate"];
    const YAML::Node& generate = inner ? inner : cond_doc_generate_;
    if (inner || has_doc_generate_) c.generate = lower(scalar(generate, "correlation.generate", false)) == "true";
    std::string span = scalar(n["timespan"], "correlation.timespan", true);
    auto within = parse_timespan(span);
    if (!within) {
      r_.error(n["timespan"], fmt::format("correlation.timespan: '{}' is not a duration such as 30s, 5m, 1h, 1d", span));
      throw Invalid{};
    }
    rule.aggregation.within = *within;

    auto cond = n["condition"];
    uint64_t threshold = 1;
    if (cond) {
      if (!cond.IsMap()) {
        r_.error(cond, "correlation.condition: expected a mapping such as {gte: 10}");
        throw Invalid{};
      }
      bool lower_bound = false;
      for (auto it = cond.begin(); it != cond.end(); ++it) {
        std::string k = lower(it->first.as<std::string>(""));
        if (k == "field") {
          c.value_field = scalar(it->second, "correlation.condition.field", true);
          continue;
        }
        std::string v = scalar(it->second, "correlation.condition." + k, true);
        uint64_t num = 0;
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), num);
        if (ec != std::errc() || ptr != v.data() + v.size()) {
          r_.error(it->second, fmt::format("correlation.condition.{}: expected a whole number", k));
          throw Invalid{};
        }
        if (k == "gte") {
          threshold = num;
          lower_bound = true;
        } else if (k == "gt") {
          threshold = num + 1;
          lower_bound = true;
        } else if (k == "lt" || k == "lte" || k == "eq" || k == "neq") {
          throw Rejected(fmt::format("correlation condition '{}' (an upper bound or an exact count is known only when "
                                     "the window closes; only gt and gte are supported)", k));
        } else {
          r_.error(it->first, fmt::format("correlation.condition: unknown key '{}'", k));
          throw Invalid{};
        }
      }
      if (!lower_bound && c.type != "temporal" && c.type != "temporal_ordered") {
        r_.error(cond, "correlation.condition: needs gte or gt");
        throw Invalid{};
      }
    } else if (c.type == "event_count" || c.type == "value_count") {
      r_.error(n, "correlation: missing 'condition'");
      throw Invalid{};
    }
    if (threshold == 0 || threshold > 1'000'000) throw Rejected("correlation condition out of range (1 to 1000000)");
    rule.aggregation.count = static_cast<uint32_t>(threshold);
    if (c.type == "event_count") {
      rule.aggregation.kind = Aggregation::Kind::threshold;
    } else if (c.type == "value_count") {
      rule.aggregation.kind = Aggregation::Kind::distinct;
      if (c.value_field.empty()) {
        r_.error(cond ? cond : n, "value_count: the condition names the counted field ('field: NAME')");
        throw Invalid{};
      }
    } else if (c.type == "temporal" || c.type == "temporal_ordered") {
      rule.aggregation.kind = c.type == "temporal" ? Aggregation::Kind::temporal : Aggregation::Kind::temporal_ordered;
      if (cond && threshold != 1 && threshold != c.refs.size()) {
        throw Rejected("temporal condition other than 'all rules' is not supported");
      }
      rule.aggregation.count = static_cast<uint32_t>(c.refs.size());
    } else {
      throw Rejected(fmt::format("correlation type '{}' is not supported", c.type));
    }
  }

  static std::optional<std::chrono::milliseconds> parse_timespan(std::string_view s) {
    if (s.size() < 2) return std::nullopt;
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, n);
    if (ec != std::errc() || ptr != s.data() + s.size() - 1 || n == 0) return std::nullopt;
    uint64_t unit = 0;
    switch (s.back()) {
      case 's': unit = 1000; break;
      case 'm': unit = 60'000; break;
      case 'h': unit = 3'600'000; break;
      case 'd': unit = 86'400'000; break;
      case 'w': unit = 7 * 86'400'000ULL; break;
      default: return std::nullopt;
    }
    if (n > 366ULL * 86'400'000 / unit) return std::nullopt;
    return std::chrono::milliseconds(n * unit);
  }

  YamlReader& r_;
  const Mappings& mappings_;
  const Logsource* logsource_ = nullptr;
  std::vector<std::pair<std::string, YAML::Node>> identifiers_;
  std::map<std::string, Condition> compiled_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  YAML::Node cond_node_;
  YAML::Node cond_doc_generate_;
  bool has_doc_generate_ = false;
};

}  // namespace

std::vector<std::string> base64_offsets(std::string_view value) {
  static constexpr size_t kStart[] = {0, 2, 3};
  static constexpr size_t kEndTrim[] = {0, 3, 2};
  std::vector<std::string> out;
  for (size_t i = 0; i < 3; ++i) {
    std::string padded(i, ' ');
    padded += value;
    std::string enc = pki::base64(padded);
    size_t trim = kEndTrim[(value.size() + i) % 3];
    if (enc.size() < kStart[i] + trim) continue;
    out.push_back(enc.substr(kStart[i], enc.size() - kStart[i] - trim));
  }
  return out;
}

Document compile(YamlReader& reader, const YAML::Node& doc, const Mappings& mappings) {
  return Compiler(reader, mappings).compile(doc);
}

const Logsource* Mappings::find(std::string_view product, std::string_view category, std::string_view service) const {
  for (const auto& e : entries_) {
    if (e.product == product && e.category == category && e.service == service) return &e;
  }
  return nullptr;
}

std::optional<FieldId> Mappings::resolve(const Logsource& ls, std::string_view name) {
  auto it = ls.fields.find(name);
  if (it != ls.fields.end()) return field(it->second);
  if (!ls.prefix.empty() && !name.empty() && name.find_first_of(" .|") == std::string_view::npos) {
    return field(ls.prefix + std::string(name));
  }
  // Our own field names are allowed as they are (rules written for this agent).
  if (auto id = FieldRegistry::instance().find(name); id && FieldRegistry::instance().is_known(*id)) return *id;
  return std::nullopt;
}

Mappings Mappings::parse(YamlReader& r, const YAML::Node& root) {
  Mappings m;
  auto list = root["sigma_logsources"];
  if (!list || !list.IsSequence()) {
    r.error(root, "expected 'sigma_logsources:', a list of logsource entries");
    return m;
  }
  for (const auto& item : list) {
    config::MapReader e(r, item, "sigma_logsources[]");
    if (!e.is_map()) continue;
    Logsource ls;
    if (auto src = e.require("logsource")) {
      config::MapReader s(r, src, "logsource");
      std::string v;
      if (auto p = s.get("product"); p && r.read(p, v, "product")) ls.product = lower(v);
      if (auto c = s.get("category"); c && r.read(c, v, "category")) ls.category = lower(v);
      if (auto x = s.get("service"); x && r.read(x, v, "service")) ls.service = lower(v);
    }
    if (auto d = e.require("datasets")) r.read_list(d, ls.datasets, "datasets");
    for (auto& d : ls.datasets) d = lower(d);
    std::string kw = "event.original";
    if (auto k = e.get("keywords")) r.read(k, kw, "keywords");
    ls.keywords = field(kw);
    if (auto p = e.get("prefix")) r.read(p, ls.prefix, "prefix");
    if (auto f = e.get("fields")) {
      if (!f.IsMap()) {
        r.error(f, "fields: expected a mapping of Sigma name to field name");
      } else {
        for (auto it = f.begin(); it != f.end(); ++it) ls.fields[it->first.Scalar()] = it->second.as<std::string>("");
      }
    }
    if (auto w = e.get("where")) {
      if (!w.IsMap()) {
        r.error(w, "where: expected a mapping of field to values");
      } else {
        for (auto it = w.begin(); it != w.end(); ++it) {
          std::vector<std::string> values;
          if (it->second.IsScalar()) {
            values.push_back(it->second.Scalar());
          } else {
            r.read_list(it->second, values, "where");
          }
          ls.where.emplace_back(field(it->first.Scalar()), std::move(values));
        }
      }
    }
    m.entries_.push_back(std::move(ls));
  }
  return m;
}

const Mappings& Mappings::builtin() {
  static const Mappings m = [] {
    YamlReader r("sigma_logsources.yaml");
    auto root = r.load_string(std::string(builtin_logsources_yaml()));
    Mappings parsed = root ? parse(r, *root) : Mappings{};
    if (r.diagnostics().has_errors()) throw std::logic_error("built-in Sigma logsource table: " + r.diagnostics().to_string());
    return parsed;
  }();
  return m;
}

}  // namespace vigil::agent::rules::sigma
