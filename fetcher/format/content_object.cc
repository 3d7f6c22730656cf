#include "fetcher/format/content_object.h"

#include "absl/time/clock.h"
#include "fetcher/format/gc_protocol.h"

namespace vol {
namespace {

// Whether the stored object is the one this writer would store (or at least
// one it can trust, for a store without checksums: same bytes).
absl::StatusOr<bool> StoredIntact(ObjectStore& store, const std::string& key, const ObjectInfo& info,
                                  const EncodedObject& encoded) {
  if (info.size != encoded.bytes.size()) return false;
  if (!info.checksum.empty()) return info.checksum == ObjectId::Of(encoded.bytes).Hex();
  absl::StatusOr<std::string> stored = store.Get(key);
  if (absl::IsNotFound(stored.status())) return false;
  if (!stored.ok()) return stored.status();
  return *stored == encoded.bytes;
}

}  // namespace

absl::StatusOr<ContentOutcome> StoreContentObject(ObjectStore& store, const std::string& key,
                                                  const EncodedObject& encoded) {
  ContentOutcome out;
  absl::StatusOr<ObjectInfo> info = store.Head(key);
  if (info.ok()) {
    absl::StatusOr<bool> intact = StoredIntact(store, key, *info, encoded);
    if (!intact.ok()) return intact.status();
    if (*intact) {
      absl::Duration age = absl::Now() - absl::FromUnixNanos(info->mtime_ns);
      if (info->mtime_ns == 0 || age > gc_protocol::ReuseRefreshAge()) {
        absl::Status s = store.Touch(key);
        if (s.ok()) {
          out.touched = true;
          return out;
        }
        if (!absl::IsNotFound(s)) return s;
        // Gone meanwhile (a collector that started before this writer): store it.
      } else {
        return out;
      }
    } else {
      out.repaired = true;
    }
  } else if (!absl::IsNotFound(info.status())) {
    return info.status();
  }
  if (absl::Status s = store.Put(key, encoded.bytes); !s.ok()) return s;
  out.uploaded = encoded.bytes.size();
  return out;
}

}  // namespace vol
