#include "agent/rules/rule_loader.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

#include "agent/rules/sigma.h"
#include "common/config/content_files.h"
#include "common/pki/pki.h"

namespace vigil::agent::rules {

using config::MapReader;
using config::YamlReader;
namespace fs = std::filesystem;

namespace {

// Field namespaces whose names are made at run time by parsers (auditd key=value pairs, labels).
constexpr std::string_view kDynamicPrefixes[] = {"auditd.data.", "labels.", "log.syslog."};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool field_allowed(const std::string& name) {
  if (is_nested_field(name)) return true;
  if (FieldRegistry::instance().find(name) &&
      FieldRegistry::instance().is_known(*FieldRegistry::instance().find(name))) {
    return true;
  }
  return std::any_of(std::begin(kDynamicPrefixes), std::end(kDynamicPrefixes),
                     [&](std::string_view p) { return name.size() > p.size() && name.rfind(p, 0) == 0; });
}

std::vector<std::string_view> known_field_names() {
  std::vector<std::string_view> names;
  for (uint32_t i = 0; i < fields::known_count; ++i) names.push_back(field_name(FieldId{i}));
  return names;
}

constexpr uintmax_t kMaxValueFile = 64u << 20;

class RuleParser {
 public:
  // `confine`: when not empty, a value list (in_file) must lie under this directory (a group
  // bundle's rules/: signed rules read only signed lists).
  explicit RuleParser(YamlReader& r, std::string confine = {}) : r_(r), confine_(std::move(confine)) {}

  void parse_document(const YAML::Node& root, std::vector<Rule>& out) {
    if (!root.IsSequence()) {
      r_.error(root, "a rule file is a list of rules ('- id: ...')");
      return;
    }
    for (size_t i = 0; i < root.size(); ++i) {
      Rule rule;
      if (parse_rule(root[i], i, rule)) out.push_back(std::move(rule));
    }
  }

 private:
  bool parse_rule(const YAML::Node& n, size_t index, Rule& rule) {
    size_t errors_before = r_.diagnostics().error_count();
    MapReader m(r_, n, fmt::format("rule[{}]", index));
    if (!m.is_map()) return false;
    rule.file = r_.file();
    if (auto v = m.require("id")) {
      if (r_.read(v, rule.id, "id") && rule.id.empty()) r_.error(v, "id: must not be empty");
    }
    if (auto v = m.require("title")) r_.read(v, rule.title, "title");
    if (auto v = m.get("description")) r_.read(v, rule.description, "description");
    if (auto v = m.require("severity")) {
      std::string s;
      if (r_.read_choice(v, s, "severity", {"info", "low", "medium", "high", "critical"})) {
        static const std::unordered_map<std::string, Severity> kMap = {{"info", Severity::info},
                                                                       {"low", Severity::low},
                                                                       {"medium", Severity::medium},
                                                                       {"high", Severity::high},
                                                                       {"critical", Severity::critical}};
        rule.severity = kMap.at(s);
      }
    }
    if (auto v = m.get("enabled")) {
      bool enabled = true;
      r_.read(v, enabled, "enabled");
      if (!enabled) disabled_ = true;
    }
    if (auto v = m.require("when")) {
      rule.when.kind = Condition::Kind::all;
      parse_map_conditions(v, rule.when.children);
      collect_datasets(rule);
    }
    auto threshold = m.get("threshold");
    auto distinct = m.get("distinct");
    if (threshold && distinct) r_.error(distinct, "a rule takes threshold or distinct, not both");
    if (threshold) parse_aggregation(threshold, Aggregation::Kind::threshold, rule.aggregation);
    if (distinct) parse_aggregation(distinct, Aggregation::Kind::distinct, rule.aggregation);
    if (auto v = m.get("suppress"))
      r_.read_duration(v, rule.suppress, "suppress", std::chrono::milliseconds(0), std::chrono::hours(24 * 7));
    if (auto v = m.get("tags")) {
      if (r_.read_list(v, rule.tags, "tags")) {
        for (const auto& t : rule.tags) {
          std::string l = lower(t);
          // attack.t1110 / attack.t1110.001 -> T1110 / T1110.001
          if (l.rfind("attack.t", 0) == 0 && l.size() > 9 && std::isdigit(static_cast<unsigned char>(l[8]))) {
            std::string id = "T" + l.substr(8);
            for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            rule.techniques.push_back(id);
          }
        }
      }
    }
    if (auto v = m.get("compliance")) {
      MapReader cm(r_, v, "compliance");
      if (cm.is_map()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
          const YAML::Node k = it->first;
          const YAML::Node val = it->second;
          std::string fw = k.as<std::string>("");
          cm.get(fw);  // every framework name is accepted: catalogues are data
          std::vector<std::string> controls;
          if (val.IsScalar()) {
            controls.push_back(val.Scalar());
          } else {
            r_.read_list(val, controls, "compliance." + fw);
          }
          rule.compliance.emplace_back(fw, std::move(controls));
        }
      }
    }
    m.finish();
    bool ok = r_.diagnostics().error_count() == errors_before;
    if (disabled_) {
      disabled_ = false;
      return false;
    }
    return ok;
  }

