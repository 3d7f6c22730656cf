// FetchEngine: makes ranges of content files present, fetching each chunk once.
//
// The files it fills are the shared cache's (content_cache.h), hard-linked into
// the session's views: a chunk is written into the content file's inode (held
// open), never into a view path, so a program that renames or unlinks a view
// file while another holds it open changes nothing about where its bytes land.
//
// Threads: the owner (the session's event loop) calls Fetch, OnCompletions and
// Post; AddContent and the lookups may be called from any thread (the view
// populator adds files from its workers). A fixed set of workers does the slow
// part of a chunk — store GET, decompression and verification, the write into
// the content file — and reports back through a completion list and an
// eventfd the owner polls.
//
// Invariants:
//   - A chunk is fetched by at most one worker at a time: a request for a
//     chunk already in flight waits on it instead (per-chunk state, owned by
//     the owner thread: absent, in flight as read-ahead, in flight on demand,
//     present).
//   - A chunk's presence bit is set (by the worker, release) only after its
//     verified bytes are in the content file and the file's mtime is
//     restored; a request is answered only when every chunk of its range is
//     present, or with the first error of any of them. A failed chunk goes
//     back to absent, so a later request retries it.
//   - A chunk another session already fetched into the same content file (its
//     KEY.map says so) is not fetched again.
//   - Demand chunks are served before read-ahead chunks (two queues); a
//     demand request for a chunk waiting as read-ahead promotes it. At most
//     ReadAheadParams::max_inflight read-ahead chunks are in flight at once.
//   - Once every chunk of a file is present its slot is marked complete and the
//     file handed to the cache to be made durable and published.
#ifndef VOL_FETCHER_SESSION_FETCH_ENGINE_H_
#define VOL_FETCHER_SESSION_FETCH_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/session/content_cache.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/session/read_ahead.h"
#include "fetcher/store/object_store.h"

namespace vol {

struct FetchStats {
  uint64_t store_bytes = 0;    // bytes received from the object store
  uint64_t store_chunks = 0;   // chunks fetched from the store
  uint64_t cache_chunks = 0;   // chunks found in the shared cache (fetched by another session)
  uint64_t cache_bytes = 0;
  uint64_t view_bytes = 0;     // bytes written into content files
  uint64_t cache_created = 0;  // content files created (sparse) for the views
  uint64_t requests = 0;       // FETCH / FETCH_ALL requests received
  uint64_t errors = 0;         // chunks that failed
};

// Where a view object came from: the tree that lists it and its position
// there (VOL_ORIGIN_ROOT: a mount's root, whose tree is `tree`).
struct EntryOrigin {
  ObjectId tree;
  uint32_t index = VOL_ORIGIN_ROOT;
};

class FetchEngine {
 public:
  using Done = std::function<void(absl::Status)>;

  FetchEngine(ObjectStore& store, ContentCache& cache, PresenceTable& presence, int workers,
              ReadAheadParams read_ahead);
  ~FetchEngine();  // stops the workers after the chunk each is on
  FetchEngine(const FetchEngine&) = delete;
  FetchEngine& operator=(const FetchEngine&) = delete;

  // Takes charge of a content file (about to be linked into a view) of the
  // non-empty regular file `entry` (as stored), shown with `mode` (its
  // MaterialMode), and gives it a presence slot, which is returned. A content
  // file already known (same inode) keeps its slot. Thread-safe.
  absl::StatusOr<uint32_t> AddContent(const Entry& entry, uint32_t mode, ContentCache::File file,
                                      const EntryOrigin& origin);

  // Makes [offset, offset + length) of the file in `slot` present — the whole
  // file with `all` — and then calls `done` on the owner thread (possibly
  // before returning, when nothing is missing).
  void Fetch(uint32_t slot, uint64_t offset, uint64_t length, bool all, Done done);

  // An eventfd (blocking) that counts chunks finished by workers: the owner
  // reads it (resetting the count), then calls OnCompletions.
  int event_fd() const { return event_fd_; }
  // Applies finished chunks and answers the requests they complete; runs
  // posted functions.
  void OnCompletions();
  // Runs `fn` on the owner thread, from OnCompletions (any thread may post).
  void Post(std::function<void()> fn);

  // The snapshot entry of the content file with this inode (it is never
  // written: programs write private copies), or nullopt. Thread-safe.
  std::optional<Entry> EntryOf(uint64_t dev, uint64_t ino) const;
  // The content file of a slot, for a private copy: its entry and whether it
  // is complete. Thread-safe.
  std::optional<Entry> EntryOfSlot(uint32_t slot) const;

  FetchStats stats() const;
  uint64_t inflight_read_ahead() const { return ra_inflight_; }
  ContentCache& cache() { return cache_; }

 private:
  enum class ChunkState : uint8_t { kAbsent, kReadAhead, kDemand, kPresent };
  struct Request {
    uint64_t waiting = 0;
    absl::Status status;
    Done done;
  };
  struct File {
    Entry entry;
    uint32_t slot = 0;
    bool uniform = false;  // one bitmap block per chunk
    std::vector<uint64_t> offsets;  // of each chunk
    // Owner thread:
    std::vector<ChunkState> state;
    uint64_t present = 0;
    ReadAhead read_ahead;
    absl::flat_hash_map<uint64_t, std::vector<std::shared_ptr<Request>>> waiters;
    // The content file; its fd is opened by the first worker that writes a
    // chunk, closed between chunks when too many are open, handed to the
    // cache by the owner once complete — never while a worker writes.
    absl::Mutex io_mu;
    ContentCache::File content ABSL_GUARDED_BY(io_mu);
    explicit File(const ReadAheadParams& p) : read_ahead(p) {}
  };
  struct Task {
    File* file;
    uint64_t chunk;
  };
  struct Completion {
    File* file;
    uint64_t chunk;
    absl::Status status;
  };

  File* FileOf(uint32_t slot) const;
  void Schedule(File& f, uint64_t chunk, bool demand);
  void Work();
  absl::Status FetchOne(File& f, uint64_t chunk);
  // f's content file open for writing: true; false when another session has
  // published it meanwhile (then it is whole). Under f.io_mu.
  absl::StatusOr<bool> OpenContent(File& f);
  void Finish(std::shared_ptr<Request>& r);
  void CompleteFile(File& f);

  ObjectStore& store_;
  ContentCache& cache_;
  PresenceTable& presence_;
  ReadAheadParams ra_params_;
  int event_fd_ = -1;

  mutable absl::Mutex files_mu_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<File>> files_ ABSL_GUARDED_BY(files_mu_);  // by slot
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, uint32_t> by_inode_ ABSL_GUARDED_BY(files_mu_);

  uint64_t ra_inflight_ = 0;  // owner thread

  absl::Mutex mu_;
  std::deque<Task> demand_ ABSL_GUARDED_BY(mu_);
  std::deque<Task> ahead_ ABSL_GUARDED_BY(mu_);
  std::vector<Completion> completions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;

  std::atomic<uint64_t> store_bytes_{0}, store_chunks_{0}, cache_chunks_{0}, cache_bytes_{0},
      view_bytes_{0}, errors_{0};
  uint64_t requests_ = 0;
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_FETCH_ENGINE_H_
