// ContentCache: the one local copy of file content, shared by every session on
// the host (and by concurrent ones). A session's view holds hard links to
// these files, so a byte fetched once is on local disk once, and a second
// session reads it at page-cache speed through the same inode.
//
// Layout, under DIR/files/XX/ (XX: the first two hex digits of KEY):
//   KEY        a complete content file: exactly the file's bytes, its mtime,
//              its owner's r and x bits (ContentFileMode: nothing writes into
//              a shared copy by accident, programs get a private copy first).
//   KEY.part   a content file being filled: its size is set, chunks land in it
//              one by one (sparse until then), mode with u+w.
//   KEY.map    which chunks of KEY.part are present, for the other sessions
//              (made when its first chunk lands): a header naming the .part's
//              inode and the boot it was written in, then one byte per chunk.
//              Bits of another boot are not trusted (the data they describe
//              may not have reached the disk), nor those of another inode.
// KEY = ContentKey(entry): the XXH3-128 of the entry's size, mode, mtime and
// chunk list, so that equal content with equal metadata is one inode.
//
// Invariants:
//   - KEY exists only once its content is complete *and durable*: a .part is
//     flushed (syncfs, batched) before it is renamed to KEY. A crash never
//     leaves a KEY with holes; a .part of another boot starts over.
//   - A chunk's byte in KEY.map is set only after its bytes are in KEY.part.
//   - Eviction also removes, whatever the total, .part files no view links
//     that hold no data and were not used for a day (they cost an inode).
//   - Files are created under a temporary name (O_TMPFILE) and linked into
//     place, so no reader sees a content file without its size and mode.
//   - Directories are 0700 and files have no group or other bits: the cache
//     is the user's alone (docs/SECURITY.md).
//   - Eviction (least recently used first, down to 90% of the limit, one
//     process at a time under flock on DIR/evict.lock) removes only files no
//     view links (st_nlink == 1). Recency is the later of atime and ctime:
//     linking a file into a view moves its ctime, reading it its atime.
#ifndef VOL_FETCHER_SESSION_CONTENT_CACHE_H_
#define VOL_FETCHER_SESSION_CONTENT_CACHE_H_

#include <fcntl.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fetcher/format/tree.h"
#include "fetcher/util/fs.h"

namespace vol {

inline constexpr uint64_t kDefaultCacheLimit = uint64_t{20} << 30;

// "10G", "512M", "64k", "1T", "12345" (bytes); binary units.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

// $VOL_CACHE_DIR, else $XDG_CACHE_HOME/vol, else $HOME/.cache/vol.
std::string DefaultCacheDir();

// $VOL_CACHE_SIZE, else the smaller of 20 GiB and 10% of the file system
// holding `dir` (at least 1 GiB).
absl::StatusOr<uint64_t> CacheLimitFromEnv(const std::string& dir);

// The identity of a file's content and metadata in the cache; with `mode`,
// that of `entry` given that mode (no copy of the entry).
ObjectId ContentKey(const Entry& entry);
ObjectId ContentKey(const Entry& entry, uint32_t mode);

// The mode a content file has on disk: the owner's read and execute bits of
// the one it is materialised with (MaterialMode, the caller's), and its
// setuid/setgid when those are kept. No write bit (a program gets a private
// copy), and nothing for group or others: the cache is the user's alone. A
// program sees the materialised mode (the shim shows the slot's).
inline uint32_t ContentFileMode(uint32_t mode) { return mode & 06500; }

// Removes least recently used content files that no view links until the
// cache in `dir` holds at most `target` bytes; returns the bytes left. One
// process at a time: with `wait`, waits for another's pass instead of skipping.
absl::StatusOr<uint64_t> EvictContent(const std::string& dir, uint64_t target, bool wait = false);

class ContentCache {
 public:
  ContentCache(std::string dir, uint64_t limit_bytes);
  ~ContentCache();  // flushes and publishes completed files
  ContentCache(const ContentCache&) = delete;
  ContentCache& operator=(const ContentCache&) = delete;

  // A content file, ready to be linked into a view.
  struct File {
    ObjectId key;
    uint32_t mode = 0;    // the entry's (material) mode
    std::string path;     // KEY or KEY.part (linkable by this path or through fd)
    UniqueFd fd;          // O_RDWR on KEY.part, when open; never when complete
    bool complete = false;
    uint64_t dev = 0, ino = 0;
    std::vector<uint8_t> present;  // per chunk (from KEY.map of this boot), when not complete
  };

  // The content file of a non-empty regular file `entry` (whose mode is the
  // one to materialise: MaterialMode), created (sparse, sized, dated) when the
  // cache has none. Thread-safe.
  absl::StatusOr<File> Open(const Entry& entry);
  // Opens f's file again, for writing (its fd is closed between chunks when
  // many files are being filled, to spare descriptors) or, to publish a
  // whole one, O_RDONLY (a write fd anywhere makes execve of it fail with
  // ETXTBSY): true when f.fd is open on the same inode; false when another
  // session has published it meanwhile (KEY is that inode: it is whole).
  absl::StatusOr<bool> Reopen(File& f, int access = O_RDWR) const;
  // Re-reads which chunks other sessions have fetched into f (KEY.map).
  void Refresh(File& f, size_t chunks) const;
  // Chunk `index` of f is in its file: recorded in KEY.map for other sessions.
  void MarkPresent(const File& f, size_t index, size_t chunks) const;
  // Every chunk of f is present: f is made durable and renamed to KEY in the
  // background (batched), and its fd closed. Thread-safe.
  void Complete(File f, int64_t mtime_ns);
  // A file a session wrote becomes the content file of `entry` (its material
  // entry: the caller hashed the chunks from the file, which nobody else has
  // open, and took the metadata from its inode), unless the cache has one:
  // it is linked as KEY.part with a map that calls every chunk present (in
  // this boot, like a .part a fetcher filled), so the next session that
  // shows `entry` links it instead of fetching it, and publishes it. Its
  // mode becomes a content file's (no write bits for anyone but the .part's
  // owner). Returns whether it was adopted.
  absl::StatusOr<bool> Adopt(int fd, const Entry& entry);

  // Makes every completed file durable and published now (end of a session).
  void Flush();
  absl::StatusOr<uint64_t> Evict(uint64_t target, bool wait = false) { return EvictContent(dir_, target, wait); }
  // Bytes of every content file (walks the cache).
  uint64_t Usage() const;
  // Accounts for bytes written into content files (eviction runs after every 1/8 of the limit).
  void Added(uint64_t bytes);

  const std::string& dir() const { return dir_; }
  // Content files this process created (sparse, for a view).
  uint64_t created() const { return created_.load(); }
  uint64_t limit() const { return limit_; }

 private:
  std::string PathOf(const ObjectId& key, absl::string_view suffix = "") const;
  void Completer();
  void PublishBatch(std::vector<std::pair<File, int64_t>>& batch);

  std::string dir_;
  uint64_t limit_;
  std::string boot_id_;
  std::atomic<uint64_t> added_since_evict_{0};
  std::atomic<uint64_t> created_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<File, int64_t>> completed_;  // guarded by mu_
  uint64_t publishing_ = 0;                          // guarded by mu_: batches in flight
  bool stopping_ = false;                            // guarded by mu_
  std::thread completer_;
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_CONTENT_CACHE_H_
