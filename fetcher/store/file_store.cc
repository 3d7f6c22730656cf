#include "fetcher/store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>

#include "absl/strings/string_view.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/object_id.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

// Debian builds Abseil with its own string_view, which absl::StrCat takes;
// the store interface uses the standard one.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Memory and lengths of direct reads are multiples of this (the largest
// logical block size of common disks; statx's STATX_DIOALIGN is rarely more).
constexpr size_t kDirectAlign = 4096;

// Reads the file open at fd (O_DIRECT) from offset 0 into buf (aligned,
// `cap` bytes, a multiple of kDirectAlign) until its end; the bytes read.
absl::StatusOr<size_t> ReadDirect(int fd, char* buf, size_t cap) {
  size_t done = 0;
  while (done < cap) {
    ssize_t got = pread(fd, buf + done, cap - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoError("direct read", errno);
    if (got == 0) break;
    done += static_cast<size_t>(got);
    if (done % kDirectAlign != 0) break;  // a short block: the end of the file
  }
  return done;
}

// Direct reads land at a huge-page boundary of a buffer backed by huge pages
// where the kernel gives them: a 4 MiB read into 4 KiB pages reaches the disk
// as requests of about 1 MiB (a request holds at most max_segments pages),
// into 2 MiB pages as one or two, and this is what bounds a cold read from
// local disk.
constexpr size_t kHugeAlign = 2 << 20;

// Grows `buffer` to `size` bytes, asking for huge pages before the new memory
// is first touched (resize() zero-fills it).
void GrowForDirectReads(std::string* buffer, size_t size) {
  buffer->reserve(size);
  uintptr_t start = (reinterpret_cast<uintptr_t>(buffer->data()) + kHugeAlign - 1) / kHugeAlign * kHugeAlign;
  uintptr_t end = (reinterpret_cast<uintptr_t>(buffer->data()) + buffer->capacity()) / kHugeAlign * kHugeAlign;
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);  // advice: may fail
  buffer->resize(size);
}

// Whether the first n bytes of the file open at fd are all in the page cache
// (or cannot be told: cachestat(2) is Linux 6.5's), asked without starting
// any I/O (a read with RWF_NOWAIT would start read-ahead of what is missing).
bool InPageCache(int fd, size_t n) {
  struct {
    uint64_t off, len;
  } range = {0, n};
  struct {
    uint64_t cache, dirty, writeback, evicted, recently_evicted;
  } stat = {};
  constexpr long kSysCachestat = 451;  // the same on every architecture
  if (syscall(kSysCachestat, fd, &range, &stat, 0) != 0) return true;
  return stat.cache * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) >= n;
}

