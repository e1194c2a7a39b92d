#include "collector/store/sql_database.h"

#include <charconv>

namespace vigil::collector {

int64_t SqlRows::integer(size_t row, size_t col) const {
  const auto& cell = rows_[row][col];
  if (!cell) return 0;
  int64_t v = 0;
  std::from_chars(cell->data(), cell->data() + cell->size(), v);
  return v;
}

bool SqlRows::boolean(size_t row, size_t col) const {
  const auto& cell = rows_[row][col];
  return cell && (*cell == "t" || *cell == "true" || *cell == "1");
}

}  // namespace vigil::collector
