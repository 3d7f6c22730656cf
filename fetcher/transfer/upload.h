// Upload: turns local files into stored chunks and tree entries.
//
// ScanLocal describes a local file or directory tree (what to create where);
// UploadItems then stores the content of every file, chunks hashed,
// compressed and written in parallel on a thread pool, and returns the
// entries that a commit puts into the tree. Uploading happens before the
// commit, so a commit retried after a lost race never re-uploads.
#ifndef VOL_FETCHER_TRANSFER_UPLOAD_H_
#define VOL_FETCHER_TRANSFER_UPLOAD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "fetcher/util/progress.h"
#include "fetcher/volume/volume_path.h"

namespace vol {

struct LocalItem {
  VolumePath dest;
  std::string local;  // "-" for standard input
  EntryType type = EntryType::kFile;
  uint64_t size = 0;
  uint32_t mode = 0644;
  int64_t mtime_ns = 0;
  std::string target;  // symlink
};

// Appends `local` (and, for a directory, everything below it, parents before
// children) as items under `dest`. Devices, sockets and FIFOs are refused.
absl::Status ScanLocal(const std::string& local, const VolumePath& dest,
                       std::vector<LocalItem>& items);

struct UploadStats {
  uint64_t files = 0;
  uint64_t bytes = 0;     // content bytes read
  uint64_t uploaded = 0;  // bytes sent to the store (less when chunks were already there)
};

// Stores every file item's chunks and returns one entry per item, in order.
absl::StatusOr<std::vector<Entry>> UploadItems(ObjectStore& store,
                                               const std::vector<LocalItem>& items,
                                               UploadStats& stats, Progress* progress);

}  // namespace vol

#endif  // VOL_FETCHER_TRANSFER_UPLOAD_H_
