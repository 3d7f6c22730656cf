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

absl::StatusOr<VolumePath> ParseVolumePath(absl::string_view path) {
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("path contains a NUL byte");
  }
  VolumePath out;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (out.parts.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("path '", ShowBytes(path), "' escapes the volume root"));
      }
      out.parts.pop_back();
      continue;
    }
    if (part.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat("name '", ShowBytes(part.substr(0, 32)),
                                                     "…' in path is longer than 255 bytes"));
    }
    out.parts.emplace_back(part);
  }
  return out;
}

}  // namespace vol