  void collect_datasets(Rule& rule) {
    static const FieldId kDataset = fields::event_dataset;
    for (const auto& c : rule.when.children) {
      if (c.kind == Condition::Kind::field && c.field == kDataset && c.op == Condition::Op::equals) {
        rule.datasets = c.strings;
        return;
      }
    }
  }

  void parse_aggregation(const YAML::Node& n, Aggregation::Kind kind, Aggregation& agg) {
    const char* what = kind == Aggregation::Kind::threshold ? "threshold" : "distinct";
    MapReader m(r_, n, what);
    if (!m.is_map()) return;
    agg.kind = kind;
    if (auto v = m.require("count")) r_.read(v, agg.count, fmt::format("{}.count", what), 1, 1'000'000);
    if (auto v = m.require("within")) {
      r_.read_duration(v, agg.within, fmt::format("{}.within", what), std::chrono::milliseconds(1),
                       std::chrono::hours(24 * 7));
    }
    if (auto v = m.get("group_by")) {
      std::vector<std::string> names;
      if (r_.read_list(v, names, fmt::format("{}.group_by", what))) {
        for (size_t i = 0; i < names.size(); ++i) {
          if (check_whole_field(v[i], names[i])) agg.group_by.push_back(field(names[i]));
        }
      }
    }
    if (kind == Aggregation::Kind::distinct) {
      if (auto v = m.require("field")) {
        std::string name;
        if (r_.read(v, name, "distinct.field") && check_whole_field(v, name)) agg.distinct_field = field(name);
      }
    }
  }

  bool check_field(const YAML::Node& at, const std::string& name) {
    if (field_allowed(name)) return true;
    r_.error(at, fmt::format("unknown field '{}'{}", name, config::did_you_mean(name, known_field_names())));
    return false;
  }

  // Grouping and counting read one value of the event: a field inside a list of objects has many.
  bool check_whole_field(const YAML::Node& at, const std::string& name) {
    if (is_nested_field(name)) {
      r_.error(at, fmt::format("'{}' is inside a list of objects: it cannot group or count (use a field of the event)",
                               name));
      return false;
    }
    return check_field(at, name);
  }

  // A mapping of field -> matcher, or all/any/not combinators; each key adds to `out` (ANDed).
  void parse_map_conditions(const YAML::Node& n, std::vector<Condition>& out) {
    if (!n.IsMap()) {
      r_.error(n, "when: expected a mapping of field: matcher (or all/any/not)");
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;  // a copy: the iterator yields a temporary pair
      const YAML::Node val = it->second;
      if (!key.IsScalar()) {
        r_.error(key, "when: keys are field names or all/any/not");
        continue;
      }
      const std::string& k = key.Scalar();
      if (k == "all" || k == "any") {
        Condition c;
        c.kind = k == "all" ? Condition::Kind::all : Condition::Kind::any;
        if (!val.IsSequence() || val.size() == 0) {
          r_.error(val, fmt::format("{}: expected a non-empty list of conditions", k));
          continue;
        }
        for (const auto& item : val) {
          Condition child;
          child.kind = Condition::Kind::all;
          parse_map_conditions(item, child.children);
          c.children.push_back(std::move(child));
        }
        out.push_back(std::move(c));
      } else if (k == "not") {
        Condition c;
        c.kind = Condition::Kind::not_;
        Condition child;
        child.kind = Condition::Kind::all;
        parse_map_conditions(val, child.children);
        c.children.push_back(std::move(child));
        out.push_back(std::move(c));
      } else {
        if (!check_field(key, k)) continue;
        parse_field_matcher(field(k), k, val, out);
      }
    }
  }

