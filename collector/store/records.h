// What several of the store's interfaces share: who an event is about, lists in one column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::collector {

// Who an event or alert is about (shared/DESIGN.md "Events"), as the event writes it: empty or 0
// when absent. Triage lists alerts by it; search indexes it.
struct Entity {
  std::string source_ip;
  int64_t source_port = 0;
  std::string destination_ip;
  int64_t destination_port = 0;
  std::string user_name;
};

// Lists of agency names travel in one text column or parameter, one name per line (names are
// checked to hold no control characters where they enter).
inline std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += '\n';
    out += i;
  }
  return out;
}
inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace vigil::collector
