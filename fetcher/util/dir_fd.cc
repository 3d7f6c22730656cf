#include "fetcher/util/dir_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace vol {

absl::StatusOr<UniqueFd> OpenDirAt(int dirfd, const std::string& name) {
  UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.ok()) return fd;
  int err = errno;
  if (err == ENOENT) return absl::NotFoundError(absl::StrCat(name, " is gone"));
  if (err == ENOTDIR || err == ELOOP) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is not a directory"));
  }
  return ErrnoError(absl::StrCat("cannot open directory ", name), err);
}

absl::StatusOr<std::vector<std::string>> ListDirFd(int fd) {
  // fdopendir takes the descriptor it is given: give it a copy, at offset 0.
  int copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return ErrnoError("cannot read a directory", errno);
  DIR* d = fdopendir(copy);
  if (d == nullptr) {
    int err = errno;
    close(copy);
    return ErrnoError("cannot read a directory", err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    errno = 0;
  }
  int err = errno;
  closedir(d);
  if (err != 0) return ErrnoError("cannot read a directory", err);
  std::sort(names.begin(), names.end());
  return names;
}

bool StatAt(int dirfd, const std::string& name, struct stat* st) {
  return fstatat(dirfd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0;
}

absl::StatusOr<std::string> ReadLinkAt(int dirfd, const std::string& name) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = readlinkat(dirfd, name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoError(absl::StrCat("cannot read link ", name), errno);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

std::string FdPath(int dirfd, const std::string& name) {
  if (dirfd == AT_FDCWD) return name.empty() ? "." : name;
  return name.empty() ? absl::StrCat("/proc/self/fd/", dirfd) : absl::StrCat("/proc/self/fd/", dirfd, "/", name);
}

void RaiseOpenFileLimit() {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace vol
