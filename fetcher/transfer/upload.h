// Upload: turns local files into stored chunks and tree entries.
//
// ScanLocal describes a local file or directory tree (what to create where);
// UploadItems then stores the content of every file, chunks hashed,
// compressed and written in parallel on a thread pool, and returns the
// entries that a commit puts into the tree. Uploading happens before the
// commit, so a commit retried after a lost race never re-uploads.
#ifndef VOL_FETCHER_TRANSFER_UPLOAD_H_
#define VOL_FETCHER_TRANSFER_UPLOAD_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/util/progress.h"
#include "fetcher/util/thread_pool.h"
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
  uint64_t repaired = 0;  // stored chunks that were damaged and have been stored again
};

// Stores every file item's chunks and returns one entry per item, in order.
absl::StatusOr<std::vector<Entry>> UploadItems(ObjectStore& store,
                                               const std::vector<LocalItem>& items,
                                               UploadStats& stats, Progress* progress);

// ChunkedUpload: one file's content handed over piece by piece (standard
// input, a Python file object, a buffer), cut into chunks and stored as it
// arrives, a few chunks in parallel; the memory held is bounded by
// kMaxChunksInFlight chunks whatever the file's size.
class ChunkedUpload {
 public:
  static constexpr size_t kMaxChunksInFlight = 8;
  ChunkedUpload(ObjectStore& store, Progress* progress);
  ~ChunkedUpload();  // waits for the chunks in flight
  ChunkedUpload(const ChunkedUpload&) = delete;
  ChunkedUpload& operator=(const ChunkedUpload&) = delete;

  // Fails with the first error of any chunk stored so far.
  absl::Status Write(absl::string_view data);
  // Stores what is left, waits for every chunk, and fills `file`'s chunks
  // and size. Adds its bytes (not the file: the caller counts) to `stats`.
  absl::Status Finish(Entry& file, UploadStats& stats);

 private:
  void Flush();  // the buffer as the next chunk

  ObjectStore& store_;
  Progress* progress_;
  std::unique_ptr<ThreadPool> pool_;
  std::string buffer_;
  std::deque<ChunkRef> refs_;  // stable addresses while tasks fill them in
  uint64_t size_ = 0;
  absl::Mutex mu_;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t uploaded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t repaired_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vol

#endif  // VOL_FETCHER_TRANSFER_UPLOAD_H_
