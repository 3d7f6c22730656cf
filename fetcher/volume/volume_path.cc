#include "fetcher/volume/volume_path.h"

#include "absl/strings/string_view.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace vol {

VolumePath VolumePath::Parent() const {
  VolumePath p = *this;
  if (!p.parts.empty()) p.parts.pop_back();
  return p;
}

VolumePath VolumePath::Child(absl::string_view name) const {
  VolumePath p = *this;
  p.parts.emplace_back(name);
  return p;
}

std::string VolumePath::ToString() const { return absl::StrCat("/", absl::StrJoin(parts, "/")); }

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

absl::StatusOr<VolumePath> ParseVolumePath(absl::string_view path) {
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("path contains a NUL byte");
  }
  if (!IsValidUtf8(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("path '", absl::CHexEscape(path), "' is not valid UTF-8 (volumes store UTF-8 names)"));
  }
  VolumePath out;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (out.parts.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("path '", path, "' escapes the volume root"));
      }
      out.parts.pop_back();
      continue;
    }
    if (part.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat("name '", part.substr(0, 32),
                                                     "…' in path is longer than 255 bytes"));
    }
    out.parts.emplace_back(part);
  }
  return out;
}

}  // namespace vol