  // A value list file: one value per line; blank lines and # comments skipped.
  bool read_value_file(const YAML::Node& f, std::vector<std::string>& out, const std::string& what) {
    std::string path;
    if (!r_.read_path(f, path, what)) return false;
    std::error_code ec;
    if (!confine_.empty()) {
      const std::string real = fs::weakly_canonical(path, ec).string();
      if (ec || !real.starts_with(confine_ + "/")) {
        r_.error(f, fmt::format("{}: '{}' lies outside the bundle's rules/ (a bundle's lists travel with it)", what,
                                path));
        return false;
      }
    }
    // A plain file of bounded size: never a device, a pipe or a directory.
    if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) > kMaxValueFile || ec) {
      r_.error(f, fmt::format("{}: cannot read '{}' (a plain file of at most {} MiB)", what, path, kMaxValueFile >> 20));
      return false;
    }
    std::ifstream in(path);
    if (!in) {
      r_.error(f, fmt::format("{}: cannot read '{}'", what, path));
      return false;
    }
    for (std::string line; std::getline(in, line);) {
      auto start = line.find_first_not_of(" \t\r");
      if (start == std::string::npos || line[start] == '#') continue;
      auto end = line.find_last_not_of(" \t\r");
      out.push_back(line.substr(start, end - start + 1));
    }
    return true;
  }

  bool read_strings(const YAML::Node& n, std::vector<std::string>& out, const std::string& what) {
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
      return true;
    }
    if (n.IsSequence() && n.size() > 0) return r_.read_list(n, out, what);
    if (n.IsMap()) {
      MapReader m(r_, n, what);
      auto f = m.require("in_file");
      return f && read_value_file(f, out, what + ".in_file");
    }
    r_.error(n, fmt::format("{}: expected a value, a list of values or {{in_file: FILE}}", what));
    return false;
  }

  void parse_field_matcher(FieldId id, const std::string& name, const YAML::Node& val, std::vector<Condition>& out) {
    Condition base;
    base.kind = Condition::Kind::field;
    base.field = id;
    if (val.IsScalar() || val.IsSequence()) {
      base.op = Condition::Op::equals;
      if (read_strings(val, base.strings, name)) {
        for (auto& s : base.strings) s = lower(s);
        out.push_back(std::move(base));
      }
      return;
    }
    if (!val.IsMap()) {
      r_.error(val, fmt::format("{}: expected a value, a list, or a matcher such as {{contains: ...}}", name));
      return;
    }
    MapReader m(r_, val, name);
    if (auto v = m.get("cased")) r_.read(v, base.cased, name + ".cased");
    struct OpName {
      const char* key;
      Condition::Op op;
    };
    static constexpr OpName kOps[] = {{"equals", Condition::Op::equals},     {"in_file", Condition::Op::equals},
                                      {"contains", Condition::Op::contains}, {"startswith", Condition::Op::startswith},
                                      {"endswith", Condition::Op::endswith}, {"regex", Condition::Op::regex},
                                      {"cidr", Condition::Op::cidr},         {"gt", Condition::Op::gt},
                                      {"gte", Condition::Op::gte},           {"lt", Condition::Op::lt},
                                      {"lte", Condition::Op::lte},           {"exists", Condition::Op::exists}};
    size_t added = 0;
    for (const auto& op : kOps) {
      YAML::Node v = m.get(op.key);
      if (!v) continue;
      Condition c = base;
      c.op = op.op;
      std::string what = fmt::format("{}.{}", name, op.key);
      bool ok = true;
      switch (op.op) {
        case Condition::Op::equals:
        case Condition::Op::contains:
        case Condition::Op::startswith:
        case Condition::Op::endswith:
          if (std::string_view(op.key) == "in_file") {
            ok = read_value_file(v, c.strings, what);
          } else {
            ok = read_strings(v, c.strings, what);
          }
          if (!c.cased) {
            for (auto& s : c.strings) s = lower(s);
          }
          break;
        case Condition::Op::regex: {
          std::vector<std::string> patterns;
          ok = read_strings(v, patterns, what);
          for (size_t i = 0; ok && i < patterns.size(); ++i) {
            RE2::Options opts;
            opts.set_log_errors(false);
            auto re = std::make_shared<RE2>(patterns[i], opts);
            if (!re->ok()) {
              r_.error(v.IsSequence() ? v[i] : v, fmt::format("{}: invalid regular expression: {}", what, re->error()));
              ok = false;
            } else {
              c.regexes.push_back(std::move(re));
            }
          }
          break;
        }
        case Condition::Op::cidr: {
          std::vector<std::string> nets;
          ok = read_strings(v, nets, what);
          for (size_t i = 0; ok && i < nets.size(); ++i) {
            auto cidr = parse_cidr(nets[i]);
            if (!cidr) {
              r_.error(v.IsSequence() ? v[i] : v,
                       fmt::format("{}: '{}' is not an address or ADDRESS/BITS", what, nets[i]));
              ok = false;
            } else {
              c.cidrs.push_back(*cidr);
            }
          }
          break;
        }
        case Condition::Op::gt:
        case Condition::Op::gte:
        case Condition::Op::lt:
        case Condition::Op::lte: {
          ok = false;
          if (v.IsScalar()) {
            const std::string& s = v.Scalar();
            auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), c.number);
            ok = ec == std::errc() && ptr == s.data() + s.size();
          }
          if (!ok) r_.error(v, fmt::format("{}: expected a number", what));
          break;
        }
        case Condition::Op::exists:
          ok = r_.read(v, c.exists, what);
          break;
      }
      if (ok) out.push_back(std::move(c));
      ++added;
    }
    m.finish();
    if (added == 0 && m.is_map()) {
      r_.error(val, fmt::format("{}: no matcher given (equals, contains, startswith, endswith, regex, cidr, gt, gte, "
                                "lt, lte, exists, in_file)",
                                name));
    }
  }

  YamlReader& r_;
  std::string confine_;
  bool disabled_ = false;
};

