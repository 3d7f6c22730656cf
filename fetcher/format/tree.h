// Tree: one directory of a snapshot, stored content-addressed like git.
//
// Entries are sorted by name (byte order) and names are unique, non-empty, and
// contain neither '/' nor NUL, and are not "." or "..". Names and symlink
// targets are bytes, not necessarily UTF-8. A directory entry names its
// subtree by id and carries the totals (files, bytes) of everything below it,
// so a commit can report a volume's size without walking it. A file names its
// chunks in order; chunk i covers bytes [sum of sizes before i, + size).
// Any entry may carry extended attributes (sorted by name, unique) and an
// owner (uid/gid, recorded only when a program chose one).
//
// A tree is stored as format version 1 (docs/FORMAT.md) unless it needs what
// version 1 cannot say — a name or target that is not UTF-8, xattrs, an owner
// — and then as version 2; the encoding of a version-1 tree is unchanged, so
// its id is too.
#ifndef VOL_FETCHER_FORMAT_TREE_H_
#define VOL_FETCHER_FORMAT_TREE_H_

#include <cstdint>
#include <optional>
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

struct Xattr {
  std::string name;   // e.g. "user.mime_type" (bytes)
  std::string value;  // bytes
  friend bool operator==(const Xattr&, const Xattr&) = default;
};

struct Owner {
  uint32_t uid = 0;
  uint32_t gid = 0;
  friend bool operator==(const Owner&, const Owner&) = default;
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
  std::vector<Xattr> xattrs;   // sorted by name
  std::optional<Owner> owner;  // absent: whoever materialises it owns it

  bool is_dir() const { return type == EntryType::kDir; }
  bool is_file() const { return type == EntryType::kFile; }
  bool is_symlink() const { return type == EntryType::kSymlink; }
  friend bool operator==(const Entry&, const Entry&) = default;
};

// The same mode, mtime, xattrs and owner (whatever the content).
inline bool SameMetadata(const Entry& a, const Entry& b) {
  return a.mode == b.mode && a.mtime_ns == b.mtime_ns && a.xattrs == b.xattrs && a.owner == b.owner;
}
// Equal but for the name.
inline bool SameButName(const Entry& a, const Entry& b) {
  Entry named = b;
  named.name = a.name;
  return a == named;
}

struct Tree {
  std::vector<Entry> entries;  // sorted by name

  const Entry* Find(absl::string_view name) const;
  uint64_t TotalFiles() const;
  uint64_t TotalBytes() const;
};

// Canonical encoding: equal trees encode to equal bytes (and so equal ids).
std::string EncodeTree(const Tree& tree);
// The format version `tree` is stored as: 1, or kTreeFormatVersion2.
uint8_t TreeFormatVersion(const Tree& tree);
// Reads both versions (version 2 is a superset of version 1's text).
absl::StatusOr<Tree> DecodeTree(absl::string_view raw, absl::string_view name);

// Stores a tree (skipping the upload when that id is already stored) and returns its id.
absl::StatusOr<ObjectId> WriteTree(ObjectStore& store, const Tree& tree);
absl::StatusOr<Tree> ReadTree(ObjectStore& store, const ObjectId& id);

// The empty directory, which every new volume starts from.
ObjectId EmptyTreeId();

const char* EntryTypeName(EntryType type);

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_TREE_H_
