#include "fetcher/session/view_listing.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <exception>
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

// The cache's files/XX directories, opened as they are first needed.
class SubdirFds {
 public:
  explicit SubdirFds(const std::string& files) : files_(files) {}
  int Get(const std::string& xx) {
    unsigned v = 0;
    for (char c : xx) v = v * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
    if (v >= 256) return -1;
    if (!fds_[v].ok()) {
      fds_[v].reset(open(absl::StrCat(files_, "/", xx).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    return fds_[v].get();
  }

 private:
  const std::string& files_;
  UniqueFd fds_[256];
};

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
  auto open_range = [&](size_t from, size_t to) -> absl::Status {
    try {
      SubdirFds subdirs(files);
      for (size_t i = from; i < to; ++i) {
        const Entry& e = tree.entries[i];
        vol_listing_entry& out = entries[i];
        out.mode = MaterialMode(e.mode, e.type, preserve);
        std::string hex = ContentKey(e, out.mode).Hex();
        memcpy(out.key, hex.data(), std::min(hex.size(), sizeof out.key));
        // Looked up in its subdirectory (a third of the cost of the cache's
        // own lookup, which also reads which chunks are present).
        char name[48];
        snprintf(name, sizeof name, "%s.part", hex.c_str());
        int sub = subdirs.Get(hex.substr(0, 2));
        struct stat st;
        bool found = false;
        for (int part = 0; part < 2 && sub >= 0 && !found; ++part) {
          if (part == 0) name[hex.size()] = '\0';  // KEY first, then KEY.part
          else name[hex.size()] = '.';
          found = fstatat(sub, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                  static_cast<uint64_t>(st.st_size) == e.size;
          if (found) out.flags = part ? VOL_LISTED_PART : 0;
        }
        if (found) {
          out.ino = st.st_ino;
          continue;
        }
        Entry material = e;
        material.mode = out.mode;
        absl::StatusOr<ContentCache::File> f = cache.Open(material);  // made here
        if (!f.ok()) return f.status();
        out.ino = f->ino;
        out.flags = f->complete ? 0 : VOL_LISTED_PART;
      }
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("listing a directory: ", e.what()));
    }
    return absl::OkStatus();
  };
  threads = std::clamp<size_t>(threads, 1, 4);
  std::vector<absl::Status> results(threads);
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) {
    auto range = [&, t] { results[t] = open_range(n * t / threads, n * (t + 1) / threads); };
    try {
      helpers.emplace_back(range);
    } catch (const std::system_error&) {
      range();  // no thread to be had: this one does that share too
    }
  }
  results[0] = open_range(0, n / threads);
  for (std::thread& h : helpers) h.join();
  for (const absl::Status& r : results) {
    if (!r.ok()) return r;
  }

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
