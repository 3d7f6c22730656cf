#include "fetcher/volume/change_replay.h"

#include "absl/strings/str_cat.h"
#include "fetcher/format/json_bytes.h"

namespace vol {
namespace {

void Count(const Entry& e, ChangeStats& stats) {
  stats.files += e.is_dir() ? e.files : 1;
  stats.bytes += e.is_symlink() ? 0 : e.size;
}

absl::Status Apply(TreeEditor& tree, const Change& c, ChangeStats& stats) {
  absl::StatusOr<std::optional<Entry>> old = tree.Lookup(c.path);
  if (!old.ok()) return old.status();
  switch (c.kind) {
    case Change::Kind::kMove: {
      if (c.from == c.path) return absl::OkStatus();
      absl::StatusOr<std::optional<Entry>> moving = tree.Resolve(c.from);
      if (!moving.ok()) return moving.status();
      if (moving->has_value()) {
        if (absl::Status s = tree.Remove(c.from); !s.ok()) return s;
        return MergeEntry(tree, c.path, **moving, stats);
      }
      if (c.entry) return MergeEntry(tree, c.path, *c.entry, stats);
      return absl::OkStatus();
    }
    case Change::Kind::kPut:
      if (old->has_value() && SameButName(**old, *c.entry)) return absl::OkStatus();
      Count(*c.entry, stats);
      return tree.Put(c.path, *c.entry);
    case Change::Kind::kPutDir:
      if (old->has_value() && (*old)->is_dir() && SameMetadata(**old, *c.entry)) return absl::OkStatus();
      return tree.PutDirMeta(c.path, *c.entry);
    case Change::Kind::kPutTree:
      return MergeEntry(tree, c.path, *c.entry, stats);
    case Change::Kind::kRemove:
      if (!old->has_value() || (*old)->is_dir()) return absl::OkStatus();
      stats.files += 1;
      return tree.Remove(c.path);
    case Change::Kind::kRemoveDirIfEmpty: {
      if (!old->has_value() || !(*old)->is_dir()) return absl::OkStatus();
      absl::StatusOr<std::vector<Entry>> left = tree.List(c.path);
      if (!left.ok()) return left.status();
      if (!left->empty()) return absl::OkStatus();
      return tree.Remove(c.path);
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* ChangeKindName(Change::Kind kind) {
  switch (kind) {
    case Change::Kind::kMove: return "move";
    case Change::Kind::kPut: return "put";
    case Change::Kind::kPutDir: return "put-dir";
    case Change::Kind::kPutTree: return "put-tree";
    case Change::Kind::kRemove: return "remove";
    case Change::Kind::kRemoveDirIfEmpty: return "remove-dir-if-empty";
  }
  return "unknown";
}

absl::Status MergeEntry(TreeEditor& tree, const VolumePath& path, const Entry& src, ChangeStats& stats) {
  absl::StatusOr<std::optional<Entry>> dst = tree.Lookup(path);
  if (!dst.ok()) return dst.status();
  if (!src.is_dir() || !dst->has_value() || !(*dst)->is_dir()) {
    if (dst->has_value() && SameButName(**dst, src)) return absl::OkStatus();
    Count(src, stats);
    return tree.Put(path, src);
  }
  if (!SameMetadata(**dst, src)) {
    if (absl::Status s = tree.PutDirMeta(path, src); !s.ok()) return s;
  }
  absl::StatusOr<Tree> children = ReadTree(tree.store(), src.tree);
  if (!children.ok()) return children.status();
  for (const Entry& child : children->entries) {
    if (absl::Status s = MergeEntry(tree, path.Child(child.name), child, stats); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ReplayChanges(TreeEditor& tree, const std::vector<Change>& changes, ChangeStats& stats) {
  tree.set_replace_files_in_the_way(true);
  for (const Change& c : changes) {
    if (absl::Status s = Apply(tree, c, stats); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(ChangeKindName(c.kind), " ", ShowBytes(c.path.ToString()), ": ",
                                                 s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace vol
