// The thin connection interface the store's rules are written once over (collector/store/*_sql.cpp):
// run a statement with parameters, read its rows, group statements in a transaction. SQLite and
// PostgreSQL each give one (sqlite/, postgres/); only SQL text that must differ asks the dialect.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace vigil::collector {

enum class SqlDialect { sqlite, postgres };

// A statement's parameters in order: ?1, ?2... in the SQL text (PostgreSQL's $1, $2... are made
// from them). A parameter whose type PostgreSQL cannot infer from its place (`?1 IS NULL`) is
// written CAST(?1 AS TEXT) or CAST(?1 AS BIGINT), which both dialects read alike.
class SqlParams {
 public:
  enum class Kind { null, integer, text, boolean };
  struct Value {
    Kind kind = Kind::null;
    int64_t integer = 0;
    std::string text;
  };
  SqlParams& integer(int64_t v) {
    values_.push_back({Kind::integer, v, {}});
    return *this;
  }
  SqlParams& text(std::string_view v) {
    values_.push_back({Kind::text, 0, std::string(v)});
    return *this;
  }
  SqlParams& boolean(bool v) {
    values_.push_back({Kind::boolean, v ? 1 : 0, {}});
    return *this;
  }
  SqlParams& null() {
    values_.push_back({});
    return *this;
  }
  // Empty means "any" in filters: SQL NULL.
  SqlParams& text_or_null(const std::string& v) { return v.empty() ? null() : text(v); }
  const std::vector<Value>& values() const { return values_; }

 private:
  std::vector<Value> values_;
};

// What a statement returned, read whole before the next one runs: its rows (each cell as text,
// or absent for NULL) and how many rows it inserted, changed or deleted.
class SqlRows {
 public:
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  bool is_null(size_t row, size_t col) const { return !rows_[row][col].has_value(); }
  std::string text(size_t row, size_t col) const { return rows_[row][col].value_or(std::string()); }
  int64_t integer(size_t row, size_t col) const;
  // SQLite's 0/1 and PostgreSQL's t/f alike.
  bool boolean(size_t row, size_t col) const;
  uint64_t changed = 0;

  void add_row(std::vector<std::optional<std::string>> cells) { rows_.push_back(std::move(cells)); }

 private:
  std::vector<std::vector<std::optional<std::string>>> rows_;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual SqlDialect dialect() const = 0;
  // Runs one statement; an error says what the database said.
  virtual Result<SqlRows> run(const char* sql, const SqlParams& params = {}) = 0;
};

class SqlDatabase {
 public:
  virtual ~SqlDatabase() = default;
  using Work = std::function<Result<void>(SqlConnection&)>;
  // `work` on one connection (SQLite: the store's, under its lock; PostgreSQL: one of the pool).
  // Errors name `op`.
  virtual Result<void> with_connection(const char* op, const Work& work) = 0;
  // The same inside one transaction: committed when `work` succeeds, rolled back otherwise.
  virtual Result<void> in_transaction(const char* op, const Work& work) = 0;

  // `work` returning a value, on a connection or in a transaction.
  template <typename T, typename Fn>
  Result<T> query(const char* op, Fn&& fn) {
    return returning<T>(op, false, std::forward<Fn>(fn));
  }
  template <typename T, typename Fn>
  Result<T> transaction(const char* op, Fn&& fn) {
    return returning<T>(op, true, std::forward<Fn>(fn));
  }

 private:
  template <typename T, typename Fn>
  Result<T> returning(const char* op, bool in_one_transaction, Fn&& fn) {
    std::optional<T> out;
    Work work = [&](SqlConnection& c) -> Result<void> {
      Result<T> v = fn(c);
      if (!v) return make_error(v.error());
      out.emplace(std::move(*v));
      return {};
    };
    auto r = in_one_transaction ? in_transaction(op, work) : with_connection(op, work);
    if (!r) return make_error(r.error());
    return std::move(*out);
  }
};

}  // namespace vigil::collector
