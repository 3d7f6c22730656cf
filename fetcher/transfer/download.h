// Download: writes snapshot content to local files.
//
// Every chunk is verified before a byte of it is written (FetchChunk), files
// are written under a temporary name and renamed into place when complete,
// and conflicts are checked for the whole tree before anything is written, so
// a failed `get` never leaves a corrupt or half-written file where the user
// asked for one.
#ifndef VOL_FETCHER_TRANSFER_DOWNLOAD_H_
#define VOL_FETCHER_TRANSFER_DOWNLOAD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "fetcher/util/progress.h"
#include "fetcher/util/thread_pool.h"

namespace vol {

struct RemoteItem {
  std::string local;  // where it goes
  Entry entry;
};

// Lists `root` (an entry of the snapshot; a directory is walked recursively,
// parents before children) as items placed at `local`.
absl::Status PlanDownload(ObjectStore& store, const Entry& root, const std::string& local,
                          std::vector<RemoteItem>& items);

// Creates every item locally. Without `force`, any existing local file in the
// way is an error reported before anything is written; a local directory is
// merged into. Returns the content bytes written.
absl::StatusOr<uint64_t> DownloadItems(ObjectStore& store, const std::vector<RemoteItem>& items,
                                       bool force, Progress* progress);

// Writes a file entry's content to `fd` in order (a pipe works), fetching
// chunks ahead in parallel.
absl::Status StreamFile(ObjectStore& store, const Entry& file, int fd, Progress* progress);

// Fills an already-open local file with a file entry's content, chunks in parallel.
absl::Status FillFile(ObjectStore& store, ThreadPool& pool, const Entry& file, int fd,
                      Progress* progress);

}  // namespace vol

#endif  // VOL_FETCHER_TRANSFER_DOWNLOAD_H_
