// WrittenFiles: the files a session's programs wrote, kept in the shared
// content cache when the session ends, so that the next session on this host
// links them instead of fetching back the bytes it just uploaded (git's
// index, rewritten by `git status` in a first session, is then neither
// fetched nor copied by the second).
//
// It listens to the shims' VOL_OP_CHANGED reports (files opened for writing,
// created, renamed), and once the session's final commit has published
// everything (nothing kept for `vol commit --session`), offers each such file
// to ContentCache::Adopt under the key its own content and metadata give:
// the key a snapshot entry of exactly these bytes and metadata has, whether
// or not that is the entry the commit made. A file is adopted only when it
// is a plain private file of the view (one link, not a content file), nobody
// else has it open (a write lease is granted, and still held once it is
// hashed), and it fits in what is left of kAdoptAtExitMax.
//
// Threads: Note on the session's loop thread; AdoptAll after the loop has stopped.
#ifndef VOL_FETCHER_SESSION_WRITTEN_FILES_H_
#define VOL_FETCHER_SESSION_WRITTEN_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "fetcher/session/committer.h"
#include "fetcher/session/content_cache.h"
#include "fetcher/session/fetch_engine.h"
#include "vol/session.h"

namespace vol {

// Bytes a session end hashes to keep what it wrote: hashing reads them from
// the page cache, which holds up the end of `vol run` (about 0.1 s per GiB).
inline constexpr uint64_t kAdoptAtExitMax = uint64_t{1} << 30;

class WrittenFiles {
 public:
  explicit WrittenFiles(std::vector<SessionMount> mounts) : mounts_(std::move(mounts)) {}

  // A request from a shim: remembers the file a VOL_OP_CHANGED names.
  void Note(const vol_request& req);
  // Offers every remembered file still in a view to the cache; returns how
  // many were adopted. Never fails: a file that cannot be kept is fetched
  // again by whoever needs it.
  uint64_t AdoptAll(ContentCache& cache, const FetchEngine& engine, uint64_t budget = kAdoptAtExitMax);

 private:
  // At most this many paths are remembered (a program that writes more keeps
  // only the first ones).
  static constexpr size_t kMaxPaths = 100000;

  bool Adopt(ContentCache& cache, const FetchEngine& engine, const SessionMount& m, const std::string& view_path,
             uint64_t* budget);

  std::vector<SessionMount> mounts_;
  absl::flat_hash_set<std::string> paths_;  // mount paths, as the shims report them
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_WRITTEN_FILES_H_
