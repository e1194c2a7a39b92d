// The event search language (README "Searching events") and its translation to SQL for both
// stores. A query is read into a tree once, checked against the catalogue of searchable fields,
// and written as one SQL condition with parameters; nothing the caller typed reaches SQL text.
//   field:value        exact              user.name:root     event.dataset:sshd
//   field:val*         prefix             url.domain:www.*
//   ip.field:CIDR      address range      source.ip:10.0.0.0/8   destination.ip:2001:db8::/32
//   field>N field<N field>=N field<=N     destination.port<1024
//   word  "a phrase"   full text over event.original (word* for a prefix)
//   AND  OR  NOT  ( )  adjacent terms are ANDed; NOT binds tightest, then AND, then OR
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigil::collector::search {

enum class FieldType { keyword, number, ip, text };

// A field the language knows: where its value lives (a column of the search index, or a path
// into the stored event) and how it compares.
struct Field {
  std::string_view name;    // as ECS names it: source.ip
  FieldType type;
  std::string_view column;  // a column of the events table, empty when read from the event itself
};

// Every field a query may name (README lists them); nullptr when unknown.
const Field* find_field(std::string_view name);
const std::vector<Field>& fields();

// The 16-byte key of an address (IPv4 as IPv4-mapped IPv6), written as 32 lowercase hex digits
// so that text order is address order; nullopt when `text` is not an address.
std::optional<std::string> ip_key(std::string_view text);
// The first and last keys of a CIDR block (or of one address when there is no /len).
struct IpRange {
  std::string lo, hi;
};
std::optional<IpRange> ip_range(std::string_view text);

struct Node {
  enum class Kind { all_of, any_of, negate, term } kind = Kind::term;
  std::vector<Node> children;  // all_of, any_of: two or more; negate: one
  // A term: a field (nullptr: full text) compared with a value.
  enum class Op { eq, prefix, gt, ge, lt, le, range, phrase } op = Op::eq;
  const Field* field = nullptr;
  std::string value;  // eq, prefix, phrase (full text); ip range: lo
  std::string value2; // ip range: hi
  int64_t number = 0; // comparisons and numeric equality
  size_t position = 0;
};

struct ParseError {
  size_t position = 0;  // byte offset in the query
  std::string message;
};

// Bounds of a query: longer, deeper or with more terms is refused as an error.
inline constexpr size_t kMaxQueryBytes = 4096;
inline constexpr size_t kMaxTerms = 64;
inline constexpr size_t kMaxDepth = 32;

// An empty query (only spaces) matches every event: an all_of with no children.
std::variant<Node, ParseError> parse(std::string_view query);

enum class Dialect { sqlite, postgres };

// One SQL parameter: text or an integer.
struct SqlParam {
  SqlParam(std::string t) : is_text(true), text(std::move(t)) {}  // NOLINT: implicit on purpose
  SqlParam(int64_t n) : number(n) {}                              // NOLINT
  bool is_text = false;
  std::string text;
  int64_t number = 0;
};

// SQLite: the stored event of the events row `s`, from the joins of kSqliteBodyJoins: in its
// block of bodies (collector/store/sqlite/body_blocks.h), or in event_bodies for events stored
// before schema 20.
inline constexpr const char* kSqliteBodyJoins =
    " LEFT JOIN event_bodies sb ON sb.id = s.id LEFT JOIN event_blocks sk ON sk.id = s.body_at >> 16";
inline constexpr const char* kSqliteBody = "COALESCE(sb.body, vigil_body(sk.id, sk.data, s.body_at & 65535))";
// The same for retention: NULL where a block cannot be read, rather than an error.
inline constexpr const char* kSqliteBodyLenient = "COALESCE(sb.body, vigil_body(sk.id, sk.data, s.body_at & 65535, 1))";

// The condition a tree makes, over `s` (the events row) and the stored event (SQLite's
// kSqliteBody, PostgreSQL's body column of the same row, `r`).
// Placeholders continue from `params.size() + 1` ($N for PostgreSQL, ?N for SQLite).
struct SqlCondition {
  std::string sql;
  std::vector<SqlParam> params;
  bool uses_record = false;  // reads the stored event (a field that has no column)
  bool uses_text = false;    // full text
  // Given: SQLite, every event of the window carries the address block tokens (sqlite_keys).
  bool block_keys = false;
  int negations = 0;  // while writing: the NOTs around the term written
};
void to_sql(const Node& node, Dialect dialect, SqlCondition& out);

// Full text is indexed and searched without Vietnamese (and Latin-1) diacritics, so that
// "dang nhap" finds "Đăng nhập" on both stores; other text is left as it is.
std::string fold_diacritics(std::string_view text);

// The words a full-text term is made of, as the index stores them (FTS5 query text).
std::string fts5_query(const Node& term);
// tsquery text for a prefix term (PostgreSQL); phrases go through phraseto_tsquery as they are.
std::string tsquery_prefix(std::string_view value);

// SQLite keeps the three most searched fields as tokens of its full-text table's `keys` column
// rather than in B-tree indexes (random keys cost a page write each at ingest): `s` and `d` and
// the 32 hex digits of source.ip's and destination.ip's keys, `u` and the hex of user.name's
// bytes (its first kUserKeyBytes). Hex makes each one token, whatever the tokenizer; a search
// re-checks the column, so the tokens only narrow.
//
// With `blocks` (events stored from schema 19 on; the row's has_text bit 2 says so), each address
// also gives the tokens of its blocks: an IPv4 address its /16 and /24 (the letter and the first
// 28 and 30 hex digits of its key), an IPv6 address its /48 and /64 (12 and 16 digits). A search
// for a block of those lengths or inside one reads its postings rather than the window's rows.
inline constexpr size_t kUserKeyBytes = 64;
std::string user_key_token(std::string_view user_name);
std::string sqlite_keys(std::string_view source_key, std::string_view destination_key, std::string_view user_name,
                        bool blocks);
// The FTS5 query of the key a term of those fields needs: one address or user name, or (with
// `blocks`) the smallest indexed block holding an address block; nullopt for any other term
// (other blocks and prefixes read the window's rows). `exact` is set when the token holds the
// term's values and no others (every case but a block inside an indexed one).
std::optional<std::string> keys_query(const Node& term, bool blocks, bool* exact = nullptr);
// The whole query as one FTS5 expression, when the full-text table answers every term of it
// exactly (words and phrases; one address, or an indexed block with `blocks`; one user name within
// the token's bytes), combined by AND and OR; nullopt otherwise (NOT, other fields, long user
// names). Such a query's hits and histogram read the full-text table alone.
std::optional<std::string> fts_match(const Node& query, bool blocks);

}  // namespace vigil::collector::search
