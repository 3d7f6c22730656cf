// ChunkCache: verified raw chunks on local disk, shared by every session on
// the host (and by concurrent ones).
//
// Layout: DIR/chunks/ab/<32 hex digits>, the raw (decompressed) bytes of the
// chunk with that id. Invariants:
//   - An entry is written to a temporary name in its directory and renamed
//     into place, so readers in any process see a whole chunk or none;
//     concurrent writers of one id write equal bytes, so the last rename wins
//     harmlessly.
//   - Get checks size and hash before returning bytes; a corrupt entry is
//     removed and reported as a miss, never returned.
//   - Recency is the entry's mtime, set to now on every hit and write
//     (atime is unreliable under relatime/noatime). Eviction removes the
//     least recently used entries until the cache is at 90% of its limit; a
//     process evicts after adding 1/8 of the limit since its last pass, and
//     only one process at a time evicts (flock on DIR/evict.lock). A reader
//     that has an entry open while it is evicted still reads it (unlink).
//   - Private to the user: entries 0600 in directories 0700
//     (kPrivateFileMode, kPrivateDirMode), under a cache directory that
//     `vol run` checks (SafeDir) before any session uses it.
#ifndef VOL_FETCHER_SESSION_CHUNK_CACHE_H_
#define VOL_FETCHER_SESSION_CHUNK_CACHE_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fetcher/format/tree.h"

namespace vol {

inline constexpr uint64_t kDefaultCacheLimit = uint64_t{20} << 30;

// "10G", "512M", "64k", "1T", "12345" (bytes); binary units.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

// $VOL_CACHE_DIR, else $XDG_CACHE_HOME/vol, else ~/.cache/vol ($HOME, else the
// passwd entry), else /tmp/vol-cache-UID.
std::string DefaultCacheDir();

// $VOL_CACHE_SIZE, else the smaller of 20 GiB and 10% of the file system
// holding `dir` (at least 1 GiB).
absl::StatusOr<uint64_t> CacheLimitFromEnv(const std::string& dir);

class ChunkCache {
 public:
  ChunkCache(std::string dir, uint64_t limit_bytes);

  // The chunk's raw bytes, verified; nullopt on a miss.
  std::optional<std::string> Get(const ChunkRef& ref);
  // Stores verified raw bytes (the caller has checked them against ref).
  absl::Status Put(const ChunkRef& ref, absl::string_view raw);
  // Removes least recently used entries until the total is at most `target`
  // bytes. Returns the bytes left in the cache.
  // With `wait`, waits for another process's pass to end instead of skipping.
  absl::StatusOr<uint64_t> Evict(uint64_t target, bool wait = false);
  // At the end of a session: if this process added entries, evicts down to
  // the limit (concurrent writers may have pushed the cache past it).
  void Settle();
  // Total bytes of all entries (walks the cache).
  uint64_t Usage() const;

  const std::string& dir() const { return dir_; }
  uint64_t limit() const { return limit_; }
  std::string PathOf(const ObjectId& id) const;

 private:
  void MaybeEvict();

  std::string dir_;
  uint64_t limit_;
  std::atomic<uint64_t> added_since_evict_{0};
  std::atomic<uint64_t> tmp_counter_{0};
  std::atomic<bool> added_{false};
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_CHUNK_CACHE_H_
