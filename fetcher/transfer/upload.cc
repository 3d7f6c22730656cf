#include "fetcher/transfer/upload.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/string_view.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fetcher/format/chunk.h"
#include "fetcher/util/error_sink.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/thread_pool.h"

namespace vol {
namespace {

absl::Status ScanPath(const std::string& local, const VolumePath& dest,
                      std::vector<LocalItem>& items) {
  struct stat st;
  if (lstat(local.c_str(), &st) != 0) return ErrnoError(absl::StrCat("cannot read ", local), errno);
  LocalItem item;
  item.dest = dest;
  item.local = local;
  item.mode = st.st_mode & 07777;
  item.mtime_ns = MtimeNs(st);
  if (S_ISREG(st.st_mode)) {
    item.type = EntryType::kFile;
    item.size = static_cast<uint64_t>(st.st_size);
    items.push_back(std::move(item));
    return absl::OkStatus();
  }
  if (S_ISLNK(st.st_mode)) {
    item.type = EntryType::kSymlink;
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = readlink(local.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoError(absl::StrCat("cannot read link ", local), errno);
    target.resize(static_cast<size_t>(n));
    item.target = std::move(target);
    item.size = item.target.size();
    items.push_back(std::move(item));
    return absl::OkStatus();
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot upload ", local, ": only files, directories and symlinks can be stored"));
  }
  item.type = EntryType::kDir;
  items.push_back(std::move(item));
  absl::StatusOr<std::vector<std::string>> names = ListDir(local);
  if (!names.ok()) return names.status();
  std::string base = local.back() == '/' ? local : local + "/";
  for (const std::string& n : *names) {
    if (absl::Status s = ScanPath(base + n, dest.Child(n), items); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ScanLocal(const std::string& local, const VolumePath& dest,
                       std::vector<LocalItem>& items) {
  if (local == "-") {
    LocalItem item;
    item.dest = dest;
    item.local = "-";
    items.push_back(std::move(item));
    return absl::OkStatus();
  }
  return ScanPath(local, dest, items);
}

absl::StatusOr<std::vector<Entry>> UploadItems(ObjectStore& store,
                                               const std::vector<LocalItem>& items,
                                               UploadStats& stats, Progress* progress) {
  std::vector<Entry> entries(items.size());
  ErrorSink errors;
  std::atomic<uint64_t> uploaded{0}, bytes{0};
  ThreadPool pool(ThreadPool::DefaultWorkers());

  std::atomic<uint64_t> repaired{0};
  auto store_chunk = [&](ChunkRef* ref, std::string data) {
    absl::StatusOr<StoredChunk> c = StoreChunk(store, data);
    if (!c.ok()) return errors.Add(c.status());
    *ref = c->ref;
    uploaded.fetch_add(c->uploaded, std::memory_order_relaxed);
    repaired.fetch_add(c->repaired ? 1 : 0, std::memory_order_relaxed);
    bytes.fetch_add(data.size(), std::memory_order_relaxed);
    if (progress) progress->Add(data.size());
  };

  for (size_t i = 0; i < items.size() && !errors.failed(); ++i) {
    const LocalItem& item = items[i];
    Entry& e = entries[i];
    e.name = item.dest.is_root() ? "" : item.dest.Name();
    e.type = item.type;
    e.mode = item.mode;
    e.mtime_ns = item.mtime_ns;
    e.size = item.size;
    e.target = item.target;
    if (item.type == EntryType::kDir) e.tree = EmptyTreeId();
    if (item.type != EntryType::kFile) continue;
    ++stats.files;

    if (item.local == "-") {
      // Standard input: read it here, a chunk at a time, while chunks read
      // before are stored.
      e.mtime_ns = absl::ToUnixNanos(absl::Now());
      ChunkedUpload upload(store, progress);
      std::string data(kChunkSize, '\0');
      for (;;) {
        ssize_t r = read(STDIN_FILENO, data.data(), data.size());
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return ErrnoError("cannot read standard input", errno);
        if (r == 0) break;
        if (absl::Status s = upload.Write(absl::string_view(data.data(), static_cast<size_t>(r))); !s.ok()) {
          return s;
        }
      }
      if (absl::Status s = upload.Finish(e, stats); !s.ok()) return s;
      continue;
    }

    size_t n = (item.size + kChunkSize - 1) / kChunkSize;
    e.chunks.resize(n);
    // Each task opens the file itself: tasks for thousands of files may be
    // queued at once, and holding a descriptor per queued file runs out of
    // descriptors (EMFILE) on a directory of many small files.
    for (size_t c = 0; c < n; ++c) {
      pool.Submit([&, c, local = &item.local] {
        if (errors.failed()) return;
        UniqueFd fd(open(local->c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.ok()) return errors.Add(ErrnoError(absl::StrCat("cannot read ", *local), errno));
        uint64_t off = c * kChunkSize;
        std::string data(std::min<uint64_t>(kChunkSize, e.size - off), '\0');
        absl::Status s = PreadFull(fd.get(), data.data(), data.size(), off);
        if (!s.ok()) {
          return errors.Add(absl::DataLossError(
              absl::StrCat("cannot read ", *local, ": ", s.message(), " (did it change during the upload?)")));
        }
        store_chunk(&e.chunks[c], std::move(data));
      });
    }
  }
  pool.Wait();
  if (absl::Status s = errors.status(); !s.ok()) return s;
  stats.bytes += bytes.load();
  stats.uploaded += uploaded.load();
  stats.repaired += repaired.load();
  return entries;
}

ChunkedUpload::ChunkedUpload(ObjectStore& store, Progress* progress)
    : store_(store), progress_(progress),
      pool_(std::make_unique<ThreadPool>(static_cast<int>(kMaxChunksInFlight / 2))) {
  buffer_.reserve(kChunkSize);
}

ChunkedUpload::~ChunkedUpload() { pool_->Wait(); }

void ChunkedUpload::Flush() {
  if (refs_.size() % kMaxChunksInFlight == 0) pool_->Wait();  // bounds the memory held
  pool_->Submit([this, ref = &refs_.emplace_back(), data = std::move(buffer_)] {
    absl::StatusOr<StoredChunk> c = StoreChunk(store_, data);
    absl::MutexLock lock(&mu_);
    if (!c.ok()) {
      if (error_.ok()) error_ = c.status();
      return;
    }
    *ref = c->ref;
    uploaded_ += c->uploaded;
    repaired_ += c->repaired ? 1 : 0;
    if (progress_) progress_->Add(data.size());
  });
  buffer_ = std::string();
  buffer_.reserve(kChunkSize);
}

absl::Status ChunkedUpload::Write(absl::string_view data) {
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return error_;
  }
  size_ += data.size();
  while (!data.empty()) {
    size_t take = std::min(data.size(), static_cast<size_t>(kChunkSize) - buffer_.size());
    buffer_.append(data.data(), take);
    data.remove_prefix(take);
    if (buffer_.size() == kChunkSize) Flush();
  }
  return absl::OkStatus();
}

absl::Status ChunkedUpload::Finish(Entry& file, UploadStats& stats) {
  if (!buffer_.empty()) Flush();
  pool_->Wait();
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  file.chunks.assign(refs_.begin(), refs_.end());
  file.size = size_;
  stats.bytes += size_;
  stats.uploaded += uploaded_;
  stats.repaired += repaired_;
  return absl::OkStatus();
}

}  // namespace vol
