#include "fetcher/session/private_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"

namespace vol {
namespace {

std::atomic<uint64_t> g_counter{0};

absl::Status CopyContent(int from, int to, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = copy_file_range(from, nullptr, to, nullptr, size - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
      // No in-kernel copy here: do it by hand.
      std::string buf(1 << 20, '\0');
      while (done < size) {
        ssize_t r = pread(from, buf.data(), buf.size(), static_cast<off_t>(done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ErrnoError("cannot read for a private copy", r < 0 ? errno : EIO);
        if (absl::Status s = PwriteFull(to, buf.data(), static_cast<size_t>(r), done); !s.ok()) return s;
        done += static_cast<uint64_t>(r);
      }
      return absl::OkStatus();
    }
    if (n < 0) return ErrnoError("cannot make a private copy", errno);
    if (n == 0) return absl::DataLossError("the content file ended early");
    done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

// The user.* xattrs and (as root) the owner of `from` onto `to`: a private
// copy is the same file to the program.
absl::Status CopyMetadata(int from, int to, const struct stat& st) {
  std::string names(4096, '\0');
  ssize_t n = flistxattr(from, names.data(), names.size());
  if (n < 0 && errno == ERANGE) {
    n = flistxattr(from, nullptr, 0);
    if (n > 0) {
      names.resize(static_cast<size_t>(n));
      n = flistxattr(from, names.data(), names.size());
    }
  }
  if (n < 0 && errno != ENOTSUP) return ErrnoError("cannot list xattrs for a private copy", errno);
  for (size_t at = 0; n > 0 && at < static_cast<size_t>(n);) {
    std::string name(names.data() + at);
    at += name.size() + 1;
    if (name.rfind("user.", 0) != 0) continue;
    ssize_t len = fgetxattr(from, name.c_str(), nullptr, 0);
    if (len < 0) continue;
    std::string value(static_cast<size_t>(len), '\0');
    len = fgetxattr(from, name.c_str(), value.data(), value.size());
    if (len < 0) continue;
    if (fsetxattr(to, name.c_str(), value.data(), static_cast<size_t>(len), 0) != 0 && errno != ENOTSUP) {
      return ErrnoError("cannot copy an xattr to a private copy", errno);
    }
  }
  if (geteuid() == 0 && fchown(to, st.st_uid, st.st_gid) != 0) {
    return ErrnoError("cannot set the owner of a private copy", errno);
  }
  return absl::OkStatus();
}

}  // namespace

PrivateCopies::PrivateCopies(FetchEngine& engine, PresenceTable& presence)
    : engine_(engine), presence_(presence), pool_(2) {}

PrivateCopies::~PrivateCopies() { pool_.Wait(); }

void PrivateCopies::Make(UniqueFd dir, std::string name, bool empty, Done done) {
  struct stat st;
  if (!dir.ok() || name.empty() || name.find('/') != std::string::npos ||
      fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
      st.st_nlink < 2) {
    done(absl::OkStatus());  // nothing there yet, or private already
    return;
  }
  std::optional<uint32_t> slot = presence_.Find(st.st_dev, st.st_ino);
  if (!slot || presence_.file(*slot).kind != VOL_SLOT_FILE || !(presence_.file(*slot).flags & VOL_SLOT_SHARED)) {
    done(absl::OkStatus());
    return;
  }
  std::pair<uint64_t, uint64_t> inode{st.st_dev, st.st_ino};
  auto [it, first] = running_.try_emplace(inode);
  it->second.push_back(std::move(done));
  if (!first) return;  // a copy of this file is being made: it waits for that one
  uint32_t mode = presence_.file(*slot).mode;
  auto shared_dir = std::make_shared<UniqueFd>(std::move(dir));
  auto start = [this, shared_dir, name, empty, inode, mode](absl::Status fetched) {
    if (!fetched.ok()) return Finish(inode, fetched);
    pool_.Submit([this, shared_dir, name, empty, inode, mode] { Copy(shared_dir, name, empty, inode, mode); });
  };
  if (empty || presence_.IsComplete(*slot)) {
    start(absl::OkStatus());
  } else {
    engine_.Fetch(*slot, 0, presence_.file(*slot).size, /*all=*/true, start);
  }
}

void PrivateCopies::Copy(std::shared_ptr<UniqueFd> dir, std::string name, bool empty,
                         std::pair<uint64_t, uint64_t> inode, uint32_t mode) {
  int d = dir->get();
  auto result = [&]() -> absl::Status {
    UniqueFd from(openat(d, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!from.ok() || fstat(from.get(), &st) != 0) return ErrnoError(absl::StrCat("cannot open ", name), errno);
    if (st.st_dev != inode.first || st.st_ino != inode.second) return absl::OkStatus();  // replaced meanwhile
    std::string tmp = absl::StrCat(".vol-private-", getpid(), "-", g_counter.fetch_add(1));
    UniqueFd to(openat(d, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!to.ok()) return ErrnoError(absl::StrCat("cannot create a private copy of ", name), errno);
    absl::Status s = empty ? absl::OkStatus() : CopyContent(from.get(), to.get(), static_cast<uint64_t>(st.st_size));
    if (s.ok()) s = CopyMetadata(from.get(), to.get(), st);  // owner before mode: a chown clears set-id bits
    struct timespec times[2] = {{0, UTIME_OMIT}, st.st_mtim};
    if (s.ok() && (fchmod(to.get(), mode & 07777) != 0 || futimens(to.get(), times) != 0)) {
      s = ErrnoError(absl::StrCat("cannot set up the private copy of ", name), errno);
    }
    // Still the same file under that name? Then the copy takes its place.
    struct stat now;
    if (s.ok() && fstatat(d, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == st.st_ino &&
        now.st_dev == st.st_dev && renameat(d, tmp.c_str(), d, name.c_str()) != 0) {
      s = ErrnoError(absl::StrCat("cannot replace ", name, " by its private copy"), errno);
    }
    unlinkat(d, tmp.c_str(), 0);  // left over when it did not take the place
    return s;
  };
  absl::Status status;
  try {
    status = result();
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("making a private copy: ", e.what()));
  }
  engine_.Post([this, inode, status] { Finish(inode, status); });
}

void PrivateCopies::Finish(std::pair<uint64_t, uint64_t> inode, absl::Status s) {
  auto it = running_.find(inode);
  if (it == running_.end()) return;
  std::vector<Done> waiters = std::move(it->second);
  running_.erase(it);
  for (Done& w : waiters) w(s);
}

}  // namespace vol
