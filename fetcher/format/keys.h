// Where each kind of object lives in a store (docs/FORMAT.md, "Layout").
#ifndef VOL_FETCHER_FORMAT_KEYS_H_
#define VOL_FETCHER_FORMAT_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fetcher/format/object_id.h"

namespace vol {

inline std::string ChunkKey(const ObjectId& id) {
  std::string hex = id.Hex();
  return absl::StrCat("chunks/", hex.substr(0, 2), "/", hex);
}
inline std::string TreeKey(const ObjectId& id) {
  std::string hex = id.Hex();
  return absl::StrCat("trees/", hex.substr(0, 2), "/", hex);
}
inline std::string CommitPrefix(absl::string_view volume_id) {
  return absl::StrCat("volumes/", volume_id, "/commits/");
}
// Zero-padded so that keys sort in commit order.
inline std::string CommitKey(absl::string_view volume_id, uint64_t seq) {
  return absl::StrCat(CommitPrefix(volume_id), absl::StrFormat("%020d", seq));
}
// A hint only: the newest sequence number some writer saw. The log is the truth.
inline std::string HeadHintKey(absl::string_view volume_id) {
  return absl::StrCat("volumes/", volume_id, "/head");
}
inline std::string VolumeNamePrefix(absl::string_view env) {
  return absl::StrCat("envs/", env, "/volumes/");
}
inline std::string VolumeNameKey(absl::string_view env, absl::string_view name) {
  return absl::StrCat(VolumeNamePrefix(env), name);
}

// The prefixes `vol gc` walks (docs/FORMAT.md, "Garbage collection").
inline const std::string kChunksPrefix = "chunks/";
inline const std::string kTreesPrefix = "trees/";
inline const std::string kEnvsPrefix = "envs/";
inline const std::string kVolumesPrefix = "volumes/";
// A file store's objects being written (FileStore); nothing else writes there.
inline const std::string kTempPrefix = "tmp/";
// Writers' locks: locks/CREATED-RANDOM, CREATED the creation time in
// nanoseconds since the epoch, 20 digits, so that the collector knows it
// from the listing alone.
inline const std::string kLocksPrefix = "locks/";
inline std::string LockKey(int64_t created_ns, absl::string_view random) {
  return absl::StrCat(kLocksPrefix, absl::StrFormat("%020d", created_ns), "-", random);
}

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_KEYS_H_
