// Tree: one directory of a snapshot, stored content-addressed like git.
//
// Entries are sorted by name (byte order) and names are unique, non-empty, and
// contain neither '/' nor NUL, and are not "." or "..". A directory entry names
// its subtree by id and carries the totals (files, bytes) of everything below
// it, so a commit can report a volume's size without walking it. A file names
// its chunks in order; chunk i covers bytes [sum of sizes before i, + size).
#ifndef VOL_FETCHER_FORMAT_TREE_H_
#define VOL_FETCHER_FORMAT_TREE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "fetcher/format/object_id.h"
#include "fetcher/store/object_store.h"

namespace vol {

enum class EntryType : uint8_t { kFile = 1, kDir = 2, kSymlink = 3 };

struct ChunkRef {
  ObjectId id;
  uint64_t size = 0;
  friend bool operator==(const ChunkRef&, const ChunkRef&) = default;
};

struct Entry {
  std::string name;
  EntryType type = EntryType::kFile;
  uint32_t mode = 0644;   // permission bits (07777)
  int64_t mtime_ns = 0;   // nanoseconds since the epoch
  uint64_t size = 0;      // file: bytes; symlink: target length; dir: total bytes below
  std::string target;     // symlink
  std::vector<ChunkRef> chunks;  // file
  ObjectId tree;          // dir
  uint64_t files = 0;     // dir: regular files and symlinks below (a file counts itself: 1)

  bool is_dir() const { return type == EntryType::kDir; }
  bool is_file() const { return type == EntryType::kFile; }
  bool is_symlink() const { return type == EntryType::kSymlink; }
  friend bool operator==(const Entry&, const Entry&) = default;
};

struct Tree {
  std::vector<Entry> entries;  // sorted by name

  const Entry* Find(absl::string_view name) const;
  uint64_t TotalFiles() const;
  uint64_t TotalBytes() const;
};

// Canonical encoding: equal trees encode to equal bytes (and so equal ids).
std::string EncodeTree(const Tree& tree);
absl::StatusOr<Tree> DecodeTree(absl::string_view raw, absl::string_view name);

// Stores a tree (skipping the upload when that id is already stored) and returns its id.
absl::StatusOr<ObjectId> WriteTree(ObjectStore& store, const Tree& tree);
absl::StatusOr<Tree> ReadTree(ObjectStore& store, const ObjectId& id);

// The empty directory, which every new volume starts from.
ObjectId EmptyTreeId();

const char* EntryTypeName(EntryType type);

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_TREE_H_
