#include "fetcher/util/safe_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vol {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Why openat(O_DIRECTORY|O_NOFOLLOW) of an existing name failed, as a message.
absl::Status NotADirectory(int dirfd, const std::string& name, const std::string& path, absl::string_view what) {
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", path, " is a symbolic link; vol does not follow links to its private directories: "
        "use the real directory's path, or remove the link"));
  }
  return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " is not a directory"));
}

absl::Status RemoveContents(int dirfd, const std::string& rel);

// RemoveTreeAt, with `rel` (the path from where the removal started) for messages.
absl::Status RemoveTree(int dirfd, const std::string& name, const std::string& rel) {
  if (unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR) return ErrnoError(absl::StrCat("cannot remove ", rel), errno);
  UniqueFd sub(openat(dirfd, name.c_str(), kDirFlags));
  if (!sub.ok() && errno == EACCES) {
    // A directory without read permission (a view keeps the volume's modes):
    // make it readable without following a symlink that may stand there now.
    if (fchmodat(dirfd, name.c_str(), 0700, AT_SYMLINK_NOFOLLOW) == 0) sub.reset(openat(dirfd, name.c_str(), kDirFlags));
  }
  if (!sub.ok()) {
    if (errno == ENOENT) return absl::OkStatus();
    if (errno == ENOTDIR || errno == ELOOP) {  // replaced by a file or link meanwhile
      if (unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
    }
    return ErrnoError(absl::StrCat("cannot remove ", rel), errno);
  }
  struct stat parent, st;
  if (fstat(dirfd, &parent) != 0 || fstat(sub.get(), &st) != 0) {
    return ErrnoError(absl::StrCat("cannot remove ", rel), errno);
  }
  if (st.st_dev != parent.st_dev) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot remove ", rel, ": another file system is mounted there"));
  }
  if ((st.st_mode & S_IRWXU) != S_IRWXU && fchmod(sub.get(), (st.st_mode & 07777) | S_IRWXU) != 0) {
    return ErrnoError(absl::StrCat("cannot remove ", rel), errno);
  }
  if (absl::Status s = RemoveContents(sub.get(), rel); !s.ok()) return s;
  sub.reset();
  if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoError(absl::StrCat("cannot remove ", rel), errno);
  }
  return absl::OkStatus();
}

absl::Status RemoveContents(int dirfd, const std::string& rel) {
  absl::StatusOr<std::vector<std::string>> names = ListDirAt(dirfd);
  if (!names.ok()) {
    return absl::Status(names.status().code(), absl::StrCat(rel, ": ", names.status().message()));
  }
  for (const std::string& n : *names) {
    if (absl::Status s = RemoveTree(dirfd, n, rel.empty() ? n : absl::StrCat(rel, "/", n)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListDirAt(int dirfd) {
  int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return ErrnoError("cannot read directory", errno);
  DIR* d = fdopendir(dup_fd);
  if (d == nullptr) {
    int err = errno;
    close(dup_fd);
    return ErrnoError("cannot read directory", err);
  }
  rewinddir(d);  // the fd's offset is shared with dirfd's earlier readers
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  int err = errno;
  closedir(d);
  if (err != 0) return ErrnoError("cannot read directory", err);
  return names;
}

absl::Status CheckPrivateDir(int fd, const std::string& path, absl::string_view what, bool created) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(absl::StrCat("cannot check ", what, " ", path), errno);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " is not a directory"));
  if (st.st_uid != geteuid()) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s %s belongs to uid %d, not to you (uid %d): another user may have put it there to read or "
        "redirect your data; have it removed, or choose another location",
        what, path, st.st_uid, geteuid()));
  }
  mode_t mode = st.st_mode & 07777;
  if (created) {
    // Made just now: exactly 0700, whatever the umask took away.
    if (mode != kPrivateDirMode && fchmod(fd, kPrivateDirMode) != 0) {
      return ErrnoError(absl::StrCat("cannot make ", what, " ", path, " private"), errno);
    }
    return absl::OkStatus();
  }
  if ((mode & 077) == 0) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrFormat(
      "%s %s is open to other users (mode %04o): make it private with `chmod 700 %s`, or choose another location",
      what, path, mode, path));
}

absl::StatusOr<SafeDir> SafeDir::OpenAt(int parent_fd, const std::string& name, const std::string& path,
                                        IfMissing if_missing, absl::string_view what) {
  bool created = false;
  if (if_missing == IfMissing::kCreate) {
    if (mkdirat(parent_fd, name.c_str(), kPrivateDirMode) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      return ErrnoError(absl::StrCat("cannot create ", what, " ", path), errno);
    }
  }
  UniqueFd fd(openat(parent_fd, name.c_str(), kDirFlags));
  if (!fd.ok()) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
    if (errno == ENOTDIR || errno == ELOOP) return NotADirectory(parent_fd, name, path, what);
    return ErrnoError(absl::StrCat("cannot open ", what, " ", path), errno);
  }
  if (absl::Status s = CheckPrivateDir(fd.get(), path, what, created); !s.ok()) return s;
  return SafeDir(std::move(fd), path, what);
}