class FileStore : public ObjectStore {
 public:
  explicit FileStore(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<std::string> Get(std::string_view key) override {
    return GetRange(key, 0, UINT64_MAX);
  }

  // Into the caller's buffer (its memory is reused; it grows only when an
  // object is larger than any before, with no zero-filling of reused bytes).
  // An object already in the page cache is copied from there; one that is
  // not is read with O_DIRECT, straight from the disk into the buffer: the
  // caller copies it once more (into a content file, or vol get's output),
  // and a second copy of a store's bytes in the page cache would cost a copy
  // and push out pages someone reads.
  absl::StatusOr<std::string_view> GetInto(std::string_view key_in, std::string* buffer) override {
    absl::string_view key = Sv(key_in);
    std::string path = PathOf(key);
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return Error("read", key, errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Error("read", key, errno);
    size_t n = static_cast<size_t>(st.st_size);
    // Room for the object at an aligned address, its length rounded up to a
    // whole number of blocks (direct I/O moves whole blocks).
    size_t rounded = (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    if (buffer->size() < rounded + kHugeAlign) GrowForDirectReads(buffer, rounded + kHugeAlign);
    char* base = buffer->data();
    char* aligned = base + (kHugeAlign - reinterpret_cast<uintptr_t>(base) % kHugeAlign) % kHugeAlign;
    if (n == 0) return std::string_view(aligned, 0);
    if (!InPageCache(fd.get(), n) && fcntl(fd.get(), F_SETFL, O_DIRECT) == 0) {
      absl::StatusOr<size_t> got = ReadDirect(fd.get(), aligned, rounded);
      if (got.ok() && *got == n) return std::string_view(aligned, n);
      if (got.ok()) return Error("read", key, EIO);  // changed size while read: never a store's object
      // This file system refuses direct I/O of these sizes: read it the usual way.
      fcntl(fd.get(), F_SETFL, 0);
    }
    if (!PreadFull(fd.get(), aligned, n, 0).ok()) return Error("read", key, errno);
    return std::string_view(aligned, n);
  }

  absl::StatusOr<std::string> GetRange(std::string_view key_in, uint64_t offset,
                                       uint64_t length) override {
    absl::string_view key = Sv(key_in);

    std::string path = PathOf(key);
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return Error("read", key, errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Error("read", key, errno);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (offset >= size) return std::string();
    uint64_t n = std::min<uint64_t>(length, size - offset);
    std::string out(n, '\0');
    absl::Status s = PreadFull(fd.get(), out.data(), n, offset);
    if (!s.ok()) return Error("read", key, errno);
    return out;
  }

  absl::Status Put(std::string_view key_in, std::string_view data_in) override {
    absl::string_view key = Sv(key_in);
    absl::string_view data = Sv(data_in);

    absl::StatusOr<std::string> tmp = WriteTemp(key, data);
    if (!tmp.ok()) return tmp.status();
    std::string path = PathOf(key);
    if (rename(tmp->c_str(), path.c_str()) != 0) {
      int e = errno;
      if (e == ENOENT && MakeParents(path).ok() && rename(tmp->c_str(), path.c_str()) == 0) {
        return absl::OkStatus();
      }
      unlink(tmp->c_str());
      return Error("write", key, e);
    }
    return absl::OkStatus();
  }

  absl::Status PutIfAbsent(std::string_view key_in, std::string_view data_in) override {
    absl::string_view key = Sv(key_in);
    absl::string_view data = Sv(data_in);

    absl::StatusOr<std::string> tmp = WriteTemp(key, data);
    if (!tmp.ok()) return tmp.status();
    std::string path = PathOf(key);
    int rc = link(tmp->c_str(), path.c_str());
    int e = errno;
    if (rc != 0 && e == ENOENT && MakeParents(path).ok()) {
      rc = link(tmp->c_str(), path.c_str());
      e = errno;
    }
    unlink(tmp->c_str());
    if (rc == 0) return absl::OkStatus();
    if (e == EEXIST) return absl::AlreadyExistsError(absl::StrCat("object ", key, " exists"));
    return Error("write", key, e);
  }

  absl::StatusOr<ObjectInfo> Head(std::string_view key_in) override {
    absl::string_view key = Sv(key_in);

    struct stat st;
    if (stat(PathOf(key).c_str(), &st) != 0) return Error("stat", key, errno);
    return ObjectInfo{static_cast<uint64_t>(st.st_size), MtimeNs(st), ""};
  }

  absl::StatusOr<std::vector<ListedObject>> ListObjects(std::string_view prefix) override {
    absl::StatusOr<std::vector<std::string>> keys = List(prefix, {});
    if (!keys.ok()) return keys.status();
    std::vector<ListedObject> out;
    out.reserve(keys->size());
    for (std::string& key : *keys) {
      struct stat st;
      if (stat(PathOf(key).c_str(), &st) != 0) {
        if (errno == ENOENT) continue;  // deleted while listing
        return Error("stat", key, errno);
      }
      out.push_back({std::move(key), static_cast<uint64_t>(st.st_size), MtimeNs(st)});
    }
    return out;
  }

  absl::Status Touch(std::string_view key_in) override {
    absl::string_view key = Sv(key_in);
    if (utimensat(AT_FDCWD, PathOf(key).c_str(), nullptr, 0) == 0) return absl::OkStatus();
    // Another user's object in a shared store: only its owner may set its
    // times, but any writer of the store may replace it with the same bytes.
    if (errno == EPERM || errno == EACCES) return ObjectStore::Touch(key_in);
    return Error("touch", key, errno);
  }

  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix_in,
                                                std::string_view start_after_in) override {
    absl::string_view prefix = Sv(prefix_in);
    absl::string_view start_after = Sv(start_after_in);

    // Walk only the directory the prefix names up to its last '/'.
    size_t slash = prefix.rfind('/');
    std::string dir_key = slash == absl::string_view::npos ? "" : std::string(prefix.substr(0, slash));
    std::vector<std::string> keys;
    absl::Status s = Walk(dir_key, prefix, keys);
    if (!s.ok()) return s;
    std::sort(keys.begin(), keys.end());
    if (!start_after.empty()) {
      keys.erase(keys.begin(), std::upper_bound(keys.begin(), keys.end(), start_after));
    }
    return keys;
  }

  absl::Status Delete(std::string_view key_in) override {
    absl::string_view key = Sv(key_in);

    if (unlink(PathOf(key).c_str()) != 0 && errno != ENOENT) return Error("delete", key, errno);
    return absl::OkStatus();
  }

  std::string Url() const override { return "file://" + root_; }

 private:
  std::string PathOf(absl::string_view key) const { return absl::StrCat(root_, "/", key); }

  absl::Status Error(absl::string_view verb, absl::string_view key, int err) const {
    std::string msg = absl::StrCat("cannot ", verb, " ", key, " in store ", Url(), ": ",
                                   strerror(err));
    switch (err) {
      case ENOENT: return absl::NotFoundError(msg);
      case EACCES: case EPERM: case EROFS:
        return absl::PermissionDeniedError(absl::StrCat(msg, " (check the store directory's permissions)"));
      case ENOSPC: case EDQUOT:
        return absl::ResourceExhaustedError(absl::StrCat(msg, " (free space on the store's disk)"));
      default: return absl::UnavailableError(msg);
    }
  }

  absl::StatusOr<std::string> WriteTemp(absl::string_view key, absl::string_view data) {
    static std::atomic<uint64_t> counter{0};
    std::string tmp = absl::StrCat(root_, "/tmp/", getpid(), ".", gettid(), ".",
                                   counter.fetch_add(1), ".", ObjectId::Of(key).Hex().substr(0, 8));
    UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.ok() && errno == ENOENT) {
      mkdir(absl::StrCat(root_, "/tmp").c_str(), 0755);
      fd.reset(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    }
    if (!fd.ok()) return Error("write", key, errno);
    absl::Status s = WriteFull(fd.get(), data.data(), data.size());
    if (s.ok() && fdatasync(fd.get()) != 0) s = ErrnoError("fdatasync", errno);
    if (!s.ok()) {
      int e = errno;
      unlink(tmp.c_str());
      return Error("write", key, e);
    }
    return tmp;
  }

  absl::Status Walk(const std::string& dir_key, absl::string_view prefix,
                    std::vector<std::string>& keys) {
    std::string dir = dir_key.empty() ? root_ : PathOf(dir_key);
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return absl::OkStatus();
      return Error("list", dir_key, errno);
    }
    absl::Status status;
    while (struct dirent* e = readdir(d)) {
      absl::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      if (dir_key.empty() && name == "tmp") continue;
      std::string key = dir_key.empty() ? std::string(name) : absl::StrCat(dir_key, "/", name);
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = stat(PathOf(key).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      if (is_dir) {
        // Descend only where keys under it can match the prefix.
        std::string as_prefix = key + "/";
        if (absl::StartsWith(as_prefix, prefix) || absl::StartsWith(prefix, as_prefix)) {
          status.Update(Walk(key, prefix, keys));
        }
      } else if (absl::StartsWith(key, prefix)) {
        keys.push_back(std::move(key));
      }
    }
    closedir(d);
    return status;
  }

  const std::string root_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> NewFileStore(const std::string& root) {
  if (root.empty() || root[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("file store path '", root, "' must be absolute (file:///path)"));
  }
  std::string trimmed = root;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  absl::Status s = MakeDirs(trimmed);
  if (!s.ok()) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create store directory ", trimmed,
                                                    ": ", s.message()));
  }
  return std::unique_ptr<ObjectStore>(new FileStore(trimmed));
}

}  // namespace vol
