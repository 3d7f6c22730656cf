#include "fetcher/format/json_bytes.h"

#include <cstdint>

#include "absl/strings/escaping.h"

namespace vol {

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

nlohmann::json BytesToJson(absl::string_view bytes) {
  if (IsValidUtf8(bytes)) return std::string(bytes);
  return nlohmann::json{{"base64", absl::Base64Escape(bytes)}};
}

std::optional<std::string> BytesFromJson(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (!j.is_object() || j.size() != 1) return std::nullopt;
  auto it = j.find("base64");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  std::string out;
  if (!absl::Base64Unescape(it->get<std::string>(), &out)) return std::nullopt;
  return out;
}

std::string ShowBytes(absl::string_view bytes) {
  if (IsValidUtf8(bytes)) return std::string(bytes);
  return absl::CHexEscape(bytes);
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vol
