// Volumes: names within environments, each mapped to an immutable volume id.
//
// The record for NAME in ENV lives at envs/ENV/volumes/NAME and is created
// put-if-absent, so two `vol create` racing for one name cannot both win.
// The id never changes: rename writes the record under the new name
// (put-if-absent) and then deletes the old one; delete removes the name only
// (the commits and objects stay until a garbage collection reclaims them).
#ifndef VOL_FETCHER_VOLUME_VOLUMES_H_
#define VOL_FETCHER_VOLUME_VOLUMES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "fetcher/store/object_store.h"

namespace vol {

struct VolumeInfo {
  std::string env;
  std::string name;
  std::string id;  // 32 hex digits
  int64_t created_ns = 0;
};

// Modal's rule: 1–64 characters of [A-Za-z0-9._-]. Environments follow it too.
absl::Status ValidateVolumeName(absl::string_view name, absl::string_view what = "volume name");

// With allow_existing, an existing volume is returned (and *created is false).
absl::StatusOr<VolumeInfo> CreateVolume(ObjectStore& store, absl::string_view env,
                                        absl::string_view name, bool allow_existing,
                                        bool* created = nullptr);
// NotFound says how to create the volume.
absl::StatusOr<VolumeInfo> LookupVolume(ObjectStore& store, absl::string_view env,
                                        absl::string_view name);
absl::StatusOr<std::vector<VolumeInfo>> ListVolumes(ObjectStore& store, absl::string_view env);
absl::Status RenameVolume(ObjectStore& store, absl::string_view env, absl::string_view from,
                          absl::string_view to);
absl::Status DeleteVolume(ObjectStore& store, absl::string_view env, absl::string_view name);

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_VOLUMES_H_
