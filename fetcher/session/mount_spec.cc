#include "fetcher/session/mount_spec.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fetcher/volume/volumes.h"

namespace vol {

absl::StatusOr<MountSpec> ParseMountSpec(absl::string_view text) {
  MountSpec m;
  size_t colon = text.find(':');
  m.volume = std::string(text.substr(0, colon));
  if (absl::Status s = ValidateVolumeName(m.volume); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("-v ", text, ": ", s.message()));
  }
  std::string path = colon == absl::string_view::npos ? absl::StrCat("/mnt/", m.volume)
                                                      : std::string(text.substr(colon + 1));
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "mount path '", path, "' for volume '", m.volume,
        "' is relative: use an absolute path, like -v ", m.volume, ":/mnt/", m.volume));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view p : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (p == "." || p == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "mount path '", path, "' for volume '", m.volume, "' contains '", p,
          "': write it without . or .. components"));
    }
    parts.push_back(p);
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "volume '", m.volume, "' cannot be mounted at /: choose a directory, like /mnt/", m.volume));
  }
  m.mount = absl::StrCat("/", absl::StrJoin(parts, "/"));
  if (m.mount.size() > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("mount path for volume '", m.volume, "' is too long"));
  }
  return m;
}

absl::Status CheckMounts(const std::vector<MountSpec>& mounts) {
  for (size_t i = 0; i < mounts.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const MountSpec& a = mounts[j];
      const MountSpec& b = mounts[i];
      if (a.volume == b.volume) {
        return absl::InvalidArgumentError(absl::StrCat("volume '", a.volume, "' is mounted twice (at ",
                                                       a.mount, " and ", b.mount, "): mount each volume once"));
      }
      if (a.mount == b.mount) {
        return absl::InvalidArgumentError(absl::StrCat("volumes '", a.volume, "' and '", b.volume,
                                                       "' are both mounted at ", a.mount));
      }
      auto inside = [](const std::string& in, const std::string& out) {
        return absl::StartsWith(in, out) && in[out.size()] == '/';
      };
      if (inside(b.mount, a.mount) || inside(a.mount, b.mount)) {
        const MountSpec& inner = inside(b.mount, a.mount) ? b : a;
        const MountSpec& outer = inside(b.mount, a.mount) ? a : b;
        return absl::InvalidArgumentError(absl::StrCat(
            "mount ", inner.mount, " (volume '", inner.volume, "') is inside mount ", outer.mount,
            " (volume '", outer.volume, "'): mounts cannot nest"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace vol
