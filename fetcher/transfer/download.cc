#include "fetcher/transfer/download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/format/chunk.h"
#include "fetcher/transfer/entry_metadata.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

struct timespec ToTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

absl::Status SetTimes(const std::string& path, int64_t mtime_ns) {
  struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(mtime_ns)};
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError(absl::StrCat("cannot set the time of ", path), errno);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PlanDownload(ObjectStore& store, const Entry& root, const std::string& local,
                          std::vector<RemoteItem>& items) {
  items.push_back({local, root});
  if (!root.is_dir()) return absl::OkStatus();
  absl::StatusOr<Tree> tree = ReadTree(store, root.tree);
  if (!tree.ok()) return tree.status();
  for (const Entry& e : tree->entries) {
    if (absl::Status s = PlanDownload(store, e, absl::StrCat(local, "/", e.name), items); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status FillFile(ObjectStore& store, ThreadPool& pool, const Entry& file, int fd,
                      Progress* progress) {
  absl::Mutex mu;
  absl::Status first;
  uint64_t offset = 0;
  for (const ChunkRef& ref : file.chunks) {
    pool.Submit([&, ref, offset] {
      absl::StatusOr<std::string> data = FetchChunk(store, ref);
      absl::Status s = data.ok() ? PwriteFull(fd, data->data(), data->size(), offset) : data.status();
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        if (first.ok()) first = s;
        return;
      }
      if (progress) progress->Add(data->size());
    });
    offset += ref.size;
  }
  pool.Wait();
  return first;
}

absl::Status StreamFile(ObjectStore& store, const Entry& file, int fd, Progress* progress) {
  ThreadPool pool(ThreadPool::DefaultWorkers());
  const size_t window = 8;  // chunks fetched ahead of the writer
  for (size_t begin = 0; begin < file.chunks.size(); begin += window) {
    size_t end = std::min(file.chunks.size(), begin + window);
    std::vector<absl::StatusOr<std::string>> got(end - begin);
    for (size_t i = begin; i < end; ++i) {
      pool.Submit([&, i] { got[i - begin] = FetchChunk(store, file.chunks[i]); });
    }
    pool.Wait();
    for (absl::StatusOr<std::string>& data : got) {
      if (!data.ok()) return data.status();
      if (absl::Status s = WriteFull(fd, data->data(), data->size()); !s.ok()) return s;
      if (progress) progress->Add(data->size());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DownloadItems(ObjectStore& store, const std::vector<RemoteItem>& items,
                                       bool force, Progress* progress) {
  // Check the whole destination first: nothing is written if anything is in the way.
  for (const RemoteItem& item : items) {
    struct stat st;
    if (lstat(item.local.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (item.entry.is_dir()) continue;
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", item.local, ": a directory is in the way"));
    }
    if (item.entry.is_dir()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create directory ", item.local, ": a file is in the way"));
    }
    if (!force) {
      return absl::AlreadyExistsError(
          absl::StrCat(item.local, " already exists (use --force to overwrite)"));
    }
  }

  // Directories and symlinks first, and every file created empty under a
  // temporary name; then the chunks of all files are fetched at once (a
  // directory of many small files is as parallel as one large file), each
  // task opening its file itself so that no descriptor is held per file;
  // then each complete file gets its mode and time and is renamed into place.
  struct PendingFile {
    const RemoteItem* item;
    std::string tmp;
  };
  std::vector<PendingFile> files;
  auto discard = [&files] {
    for (const PendingFile& f : files) unlink(f.tmp.c_str());
  };
  for (const RemoteItem& item : items) {
    const Entry& e = item.entry;
    switch (e.type) {
      case EntryType::kDir:
        if (mkdir(item.local.c_str(), 0700) != 0 && errno != EEXIST) {
          discard();
          return ErrnoError(absl::StrCat("cannot create directory ", item.local), errno);
        }
        break;
      case EntryType::kSymlink: {
        std::string tmp = absl::StrCat(item.local, ".vol-tmp.", getpid());
        unlink(tmp.c_str());
        absl::Status s;
        if (symlink(e.target.c_str(), tmp.c_str()) != 0) {
          s = ErrnoError(absl::StrCat("cannot create symlink ", item.local), errno);
        } else if (rename(tmp.c_str(), item.local.c_str()) != 0) {
          s = ErrnoError(absl::StrCat("cannot create symlink ", item.local), errno);
          unlink(tmp.c_str());
        }
        if (s.ok()) s = ApplyEntryMetadata(AT_FDCWD, item.local, e);
        if (s.ok()) s = SetTimes(item.local, e.mtime_ns);
        if (!s.ok()) {
          discard();
          return s;
        }
        break;
      }
      case EntryType::kFile: {
        std::string tmp = absl::StrCat(item.local, ".vol-tmp.", getpid());
        UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd.ok()) {
          discard();
          return ErrnoError(absl::StrCat("cannot create ", item.local), errno);
        }
        files.push_back({&item, tmp});
        if (ftruncate(fd.get(), static_cast<off_t>(e.size)) != 0) {
          discard();
          return ErrnoError(absl::StrCat("cannot write ", item.local), errno);
        }
        break;
      }
    }
  }

  absl::Mutex mu;
  absl::Status first;
  {
    ThreadPool pool(ThreadPool::DefaultWorkers());
    std::atomic<bool> failed{false};
    for (const PendingFile& f : files) {
      uint64_t offset = 0;
      for (const ChunkRef& ref : f.item->entry.chunks) {
        pool.Submit([&, ref, offset, path = &f.tmp, local = &f.item->local] {
          if (failed.load(std::memory_order_relaxed)) return;
          absl::StatusOr<std::string> data = FetchChunk(store, ref);
          absl::Status s = data.status();
          if (s.ok()) {
            UniqueFd fd(open(path->c_str(), O_WRONLY | O_CLOEXEC));
            s = fd.ok() ? PwriteFull(fd.get(), data->data(), data->size(), offset)
                        : ErrnoError(absl::StrCat("cannot write ", *local), errno);
          }
          if (!s.ok()) {
            absl::MutexLock lock(&mu);
            if (first.ok()) first = s;
            failed.store(true, std::memory_order_relaxed);
            return;
          }
          if (progress) progress->Add(data->size());
        });
        offset += ref.size;
      }
    }
    pool.Wait();
  }
  if (!first.ok()) {
    discard();
    return first;
  }

  uint64_t written = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const PendingFile& f = files[i];
    const Entry& e = f.item->entry;
    // Owner before mode: a chown clears the set-id bits.
    absl::Status s = ApplyEntryMetadata(AT_FDCWD, f.tmp, e);
    if (s.ok() && chmod(f.tmp.c_str(), e.mode) != 0) {
      s = ErrnoError(absl::StrCat("cannot set the mode of ", f.item->local), errno);
    }
    if (s.ok()) s = SetTimes(f.tmp, e.mtime_ns);
    if (s.ok() && rename(f.tmp.c_str(), f.item->local.c_str()) != 0) {
      s = ErrnoError(absl::StrCat("cannot write ", f.item->local), errno);
    }
    if (!s.ok()) {
      for (size_t j = i; j < files.size(); ++j) unlink(files[j].tmp.c_str());
      return s;
    }
    written += e.size;
  }
  // Directory modes and times last: writing into a directory changes its
  // mtime, and a read-only mode would stop the writes.
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    if (!it->entry.is_dir()) continue;
    if (absl::Status s = ApplyEntryMetadata(AT_FDCWD, it->local, it->entry); !s.ok()) return s;
    if (chmod(it->local.c_str(), it->entry.mode) != 0) {
      return ErrnoError(absl::StrCat("cannot set the mode of ", it->local), errno);
    }
    if (absl::Status s = SetTimes(it->local, it->entry.mtime_ns); !s.ok()) return s;
  }
  return written;
}

}  // namespace vol
