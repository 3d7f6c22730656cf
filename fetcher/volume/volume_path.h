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
#include "fetcher/format/json_bytes.h"  // IsValidUtf8

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
// and so are a NUL byte and a name longer than 255 bytes. Names are bytes:
// any other byte is allowed (trees store names that are not UTF-8 losslessly).
absl::StatusOr<VolumePath> ParseVolumePath(absl::string_view path);

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_VOLUME_PATH_H_
