// MountSpec: what `-v NAME[:MOUNT]` asks for, checked before anything runs.
#ifndef VOL_FETCHER_SESSION_MOUNT_SPEC_H_
#define VOL_FETCHER_SESSION_MOUNT_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vol {

struct MountSpec {
  std::string volume;
  std::string mount;  // absolute, normalised, no trailing '/'
};

// "weights" → weights at /mnt/weights; "weights:/models" → at /models.
// A relative or root mount path is InvalidArgument naming it.
absl::StatusOr<MountSpec> ParseMountSpec(absl::string_view text);

// Refuses the same volume twice and a mount inside (or equal to) another,
// one line each naming both.
absl::Status CheckMounts(const std::vector<MountSpec>& mounts);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_MOUNT_SPEC_H_
