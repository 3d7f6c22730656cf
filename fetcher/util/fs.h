// Small POSIX helpers: an owning fd, full reads and writes that retry short
// transfers and EINTR, and directory creation. Errors carry errno's text.
#ifndef VOL_FETCHER_UTIL_FS_H_
#define VOL_FETCHER_UTIL_FS_H_

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vol {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// st_mtim in nanoseconds since the epoch (a snapshot entry's mtime_ns).
inline int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

absl::Status WriteFull(int fd, const void* data, size_t n);
absl::Status PwriteFull(int fd, const void* data, size_t n, uint64_t offset);
// Fails with DataLoss if the file ends before n bytes.
absl::Status PreadFull(int fd, void* data, size_t n, uint64_t offset);

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes via a temporary file and rename, so the file is replaced atomically
// (WriteFileAt: unpredictable name, O_EXCL|O_NOFOLLOW, fchmod to `mode`, fsync
// unless not `synced`).
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, mode_t mode = 0644,
                             bool synced = true);

// The names in directory `dir`, without "." and "..", in byte order.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);

// mkdir -p.
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);
// mkdir -p of the directory holding `path`.
absl::Status MakeParents(const std::string& path);
// rm -rf (directories made writable first); succeeds if the path is absent.
// Works through directory descriptors, so a tree of any depth goes.
absl::Status RemoveTree(const std::string& path);

// An errno value as a status, with `what` (e.g. "open /x") in front.
absl::Status ErrnoError(absl::string_view what, int err);

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_FS_H_
