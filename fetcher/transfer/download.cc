#include "fetcher/transfer/download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/material_mode.h"
#include "fetcher/transfer/entry_metadata.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/safe_dir.h"
#include "fetcher/util/thread_pool.h"

namespace vol {
namespace {

struct timespec ToTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

// Where an item goes, relative to the directory holding the download's root:
// its parent ("" for that directory itself) and its own name.
struct Place {
  std::string parent;
  std::string name;
};

Place PlaceOf(const std::string& root_name, const std::string& root_local, const std::string& local) {
  std::string rel = root_name + local.substr(root_local.size());
  size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

// Each download thread's chunk memory, reused from chunk to chunk.
thread_local ChunkBuffers t_chunk_buffers;

// A temporary name beside `name` (hidden, unpredictable, within NAME_MAX).
std::string TempPrefix(const std::string& name) { return absl::StrCat(".", name.substr(0, 200), ".vol-tmp."); }

// Opens directories below the one holding the root (OpenDirBeneath),
// keeping the last one open: items come parents first, siblings together.
class DirCache {
 public:
  explicit DirCache(int base) : base_(base) {}
  absl::StatusOr<int> Get(const std::string& rel) {
    if (!fd_.ok() || rel != rel_) {
      absl::StatusOr<UniqueFd> fd = OpenDirBeneath(base_, rel);
      if (!fd.ok()) return fd.status();
      fd_ = *std::move(fd);
      rel_ = rel;
    }
    return fd_.get();
  }

 private:
  int base_;
  std::string rel_;
  UniqueFd fd_;
};

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
                                       const DownloadOptions& options, Progress* progress) {
  if (items.empty()) return 0;
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
    if (!options.force) {
      return absl::AlreadyExistsError(
          absl::StrCat(item.local, " already exists (use --force to overwrite)"));
    }
  }

  // Everything below is reached from the directory holding the root, by
  // name. That directory is found as the user wrote LOCAL (a root named "."
  // or ".." by its real path, so that it has a name in its parent).
  std::string anchor = items[0].local;
  std::string last = anchor.substr(anchor.rfind('/') + 1);
  if (last == "." || last == "..") {
    if (char* real = realpath(anchor.c_str(), nullptr)) {
      anchor = real;
      free(real);
    }
  }
  std::string root_name;
  absl::StatusOr<UniqueFd> base = OpenParentDir(anchor, &root_name);
  if (!base.ok()) return base.status();
  const std::string& root_local = items[0].local;
  auto mode_of = [&](const Entry& e) { return MaterialMode(e.mode, e.type, options.preserve_special_modes); };

