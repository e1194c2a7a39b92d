#include "collector/search/query.h"

#include <gtest/gtest.h>

#include <string>

namespace vigil::collector::search {
namespace {

Node ok(const std::string& q) {
  auto r = parse(q);
  if (auto* e = std::get_if<ParseError>(&r)) ADD_FAILURE() << q << ": position " << e->position << ": " << e->message;
  return std::holds_alternative<Node>(r) ? std::get<Node>(r) : Node{};
}

ParseError bad(const std::string& q) {
  auto r = parse(q);
  EXPECT_TRUE(std::holds_alternative<ParseError>(r)) << q << " parsed";
  return std::holds_alternative<ParseError>(r) ? std::get<ParseError>(r) : ParseError{};
}

std::string sql(const std::string& q, Dialect d = Dialect::sqlite) {
  SqlCondition c;
  c.params = {int64_t{0}, int64_t{0}, int64_t{0}, int64_t{0}};  // the window's parameters
  to_sql(ok(q), d, c);
  return c.sql;
}

TEST(SearchQuery, TermsOfEveryForm) {
  Node n = ok("user.name:root");
  EXPECT_EQ(n.kind, Node::Kind::term);
  EXPECT_EQ(n.field->name, "user.name");
  EXPECT_EQ(n.op, Node::Op::eq);
  EXPECT_EQ(n.value, "root");
  n = ok("url.domain:www.*");
  EXPECT_EQ(n.op, Node::Op::prefix);
  EXPECT_EQ(n.value, "www.");
  n = ok("user.name:\"John Smith\"");
  EXPECT_EQ(n.op, Node::Op::eq);
  EXPECT_EQ(n.value, "John Smith");
  n = ok("destination.port<=1023");
  EXPECT_EQ(n.op, Node::Op::le);
  EXPECT_EQ(n.number, 1023);
  n = ok("source.port>-1");
  EXPECT_EQ(n.op, Node::Op::gt);
  EXPECT_EQ(n.number, -1);
  n = ok("password");
  EXPECT_EQ(n.field, nullptr);
  EXPECT_EQ(n.op, Node::Op::phrase);
  n = ok("pass*");
  EXPECT_EQ(n.op, Node::Op::prefix);
  n = ok("\"Failed password\"");
  EXPECT_EQ(n.value, "Failed password");
  n = ok("event.original:\"a b\"");
  EXPECT_EQ(n.field, nullptr);
  // Words that look like no field are full text: URLs with ':' in their query, times.
  EXPECT_EQ(ok("GET /x?a=1:2").kind, Node::Kind::all_of);
  EXPECT_EQ(ok("").kind, Node::Kind::all_of);
  EXPECT_TRUE(ok("   ").children.empty());
}

TEST(SearchQuery, AddressesAndBlocks) {
  Node n = ok("source.ip:10.0.0.0/8");
  EXPECT_EQ(n.op, Node::Op::range);
  EXPECT_EQ(n.value, *ip_key("10.0.0.0"));
  EXPECT_EQ(n.value2, *ip_key("10.255.255.255"));
  n = ok("destination.ip:2001:db8::/32");
  EXPECT_EQ(n.value, *ip_key("2001:db8::"));
  EXPECT_EQ(n.value2, *ip_key("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  n = ok("source.ip:192.0.2.7");
  EXPECT_EQ(n.value, n.value2);
  // Keys sort as addresses do.
  EXPECT_LT(*ip_key("9.255.255.255"), *ip_key("10.0.0.0"));
  EXPECT_LT(*ip_key("10.0.0.0"), *ip_key("::1:0:0:0"));
  EXPECT_EQ(ip_key("::ffff:10.0.0.1"), ip_key("10.0.0.1"));
  EXPECT_FALSE(ip_key("10.0.0"));
  EXPECT_FALSE(ip_range("10.0.0.0/33"));
  EXPECT_FALSE(ip_range("10.0.0.0/"));
  EXPECT_TRUE(ip_range("::/0"));
}

TEST(SearchQuery, PrecedenceAndGrouping) {
  Node n = ok("a OR b c");  // AND binds tighter: a OR (b AND c)
  ASSERT_EQ(n.kind, Node::Kind::any_of);
  ASSERT_EQ(n.children.size(), 2u);
  EXPECT_EQ(n.children[1].kind, Node::Kind::all_of);
  n = ok("(a OR b) AND NOT c");
  ASSERT_EQ(n.kind, Node::Kind::all_of);
  EXPECT_EQ(n.children[0].kind, Node::Kind::any_of);
  EXPECT_EQ(n.children[1].kind, Node::Kind::negate);
  n = ok("NOT NOT a");
  EXPECT_EQ(n.kind, Node::Kind::negate);
  EXPECT_EQ(n.children[0].kind, Node::Kind::negate);
  // Lowercase words are words, not operators.
  n = ok("a or b");
  EXPECT_EQ(n.kind, Node::Kind::all_of);
  EXPECT_EQ(n.children.size(), 3u);
}

TEST(SearchQuery, ErrorsNameTheirPosition) {
  struct Case {
    const char* q;
    size_t position;
    const char* words;
  } cases[] = {
      {"foo.bar:1", 0, "unknown field 'foo.bar'"},
      {"user.name:root AND nosuch.field:x", 19, "unknown field"},
      {"user.name:", 10, "value must follow"},
      {"source.ip:10.0.0.300", 10, "CIDR"},
      {"source.port:http", 12, "number"},
      {"user.name>5", 9, "not a number"},
      {"(a OR b", 0, "without its ')'"},
      {"a OR b)", 6, "without its '('"},
      {"()", 0, "empty parentheses"},
      {"AND a", 0, "needs a term before"},
      {"a AND", 2, "needs a term after"},
      {"NOT", 0, "NOT needs a term"},
      {"\"open", 0, "quote"},
      {"***", 0, "no letter or digit"},
      {"event.original>3", 14, "is text"},
  };
  for (const auto& c : cases) {
    ParseError e = bad(c.q);
    EXPECT_EQ(e.position, c.position) << c.q << ": " << e.message;
    EXPECT_NE(e.message.find(c.words), std::string::npos) << c.q << ": " << e.message;
  }
}

TEST(SearchQuery, DiacriticsFold) {
  EXPECT_EQ(fold_diacritics("Đăng nhập thất bại"), "Dang nhap that bai");
  EXPECT_EQ(fold_diacritics("Sở Thông tin và Truyền thông"), "So Thong tin va Truyen thong");
  EXPECT_EQ(fold_diacritics("ỹỸ ơƯ ÀÉÎÕÜ ç"), "yY oU AEIOU c");
  EXPECT_EQ(fold_diacritics("plain ascii 10.0.0.1"), "plain ascii 10.0.0.1");
  EXPECT_EQ(fold_diacritics("日本 ×÷"), "日本 ×÷");
  EXPECT_EQ(fold_diacritics(std::string("\xc3", 1)), std::string("\xc3", 1));  // cut sequence kept
}

TEST(SearchQuery, BoundsRefuseWhatIsTooBig) {
  std::string deep(100, '(');
  deep += "a";
  deep += std::string(100, ')');
  EXPECT_NE(bad(deep).message.find("nesting"), std::string::npos);
  std::string many;
  for (int i = 0; i < 100; ++i) many += "w" + std::to_string(i) + " ";
  EXPECT_NE(bad(many).message.find("at most 64 terms"), std::string::npos);
  EXPECT_NE(bad(std::string(5000, 'a')).message.find("at most 4096 bytes"), std::string::npos);
}

TEST(SearchQuery, SqlCarriesValuesOnlyAsParameters) {
  // Nothing typed reaches the SQL text: quotes, semicolons and comments travel as parameters.
  for (const char* q : {"user.name:\"x'); DROP TABLE records; --\"", "\"x' OR '1'='1\"", "url.domain:a'b*",
                        "message:\"--\""}) {
    SqlCondition c;
    to_sql(ok(q), Dialect::sqlite, c);
    EXPECT_EQ(c.sql.find("DROP"), std::string::npos) << c.sql;
    EXPECT_EQ(c.sql.find("'1'"), std::string::npos) << c.sql;
    EXPECT_EQ(c.sql.find("a'b"), std::string::npos) << c.sql;
    EXPECT_FALSE(c.params.empty());
  }
  // SQLite: the user name's key token narrows to candidates in the window, the column decides.
  EXPECT_EQ(sql("user.name:root"),
            "(s.id IN (SELECT rowid FROM event_fts WHERE event_fts MATCH ?5 AND rowid BETWEEN ?3 AND ?4) AND "
            "s.user_name = ?6)");
  EXPECT_EQ(sql("user.name:root", Dialect::postgres), "s.user_name = $5");
  EXPECT_EQ(sql("url.domain:x"), "json_extract(" + std::string(search::kSqliteBody) + ", '$.url.domain') = ?5");
  EXPECT_EQ(sql("url.domain:x", Dialect::postgres), "(r.body::json #>> '{url,domain}') COLLATE \"C\" = $5");
  // Under NOT the column alone: a key token would not narrow, and would take events without the
  // field into the NOT.
  EXPECT_EQ(sql("a OR NOT user.name:b"),
            "(s.id IN (SELECT rowid FROM event_fts WHERE event_fts MATCH ?5 AND rowid BETWEEN ?3 AND ?4) OR NOT "
            "(s.user_name = ?6))");
  EXPECT_EQ(fts5_query(ok("say \"hi\"").children[1]), "\"hi\"");
  Node quoted = ok("\"say \\\"hi\\\"\"");
  EXPECT_EQ(fts5_query(quoted), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(tsquery_prefix("it's"), "'it''s':*");
}

// SQLite's key tokens: one token per address or user name, whatever the tokenizer would split;
// with blocks, an address's /16 and /24 (IPv4) or /48 and /64 (IPv6) beside it.
TEST(SearchQuery, KeyTokens) {
  const std::string v4 = "00000000000000000000ffff";
  EXPECT_EQ(sqlite_keys(v4 + "0a000001", "", "Nguyen.Van-A", false),
            "s" + v4 + "0a000001 u4e677579656e2e56616e2d41");
  EXPECT_EQ(sqlite_keys("", v4 + "c0a80001", "", false), "d" + v4 + "c0a80001");
  EXPECT_EQ(sqlite_keys("", "", "", true), "");
  EXPECT_EQ(sqlite_keys(v4 + "0a000001", v4 + "c0a80001", "bob", true),
            "s" + v4 + "0a000001 s" + v4 + "0a00 s" + v4 + "0a0000 d" + v4 + "c0a80001 d" + v4 + "c0a8 d" + v4 +
                "c0a800 u626f62");
  const std::string v6 = *ip_key("2001:db8:1:2::7");
  EXPECT_EQ(sqlite_keys(v6, "", "", true), "s" + v6 + " s" + v6.substr(0, 12) + " s" + v6.substr(0, 16));
  EXPECT_EQ(user_key_token(std::string(100, 'a')).size(), 1 + 2 * kUserKeyBytes);
  auto keys = [](const char* q, bool blocks = false) { return keys_query(ok(q), blocks); };
  EXPECT_EQ(keys("source.ip:10.0.0.1"), "keys : s" + v4 + "0a000001");
  // Without block tokens, blocks and prefixes read the window's rows: a prefix query would merge
  // every matching token's postings of all time.
  EXPECT_EQ(keys("destination.ip:10.1.0.0/16"), std::nullopt);
  EXPECT_EQ(keys("source.ip:2001:db8::/32"), std::nullopt);
  EXPECT_EQ(keys("destination.ip:10.1.2.3"), "keys : d" + v4 + "0a010203");
  EXPECT_EQ(keys("user.name:Admin"), "keys : u41646d696e");
  EXPECT_EQ(keys("user.name:adm*"), std::nullopt);
  EXPECT_EQ(keys("url.domain:x"), std::nullopt);
  EXPECT_EQ(keys("failed"), std::nullopt);
  // With them: the smallest indexed block holding the query's, exact or to be re-checked.
  auto block = [](const char* q) -> std::pair<std::optional<std::string>, bool> {
    bool exact = false;
    auto k = keys_query(ok(q), true, &exact);
    return {k, exact};
  };
  using B = std::pair<std::optional<std::string>, bool>;
  EXPECT_EQ(block("destination.ip:10.1.0.0/16"), B("keys : d" + v4 + "0a01", true));
  EXPECT_EQ(block("source.ip:10.1.2.0/24"), B("keys : s" + v4 + "0a0102", true));
  EXPECT_EQ(block("source.ip:10.1.2.0/23"), B("keys : s" + v4 + "0a01", false));
  EXPECT_EQ(block("source.ip:10.1.2.128/25"), B("keys : s" + v4 + "0a0102", false));
  EXPECT_EQ(block("source.ip:10.1.0.0/18"), B("keys : s" + v4 + "0a01", false));
  EXPECT_EQ(block("source.ip:10.1.2.3"), B("keys : s" + v4 + "0a010203", true));
  EXPECT_EQ(block("source.ip:10.0.0.0/15").first, std::nullopt);
  EXPECT_EQ(block("source.ip:10.0.0.0/8").first, std::nullopt);
  EXPECT_EQ(block("source.ip:2001:db8:1::/48"), B("keys : s" + v6.substr(0, 12), true));
  EXPECT_EQ(block("source.ip:2001:db8:1:2::/64"), B("keys : s" + v6.substr(0, 16), true));
  EXPECT_EQ(block("source.ip:2001:db8:1:2::/96"), B("keys : s" + v6.substr(0, 16), false));
  EXPECT_EQ(block("source.ip:2001:db8::/32").first, std::nullopt);
  // IPv6 blocks that may hold IPv4-mapped addresses (which carry IPv4's blocks only) are read.
  EXPECT_EQ(block("source.ip:::/64").first, std::nullopt);
  EXPECT_EQ(block("source.ip:::ffff:0:0/96").first, std::nullopt);
  EXPECT_EQ(block("source.ip:::ffff:10.1.0.0/112"), B("keys : s" + v4 + "0a01", true));
  // The whole query in the full-text table, when it answers every term exactly.
  auto match = [](const char* q, bool blocks = false) { return fts_match(ok(q), blocks); };
  EXPECT_EQ(match("failed"), "(original : \"failed\")");
  EXPECT_EQ(match("source.ip:10.0.0.1 pass*"), "((keys : s" + v4 + "0a000001) AND (original : \"pass\" *))");
  EXPECT_EQ(match("user.name:root OR user.name:admin"), "((keys : u726f6f74) OR (keys : u61646d696e))");
  EXPECT_EQ(match("user.name:root OR user.name:adm*"), std::nullopt);
  EXPECT_EQ(match("source.ip:10.0.0.0/8 failed"), std::nullopt);
  EXPECT_EQ(match("source.ip:10.0.0.0/8 failed", true), std::nullopt);
  EXPECT_EQ(match("source.ip:10.1.0.0/16 failed"), std::nullopt);
  EXPECT_EQ(match("source.ip:10.1.0.0/16 failed", true), "((keys : s" + v4 + "0a01) AND (original : \"failed\"))");
  EXPECT_EQ(match("source.ip:10.1.0.0/17", true), std::nullopt);  // the /16's token holds more
  EXPECT_EQ(match("NOT failed"), std::nullopt);
  EXPECT_EQ(match("failed AND url.domain:x"), std::nullopt);
  EXPECT_EQ(match("event.dataset:sshd"), std::nullopt);
  EXPECT_EQ(match(("user.name:" + std::string(64, 'x')).c_str()), std::nullopt);  // the token holds 64 bytes
}

}  // namespace
}  // namespace vigil::collector::search
