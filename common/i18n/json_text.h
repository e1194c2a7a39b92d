// Bilingual texts in JSON documents (summaries, API answers, scan results): the English text under
// `key` and the Vietnamese under `key_vi` when it differs, so English readers and older clients see
// what they always saw.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/i18n/text.h"

namespace vigil::i18n {

inline void put_text(nlohmann::json& into, std::string_view key, const std::string& en, const std::string& vi) {
  into[std::string(key)] = en;
  if (!vi.empty() && vi != en) into[std::string(key) + "_vi"] = vi;
}

inline void put_text(nlohmann::json& into, std::string_view key, const Text& text) {
  put_text(into, key, text.en, text.vi);
}

// The text under `key` in `lang` (English when there is no Vietnamese); "" when absent.
inline std::string text_in(const nlohmann::json& from, std::string_view key, Lang lang) {
  if (!from.is_object()) return {};
  if (lang == Lang::vi) {
    auto it = from.find(std::string(key) + "_vi");
    if (it != from.end() && it->is_string()) return it->get<std::string>();
  }
  auto it = from.find(std::string(key));
  return it != from.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace vigil::i18n