enum class FileKind { native, sigma, other_loader, unknown };

FileKind classify(const YAML::Node& root) {
  if (root.IsSequence()) return FileKind::native;
  if (root.IsMap()) {
    if (root["detection"] || root["correlation"]) return FileKind::sigma;
    if (root["policy"] || root["framework"]) return FileKind::other_loader;
  }
  return FileKind::unknown;
}

}  // namespace

void parse_rule_document(YamlReader& reader, const YAML::Node& root, std::vector<Rule>& out,
                         const std::string& confine) {
  RuleParser(reader, confine).parse_document(root, out);
}

namespace {

// Correlations wait until every rule they name is loaded (they may name other correlations).
struct PendingCorrelation {
  Rule rule;
  sigma::Correlation correlation;
};

class SetBuilder {
 public:
  explicit SetBuilder(config::Diagnostics& diags) : diags_(diags) {}

  void add(Rule rule, const sigma::Logsource* logsource) {
    index_.emplace(rule.id, rules_.size());
    if (!rule.name.empty()) index_.emplace(rule.name, rules_.size());
    rules_.push_back(std::move(rule));
    logsources_.push_back(logsource);
  }

  void reject(const std::string& file, int line, int column, const std::string& reason) {
    diags_.add({config::Diagnostic::Severity::warning, file, line, column, "rejected: " + file + ": " + reason});
    ++rejected_;
  }

  void add_correlation(PendingCorrelation c) { pending_.push_back(std::move(c)); }

  // Resolves the pending correlations whose rules are all loaded, until none is left that can be.
  void resolve_correlations() {
    bool progress = true;
    while (progress && !pending_.empty()) {
      progress = false;
      for (auto it = pending_.begin(); it != pending_.end();) {
        bool waiting = false;
        std::string problem;
        Rule rule = it->rule;
        for (const auto& ref : it->correlation.refs) {
          auto found = index_.find(ref);
          if (found == index_.end()) {
            bool later = std::any_of(pending_.begin(), pending_.end(), [&](const PendingCorrelation& p) {
              return &p != &*it && (p.rule.id == ref || p.rule.name == ref);
            });
            if (later) {
              waiting = true;
            } else {
              problem = fmt::format("refers to rule '{}', which is not loaded", ref);
            }
            break;
          }
          CorrelationInput input;
          input.rule = found->second;
          for (const auto& g : it->correlation.group_by) {
            auto f = input_field(it->correlation, g, found->second);
            if (!f) {
              problem = fmt::format("group-by field '{}' has no mapping for rule '{}'", g, ref);
              break;
            }
            input.group_by.push_back(*f);
          }
          if (problem.empty() && !it->correlation.value_field.empty()) {
            auto f = input_field(it->correlation, it->correlation.value_field, found->second);
            if (!f) {
              problem = fmt::format("field '{}' has no mapping for rule '{}'", it->correlation.value_field, ref);
            } else {
              input.value_field = *f;
            }
          }
          if (!problem.empty()) break;
          rule.inputs.push_back(std::move(input));
        }
        if (waiting) {
          ++it;
          continue;
        }
        if (!problem.empty()) {
          reject(it->rule.file, 0, 0, fmt::format("correlation '{}' {}", it->rule.id, problem));
        } else {
          for (const auto& in : rule.inputs) {
            (it->correlation.generate ? generating_ : consumed_).insert(in.rule);
          }
          const sigma::Logsource* ls = logsources_[rule.inputs.front().rule];
          add(std::move(rule), ls);
        }
        it = pending_.erase(it);
        progress = true;
      }
    }
    for (const auto& p : pending_) {
      reject(p.rule.file, 0, 0,
             fmt::format("correlation '{}' refers to correlations that refer back to it", p.rule.id));
    }
    pending_.clear();
  }

