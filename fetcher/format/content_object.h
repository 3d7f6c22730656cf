// StoreContentObject: how a writer stores a content-addressed object (a chunk
// or a tree) that may already be in the store.
//
// Invariants, once it returns OK:
//   - the store holds, under `key`, an object this writer would accept: the
//     same size and, where the store keeps a checksum of the stored bytes
//     (s3), the same checksum as the encoding it would write; on a store
//     without one (file://), the same bytes, read back (a local read). An
//     object that differs — truncated, overwritten, damaged on disk — is
//     written again: that is how `vol put` repairs what `vol verify` found.
//   - its last-modified time is no older than gc_protocol::ReuseRefreshAge()
//     (plus clock skew): a reused old object is touched, so that a concurrent
//     `vol gc` that found it unreachable keeps it (docs/FORMAT.md).
#ifndef VOL_FETCHER_FORMAT_CONTENT_OBJECT_H_
#define VOL_FETCHER_FORMAT_CONTENT_OBJECT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "fetcher/format/object_codec.h"
#include "fetcher/store/object_store.h"

namespace vol {

struct ContentOutcome {
  uint64_t uploaded = 0;  // bytes sent: 0 when the stored object was reused
  bool repaired = false;  // an object was there but not what it should be
  bool touched = false;   // reused and refreshed
};

// `encoded` is the object as this writer would store it (EncodeObject).
absl::StatusOr<ContentOutcome> StoreContentObject(ObjectStore& store, const std::string& key,
                                                  const EncodedObject& encoded);

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_CONTENT_OBJECT_H_
