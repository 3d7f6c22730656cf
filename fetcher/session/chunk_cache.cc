#include "fetcher/session/chunk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/safe_dir.h"

namespace vol {

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  std::string t = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  uint64_t mult = 1;
  if (!t.empty() && t.back() == 'B') t.pop_back();
  if (!t.empty() && t.back() == 'I') t.pop_back();  // "GiB"
  if (!t.empty() && std::isalpha(static_cast<unsigned char>(t.back()))) {
    switch (t.back()) {
      case 'K': mult = uint64_t{1} << 10; break;
      case 'M': mult = uint64_t{1} << 20; break;
      case 'G': mult = uint64_t{1} << 30; break;
      case 'T': mult = uint64_t{1} << 40; break;
      default: t = "?";
    }
    if (t != "?") t.pop_back();
  }
  double v = 0;
  if (t.empty() || !absl::SimpleAtod(t, &v) || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read the size '", text, "': use a number of bytes or a size like 512M, 10G"));
  }
  return static_cast<uint64_t>(v * static_cast<double>(mult));
}

std::string DefaultCacheDir() {
  if (const char* d = getenv("VOL_CACHE_DIR"); d && *d) return d;
  if (const char* x = getenv("XDG_CACHE_HOME"); x && *x == '/') return absl::StrCat(x, "/vol");
  const char* home = getenv("HOME");
  if (home == nullptr || *home != '/') {
    struct passwd* pw = getpwuid(geteuid());
    home = pw != nullptr ? pw->pw_dir : nullptr;
  }
  if (home != nullptr && *home == '/') return absl::StrCat(home, "/.cache/vol");
  // No home at all: a directory of this uid's own in /tmp, never a shared /tmp/.cache.
  return absl::StrCat("/tmp/vol-cache-", geteuid());
}

absl::StatusOr<uint64_t> CacheLimitFromEnv(const std::string& dir) {
  if (const char* s = getenv("VOL_CACHE_SIZE"); s && *s) {
    absl::StatusOr<uint64_t> v = ParseByteSize(s);
    if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat("VOL_CACHE_SIZE: ", v.status().message()));
    return v;
  }
  struct statvfs fs;
  if (statvfs(dir.c_str(), &fs) != 0) return kDefaultCacheLimit;
  uint64_t tenth = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize / 10;
  return std::clamp<uint64_t>(tenth, uint64_t{1} << 30, kDefaultCacheLimit);
}

ChunkCache::ChunkCache(std::string dir, uint64_t limit_bytes)
    : dir_(std::move(dir)), limit_(limit_bytes) {}

std::string ChunkCache::PathOf(const ObjectId& id) const {
  std::string hex = id.Hex();
  return absl::StrCat(dir_, "/chunks/", hex.substr(0, 2), "/", hex);
}

std::optional<std::string> ChunkCache::Get(const ChunkRef& ref) {
  std::string path = PathOf(ref.id);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return std::nullopt;
  struct stat st;
  std::string data;
  bool good = fstat(fd.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) == ref.size;
  if (good) {
    data.resize(ref.size);
    good = PreadFull(fd.get(), data.data(), data.size(), 0).ok() && ObjectId::Of(data) == ref.id;
  }
  if (!good) {
    unlink(path.c_str());  // corrupt or truncated: drop it, the caller refetches
    return std::nullopt;
  }
  futimens(fd.get(), nullptr);  // recency for LRU
  return data;
}

absl::Status ChunkCache::Put(const ChunkRef& ref, absl::string_view raw) {
  std::string path = PathOf(ref.id);
  std::string dir = path.substr(0, path.rfind('/'));
  std::string tmp = absl::StrCat(dir, "/.tmp.", ref.id.Hex(), ".", getpid(), ".",
                                 tmp_counter_.fetch_add(1, std::memory_order_relaxed));
  // Private: the cache holds content of volumes other users may not read (safe_dir.h).
  constexpr int kCreateFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(open(tmp.c_str(), kCreateFlags, kPrivateFileMode));
  if (!fd.ok() && errno == ENOENT) {
    if (absl::Status s = MakeDirs(dir, kPrivateDirMode); !s.ok()) return s;
    fd.reset(open(tmp.c_str(), kCreateFlags, kPrivateFileMode));
  }
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot write cache entry ", tmp), errno);
  absl::Status s = WriteFull(fd.get(), raw.data(), raw.size());
  fd.reset();
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    s = ErrnoError(absl::StrCat("cannot write cache entry ", path), errno);
  }
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  added_since_evict_.fetch_add(raw.size(), std::memory_order_relaxed);
  added_.store(true, std::memory_order_relaxed);
  MaybeEvict();
  return absl::OkStatus();
}

void ChunkCache::MaybeEvict() {
  uint64_t added = added_since_evict_.load(std::memory_order_relaxed);
  if (added < limit_ / 8) return;
  if (!added_since_evict_.compare_exchange_strong(added, 0)) return;  // another thread does it
  Evict(limit_ / 10 * 9).IgnoreError();
}

void ChunkCache::Settle() {
  // Wait for a pass in progress (another thread's or process's): it may have
  // started before this session's last entries landed.
  if (added_.load()) Evict(limit_, /*wait=*/true).IgnoreError();
}

namespace {

struct CacheEntry {
  int64_t mtime_ns;
  uint64_t size;
  std::string path;
};

// Every entry (not temporaries) under DIR/chunks/??/.
std::vector<CacheEntry> ListEntries(const std::string& dir) {
  std::vector<CacheEntry> out;
  std::string chunks = absl::StrCat(dir, "/chunks");
  DIR* top = opendir(chunks.c_str());
  if (top == nullptr) return out;
  while (struct dirent* d = readdir(top)) {
    if (d->d_name[0] == '.') continue;
    std::string sub = absl::StrCat(chunks, "/", d->d_name);
    DIR* s = opendir(sub.c_str());
    if (s == nullptr) continue;
    while (struct dirent* e = readdir(s)) {
      if (e->d_name[0] == '.') continue;
      std::string path = absl::StrCat(sub, "/", e->d_name);
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                     static_cast<uint64_t>(st.st_size), std::move(path)});
    }
    closedir(s);
  }
  closedir(top);
  return out;
}

}  // namespace

uint64_t ChunkCache::Usage() const {
  uint64_t total = 0;
  for (const CacheEntry& e : ListEntries(dir_)) total += e.size;
  return total;
}

absl::StatusOr<uint64_t> ChunkCache::Evict(uint64_t target, bool wait) {
  if (absl::Status s = MakeDirs(dir_, kPrivateDirMode); !s.ok()) return s;
  std::string lock_path = absl::StrCat(dir_, "/evict.lock");
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, kPrivateFileMode));
  if (!lock.ok()) return ErrnoError(absl::StrCat("cannot open ", lock_path), errno);
  if (flock(lock.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) return Usage();  // another evicts
  std::vector<CacheEntry> entries = ListEntries(dir_);
  uint64_t total = 0;
  for (const CacheEntry& e : entries) total += e.size;
  if (total <= target) return total;
  std::sort(entries.begin(), entries.end(),
            [](const CacheEntry& a, const CacheEntry& b) { return a.mtime_ns < b.mtime_ns; });
  for (const CacheEntry& e : entries) {
    if (total <= target) break;
    if (unlink(e.path.c_str()) == 0 || errno == ENOENT) total -= e.size;
  }
  return total;
}

}  // namespace vol
