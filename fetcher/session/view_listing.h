// Listings of large view directories (include/vol/session.h, VOL_OP_LIST):
// what lets `ls -l` of 100,000 files cost what it costs on local disk.
//
// Populating a directory creates one link per entry, ~20 µs each; a program
// that only lists the directory and stats its entries needs none of them. A
// listing names, for each entry, the shared cache's content file that
// populating would link under that name: the shim lists the directory from
// it and stats the content file itself (the same inode the link will be).
//
// Invariants:
//   - A listing is made only for a directory whose every entry is a non-empty
//     regular file (anything else has no inode before it is populated), and
//     only when it has at least VOL_LISTING_MIN_ENTRIES entries (below that,
//     populating is cheap, and a stat of a populated entry costs one system
//     call where a listed one costs two).
//   - Every content file a listing names existed when it was written
//     (ContentCache::Open creates the missing ones), and the listing appears
//     whole (written under another name, then renamed).
#ifndef VOL_FETCHER_SESSION_VIEW_LISTING_H_
#define VOL_FETCHER_SESSION_VIEW_LISTING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/session/content_cache.h"

namespace vol {

// Whether a directory of these entries is listed rather than populated.
bool Listable(const Tree& tree);

// What a listing records about its directory (session.h).
struct ListingStamp {
  uint64_t epoch = 0;
  ObjectId origin_tree;
  uint32_t origin_index = 0;
};

// Writes the listing of `tree` (Listable) at `path`, the content files'
// modes made by MaterialMode with `preserve`. Opens (or creates) each entry's
// content file in `cache`, with `threads` threads.
absl::Status WriteListing(const std::string& path, const Tree& tree, bool preserve, ContentCache& cache,
                          const ListingStamp& stamp, size_t threads);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_LISTING_H_
