// Lines of a file read to its end by 64 KiB blocks, each cut at a maximum length (the rest of an
// overlong line skipped, the cut counted): a recorded log file, an inbox file. No line, however
// long, holds more than max_line bytes in memory.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "common/result.h"

namespace vigil::agent::pipeline {

class LineReader {
 public:
  static Result<LineReader> open(const std::string& path, size_t max_line);

  // The next line without its newline; false at the end (or a read error: error()).
  bool next(std::string& line);
  // Whether the line next() returned last was cut at max_line.
  bool last_cut() const { return last_cut_; }
  uint64_t lines_cut() const { return cut_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  std::unique_ptr<std::ifstream> in_;
  std::unique_ptr<char[]> buf_;
  size_t pos_ = 0, end_ = 0;
  size_t max_line_ = 0;
  bool last_cut_ = false;
  uint64_t cut_ = 0;
  std::string error_;
};

}  // namespace vigil::agent::pipeline