  std::shared_ptr<RuleSet> finish() {
    for (size_t i = 0; i < rules_.size(); ++i) {
      for (size_t k = 0; k < rules_[i].inputs.size(); ++k) rules_[rules_[i].inputs[k].rule].feeds.push_back({i, k});
    }
    for (size_t i : consumed_) {
      if (!generating_.count(i)) rules_[i].emits = false;
    }
    auto set = std::make_shared<RuleSet>();
    for (auto& r : rules_) set->rules.push_back(std::make_shared<const Rule>(std::move(r)));
    set->rejected = rejected_;
    return set;
  }

 private:
  // A correlation's field as one of its rules names it: through `aliases`, then the rule's
  // logsource table (Sigma rules) or our own field names (native rules).
  std::optional<FieldId> input_field(const sigma::Correlation& c, const std::string& name, size_t rule_index) const {
    std::string n = name;
    auto alias = c.aliases.find(name);
    if (alias != c.aliases.end()) {
      const Rule& r = rules_[rule_index];
      auto by = alias->second.find(r.name);
      if (by == alias->second.end()) by = alias->second.find(r.id);
      if (by == alias->second.end()) return std::nullopt;
      n = by->second;
    }
    if (const sigma::Logsource* ls = logsources_[rule_index]) return sigma::Mappings::resolve(*ls, n);
    if (field_allowed(n) && !is_nested_field(n)) return field(n);
    return std::nullopt;
  }

  config::Diagnostics& diags_;
  std::vector<Rule> rules_;
  std::vector<const sigma::Logsource*> logsources_;
  std::unordered_multimap<std::string, size_t> index_;
  std::vector<PendingCorrelation> pending_;
  std::set<size_t> consumed_, generating_;
  size_t rejected_ = 0;
};

}  // namespace

