// ObjectStore: the only thing vol shares between machines.
//
// Keys are '/'-separated strings without a leading '/' ("chunks/ab/ab12…").
// Every implementation guarantees:
//   - Put replaces an object atomically: readers see the old bytes or the new,
//     never a mix or a prefix.
//   - PutIfAbsent creates an object only if no object has that key, atomically
//     with respect to every other writer on every machine; a writer that loses
//     gets absl::AlreadyExistsError. The commit log is built on this alone.
//   - List returns keys in ascending byte order.
// Errors use absl status codes consistently, so callers above do not care which
// store is underneath:
//   NotFound (no such key), AlreadyExists (PutIfAbsent lost),
//   PermissionDenied / Unauthenticated (fix credentials or permissions; never retried),
//   Unavailable / DeadlineExceeded (the store is down or slow, after retries),
//   DataLoss (the store returned bytes that cannot be right), InvalidArgument.
// Messages name the object and the store, never a secret.
#ifndef VOL_FETCHER_STORE_OBJECT_STORE_H_
#define VOL_FETCHER_STORE_OBJECT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vol {

struct ObjectInfo {
  uint64_t size = 0;
  // When the object was last written or touched, by the store's clock
  // (nanoseconds since the epoch); 0 when the store does not say.
  int64_t mtime_ns = 0;
  // XXH3-128 (32 hex digits) of the stored bytes, when the store keeps one
  // with the object (s3: x-amz-meta-vol-xxh3); "" otherwise.
  std::string checksum;
};

struct ListedObject {
  std::string key;
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // as ObjectInfo::mtime_ns
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // The whole object.
  virtual absl::StatusOr<std::string> Get(std::string_view key) = 0;
  // The whole object, read into memory the caller lends: *buffer is reused
  // from call to call (a fetcher worker reads thousands of chunks through
  // one, so no fresh pages are faulted in per object) and the bytes returned
  // lie somewhere inside it (a store may place them at an offset, aligned for
  // direct I/O). Valid until *buffer is used again.
  virtual absl::StatusOr<std::string_view> GetInto(std::string_view key, std::string* buffer) {
    absl::StatusOr<std::string> got = Get(key);
    if (!got.ok()) return got.status();
    buffer->swap(*got);
    return std::string_view(*buffer);
  }
  // Bytes [offset, offset + length), clipped at the object's end.
  virtual absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                               uint64_t length) = 0;
  virtual absl::Status Put(std::string_view key, std::string_view data) = 0;
  virtual absl::Status PutIfAbsent(std::string_view key, std::string_view data) = 0;
  virtual absl::StatusOr<ObjectInfo> Head(std::string_view key) = 0;
  // Keys that start with `prefix` and sort after `start_after` (all when empty).
  virtual absl::StatusOr<std::vector<std::string>> List(std::string_view prefix,
                                                        std::string_view start_after = {}) = 0;
  // Like List, with each object's size and last-modified time (vol gc).
  // The default asks Head for each key; stores override it with one listing.
  virtual absl::StatusOr<std::vector<ListedObject>> ListObjects(std::string_view prefix);
  // Sets the object's last-modified time to now without changing its bytes
  // (a writer that reuses an old object, docs/FORMAT.md "Garbage
  // collection"). NotFound when absent. The default reads and rewrites it.
  virtual absl::Status Touch(std::string_view key);
  // Succeeds when the key is already absent.
  virtual absl::Status Delete(std::string_view key) = 0;
  // The store's URL, for messages ("file:///…", "s3://bucket/prefix").
  virtual std::string Url() const = 0;
};

// Opens the store a URL names: "file:///abs/path" or "s3://bucket[/prefix]".
// An empty url means $VOL_STORE, else the embedded default
// file://$XDG_DATA_HOME/vol/store (~/.local/share/vol/store).
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url);

// The URL OpenStore("") would open.
std::string DefaultStoreUrl();

}  // namespace vol

#endif  // VOL_FETCHER_STORE_OBJECT_STORE_H_
