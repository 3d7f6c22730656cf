// The ObjectStore defaults a store may override with something cheaper.
#include "fetcher/store/object_store.h"

namespace vol {

absl::StatusOr<std::vector<ListedObject>> ObjectStore::ListObjects(std::string_view prefix) {
  absl::StatusOr<std::vector<std::string>> keys = List(prefix);
  if (!keys.ok()) return keys.status();
  std::vector<ListedObject> out;
  out.reserve(keys->size());
  for (std::string& key : *keys) {
    absl::StatusOr<ObjectInfo> info = Head(key);
    if (absl::IsNotFound(info.status())) continue;  // deleted while listing
    if (!info.ok()) return info.status();
    out.push_back({std::move(key), info->size, info->mtime_ns});
  }
  return out;
}

absl::Status ObjectStore::Touch(std::string_view key) {
  absl::StatusOr<std::string> bytes = Get(key);
  if (!bytes.ok()) return bytes.status();
  return Put(key, *bytes);
}

}  // namespace vol
