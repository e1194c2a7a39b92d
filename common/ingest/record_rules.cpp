#include "common/ingest/record_rules.h"

#include <fmt/format.h>

namespace vigil::ingest {

bool is_check_result(std::string_view result) {
  return result == "pass" || result == "fail" || result == "error" || result == "not_applicable";
}

std::optional<std::string> refuse_reason(const RecordFacts& f) {
  if (f.kind == "alert") {
    if (f.rule_id.empty()) return "an alert needs rule.id";
    if (f.rule_id.size() > kMaxIdBytes) return fmt::format("rule.id longer than {} bytes", kMaxIdBytes);
  }
  if (f.dataset == "compliance.check") {
    if (f.rule_id.empty() || f.policy_id.empty() || !is_check_result(f.check_result)) {
      return "a compliance.check event needs rule.id, vigil.policy.id and vigil.check.result "
             "(pass, fail, error or not_applicable)";
    }
    if (f.rule_id.size() > kMaxIdBytes || f.policy_id.size() > kMaxIdBytes) {
      return fmt::format("rule.id or vigil.policy.id longer than {} bytes", kMaxIdBytes);
    }
  }
  return std::nullopt;
}

std::optional<size_t> json_depth_exceeded(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

bool printable(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return false;
    auto next = [&](size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0; };
    // C1 controls (U+0080-U+009F, e.g. CSI) and bidirectional overrides and isolates
    // (U+202A-U+202E, U+2066-U+2069), which reorder what a terminal or page shows.
    if (c == 0xc2 && next(1) >= 0x80 && next(1) <= 0x9f) return false;
    if (c == 0xe2 && next(1) == 0x80 && next(2) >= 0xaa && next(2) <= 0xae) return false;
    if (c == 0xe2 && next(1) == 0x81 && next(2) >= 0xa6 && next(2) <= 0xa9) return false;
  }
  return true;
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points past U+10FFFF are not well-formed either.
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      if (len == 2) ok = c >= 0xc2;
      if (len == 3) ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
      if (len == 4) ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90) && c <= 0xf4;
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace vigil::ingest
