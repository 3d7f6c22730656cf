#include "fetcher/session/view_listing.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fetcher/format/material_mode.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol {

static_assert(sizeof(vol_listing_entry) == 56, "a listing entry is shared with the shim");

namespace {

// The value of two lowercase hex digits.
size_t HexByte(const char* hex) {
  auto digit = [](char c) -> size_t { return c <= '9' ? c - '0' : c - 'a' + 10; };
  return (digit(hex[0]) << 4 | digit(hex[1])) & 0xff;
}

// The cache's files/XX directories, opened as they are first needed.
class SubdirFds {
 public:
  explicit SubdirFds(const std::string& files) : files_(files) {}
  // The directory of the content file whose key (hex) starts at `key`.
  int Get(const char* key) {
    UniqueFd& fd = fds_[HexByte(key)];
    if (!fd.ok()) fd.reset(open(absl::StrCat(files_, "/", absl::string_view(key, 2)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    return fd.get();
  }

 private:
  const std::string& files_;
  UniqueFd fds_[256];
};

// fn(0) … fn(threads - 1), on as many threads (the calling one included);
// the first failure.
absl::Status RunParallel(size_t threads, const std::function<absl::Status(size_t)>& fn) {
  std::vector<absl::Status> results(threads);
  auto run = [&](size_t t) {
    try {
      results[t] = fn(t);
    } catch (const std::exception& e) {
      results[t] = absl::InternalError(absl::StrCat("listing a directory: ", e.what()));
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(run, t);
    } catch (const std::system_error&) {
      run(t);  // no thread to be had: this one does that share too
    }
  }
  run(0);
  for (std::thread& h : helpers) h.join();
  for (const absl::Status& r : results) {
    if (!r.ok()) return r;
  }
  return absl::OkStatus();
}

}  // namespace

bool Listable(const Tree& tree) {
  if (tree.entries.size() < VOL_LISTING_MIN_ENTRIES) return false;
  for (const Entry& e : tree.entries) {
    if (!e.is_file() || e.size == 0) return false;
  }
  return true;
}

absl::Status WriteListing(const std::string& path, const Tree& tree, bool preserve, ContentCache& cache,
                          const ListingStamp& stamp, size_t threads) {
  size_t n = tree.entries.size();
  std::string files = absl::StrCat(cache.dir(), "/files");
  if (files.size() >= VOL_PATH_MAX || n > UINT32_MAX) return absl::InvalidArgumentError("listing: too large");
  // In the order the listing wants: a tree's entries are sorted by name
  // (bytes), which DecodeTree checks.
  size_t names_size = 0;
  for (const Entry& e : tree.entries) names_size += e.name.size() + 1;
  if (names_size > UINT32_MAX) return absl::InvalidArgumentError("listing: names too long");

  std::string data(sizeof(vol_listing_header) + n * sizeof(vol_listing_entry) + names_size, '\0');
  auto* header = reinterpret_cast<vol_listing_header*>(data.data());
  auto* entries = reinterpret_cast<vol_listing_entry*>(data.data() + sizeof(vol_listing_header));
  char* names = data.data() + sizeof(vol_listing_header) + n * sizeof(vol_listing_entry);
  uint32_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::string& name = tree.entries[i].name;
    entries[i].name = at;
    memcpy(names + at, name.data(), name.size());
    at += static_cast<uint32_t>(name.size() + 1);
  }

  // The content files, made where missing (a link's worth of work less each
  // than populating), in parallel: most of the time is their lookups.
  // Each entry's mode and key first, then its content file looked up (or
  // made) subdirectory by subdirectory: a cache directory's files sit near
  // one another on disk, and on a cold inode cache a lookup in key order
  // rather than name order reads them in order instead of at random.
  threads = std::clamp<size_t>(threads, 1, 16);
  RunParallel(threads, [&](size_t t) -> absl::Status {
    for (size_t i = n * t / threads; i < n * (t + 1) / threads; ++i) {
      const Entry& e = tree.entries[i];
      entries[i].mode = MaterialMode(e.mode, e.type, preserve);
      std::string hex = ContentKey(e, entries[i].mode).Hex();
      memcpy(entries[i].key, hex.data(), std::min(hex.size(), sizeof entries[i].key));
    }
    return absl::OkStatus();
  }).IgnoreError();
  std::vector<std::vector<uint32_t>> by_subdir(256);
  for (size_t i = 0; i < n; ++i) by_subdir[HexByte(entries[i].key)].push_back(static_cast<uint32_t>(i));

  // part_first: the form the previous file had (the files of a directory
  // are mostly all fetched, or all not): each lookup that misses costs a
  // negative dentry.
  auto find_or_make = [&](SubdirFds& subdirs, size_t i, bool& part_first) -> absl::Status {
    const Entry& e = tree.entries[i];
    vol_listing_entry& out = entries[i];
    // Looked up in its subdirectory (a third of the cost of the cache's own
    // lookup, which also reads which chunks are present): KEY and KEY.part.
    char name[sizeof out.key + 6];
    memcpy(name, out.key, sizeof out.key);
    memcpy(name + sizeof out.key, ".part", 6);
    int sub = subdirs.Get(out.key);
    struct stat st;
    for (int k = 0; k < 2 && sub >= 0; ++k) {
      bool part = (k == 0) == part_first;
      name[sizeof out.key] = part ? '.' : '\0';
      if (fstatat(sub, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
          static_cast<uint64_t>(st.st_size) == e.size) {
        out.ino = st.st_ino;
        out.flags = part ? VOL_LISTED_PART : 0;
        part_first = part;
        return absl::OkStatus();
      }
    }
    Entry material = e;
    material.mode = out.mode;
    absl::StatusOr<ContentCache::File> f = cache.Open(material);  // made here
    if (!f.ok()) return f.status();
    out.ino = f->ino;
    out.flags = f->complete ? 0 : VOL_LISTED_PART;
    return absl::OkStatus();
  };
  absl::Status found = RunParallel(threads, [&](size_t t) -> absl::Status {
    SubdirFds subdirs(files);
    bool part_first = false;
    for (size_t b = t; b < by_subdir.size(); b += threads) {
      for (uint32_t i : by_subdir[b]) {
        if (absl::Status s = find_or_make(subdirs, i, part_first); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  });
  if (!found.ok()) return found;

  header->count = static_cast<uint32_t>(n);
  header->epoch = stamp.epoch;
  memcpy(header->origin_tree, stamp.origin_tree.bytes().data(), sizeof header->origin_tree);
  header->origin_index = stamp.origin_index;
  header->names_size = static_cast<uint32_t>(names_size);
  memcpy(header->files, files.data(), files.size());
  header->magic = VOL_LISTING_MAGIC;
  // Not synced: a listing lives as long as its session, and a crash ends both.
  return WriteFileAtomic(path, data, 0600, /*synced=*/false);
}

}  // namespace vol
