#include "common/i18n/text.h"

#include <algorithm>
#include <cctype>

namespace vigil::i18n {

std::optional<Lang> parse_lang(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "en") return Lang::en;
  if (n == "vi") return Lang::vi;
  return std::nullopt;
}

std::string_view lang_name(Lang lang) { return lang == Lang::vi ? "vi" : "en"; }

}  // namespace vigil::i18n
