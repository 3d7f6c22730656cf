#include "fetcher/store/local_cache_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"

namespace vol {

LocalCacheStore::LocalCacheStore(ObjectStore& inner, std::string dir, std::vector<std::string> prefixes,
                                 Validator valid)
    : inner_(inner), dir_(std::move(dir)), prefixes_(std::move(prefixes)), valid_(std::move(valid)) {}

bool LocalCacheStore::Cached(std::string_view key) const {
  if (key.find("..") != std::string_view::npos) return false;
  for (const std::string& p : prefixes_) {
    if (key.substr(0, p.size()) == p) return true;
  }
  return false;
}

absl::StatusOr<std::string_view> LocalCacheStore::GetInto(std::string_view key, std::string* buffer) {
  if (!Cached(key)) return inner_.GetInto(key, buffer);
  return ObjectStore::GetInto(key, buffer);
}

absl::StatusOr<std::string> LocalCacheStore::Get(std::string_view key) {
  if (!Cached(key)) return inner_.Get(key);
  std::string path = dir_ + "/" + std::string(key);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.ok()) {
    struct stat st;
    std::string bytes;
    if (fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
      bytes.resize(static_cast<size_t>(st.st_size));
      if (PreadFull(fd.get(), bytes.data(), bytes.size(), 0).ok() && valid_(key, bytes)) return bytes;
    }
    unlink(path.c_str());  // damaged: fetch it again
  }
  absl::StatusOr<std::string> bytes = inner_.Get(key);
  if (!bytes.ok() || !valid_(key, *bytes)) return bytes;
  static std::atomic<uint64_t> counter{0};
  std::string dir = path.substr(0, path.rfind('/'));
  std::string tmp = absl::StrCat(path, ".tmp.", getpid(), ".", counter.fetch_add(1));
  UniqueFd out(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.ok() && errno == ENOENT && MakeDirs(dir, 0700).ok()) {
    out.reset(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  }
  if (out.ok()) {
    bool good = WriteFull(out.get(), bytes->data(), bytes->size()).ok();
    out.reset();
    if (!good || rename(tmp.c_str(), path.c_str()) != 0) unlink(tmp.c_str());
  }
  return bytes;
}

}  // namespace vol
