#include "fetcher/session/content_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

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

ObjectId ContentKey(const Entry& e) { return ContentKey(e, e.mode); }

ObjectId ContentKey(const Entry& e, uint32_t mode) {
  std::string buf = "vol-content-1";
  auto put = [&buf](uint64_t v) { buf.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(e.size);
  put(mode);
  put(static_cast<uint64_t>(e.mtime_ns));
  for (const ChunkRef& c : e.chunks) {
    buf.append(reinterpret_cast<const char*>(c.id.bytes().data()), c.id.bytes().size());
    put(c.size);
  }
  // xattrs and owner live in the inode too: files that differ in them are two files.
  for (const Xattr& x : e.xattrs) {
    put(x.name.size());
    buf.append(x.name);
    put(x.value.size());
    buf.append(x.value);
  }
  if (e.owner) {
    put(e.owner->uid);
    put(e.owner->gid);
  }
  return ObjectId::Of(buf);
}

namespace {

// At the end of a session, completed files are made durable and published
// only when that is quick (see PublishBatch).
constexpr uint64_t kPublishAtExitMax = 64 << 20;

// KEY.map: this header, then one byte per chunk (1 = present). It describes
// the .part whose inode it names, in the boot it names; anything else is
// ignored (a .part evicted and made again, a crash).
struct MapHeader {
  char magic[8];    // "VOLMAP1\0"
  char boot[40];    // /proc/sys/kernel/random/boot_id, NUL-padded
  uint64_t chunks;
  uint64_t ino;     // of the .part
};
static_assert(sizeof(MapHeader) == 64);
constexpr char kMapMagic[8] = {'V', 'O', 'L', 'M', 'A', 'P', '1', '\0'};

std::string ReadBootId() {
  absl::StatusOr<std::string> id = ReadFile("/proc/sys/kernel/random/boot_id");
  return id.ok() ? std::string(absl::StripAsciiWhitespace(*id)) : std::string("unknown-boot");
}

MapHeader MakeHeader(const std::string& boot, uint64_t chunks, uint64_t ino) {
  MapHeader h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, kMapMagic, sizeof h.magic);
  memcpy(h.boot, boot.data(), std::min(boot.size(), sizeof h.boot - 1));
  h.chunks = chunks;
  h.ino = ino;
  return h;
}

// Whether the map open at fd describes the .part with inode `ino` in this boot.
bool MapDescribes(int fd, const std::string& boot, uint64_t chunks, uint64_t ino) {
  MapHeader h;
  MapHeader want = MakeHeader(boot, chunks, ino);
  return PreadFull(fd, &h, sizeof h, 0).ok() && memcmp(&h, &want, sizeof h) == 0;
}

struct timespec ToTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

// Links the unnamed file fd as `path` (O_TMPFILE files have no name yet).
int LinkFd(int fd, const std::string& path) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return linkat(AT_FDCWD, proc, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
}

}  // namespace

ContentCache::ContentCache(std::string dir, uint64_t limit_bytes)
    : dir_(std::move(dir)), limit_(limit_bytes), boot_id_(ReadBootId()) {
  completer_ = std::thread([this] { Completer(); });
}

ContentCache::~ContentCache() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  completer_.join();
}

std::string ContentCache::PathOf(const ObjectId& key, absl::string_view suffix) const {
  std::string hex = key.Hex();
  return absl::StrCat(dir_, "/files/", hex.substr(0, 2), "/", hex, suffix);
}

