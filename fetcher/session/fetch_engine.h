// FetchEngine: makes ranges of view files present, fetching each chunk once.
//
// Threads: the owner (the session's event loop) calls every public method
// except stats(); a fixed set of workers does the slow part of a chunk —
// local cache lookup, store GET, decompression and verification, the write
// into the view file — and reports back through a completion list and an
// eventfd the owner polls.
//
// Invariants:
//   - A chunk is fetched by at most one worker at a time: a request for a
//     chunk already in flight waits on it instead (per-chunk state, owned by
//     the owner thread: absent, in flight as read-ahead, in flight on demand,
//     present).
//   - A chunk's presence bit is set (by the worker, release) only after its
//     bytes are in the view file and the file's mtime is restored; a request
//     is answered only when every chunk of its range is present, or with the
//     first error of any of them. A failed chunk goes back to absent, so a
//     later request retries it.
//   - Demand chunks are served before read-ahead chunks (two queues); a
//     demand request for a chunk waiting as read-ahead promotes it. At most
//     ReadAheadParams::max_inflight read-ahead chunks are in flight at once.
//   - Bytes from the store are verified (FetchChunk's checks) and written to
//     the shared chunk cache before they reach the view; cache hits are
//     verified on read.
#ifndef VOL_FETCHER_SESSION_FETCH_ENGINE_H_
#define VOL_FETCHER_SESSION_FETCH_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/session/chunk_cache.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/session/read_ahead.h"
#include "fetcher/session/view_builder.h"
#include "fetcher/store/object_store.h"

namespace vol {

struct FetchStats {
  uint64_t store_bytes = 0;    // bytes received from the object store
  uint64_t store_chunks = 0;   // chunks fetched from the store
  uint64_t cache_chunks = 0;   // chunks served by the local cache
  uint64_t cache_bytes = 0;
  uint64_t view_bytes = 0;     // bytes written into view files
  uint64_t requests = 0;       // FETCH / FETCH_ALL requests received
  uint64_t errors = 0;         // chunks that failed
};

class FetchEngine {
 public:
  using Done = std::function<void(absl::Status)>;

  // `cache` may be null (no local cache). `workers` threads fetch.
  FetchEngine(ObjectStore& store, ChunkCache* cache, PresenceTable& presence, int workers,
              ReadAheadParams read_ahead);
  ~FetchEngine();  // stops the workers after the chunk each is on
  FetchEngine(const FetchEngine&) = delete;
  FetchEngine& operator=(const FetchEngine&) = delete;

  // Inserts the file into the presence table and takes charge of its content.
  absl::Status AddFile(const ViewFile& file);

  // Makes [offset, offset + length) of file `index` (a presence slot)
  // present — the whole file with `all` — and then calls `done` on the owner
  // thread (possibly before returning, when nothing is missing).
  void Fetch(uint32_t index, uint64_t offset, uint64_t length, bool all, Done done);

  // An eventfd (blocking) that counts chunks finished by workers: the owner
  // reads it (resetting the count), then calls OnCompletions.
  int event_fd() const { return event_fd_; }
  // Applies finished chunks and answers the requests they complete.
  void OnCompletions();

  // The write path (session.h, VOL_OP_CHANGED). All on the owner thread.
  // The file at `view_path` is about to lose its content: nothing more is
  // written into it (a chunk being written finishes first) and its slot
  // becomes complete.
  void Discard(const std::string& view_path);
  // A directory (or file) moved: records under `from` now live under `to`.
  void Rename(const std::string& from, const std::string& to);
  // The program changed the file at `view_path` (content or metadata).
  void MarkDirty(const std::string& view_path);
  // A reload is about to replace or remove the file at `view_path`: its
  // record leaves the path, and its chunks still to come go to its inode
  // (held open), for those who have it open.
  void Detach(const std::string& view_path);

  // What a commit needs to know of a committed file still in the view.
  struct Record {
    Entry entry;            // as in the snapshot the session started from
    bool complete = false;  // every chunk present (or discarded)
    bool dirty = false;     // the program changed it since
    uint64_t dev = 0;       // the view file's inode
    uint64_t ino = 0;
  };
  // Records keyed by view path; with `roots`, only those at or below one of
  // them (a commit needs the files under its changed paths, not all).
  absl::flat_hash_map<std::string, Record> Records(const std::vector<std::string>* roots = nullptr) const;

  // Runs `fn` on the owner thread, from OnCompletions (any thread may post).
  void Post(std::function<void()> fn);

  FetchStats stats() const;
  uint64_t inflight_read_ahead() const { return ra_inflight_; }

 private:
  enum class ChunkState : uint8_t { kAbsent, kReadAhead, kDemand, kPresent };
  struct Request {
    uint64_t waiting = 0;
    absl::Status status;
    Done done;
  };
  struct File {
    // Guards view.path against Rename and the view file against writes after
    // Discard; a worker holds it while it writes a chunk.
    absl::Mutex write_mu;
    bool discarded ABSL_GUARDED_BY(write_mu) = false;
    int fd ABSL_GUARDED_BY(write_mu) = -1;  // set by Detach: write here, not to view.path
    bool dirty = false;
    ViewFile view;
    uint32_t slot = 0;
    bool uniform = false;  // one bitmap block per chunk
    std::vector<uint64_t> offsets;  // of each chunk
    std::vector<ChunkState> state;
    uint64_t present = 0;
    ReadAhead read_ahead;
    absl::flat_hash_map<uint64_t, std::vector<std::shared_ptr<Request>>> waiters;
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

  void Schedule(File& f, uint64_t chunk, bool demand);
  void Work();
  absl::Status FetchOne(File& f, uint64_t chunk);
  void Finish(std::shared_ptr<Request>& r);

  ObjectStore& store_;
  ChunkCache* cache_;
  PresenceTable& presence_;
  ReadAheadParams ra_params_;
  int event_fd_ = -1;
  absl::flat_hash_map<uint32_t, std::unique_ptr<File>> files_;  // by slot
  absl::flat_hash_map<std::string, File*> by_path_;              // view path → file
  std::vector<std::unique_ptr<File>> retired_;  // replaced in their slot; tasks may still name them
  uint64_t ra_inflight_ = 0;

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
  std::atomic<bool> cache_warned_{false};
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_FETCH_ENGINE_H_