absl::StatusOr<SafeDir> SafeDir::Open(const std::string& path_in, IfMissing if_missing, absl::string_view what) {
  std::string path = StripTrailingSlashes(path_in);
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty path"));
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    // "/", "." or "..": no last name to open without following; the directory itself.
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.ok()) return ErrnoError(absl::StrCat("cannot open ", what, " ", path), errno);
    if (absl::Status s = CheckPrivateDir(fd.get(), path, what, false); !s.ok()) return s;
    return SafeDir(std::move(fd), path, what);
  }
  if (if_missing == IfMissing::kCreate) {
    struct stat st;
    if (stat(parent.c_str(), &st) != 0) {
      if (absl::Status s = MakeDirs(parent, kPrivateDirMode); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("cannot create ", what, " ", path, ": ", s.message()));
      }
    }
  }
  UniqueFd parent_fd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd.ok()) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
    return ErrnoError(absl::StrCat("cannot open ", what, " ", path), errno);
  }
  return OpenAt(parent_fd.get(), name, path, if_missing, what);
}

absl::StatusOr<SafeDir> SafeDir::Sub(const std::string& name, IfMissing if_missing) const {
  return OpenAt(fd_.get(), name, PathOf(name), if_missing, what_);
}

absl::StatusOr<UniqueFd> OpenDirBeneath(int dirfd, const std::string& rel) {
  if (!rel.empty() && rel[0] == '/') return absl::InvalidArgumentError(absl::StrCat(rel, " is not a relative path"));
  UniqueFd fd(fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!fd.ok()) return ErrnoError("cannot open directory", errno);
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string name = rel.substr(start, slash - start);
    if (!name.empty() && name != ".") {
      if (name == "..") return absl::InvalidArgumentError(absl::StrCat("'..' in ", rel));
      UniqueFd next(openat(fd.get(), name.c_str(), kDirFlags));
      if (!next.ok()) return ErrnoError(absl::StrCat("cannot open directory ", rel.substr(0, slash)), errno);
      fd = std::move(next);
    }
    start = slash + 1;
  }
  return fd;
}

absl::StatusOr<UniqueFd> OpenParentDir(const std::string& path_in, std::string* name) {
  std::string path = StripTrailingSlashes(path_in);
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  *name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name->empty() || *name == "/") return absl::InvalidArgumentError(absl::StrCat("no name in path '", path_in, "'"));
  UniqueFd fd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot open directory ", parent), errno);
  return fd;
}

bool ExistsAt(int dirfd, const std::string& name) {
  struct stat st;
  return fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

absl::StatusOr<std::string> ReadFileAt(int dirfd, const std::string& name, size_t limit) {
  // O_NONBLOCK: a FIFO planted under the name must not block the open.
  UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot open ", name), errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(absl::StrCat("cannot read ", name), errno);
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(absl::StrCat(name, " is not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > limit) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is larger than ", limit, " bytes"));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = read(fd.get(), out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError(absl::StrCat("cannot read ", name), errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

std::string RandomName(absl::string_view prefix) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char bytes[12];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t r = getrandom(bytes + got, sizeof bytes - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  if (got < sizeof bytes) {  // no getrandom(2): the C++ library's device
    std::random_device rd;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd());
  }
  std::string out(prefix);
  for (unsigned char b : bytes) out.push_back(kAlphabet[b % (sizeof kAlphabet - 1)]);
  return out;
}

absl::StatusOr<TempFile> CreateTempAt(int dirfd, absl::string_view prefix) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    TempFile t;
    t.name = RandomName(prefix);
    t.fd.reset(openat(dirfd, t.name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kPrivateFileMode));
    if (t.fd.ok()) return t;
    if (errno != EEXIST) return ErrnoError(absl::StrCat("cannot create ", t.name), errno);
  }
  return absl::ResourceExhaustedError(absl::StrCat("cannot create a temporary file ", prefix, "…: every name tried exists"));
}

absl::Status WriteFileAt(int dirfd, const std::string& name, absl::string_view data, mode_t mode,
                         const std::string& shown_in, bool synced) {
  const std::string& shown = shown_in.empty() ? name : shown_in;
  absl::StatusOr<TempFile> tmp = CreateTempAt(dirfd, absl::StrCat(".", name.substr(0, 200), ".tmp."));
  if (!tmp.ok()) {
    return absl::Status(tmp.status().code(), absl::StrCat("cannot write ", shown, ": ", tmp.status().message()));
  }
  absl::Status s = WriteFull(tmp->fd.get(), data.data(), data.size());
  if (!s.ok()) s = absl::Status(s.code(), absl::StrCat("cannot write ", shown, ": ", s.message()));
  if (s.ok() && fchmod(tmp->fd.get(), mode) != 0) s = ErrnoError(absl::StrCat("cannot set the mode of ", shown), errno);
  if (s.ok() && synced && fsync(tmp->fd.get()) != 0) s = ErrnoError(absl::StrCat("cannot write ", shown), errno);
  if (s.ok() && renameat(dirfd, tmp->name.c_str(), dirfd, name.c_str()) != 0) {
    s = ErrnoError(absl::StrCat("cannot write ", shown), errno);
  }
  if (!s.ok()) unlinkat(dirfd, tmp->name.c_str(), 0);
  return s;
}

absl::Status RemoveTreeAt(int dirfd, const std::string& name, const std::string& shown) {
  return RemoveTree(dirfd, name, shown.empty() ? name : shown);
}

absl::Status RemoveContentsAt(int dirfd) { return RemoveContents(dirfd, ""); }

}  // namespace vol