absl::StatusOr<ContentCache::File> ContentCache::Open(const Entry& entry) {
  File f;
  f.key = ContentKey(entry);
  f.mode = entry.mode & 07777;
  std::string final_path = PathOf(f.key);
  std::string part = final_path + ".part";
  std::string map = final_path + ".map";
  size_t chunks = entry.chunks.size();
  for (int attempt = 0; attempt < 4; ++attempt) {
    struct stat st;
    if (lstat(final_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<uint64_t>(st.st_size) == entry.size) {
      f.path = final_path;
      f.complete = true;
      f.dev = st.st_dev;
      f.ino = st.st_ino;
      return f;
    }
    // Not opened: a view links thousands of files nobody reads, and the
    // fetcher opens one (Reopen, which checks the inode) when a chunk lands.
    if (lstat(part.c_str(), &st) == 0) {
      if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != entry.size) {
        // Not what the key says: a damaged leftover. Start over.
        unlink(part.c_str());
        continue;
      }
      f.path = part;
      f.dev = st.st_dev;
      f.ino = st.st_ino;
      f.present.assign(chunks, 0);
      Refresh(f, chunks);
      return f;
    }
    if (errno != ENOENT) return ErrnoError(absl::StrCat("cannot stat cache file ", part), errno);

    // Create it: sized and dated under no name, then linked as KEY.part. Its
    // map is made when its first chunk lands (MarkPresent).
    std::string sub = final_path.substr(0, final_path.rfind('/'));
    UniqueFd tmp(open(sub.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, ContentFileMode(entry.mode) | S_IWUSR));
    if (!tmp.ok() && errno == ENOENT) {
      if (absl::Status s = MakeDirs(sub, 0700); !s.ok()) return s;
      tmp.reset(open(sub.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, ContentFileMode(entry.mode) | S_IWUSR));
    }
    if (!tmp.ok()) return ErrnoError(absl::StrCat("cannot create a cache file in ", sub), errno);
    struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(entry.mtime_ns)};
    if (ftruncate(tmp.get(), static_cast<off_t>(entry.size)) != 0 || futimens(tmp.get(), times) != 0) {
      return ErrnoError(absl::StrCat("cannot prepare cache file ", part), errno);
    }
    // Its user.* xattrs (and its owner, as root) while it can still be
    // written: they are part of its key, so every view of it wants them.
    for (const Xattr& x : entry.xattrs) {
      if (fsetxattr(tmp.get(), x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
        if (errno == ENOTSUP) break;  // this file system keeps none
        return ErrnoError(absl::StrCat("cannot set an xattr on cache file ", part), errno);
      }
    }
    if (entry.owner && geteuid() == 0 && fchown(tmp.get(), entry.owner->uid, entry.owner->gid) != 0) {
      return ErrnoError(absl::StrCat("cannot set the owner of cache file ", part), errno);
    }
    if (LinkFd(tmp.get(), part) != 0) {
      if (errno == EEXIST) continue;  // another session made it first: use theirs
      return ErrnoError(absl::StrCat("cannot create cache file ", part), errno);
    }
    if (fstat(tmp.get(), &st) != 0) return ErrnoError(absl::StrCat("cannot stat ", part), errno);
    f.path = part;
    f.fd = std::move(tmp);
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.present.assign(chunks, 0);
    created_.fetch_add(1, std::memory_order_relaxed);
    return f;
  }
  return absl::AbortedError(absl::StrCat("cache file ", final_path, " keeps changing under us"));
}

absl::StatusOr<bool> ContentCache::Reopen(File& f, int access) const {
  if (f.complete) return false;
  std::string final_path = PathOf(f.key);
  std::string part = final_path + ".part";
  struct stat st;
  UniqueFd fd(open(part.c_str(), access | O_NOFOLLOW | O_CLOEXEC));
  if (fd.ok() && fstat(fd.get(), &st) == 0 && st.st_dev == f.dev && st.st_ino == f.ino) {
    f.fd = std::move(fd);
    return true;
  }
  // Renamed to KEY by the session that fetched its last chunk: whole and durable.
  if (lstat(final_path.c_str(), &st) == 0 && st.st_dev == f.dev && st.st_ino == f.ino) return false;
  return absl::DataLossError(absl::StrCat("cache file ", part, " was replaced or removed while it was being filled; "
                                          "read the file again"));
}