  // Directories and symlinks first, and every file created empty under a
  // temporary name; then the chunks of all files are fetched at once (a
  // directory of many small files is as parallel as one large file), each
  // task opening its file itself so that no descriptor is held per file;
  // then each complete file gets its mode and time and is renamed into place.
  struct PendingFile {
    const RemoteItem* item;
    Place place;
    std::string tmp;
    dev_t dev;
    ino_t ino;
  };
  std::vector<PendingFile> files;
  // The temporary file of `f`, only if it is still the inode created for it.
  auto reopen = [&](const PendingFile& f, int dirfd) -> absl::StatusOr<UniqueFd> {
    UniqueFd fd(openat(dirfd, f.tmp.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!fd.ok()) return ErrnoError(absl::StrCat("cannot write ", f.item->local), errno);
    if (fstat(fd.get(), &st) != 0 || st.st_dev != f.dev || st.st_ino != f.ino) {
      return absl::AbortedError(absl::StrCat("cannot write ", f.item->local, ": its temporary file ", f.tmp,
                                             " was replaced by someone else; nothing was written there"));
    }
    return fd;
  };
  auto discard = [&](size_t from) {
    DirCache dirs(base->get());
    for (size_t i = from; i < files.size(); ++i) {
      absl::StatusOr<int> dir = dirs.Get(files[i].place.parent);
      if (dir.ok()) unlinkat(*dir, files[i].tmp.c_str(), 0);
    }
  };
  {
    DirCache dirs(base->get());
    for (const RemoteItem& item : items) {
      const Entry& e = item.entry;
      Place place = PlaceOf(root_name, root_local, item.local);
      absl::StatusOr<int> dir = dirs.Get(place.parent);
      if (!dir.ok()) {
        discard(0);
        return absl::Status(dir.status().code(), absl::StrCat("cannot write ", item.local, ": ", dir.status().message()));
      }
      absl::Status s;
      switch (e.type) {
        case EntryType::kDir: {
          if (mkdirat(*dir, place.name.c_str(), 0700) != 0 && errno != EEXIST) {
            s = ErrnoError(absl::StrCat("cannot create directory ", item.local), errno);
          } else if (!OpenDirAt(*dir, place.name).ok()) {
            s = absl::FailedPreconditionError(
                absl::StrCat("cannot create directory ", item.local, ": a file or symlink is in the way"));
          }
          break;
        }
        case EntryType::kSymlink: {
          std::string tmp = RandomName(TempPrefix(place.name));
          if (symlinkat(e.target.c_str(), *dir, tmp.c_str()) != 0) {
            s = ErrnoError(absl::StrCat("cannot create symlink ", item.local), errno);
          } else if (renameat(*dir, tmp.c_str(), *dir, place.name.c_str()) != 0) {
            s = ErrnoError(absl::StrCat("cannot create symlink ", item.local), errno);
            unlinkat(*dir, tmp.c_str(), 0);
          } else {
            struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(e.mtime_ns)};
            s = ApplyEntryMetadata(*dir, place.name, e);
            if (s.ok() && utimensat(*dir, place.name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
              s = ErrnoError(absl::StrCat("cannot set the time of ", item.local), errno);
            }
          }
          break;
        }
        case EntryType::kFile: {
          absl::StatusOr<TempFile> tmp = CreateTempAt(*dir, TempPrefix(place.name));
          if (!tmp.ok()) {
            s = absl::Status(tmp.status().code(), absl::StrCat("cannot create ", item.local, ": ", tmp.status().message()));
            break;
          }
          struct stat st;
          if (fstat(tmp->fd.get(), &st) != 0) {
            s = ErrnoError(absl::StrCat("cannot create ", item.local), errno);
            unlinkat(*dir, tmp->name.c_str(), 0);
            break;
          }
          files.push_back({&item, place, tmp->name, st.st_dev, st.st_ino});
          if (ftruncate(tmp->fd.get(), static_cast<off_t>(e.size)) != 0) {
            s = ErrnoError(absl::StrCat("cannot write ", item.local), errno);
          }
          break;
        }
      }
      if (!s.ok()) {
        discard(0);
        return s;
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
        pool.Submit([&, ref, offset, file = &f] {
          if (failed.load(std::memory_order_relaxed)) return;
          absl::StatusOr<absl::string_view> data = FetchChunkView(store, ref, t_chunk_buffers);
          absl::Status s = data.status();
          if (s.ok()) {
            absl::StatusOr<UniqueFd> dir = OpenDirBeneath(base->get(), file->place.parent);
            absl::StatusOr<UniqueFd> fd = dir.ok() ? reopen(*file, dir->get()) : dir.status();
            s = fd.ok() ? PwriteFull(fd->get(), data->data(), data->size(), offset) : fd.status();
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
    discard(0);
    return first;
  }

  uint64_t written = 0;
  {
    DirCache dirs(base->get());
    for (size_t i = 0; i < files.size(); ++i) {
      const PendingFile& f = files[i];
      const Entry& e = f.item->entry;
      absl::StatusOr<int> dir = dirs.Get(f.place.parent);
      absl::StatusOr<UniqueFd> fd = dir.ok() ? reopen(f, *dir) : dir.status();
      absl::Status s = fd.status();
      struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(e.mtime_ns)};
      // Owner before mode: a chown clears the set-id bits.
      if (s.ok()) s = ApplyEntryMetadata(*dir, f.tmp, e);
      if (s.ok() && fchmod(fd->get(), mode_of(e)) != 0) {
        s = ErrnoError(absl::StrCat("cannot set the mode of ", f.item->local), errno);
      }
      if (s.ok() && futimens(fd->get(), times) != 0) {
        s = ErrnoError(absl::StrCat("cannot set the time of ", f.item->local), errno);
      }
      if (s.ok() && renameat(*dir, f.tmp.c_str(), *dir, f.place.name.c_str()) != 0) {
        s = ErrnoError(absl::StrCat("cannot write ", f.item->local), errno);
      }
      if (!s.ok()) {
        discard(i);
        return s;
      }
      written += e.size;
    }
  }
  // Directory modes and times last: writing into a directory changes its
  // mtime, and a read-only mode would stop the writes.
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    if (!it->entry.is_dir()) continue;
    Place place = PlaceOf(root_name, root_local, it->local);
    absl::StatusOr<UniqueFd> parent = OpenDirBeneath(base->get(), place.parent);
    absl::StatusOr<UniqueFd> dir = parent.ok() ? OpenDirAt(parent->get(), place.name) : parent.status();
    if (!dir.ok()) {
      return absl::Status(dir.status().code(), absl::StrCat("cannot set the mode of ", it->local, ": ", dir.status().message()));
    }
    if (absl::Status s = ApplyEntryMetadata(parent->get(), place.name, it->entry); !s.ok()) return s;
    if (fchmod(dir->get(), mode_of(it->entry)) != 0) {
      return ErrnoError(absl::StrCat("cannot set the mode of ", it->local), errno);
    }
    struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(it->entry.mtime_ns)};
    if (futimens(dir->get(), times) != 0) return ErrnoError(absl::StrCat("cannot set the time of ", it->local), errno);
  }
  return written;
}

}  // namespace vol
