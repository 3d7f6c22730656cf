// ViewPopulator: a session's views, materialised lazily, one directory at a
// time, on first use (include/vol/session.h, VOL_OP_POPULATE).
//
// A mount's view starts as its root directory alone. Populating a directory
// reads its tree (through the local tree cache) and creates its entries:
//   - a subdirectory: created empty and *unpopulated*, with its mode and a
//     presence slot (VOL_SLOT_DIR, complete = 0) that names its origin;
//   - a non-empty file: the shared cache's content file (content_cache.h),
//     hard-linked in, with a presence slot (VOL_SLOT_FILE) — so a second
//     session links the same inode and fetches nothing;
//   - an empty file: created (private, nothing to share);
//   - a symlink: created; an absolute target inside the mount is rewritten to
//     the same place in the view, so the kernel resolves it.
// Every object gets its mode (setuid, setgid and world-write bits are not
// applied from the store unless asked: MaterialMode) and mtime; the directory
// keeps the mode and mtime it had before (the program may have set them).
//
// Invariants:
//   - A slot exists before its object appears in the view, and a directory's
//     slot says populated only once every entry is in it.
//   - Each directory is populated once; concurrent requests wait for it.
//     Populating runs on a small worker pool; replies come on the owner
//     thread (through FetchEngine::Post).
//   - A name the program created first (a race with population) is left as
//     the program made it.
//   - Nothing here follows a symlink or resolves a path twice: entries are
//     made relative to the directory's fd.
#ifndef VOL_FETCHER_SESSION_VIEW_POPULATOR_H_
#define VOL_FETCHER_SESSION_VIEW_POPULATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/format/material_mode.h"
#include "fetcher/format/tree.h"
#include "fetcher/session/content_cache.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/session/view_listing.h"
#include "fetcher/store/object_store.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/thread_pool.h"

namespace vol {

// Rewrites an absolute symlink target inside `mount` to the same place in
// `view`; returns other targets unchanged.
std::string RewriteSymlinkTarget(const std::string& target, const std::string& mount,
                                 const std::string& view);

class ViewPopulator {
 public:
  using Done = std::function<void(absl::Status)>;

  ViewPopulator(ObjectStore& store, FetchEngine& engine, PresenceTable& presence, int workers);
  ~ViewPopulator();  // waits for the directories being populated

  // Creates the root of a mount's view (`view`, which must not exist) for
  // the snapshot `root`, unpopulated. The mount number names the mount in
  // MountOf.
  // With `preserve_special_modes`, setuid, setgid and o+w are kept as stored.
  absl::Status AddRoot(size_t mount, const std::string& view, const std::string& mount_path,
                       const ObjectId& root, int64_t mtime_ns, bool preserve_special_modes = false);

  // Makes the directory open at `dir` populated, then calls `done` on the
  // owner thread. A directory the session did not get from a snapshot (the
  // program made it) is populated already. Owner thread.
  void Populate(UniqueFd dir, Done done);
  // The same, synchronously, on the calling thread (tests, reload, commits).
  absl::Status PopulateNow(int dir);

  // Listings (view_listing.h) are written in `dir` (which exists); without
  // one, List populates.
  void SetListingDir(std::string dir) { listings_ = std::move(dir); }
  // VOL_OP_LIST of the directory open at `dir`: writes its listing and calls
  // done(true), or, for a directory that is not Listable (or is populated or
  // being populated), populates it and calls done(false). Owner thread;
  // `done` runs on it.
  using Listed = std::function<void(absl::StatusOr<bool>)>;
  void List(UniqueFd dir, Listed done);

  // What a commit or a recovery needs to know of a view directory: its
  // snapshot entry (its tree: its contents as the snapshot has them) when it
  // came from one, and whether it is still unpopulated. Thread-safe.
  std::optional<Entry> DirEntry(uint64_t dev, uint64_t ino) const;
  bool Unpopulated(uint64_t dev, uint64_t ino) const;

  // Reload: moves the view of `mount` (its root open at `root`) from the
  // snapshot `from` to the snapshot `to`. Unpopulated directories take the
  // new tree as they are; populated ones are edited in place: a changed file
  // is linked beside its name and renamed over it (a program that has the old
  // one open keeps reading it), removed entries are unlinked. Paths for which
  // keep(path) is true (uncommitted changes; "a/b" relative to the mount) are
  // left alone, with everything below them. Owner thread (it blocks).
  absl::Status Reload(size_t mount, int root, const ObjectId& from, const ObjectId& to,
                      const std::function<bool(const std::string&)>& keep);

  uint64_t populated() const { return populated_.load(); }

 private:
  struct Dir {
    size_t mount = 0;
    ObjectId tree;  // its contents
    Entry entry;    // its snapshot entry (name empty; the root's is synthetic)
    EntryOrigin origin;
    uint32_t slot = 0;
    bool populated = false;
    bool running = false;
    uint64_t listed = 0;      // 1 + the listing epoch of its listing, or 0
    bool unlistable = false;  // not Listable: List populates it
    std::vector<Done> waiters;  // owner thread
  };
  struct Mount {
    std::string view;
    std::string mount_path;
    bool preserve = false;
  };

  Dir* Find(uint64_t dev, uint64_t ino) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates one entry of a populated directory (or of one being populated).
  absl::Status CreateEntry(int dir, const Mount& m, size_t mount, const Entry& e, const EntryOrigin& origin);
  absl::Status Fill(int dir, Dir& d);
  // After Fill: marks d populated when it succeeded, and answers its waiters
  // (on the engine's loop).
  void Filled(Dir& d, const absl::Status& s);
  absl::Status ReloadDir(size_t mount, int dir, const std::string& path, const ObjectId& from,
                         const ObjectId& to, const std::function<bool(const std::string&)>& keep);

  ObjectStore& store_;
  FetchEngine& engine_;
  PresenceTable& presence_;
  ThreadPool pool_;
  std::vector<Mount> mounts_;  // set before serving; read-only after
  std::string listings_;       // likewise
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, std::unique_ptr<Dir>> dirs_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> populated_{0};
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_POPULATOR_H_
