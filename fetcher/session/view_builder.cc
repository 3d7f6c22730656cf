#include "fetcher/session/view_builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/transfer/entry_metadata.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/thread_pool.h"

namespace vol {
namespace {

struct timespec ToTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

absl::Status SetTimes(int dirfd, const char* path, int64_t mtime_ns) {
  struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(mtime_ns)};
  if (utimensat(dirfd, path, times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError(absl::StrCat("cannot set the time of ", path), errno);
  }
  return absl::OkStatus();
}

struct PendingDir {
  std::string path;
  ObjectId tree;
  uint32_t mode;
  int64_t mtime_ns;
};

// What populating one directory produced.
struct DirResult {
  absl::Status status;
  std::vector<PendingDir> subdirs;
  std::vector<ViewFile> files;
  ViewStats stats;
};

// Reads one directory's tree and creates its entries, relative to a
// directory fd (short path walks). Files are created with their final mode
// (the caller has cleared the umask), sized, and dated.
void Populate(ObjectStore& store, const PendingDir& dir, const std::string& mount,
              const std::string& view, DirResult& out) {
  absl::StatusOr<Tree> tree = ReadTree(store, dir.tree);
  if (!tree.ok()) {
    out.status = tree.status();
    return;
  }
  UniqueFd dfd(open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.ok()) {
    out.status = ErrnoError(absl::StrCat("cannot open view directory ", dir.path), errno);
    return;
  }
  for (const Entry& e : tree->entries) {
    const char* name = e.name.c_str();
    auto fail = [&](const char* what) {
      out.status = ErrnoError(absl::StrCat("cannot create view ", what, " ", dir.path, "/", e.name), errno);
    };
    // Published xattrs and owner (entry_metadata.h); a file's mode again after a chown.
    auto metadata = [&]() -> bool {
      if (e.xattrs.empty() && !e.owner) return true;
      out.status = ApplyEntryMetadata(dfd.get(), e.name, e);
      if (out.status.ok() && e.is_file() && e.owner && fchmodat(dfd.get(), name, e.mode & 07777, 0) != 0) fail("file");
      return out.status.ok();
    };
    switch (e.type) {
      case EntryType::kDir:
        if (mkdirat(dfd.get(), name, 0700) != 0) return fail("directory");
        if (!metadata()) return;
        out.subdirs.push_back({absl::StrCat(dir.path, "/", e.name), e.tree, e.mode & 07777, e.mtime_ns});
        ++out.stats.dirs;
        break;
      case EntryType::kSymlink: {
        std::string target = RewriteSymlinkTarget(e.target, mount, view);
        if (symlinkat(target.c_str(), dfd.get(), name) != 0) return fail("symlink");
        struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(e.mtime_ns)};
        if (!metadata()) return;
        if (utimensat(dfd.get(), name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail("symlink");
        ++out.stats.symlinks;
        break;
      }
      case EntryType::kFile: {
        UniqueFd fd(openat(dfd.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e.mode & 07777));
        if (!fd.ok()) return fail("file");
        if (e.size > 0 && ftruncate(fd.get(), static_cast<off_t>(e.size)) != 0) return fail("file");
        if (!metadata()) return;
        struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(e.mtime_ns)};
        if (futimens(fd.get(), times) != 0) return fail("file");
        ++out.stats.files;
        out.stats.bytes += e.size;
        if (e.size == 0) break;
        struct stat st;
        if (fstat(fd.get(), &st) != 0) return fail("file");
        ViewFile f;
        f.path = absl::StrCat(dir.path, "/", e.name);
        f.entry = e;
        f.entry.name.clear();
        f.dev = st.st_dev;
        f.ino = st.st_ino;
        out.files.push_back(std::move(f));
        break;
      }
    }
  }
}

}  // namespace

std::string RewriteSymlinkTarget(const std::string& target, const std::string& mount,
                                 const std::string& view) {
  if (target == mount) return view;
  if (absl::StartsWith(target, mount) && target.size() > mount.size() &&
      target[mount.size()] == '/') {
    return absl::StrCat(view, target.substr(mount.size()));
  }
  return target;
}

absl::Status BuildView(ObjectStore& store, const ObjectId& root, int64_t root_mtime_ns,
                       const std::string& view, const std::string& mount,
                       std::vector<ViewFile>& files, ViewStats& stats) {
  if (mkdir(view.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(absl::StrCat("cannot create view ", view), errno);
  }
  std::vector<PendingDir> done;  // parents before children
  std::vector<PendingDir> level = {{view, root, 0755, root_mtime_ns}};
  ThreadPool pool(std::min(ThreadPool::DefaultWorkers(), 16));
  // Modes are given at creation; the umask must not take bits away.
  mode_t old_umask = umask(0);
  absl::Status status;
  while (!level.empty() && status.ok()) {
    std::vector<DirResult> results(level.size());
    for (size_t i = 0; i < level.size(); ++i) {
      pool.Submit([&, i] { Populate(store, level[i], mount, view, results[i]); });
    }
    pool.Wait();
    std::vector<PendingDir> next;
    for (DirResult& r : results) {
      if (!r.status.ok() && status.ok()) status = r.status;
      for (ViewFile& f : r.files) files.push_back(std::move(f));
      for (PendingDir& d : r.subdirs) next.push_back(std::move(d));
      stats.dirs += r.stats.dirs;
      stats.files += r.stats.files;
      stats.symlinks += r.stats.symlinks;
      stats.bytes += r.stats.bytes;
    }
    for (PendingDir& d : level) done.push_back(std::move(d));
    level = std::move(next);
  }
  umask(old_umask);
  if (!status.ok()) return status;
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    if (chmod(it->path.c_str(), it->mode) != 0) {
      return ErrnoError(absl::StrCat("cannot set the mode of ", it->path), errno);
    }
    if (absl::Status s = SetTimes(AT_FDCWD, it->path.c_str(), it->mtime_ns); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace vol
