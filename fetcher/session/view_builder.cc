#include "fetcher/session/view_builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

absl::Status MakeFile(const std::string& path, const Entry& e, std::vector<ViewFile>& files) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot create view file ", path), errno);
  if (e.size > 0 && ftruncate(fd.get(), static_cast<off_t>(e.size)) != 0) {
    return ErrnoError(absl::StrCat("cannot size view file ", path), errno);
  }
  if (fchmod(fd.get(), e.mode & 07777) != 0) {
    return ErrnoError(absl::StrCat("cannot set the mode of ", path), errno);
  }
  struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(e.mtime_ns)};
  if (futimens(fd.get(), times) != 0) {
    return ErrnoError(absl::StrCat("cannot set the time of ", path), errno);
  }
  if (e.size == 0) return absl::OkStatus();
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(absl::StrCat("stat ", path), errno);
  ViewFile f;
  f.path = path;
  f.entry = e;
  f.entry.name.clear();
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  files.push_back(std::move(f));
  return absl::OkStatus();
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
  while (!level.empty()) {
    std::vector<absl::StatusOr<Tree>> trees(level.size(), absl::UnknownError("not read"));
    for (size_t i = 0; i < level.size(); ++i) {
      pool.Submit([&, i] { trees[i] = ReadTree(store, level[i].tree); });
    }
    pool.Wait();
    std::vector<PendingDir> next;
    for (size_t i = 0; i < level.size(); ++i) {
      if (!trees[i].ok()) return trees[i].status();
      const std::string& dir = level[i].path;
      for (const Entry& e : trees[i]->entries) {
        std::string path = absl::StrCat(dir, "/", e.name);
        switch (e.type) {
          case EntryType::kDir:
            if (mkdir(path.c_str(), 0700) != 0) {
              return ErrnoError(absl::StrCat("cannot create view directory ", path), errno);
            }
            next.push_back({path, e.tree, e.mode & 07777, e.mtime_ns});
            ++stats.dirs;
            break;
          case EntryType::kSymlink: {
            std::string target = RewriteSymlinkTarget(e.target, mount, view);
            if (symlink(target.c_str(), path.c_str()) != 0) {
              return ErrnoError(absl::StrCat("cannot create view symlink ", path), errno);
            }
            if (absl::Status s = SetTimes(AT_FDCWD, path.c_str(), e.mtime_ns); !s.ok()) return s;
            ++stats.symlinks;
            break;
          }
          case EntryType::kFile:
            if (absl::Status s = MakeFile(path, e, files); !s.ok()) return s;
            ++stats.files;
            stats.bytes += e.size;
            break;
        }
      }
    }
    for (PendingDir& d : level) done.push_back(std::move(d));
    level = std::move(next);
  }
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    if (chmod(it->path.c_str(), it->mode) != 0) {
      return ErrnoError(absl::StrCat("cannot set the mode of ", it->path), errno);
    }
    if (absl::Status s = SetTimes(AT_FDCWD, it->path.c_str(), it->mtime_ns); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace vol
