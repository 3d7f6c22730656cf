// PrivateCopies: before a program changes a file of its view that is a
// shared content file (a write-open, truncate, chmod, utimes, chown, xattrs,
// link: the shim asks with VOL_OP_PRIVATE), the file is replaced in the view
// by a private copy — with its content (fetched in full first), or empty when
// it is about to be truncated — so nothing ever writes into the shared copy
// other sessions read. Like overlayfs's copy-up.
//
// Invariants:
//   - The copy is made beside the file and renamed over it: a process that
//     has the content file open keeps it; the next open gets the copy.
//   - One copy per file at a time: a second request for the same inode waits
//     for the first and then finds the file private.
//   - A file that is not a content file (no VOL_SLOT_FILE slot, or fewer than
//     two links) is private already: nothing is done.
#ifndef VOL_FETCHER_SESSION_PRIVATE_COPY_H_
#define VOL_FETCHER_SESSION_PRIVATE_COPY_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/thread_pool.h"

namespace vol {

class PrivateCopies {
 public:
  using Done = std::function<void(absl::Status)>;
  PrivateCopies(FetchEngine& engine, PresenceTable& presence);
  ~PrivateCopies();

  // Makes `name` in the directory `dir` private; `done` runs on the owner
  // thread. Owner thread.
  void Make(UniqueFd dir, std::string name, bool empty, Done done);

 private:
  void Copy(std::shared_ptr<UniqueFd> dir, std::string name, bool empty, std::pair<uint64_t, uint64_t> inode,
            uint32_t mode);
  void Finish(std::pair<uint64_t, uint64_t> inode, absl::Status s);

  FetchEngine& engine_;
  PresenceTable& presence_;
  ThreadPool pool_;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, std::vector<Done>> running_;  // owner thread
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_PRIVATE_COPY_H_
