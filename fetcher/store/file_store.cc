#include "fetcher/store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
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

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

class FileStore : public ObjectStore {
 public:
  explicit FileStore(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<std::string> Get(std::string_view key) override {
    return GetRange(key, 0, UINT64_MAX);
  }

  // Into the caller's buffer: its memory is reused, and grows only when an
  // object is larger than any before (no zero-filling of reused bytes).
  absl::Status GetInto(std::string_view key_in, std::string* out) override {
    absl::string_view key = Sv(key_in);
    std::string path = PathOf(key);
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return Error("read", key, errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Error("read", key, errno);
    size_t n = static_cast<size_t>(st.st_size);
    if (out->size() < n) out->resize(n);
    absl::Status s = PreadFull(fd.get(), out->data(), n, 0);
    if (!s.ok()) return Error("read", key, errno);
    out->resize(n);
    return absl::OkStatus();
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
