// Download: writes snapshot content to local files.
//
// Every chunk is verified before a byte of it is written (FetchChunk), files
// are written under a temporary name and renamed into place when complete,
// and conflicts are checked for the whole tree before anything is written, so
// a failed `get` never leaves a corrupt or half-written file where the user
// asked for one.
//
// The destination may be a directory other users can write (a shared
// project directory). So below the directory holding LOCAL nothing is
// reached by path: each directory is opened relative to its parent with
// O_NOFOLLOW, temporary files get unpredictable names and are created
// O_EXCL|O_NOFOLLOW, re-opened only when they are still the inode created,
// given their mode with fchmod and renamed into place by name within their
// directory. A symlink someone plants in the tree is never followed, so the
// user's other files are never written or re-permissioned. Modes are
// MaterialMode's (setuid, setgid and o+w dropped unless preserved).
#ifndef VOL_FETCHER_TRANSFER_DOWNLOAD_H_
#define VOL_FETCHER_TRANSFER_DOWNLOAD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "fetcher/util/progress.h"

namespace vol {

struct RemoteItem {
  std::string local;  // where it goes
  Entry entry;
};

// Lists `root` (an entry of the snapshot; a directory is walked recursively,
// parents before children) as items placed at `local`.
absl::Status PlanDownload(ObjectStore& store, const Entry& root, const std::string& local,
                          std::vector<RemoteItem>& items);

struct DownloadOptions {
  bool force = false;                   // replace existing local files
  bool preserve_special_modes = false;  // setuid/setgid/o+w as stored (MaterialMode)
};

// Creates every item locally. Without `force`, any existing local file in the
// way is an error reported before anything is written; a local directory is
// merged into. Returns the content bytes written.
absl::StatusOr<uint64_t> DownloadItems(ObjectStore& store, const std::vector<RemoteItem>& items,
                                       const DownloadOptions& options, Progress* progress);

// Writes a file entry's content to `fd` in order (a pipe works), fetching
// chunks ahead in parallel.
absl::Status StreamFile(ObjectStore& store, const Entry& file, int fd, Progress* progress);

}  // namespace vol

#endif  // VOL_FETCHER_TRANSFER_DOWNLOAD_H_