Result<LoadedRules> load_rules(const std::vector<std::string>& paths, const std::vector<std::string>& overrides) {
  config::Diagnostics diags;
  // The overriding files first (a group's bundle), then the others (common/config/content_files.h);
  // policies and catalogues are their loaders' to read.
  config::ContentFiles walked;
  std::set<std::string> seen;
  config::walk_content(overrides, true, walked, seen);
  const size_t walked_overriding = walked.files.size();
  config::walk_content(paths, true, walked, seen);
  for (const auto& p : walked.missing) {
    diags.add({config::Diagnostic::Severity::warning, p, 0, 0, "rule path does not exist"});
  }
  std::vector<fs::path> files;
  size_t overriding = 0;
  for (size_t i = 0; i < walked.files.size(); ++i) {
    const auto kind = walked.files[i].kind;
    if (kind == config::ContentKind::policy || kind == config::ContentKind::framework) continue;
    files.push_back(walked.files[i].path);
    if (i < walked_overriding) ++overriding;
  }
  // Sorted as one list each (the overriding files, then the others), whatever path gave them.
  std::sort(files.begin(), files.begin() + static_cast<std::ptrdiff_t>(overriding));
  std::sort(files.begin() + static_cast<std::ptrdiff_t>(overriding), files.end());

  SetBuilder builder(diags);
  std::vector<std::string> rule_files;
  std::string all_content;
  std::unordered_map<std::string, std::string> ids;         // id -> file:line
  std::unordered_map<std::string, std::string> overridden;  // ids the overriding files define -> file:line
  bool overriding_file = false;
  auto check_duplicate = [&](YamlReader& r, const std::string& id, const YAML::Node& at, const std::string& file) {
    auto [line, col] = config::position(at);
    if (!overriding_file && overridden.count(id)) return;  // replaced (replaced() says so)
    auto [it, inserted] = ids.emplace(id, fmt::format("{}:{}", file, line));
    if (!inserted) r.error(at, fmt::format("duplicate rule id '{}' (first defined at {})", id, it->second));
    if (overriding_file) overridden.emplace(id, it->second);
  };
  // A rule of a file that does not override, whose id an overriding file defines: left out, said.
  auto replaced = [&](const std::string& id, const std::string& file) {
    if (overriding_file) return false;
    auto it = overridden.find(id);
    if (it == overridden.end()) return false;
    diags.add({config::Diagnostic::Severity::warning, file, 0, 0,
               fmt::format("rule '{}' is replaced by the group bundle's ({})", id, it->second)});
    return true;
  };
  // The overriding root (a bundle's rules/) a file lies under, canonical.
  std::vector<std::string> roots;
  for (const auto& o : overrides) {
    std::error_code ec;
    roots.push_back(fs::weakly_canonical(o, ec).string());
  }
  auto confine_of = [&](const fs::path& f) {
    std::error_code ec;
    const std::string real = fs::weakly_canonical(f, ec).string();
    for (const auto& root : roots) {
      if (real.starts_with(root + "/")) return root;
    }
    return fs::weakly_canonical(f.parent_path(), ec).string();
  };
  for (size_t file_index = 0; file_index < files.size(); ++file_index) {
    const fs::path& f = files[file_index];
    overriding_file = file_index < overriding;
    YamlReader r(f.string());
    auto docs = r.load_all_file();
    bool is_rule_file = false;
    if (!docs.empty() || !r.diagnostics().has_errors()) {
      YAML::Node first = docs.empty() ? YAML::Node() : docs[0];
      switch (classify(first)) {
        case FileKind::native: {
          is_rule_file = true;
          if (docs.size() > 1) r.error(docs[1], "a native rule file is one YAML document (a list of rules)");
          std::vector<Rule> parsed;
          parse_rule_document(r, first, parsed, overriding_file ? confine_of(f) : std::string());
          for (size_t i = 0; i < first.size(); ++i) {
            const YAML::Node item = first[i];
            if (!item.IsMap() || !item["id"] || !item["id"].IsScalar()) continue;
            check_duplicate(r, item["id"].Scalar(), item["id"], f.string());
          }
          for (auto& rule : parsed) {
            if (!replaced(rule.id, f.string())) builder.add(std::move(rule), nullptr);
          }
          break;
        }
        case FileKind::sigma: {
          is_rule_file = true;
          for (const auto& doc : docs) {
            if (doc.IsNull()) continue;  // an empty document between separators
            auto compiled = sigma::compile(r, doc);
            auto [line, col] = config::position(doc);
            switch (compiled.kind) {
              case sigma::Document::Kind::rule:
                check_duplicate(r, compiled.rule.id, doc["id"] ? doc["id"] : doc, f.string());
                if (!replaced(compiled.rule.id, f.string())) builder.add(std::move(compiled.rule), compiled.logsource);
                break;
              case sigma::Document::Kind::correlation:
                check_duplicate(r, compiled.rule.id, doc["id"] ? doc["id"] : doc, f.string());
                if (!replaced(compiled.rule.id, f.string())) {
                  builder.add_correlation({std::move(compiled.rule), std::move(compiled.correlation)});
                }
                break;
              case sigma::Document::Kind::rejected:
                builder.reject(f.string(), line, col, compiled.reason);
                break;
              case sigma::Document::Kind::invalid:
                break;
            }
          }
          break;
        }
        case FileKind::other_loader:
          break;
        case FileKind::unknown:
          r.error(first, "not a rule file (expected a list of rules, a Sigma rule, a policy or a framework)");
          break;
      }
    }
    if (is_rule_file) {
      rule_files.push_back(f.string());
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      all_content += f.string() + '\0' + ss.str();
    }
    for (const auto& d : r.diagnostics().items()) diags.add(d);
  }
  if (diags.has_errors()) return make_error(diags.to_string());
  builder.resolve_correlations();
  auto set = builder.finish();
  set->files = std::move(rule_files);
  set->version = pki::sha256_hex(all_content).substr(0, 16);
  return LoadedRules{std::move(set), std::move(diags)};
}

}  // namespace vigil::agent::rules
