// What libvol's C entry points share: the opened-volume handle and the
// conversions of C arguments (store URL, environment, path) to the core's.
#ifndef VOL_FETCHER_API_API_VOLUME_H_
#define VOL_FETCHER_API_API_VOLUME_H_

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/volume_path.h"
#include "fetcher/volume/volumes.h"

struct vol_volume {
  std::unique_ptr<vol::ObjectStore> store;
  vol::VolumeInfo info;
  bool read_only = false;
};

namespace vol::api {

// NULL/"": $VOL_STORE, else the session's store, else the default.
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStoreArg(const char* store);
// NULL/"": $VOL_ENV, else "main".
std::string EnvArg(const char* env);
absl::StatusOr<VolumePath> PathArg(const char* path);
// EROFS, naming the volume.
int ReadOnlyError(const vol_volume* v);
// A malloc'd copy for the caller to vol_free.
char* Dup(const std::string& s);
// JSON text that never throws on names that are not UTF-8.
std::string Dump(const nlohmann::json& j);

}  // namespace vol::api

#endif  // VOL_FETCHER_API_API_VOLUME_H_
