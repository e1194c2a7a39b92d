#include "agent/pipeline/line_reader.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace vigil::agent::pipeline {

namespace {
constexpr size_t kReadBlock = 64 * 1024;
}  // namespace

Result<LineReader> LineReader::open(const std::string& path, size_t max_line) {
  LineReader r;
  r.in_ = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*r.in_) return make_error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  r.path_ = path;
  r.buf_ = std::make_unique<char[]>(kReadBlock);
  r.max_line_ = max_line;
  return r;
}

bool LineReader::next(std::string& line) {
  line.clear();
  last_cut_ = false;
  bool any = false;
  for (;;) {
    if (pos_ == end_) {
      if (!*in_) return any;
      in_->read(buf_.get(), static_cast<std::streamsize>(kReadBlock));
      end_ = static_cast<size_t>(in_->gcount());
      pos_ = 0;
      if (end_ == 0) {
        if (in_->bad()) error_ = fmt::format("{}: read error: {}", path_, std::strerror(errno));
        return any;
      }
    }
    any = true;
    const char* start = buf_.get() + pos_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    const size_t n = nl ? static_cast<size_t>(nl - start) : end_ - pos_;
    if (!last_cut_) {
      const size_t room = max_line_ - line.size();
      line.append(start, std::min(n, room));
      if (n > room) {
        last_cut_ = true;
        ++cut_;
      }
    }
    pos_ += n;
    if (nl) {
      ++pos_;
      return true;
    }
  }
}

}  // namespace vigil::agent::pipeline