void ContentCache::Refresh(File& f, size_t chunks) const {
  if (f.complete) return;
  std::string map = PathOf(f.key, ".map");
  UniqueFd m(open(map.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!m.ok()) return;
  // Another boot's, another .part's or a damaged map: nothing it says is trusted.
  if (!MapDescribes(m.get(), boot_id_, chunks, f.ino)) return;
  std::string bits(chunks, '\0');
  if (!PreadFull(m.get(), bits.data(), bits.size(), sizeof(MapHeader)).ok()) return;
  f.present.resize(chunks, 0);
  for (size_t i = 0; i < chunks; ++i) f.present[i] = f.present[i] || bits[i] == 1;
}

void ContentCache::MarkPresent(const File& f, size_t index, size_t chunks) const {
  std::string map = PathOf(f.key, ".map");
  UniqueFd m(open(map.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!m.ok() || !MapDescribes(m.get(), boot_id_, chunks, f.ino)) {
    // The first chunk of this .part (or a stale map): a new map, whole, in place.
    std::string tmp = absl::StrCat(map, ".", getpid(), ".", gettid());
    UniqueFd t(open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!t.ok()) return;
    MapHeader h = MakeHeader(boot_id_, chunks, f.ino);
    std::string bits(chunks, '\0');
    for (size_t i = 0; i < chunks && i < f.present.size(); ++i) bits[i] = f.present[i] ? 1 : 0;
    bool ok = WriteFull(t.get(), &h, sizeof h).ok() && WriteFull(t.get(), bits.data(), bits.size()).ok();
    if (!ok || rename(tmp.c_str(), map.c_str()) != 0) {
      unlink(tmp.c_str());
      return;
    }
    m = std::move(t);
  }
  char one = 1;
  (void)!pwrite(m.get(), &one, 1, static_cast<off_t>(sizeof(MapHeader) + index));
}

absl::StatusOr<bool> ContentCache::Adopt(int fd, const Entry& entry) {
  ObjectId key = ContentKey(entry);
  std::string final_path = PathOf(key);
  std::string part = final_path + ".part";
  struct stat st;
  if (lstat(final_path.c_str(), &st) == 0 || lstat(part.c_str(), &st) == 0) return false;
  if (fstat(fd, &st) != 0) return ErrnoError("cannot stat a file to keep in the cache", errno);
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != entry.size) return false;
  struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(entry.mtime_ns)};
  if (fchmod(fd, ContentFileMode(entry.mode) | S_IWUSR) != 0 || futimens(fd, times) != 0) {
    return ErrnoError("cannot prepare a file to keep in the cache", errno);
  }
  std::string sub = final_path.substr(0, final_path.rfind('/'));
  if (absl::Status s = MakeDirs(sub, 0700); !s.ok()) return s;
  // The map first, under a temporary name: the .part must never be seen
  // without it (its chunks would be fetched again over it, harmlessly, but
  // for nothing).
  std::string map = PathOf(key, ".map");
  std::string tmp = absl::StrCat(map, ".", getpid(), ".", gettid());
  {
    UniqueFd t(open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!t.ok()) return ErrnoError(absl::StrCat("cannot create ", tmp), errno);
    MapHeader h = MakeHeader(boot_id_, entry.chunks.size(), st.st_ino);
    std::string bits(entry.chunks.size(), '\1');
    if (!WriteFull(t.get(), &h, sizeof h).ok() || !WriteFull(t.get(), bits.data(), bits.size()).ok()) {
      unlink(tmp.c_str());
      return ErrnoError(absl::StrCat("cannot write ", tmp), errno);
    }
  }
  if (LinkFd(fd, part) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    if (err == EEXIST) return false;  // another session made it meanwhile
    return ErrnoError(absl::StrCat("cannot link ", part), err);
  }
  if (rename(tmp.c_str(), map.c_str()) != 0) {
    int err = errno;
    unlink(part.c_str());
    unlink(tmp.c_str());
    return ErrnoError(absl::StrCat("cannot create ", map), err);
  }
  Added(entry.size);
  return true;
}

void ContentCache::Complete(File f, int64_t mtime_ns) {
  if (f.complete) return;
  f.fd.reset();  // opened again to publish it: thousands may wait in a batch
  {
    std::lock_guard<std::mutex> lock(mu_);
    completed_.emplace_back(std::move(f), mtime_ns);
  }
  cv_.notify_all();
}

void ContentCache::Completer() {
  for (;;) {
    std::vector<std::pair<File, int64_t>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !completed_.empty(); });
      if (completed_.empty()) return;
      // Let a burst of completions gather: one flush makes all of them durable.
      if (!stopping_) cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
      while (!completed_.empty()) {
        batch.push_back(std::move(completed_.front()));
        completed_.pop_front();
      }
      ++publishing_;
    }
    PublishBatch(batch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --publishing_;
    }
    cv_.notify_all();
  }
}

void ContentCache::PublishBatch(std::vector<std::pair<File, int64_t>>& batch) {
  if (batch.empty()) return;
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping = stopping_;
  }
  if (stopping) {
    // The session is ending: flushing a large batch would hold up the exit
    // for what writeback does anyway. Left as .part files with full maps, the
    // next session of this boot trusts them and publishes them.
    uint64_t bytes = 0;
    for (auto& [f, mtime] : batch) {
      struct stat st;
      if (lstat(f.path.c_str(), &st) == 0) bytes += static_cast<uint64_t>(st.st_size);
    }
    if (bytes > kPublishAtExitMax) return;
  }
  // Durable before it is called complete: a crash must never leave a KEY
  // whose blocks did not reach the disk (they would read as zeros). Each
  // file is opened again (one at a time: a batch may hold thousands), if it
  // is still this cache's .part: another session may have published it.
  if (batch.size() <= 2) {
    for (auto& [f, mtime] : batch) {
      if (Reopen(f, O_RDONLY).value_or(false)) fdatasync(f.fd.get());
    }
  } else {
    UniqueFd dir(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.ok() || syncfs(dir.get()) != 0) return;
  }
  for (auto& [f, mtime] : batch) {
    if (!f.fd.ok() && !Reopen(f, O_RDONLY).value_or(false)) continue;
    UniqueFd fd = std::move(f.fd);  // closed once this file is published
    struct stat st;
    if (fstat(fd.get(), &st) != 0) continue;
    struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(mtime)};
    // The intended mode (writing may have cleared setuid/setgid), without write bits.
    fchmod(fd.get(), ContentFileMode(f.mode));
    futimens(fd.get(), times);
    std::string final_path = PathOf(f.key);
    std::string part = final_path + ".part";
    // The .part may have been evicted, or completed by another session.
    struct stat pst;
    if (lstat(part.c_str(), &pst) == 0 && pst.st_ino == st.st_ino && pst.st_dev == st.st_dev) {
      if (renameat2(AT_FDCWD, part.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) != 0 &&
          errno == EEXIST) {
        unlink(part.c_str());  // a complete copy is already there; views keep this inode
      }
    }
    unlink(PathOf(f.key, ".map").c_str());
  }
}

