#include "fetcher/util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "fetcher/util/safe_dir.h"
#include "fetcher/util/dir_fd.h"

namespace vol {

absl::Status ErrnoError(absl::string_view what, int err) {
  std::string msg = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(msg);
    case EEXIST: return absl::AlreadyExistsError(msg);
    case EACCES: case EPERM: case EROFS: return absl::PermissionDeniedError(msg);
    case ENOSPC: case EDQUOT: return absl::ResourceExhaustedError(msg);
    case EINVAL: case ENAMETOOLONG: case ENOTDIR: case EISDIR:
      return absl::InvalidArgumentError(msg);
    default: return absl::UnknownError(msg);
  }
}

absl::Status WriteFull(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status PwriteFull(int fd, const void* data, size_t n, uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return absl::OkStatus();
}

absl::Status PreadFull(int fd, void* data, size_t n, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", errno);
    }
    if (r == 0) return absl::DataLossError("file ended early");
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return ErrnoError(absl::StrCat("open ", path), errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(absl::StrCat("read ", path), errno);
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, mode_t mode, bool synced) {
  // The temporary file is safe_dir.h's: a symlink planted beside `path` is never followed.
  std::string name;
  absl::StatusOr<UniqueFd> dir = OpenParentDir(path, &name);
  if (!dir.ok()) return dir.status();
  return WriteFileAt(dir->get(), name, data, mode, path, synced);
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoError(absl::StrCat("cannot read directory ", dir), errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::OkStatus();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return ErrnoError(absl::StrCat("mkdir ", path), ENOTDIR);
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status s = MakeDirs(path.substr(0, slash), mode);
    if (!s.ok()) return s;
  }
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoError(absl::StrCat("mkdir ", path), errno);
  }
  return absl::OkStatus();
}

absl::Status MakeParents(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  return MakeDirs(path.substr(0, slash));
}

namespace {

// Removes `name` in `dirfd` and everything below it, one directory
// descriptor per level (no path is ever longer than a name, so a tree of any
// depth goes). A directory that cannot be read or emptied is made writable
// first, as rm -rf does for its owner.
int RemoveAt(int dirfd, const char* name) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return 0;
  int unlink_errno = errno;
  if (errno != EISDIR && errno != EPERM) return -1;
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EMFILE) {  // a very deep tree: one descriptor per level
    RaiseOpenFileLimit();
    fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0 && (errno == EACCES || errno == EPERM) && ::fchmodat(dirfd, name, 0700, 0) == 0) {
    fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    if (errno == ENOTDIR || errno == ELOOP) errno = unlink_errno;  // a file that would not go
    return -1;
  }
  ::fchmod(fd, 0700);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return -1;
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  int rc = 0;
  for (const std::string& n : names) {
    if (RemoveAt(::dirfd(d), n.c_str()) != 0) rc = -1;
  }
  int saved = errno;
  ::closedir(d);
  if (rc != 0) {
    errno = saved;
    return -1;
  }
  return ::unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

}  // namespace

absl::Status RemoveTree(const std::string& path) {
  if (RemoveAt(AT_FDCWD, path.c_str()) != 0) return ErrnoError(absl::StrCat("remove ", path), errno);
  return absl::OkStatus();
}

}  // namespace vol
