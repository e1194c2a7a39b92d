#include "agent/checks/config_tree.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace vigil::agent::checks {

std::string ConfNode::where() const { return fmt::format("{}:{}", file ? *file : std::string(), line); }

std::string ConfNode::text() const {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

const std::string& ConfNode::name() const {
  static const std::string kEmpty;
  return words.empty() ? kEmpty : words.front();
}

std::string ConfNode::args() const {
  std::string out;
  for (size_t i = 1; i < words.size(); ++i) out += (i > 1 ? " " : "") + words[i];
  return out;
}

namespace {

bool has_wildcard(std::string_view p) { return p.find_first_of("*?[") != std::string_view::npos; }

// A parse error aborts the whole read.
struct ConfError {
  std::string message;
};

class Reader {
 public:
  enum class Syntax : uint8_t { nginx, nftables, apache };

  Reader(const HostRoot& host, const ConfFileSource& read, const ConfLimits& limits, Syntax syntax, std::string base)
      : host_(host), read_(read), limits_(limits), syntax_(syntax), base_(std::move(base)) {}

  ConfRead run(const std::string& path) {
    ConfRead out;
    out.root.block = true;
    out.root.file = std::make_shared<const std::string>(path);
    FileRead f = read_(path);
    if (f.status != FileRead::Status::ok) {
      out.status = f.status;
      out.reason = f.status == FileRead::Status::missing ? fmt::format("{} does not exist", path) : f.reason;
      return out;
    }
    try {
      parse_file(path, f.content, out.root, 0);
      out.status = FileRead::Status::ok;
    } catch (const ConfError& e) {
      out.status = FileRead::Status::error;
      out.reason = e.message;
      out.root = ConfNode{};
    }
    return out;
  }

 private:
  [[noreturn]] static void fail(std::string message) { throw ConfError{std::move(message)}; }

  std::string absolute(const std::string& p) const {
    if (!p.empty() && p.front() == '/') return p;
    return base_ + "/" + p;
  }

  // Reads an included file and parses it into `into`.
  void include_file(const std::string& path, ConfNode& into, int depth, const std::string& from, bool optional) {
    FileRead f = read_(path);
    if (f.status == FileRead::Status::missing) {
      if (optional) return;
      fail(fmt::format("{}: included file {} does not exist", from, path));
    }
    if (f.status == FileRead::Status::error) fail(fmt::format("{}: {}", from, f.reason));
    parse_file(path, f.content, into, depth);
  }

  void parse_file(const std::string& path, const std::string& content, ConfNode& into, int depth) {
    if (depth > limits_.max_include_depth) {
      fail(fmt::format("{}: includes nested deeper than {}", path, limits_.max_include_depth));
    }
    if (std::find(stack_.begin(), stack_.end(), path) != stack_.end()) {
      std::string chain;
      for (const auto& s : stack_) chain += s + " -> ";
      fail(fmt::format("include loop: {}{}", chain, path));
    }
    if (++files_ > limits_.max_files)
      fail(fmt::format("{}: more than {} configuration files", path, limits_.max_files));
    bytes_ += content.size();
    if (bytes_ > limits_.max_bytes)
      fail(fmt::format("{}: more than {} bytes of configuration", path, limits_.max_bytes));
    stack_.push_back(path);
    auto file = std::make_shared<const std::string>(path);
    if (syntax_ == Syntax::apache) {
      parse_apache(file, content, into, depth);
    } else {
      parse_braced(file, content, into, depth);
    }
    stack_.pop_back();
  }

  // ---- nginx and nftables -----------------------------------------------------------------------

  // Counts a node and its words against the limits.
  void count_node(const std::string& at, size_t words) {
    if (++nodes_ > limits_.max_nodes)
      fail(fmt::format("{}: more than {} configuration directives", at, limits_.max_nodes));
    words_ += words;
    if (words_ > limits_.max_words) fail(fmt::format("{}: more than {} configuration words", at, limits_.max_words));
    if (words > limits_.max_words_per_statement) {
      fail(fmt::format("{}: a directive of more than {} words", at, limits_.max_words_per_statement));
    }
  }

  void parse_braced(const std::shared_ptr<const std::string>& file, std::string_view text, ConfNode& into, int depth) {
    const std::string& path = *file;
    const bool nft = syntax_ == Syntax::nftables;
    std::vector<ConfNode*> open{&into};
    std::vector<std::string> words;
    size_t line = 1, stmt_line = 1;
    auto at = [&](size_t l) { return fmt::format("{}:{}", path, l); };
    auto end_statement = [&] {
      if (words.empty()) return;
      ConfNode* cur = open.back();
      if (words[0] == "include") {
        if (words.size() != 2) fail(fmt::format("{}: include takes one file name", at(stmt_line)));
        std::string pattern = absolute(words[1]);
        std::string from = at(stmt_line);
        words.clear();
        if (has_wildcard(pattern)) {
          for (const auto& p : host_.glob(pattern)) include_file(p, *cur, depth + 1, from, false);
        } else {
          include_file(pattern, *cur, depth + 1, from, false);
        }
        return;
      }
      count_node(at(stmt_line), words.size());
      ConfNode n;
      n.words = std::move(words);
      n.file = file;
      n.line = stmt_line;
      cur->children.push_back(std::move(n));
      words.clear();
    };
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
      char c = text[i];
      if (c == '\\' && i + 1 < n && text[i + 1] == '\n') {  // a continued line
        i += 2;
        ++line;
        continue;
      }
      if (c == '\n') {
        if (nft) end_statement();
        ++line;
        ++i;
        continue;
      }
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      if (c == '#') {
        while (i < n && text[i] != '\n') ++i;
        continue;
      }
      if (c == ';') {
        if (words.empty() && !nft) fail(fmt::format("{}: unexpected \";\"", at(line)));
        end_statement();
        ++i;
        continue;
      }
      if (c == '{') {
        if (words.empty()) fail(fmt::format("{}: unexpected \"{{\"", at(line)));
        if (static_cast<int>(open.size()) > limits_.max_block_depth) {
          fail(fmt::format("{}: blocks nested deeper than {}", at(line), limits_.max_block_depth));
        }
        count_node(at(stmt_line), words.size());
        ConfNode b;
        b.words = std::move(words);
        words.clear();
        b.block = true;
        b.file = file;
        b.line = stmt_line;
        open.back()->children.push_back(std::move(b));
        open.push_back(&open.back()->children.back());
        ++i;
        continue;
      }
      if (c == '}') {
        if (!words.empty()) {
          if (!nft) fail(fmt::format("{}: unexpected \"}}\" (a directive without \";\")", at(line)));
          end_statement();
        }
        if (open.size() == 1) fail(fmt::format("{}: unexpected \"}}\"", at(line)));
        open.pop_back();
        ++i;
        continue;
      }
      if (words.empty()) stmt_line = line;
      std::string word;
      if (c == '"' || (c == '\'' && !nft)) {
        size_t start_line = line;
        ++i;
        bool closed = false;
        while (i < n) {
          char d = text[i];
          if (d == '\\' && i + 1 < n) {
            char e = text[i + 1];
            word += e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
            if (e == '\n') ++line;
            i += 2;
            continue;
          }
          if (d == c) {
            closed = true;
            ++i;
            break;
          }
          if (d == '\n') ++line;
          word += d;
          ++i;
        }
        if (!closed) fail(fmt::format("{}: unterminated quoted string", at(start_line)));
      } else {
        while (i < n) {
          char d = text[i];
          if (std::isspace(static_cast<unsigned char>(d)) || d == ';' || d == '{' || d == '}') break;
          if (d == '$' && i + 1 < n && text[i + 1] == '{' && !nft) {  // ${variable}
            size_t close = text.find('}', i);
            if (close == std::string_view::npos) fail(fmt::format("{}: unterminated ${{", at(line)));
            word.append(text.substr(i, close + 1 - i));
            i = close + 1;
            continue;
          }
          if (d == '\\' && i + 1 < n && text[i + 1] != '\n') {
            word += text[i + 1];
            i += 2;
            continue;
          }
          word += d;
          ++i;
        }
      }
      if (words.size() >= limits_.max_words_per_statement) {
        fail(fmt::format("{}: a directive of more than {} words", at(stmt_line), limits_.max_words_per_statement));
      }
      words.push_back(std::move(word));
    }
    if (!words.empty()) {
      if (!nft) fail(fmt::format("{}: unexpected end of file, expecting \";\" or \"}}\"", at(line)));
      end_statement();
    }
    if (open.size() > 1) {
      fail(fmt::format("{}: unexpected end of file, expecting \"}}\" for \"{}\" at line {}", path, open.back()->text(),
                       open.back()->line));
    }
  }

  // ---- Apache httpd -----------------------------------------------------------------------------

  static std::vector<std::string> split_args(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) break;
      std::string w;
      if (s[i] == '"' || s[i] == '\'') {
        char q = s[i++];
        while (i < s.size() && s[i] != q) {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          w += s[i++];
        }
        ++i;  // the closing quote (an unterminated one takes the rest, as httpd does)
      } else {
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) w += s[i++];
      }
      out.push_back(std::move(w));
    }
    return out;
  }

  void include_apache(const std::string& arg, ConfNode& into, int depth, const std::string& from, bool optional) {
    if (arg.find("${") != std::string::npos) {
      fail(fmt::format("{}: cannot expand the variable in {}", from, arg));
    }
    std::string pattern = absolute(arg);
    std::vector<std::string> paths;
    if (has_wildcard(pattern)) {
      paths = host_.glob(pattern);
      if (paths.empty()) {
        if (optional) return;
        fail(fmt::format("{}: no file matches the wildcard {}", from, pattern));
      }
    } else {
      paths.push_back(pattern);
    }
    for (const auto& p : paths) include_path(p, into, depth, from, optional);
  }

  // A file, or every file of a directory and its subdirectories in alphabetical order.
  void include_path(const std::string& p, ConfNode& into, int depth, const std::string& from, bool optional) {
    struct stat st {};
    if (::stat(host_.path(p).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (depth + 1 > limits_.max_include_depth)
        fail(fmt::format("{}: includes nested deeper than {}", p, limits_.max_include_depth));
      DIR* d = ::opendir(host_.path(p).c_str());
      if (!d) fail(fmt::format("{}: cannot list {}", from, p));
      std::vector<std::string> names;
      while (auto* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
      }
      ::closedir(d);
      std::sort(names.begin(), names.end());
      for (const auto& name : names) include_path(p + "/" + name, into, depth + 1, from, optional);
      return;
    }
    include_file(p, into, depth + 1, from, optional);
  }

  void parse_apache(const std::shared_ptr<const std::string>& file, std::string_view text, ConfNode& into, int depth) {
    const std::string& path = *file;
    std::vector<ConfNode*> open{&into};
    auto lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
      size_t line_no = i + 1;
      std::string logical(trim(lines[i]));
      while (!logical.empty() && logical.back() == '\\' && i + 1 < lines.size()) {
        logical.pop_back();
        logical += " ";
        logical += trim(lines[++i]);
      }
      std::string_view l = trim(logical);
      if (l.empty() || l.front() == '#') continue;
      auto at = fmt::format("{}:{}", path, line_no);
      if (l.substr(0, 2) == "</") {
        if (l.back() != '>') fail(fmt::format("{}: section end without \">\"", at));
        std::string name(trim(l.substr(2, l.size() - 3)));
        if (open.size() == 1 || !iequals(name, open.back()->name())) {
          fail(fmt::format("{}: </{}> without a matching <{}>", at, name, name));
        }
        open.pop_back();
        continue;
      }
      if (l.front() == '<') {
        if (l.back() != '>') fail(fmt::format("{}: section \"{}\" without \">\"", at, l));
        if (static_cast<int>(open.size()) > limits_.max_block_depth) {
          fail(fmt::format("{}: sections nested deeper than {}", at, limits_.max_block_depth));
        }
        ConfNode b;
        b.words = split_args(l.substr(1, l.size() - 2));
        if (b.words.empty()) fail(fmt::format("{}: empty section", at));
        count_node(at, b.words.size());
        b.block = true;
        b.file = file;
        b.line = line_no;
        open.back()->children.push_back(std::move(b));
        open.push_back(&open.back()->children.back());
        continue;
      }
      ConfNode d;
      d.words = split_args(l);
      count_node(at, d.words.size());
      d.file = file;
      d.line = line_no;
      if (iequals(d.name(), "Include") || iequals(d.name(), "IncludeOptional")) {
        if (d.words.size() != 2) fail(fmt::format("{}: {} takes one path", at, d.name()));
        include_apache(d.words[1], *open.back(), depth, at, iequals(d.name(), "IncludeOptional"));
        continue;
      }
      if (iequals(d.name(), "ServerRoot") && d.words.size() == 2 && open.size() == 1) base_ = d.words[1];
      open.back()->children.push_back(std::move(d));
    }
    if (open.size() > 1) {
      fail(fmt::format("{}: <{}> at line {} is not closed", path, open.back()->name(), open.back()->line));
    }
  }

  const HostRoot& host_;
  const ConfFileSource& read_;
  ConfLimits limits_;
  Syntax syntax_;
  std::string base_;
  std::vector<std::string> stack_;
  size_t files_ = 0;
  size_t bytes_ = 0;
  size_t nodes_ = 0;
  size_t words_ = 0;
};

}  // namespace

ConfRead read_nginx_config(const HostRoot& host, const ConfFileSource& read, const std::string& path,
                           const std::string& prefix, const ConfLimits& limits) {
  return Reader(host, read, limits, Reader::Syntax::nginx, prefix).run(path);
}

ConfRead read_apache_config(const HostRoot& host, const ConfFileSource& read, const std::string& path,
                            const std::string& server_root, const ConfLimits& limits) {
  return Reader(host, read, limits, Reader::Syntax::apache, server_root).run(path);
}

ConfRead read_nftables_config(const HostRoot& host, const ConfFileSource& read, const std::string& path,
                              const ConfLimits& limits) {
  return Reader(host, read, limits, Reader::Syntax::nftables, "/etc").run(path);
}

}  // namespace vigil::agent::checks