void ContentCache::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.notify_all();
  cv_.wait(lock, [this] { return completed_.empty() && publishing_ == 0; });
}

void ContentCache::Added(uint64_t bytes) {
  uint64_t total = added_since_evict_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (total < limit_ / 8) return;
  uint64_t expected = total;
  if (!added_since_evict_.compare_exchange_strong(expected, 0)) return;  // another thread does it
  Evict(limit_ / 10 * 9).IgnoreError();
}

namespace {

struct CacheEntry {
  int64_t recency_ns;
  uint64_t bytes;
  bool in_use;  // linked from a view
  std::string path;
};

int64_t Ns(const struct timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

// Every content file (complete or .part; not maps or temporaries) under DIR/files/??/.
std::vector<CacheEntry> ListEntries(const std::string& dir) {
  std::vector<CacheEntry> out;
  std::string files = absl::StrCat(dir, "/files");
  UniqueFd top(open(files.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!top.ok()) return out;
  absl::StatusOr<std::vector<std::string>> subs = ListDir(files);
  if (!subs.ok()) return out;
  for (const std::string& sub : *subs) {
    std::string subdir = absl::StrCat(files, "/", sub);
    absl::StatusOr<std::vector<std::string>> names = ListDir(subdir);
    if (!names.ok()) continue;
    for (const std::string& n : *names) {
      if (n.size() < 32 || n.ends_with(".map") || n.find(".map.") != std::string::npos) continue;
      std::string path = absl::StrCat(subdir, "/", n);
      struct stat st;
      if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({std::max(Ns(st.st_atim), Ns(st.st_ctim)), static_cast<uint64_t>(st.st_blocks) * 512,
                     st.st_nlink > 1, std::move(path)});
    }
  }
  return out;
}

}  // namespace

uint64_t ContentCache::Usage() const {
  uint64_t total = 0;
  for (const CacheEntry& e : ListEntries(dir_)) total += e.bytes;
  return total;
}

absl::StatusOr<uint64_t> EvictContent(const std::string& dir_, uint64_t target, bool wait) {
  if (absl::Status s = MakeDirs(dir_, 0700); !s.ok()) return s;
  std::string lock_path = absl::StrCat(dir_, "/evict.lock");
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock.ok()) return ErrnoError(absl::StrCat("cannot open ", lock_path), errno);
  if (flock(lock.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
    uint64_t total = 0;  // another process evicts
    for (const CacheEntry& e : ListEntries(dir_)) total += e.bytes;
    return total;
  }
  std::vector<CacheEntry> entries = ListEntries(dir_);
  uint64_t total = 0;
  for (const CacheEntry& e : entries) total += e.bytes;
  // Files created for a view but never read hold no data, only an inode:
  // those no view links and nobody used for a day go whatever the total.
  int64_t day_ago = absl::ToUnixNanos(absl::Now() - absl::Hours(24));
  for (const CacheEntry& e : entries) {
    if (!e.in_use && e.bytes == 0 && e.recency_ns < day_ago && e.path.ends_with(".part") &&
        unlink(e.path.c_str()) == 0) {
      unlink(absl::StrCat(e.path.substr(0, e.path.size() - 5), ".map").c_str());
    }
  }
  if (total <= target) return total;
  std::sort(entries.begin(), entries.end(),
            [](const CacheEntry& a, const CacheEntry& b) { return a.recency_ns < b.recency_ns; });
  for (const CacheEntry& e : entries) {
    if (total <= target) break;
    if (e.in_use) continue;  // a view links it: removing the name would free nothing
    if (unlink(e.path.c_str()) == 0 || errno == ENOENT) {
      total -= e.bytes;
      if (e.path.ends_with(".part")) {
        unlink(absl::StrCat(e.path.substr(0, e.path.size() - 5), ".map").c_str());
      }
    }
  }
  return total;
}

}  // namespace vol
