// Texts a person reads, in Vietnamese and English: rule, check and control titles, rationale,
// remediation, descriptions. Files give either a plain string (the same text in both languages, so
// people's own rules keep loading) or a mapping `{vi: ..., en: ...}`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::i18n {

enum class Lang : uint8_t { en, vi };

// "en" / "vi" (case-insensitive); nullopt otherwise.
std::optional<Lang> parse_lang(std::string_view name);
std::string_view lang_name(Lang lang);

struct Text {
  std::string en;
  std::string vi;

  // The text in `lang`; English when that language has none.
  const std::string& in(Lang lang) const { return lang == Lang::vi && !vi.empty() ? vi : en; }
  bool empty() const { return en.empty() && vi.empty(); }
  // The same text in both languages (a plain string in a file).
  static Text both(std::string text) {
    Text t;
    t.vi = text;
    t.en = std::move(text);
    return t;
  }
  bool operator==(const Text&) const = default;
};

// Picks `vi` when it is given and the language asks for it: for records that carry the English
// text in one field and the Vietnamese in another.
inline const std::string& pick(Lang lang, const std::string& en, const std::string& vi) {
  return lang == Lang::vi && !vi.empty() ? vi : en;
}

}  // namespace vigil::i18n
