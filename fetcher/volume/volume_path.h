// VolumePath: a path inside a volume as a list of components, always
// relative to the volume root. Parsing resolves "." and ".." lexically and
// refuses any path that would climb above the root.
#ifndef VOL_FETCHER_VOLUME_VOLUME_PATH_H_
#define VOL_FETCHER_VOLUME_VOLUME_PATH_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"

namespace vol {

struct VolumePath {
  std::vector<std::string> parts;  // empty: the root

  bool is_root() const { return parts.empty(); }
  VolumePath Parent() const;
  VolumePath Child(absl::string_view name) const;
  const std::string& Name() const { return parts.back(); }
  std::string ToString() const;  // "/a/b", "/" for the root
  friend bool operator==(const VolumePath&, const VolumePath&) = default;
};

// "/a/./b/../c/" → /a/c. "" and "/" are the root. "../x" is InvalidArgument,
// and so is a path that is not valid UTF-8 (trees store names as JSON text).
absl::StatusOr<VolumePath> ParseVolumePath(absl::string_view path);

// Well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsValidUtf8(absl::string_view s);

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_VOLUME_PATH_H_
