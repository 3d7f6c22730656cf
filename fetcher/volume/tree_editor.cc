#include "fetcher/volume/tree_editor.h"

#include <algorithm>

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fetcher/format/json_bytes.h"

namespace vol {
namespace {

std::vector<Entry>::iterator FindSlot(Tree& tree, absl::string_view name) {
  return std::lower_bound(tree.entries.begin(), tree.entries.end(), name,
                          [](const Entry& e, absl::string_view n) { return e.name < n; });
}

Entry NewDirEntry(const std::string& name) {
  Entry e;
  e.name = name;
  e.type = EntryType::kDir;
  e.mode = 0755;
  e.mtime_ns = absl::GetCurrentTimeNanos();
  e.tree = EmptyTreeId();
  return e;
}

}  // namespace

TreeEditor::TreeEditor(ObjectStore& store, const ObjectId& root)
    : store_(store), root_id_(root), root_(std::make_unique<Node>()) {}

absl::StatusOr<TreeEditor::Node*> TreeEditor::Child(Node* parent, const std::string& name,
                                                    bool for_write) {
  if (auto it = parent->children.find(name); it != parent->children.end()) {
    if (for_write) it->second->dirty = true;
    return it->second.get();
  }
  auto slot = FindSlot(parent->tree, name);
  bool exists = slot != parent->tree.entries.end() && slot->name == name;
  if (exists && !slot->is_dir()) {
    if (!for_write) return nullptr;
    if (!replace_files_in_the_way_) {
      return absl::FailedPreconditionError(
          absl::StrCat("'", ShowBytes(name), "' is a ", EntryTypeName(slot->type), ", not a directory"));
    }
    slot = parent->tree.entries.erase(slot);
    exists = false;
  }
  if (!exists && !for_write) return nullptr;
  auto node = std::make_unique<Node>();
  if (exists) {
    absl::StatusOr<Tree> tree = ReadTree(store_, slot->tree);
    if (!tree.ok()) return tree.status();
    node->tree = *std::move(tree);
  } else {
    parent->tree.entries.insert(slot, NewDirEntry(name));
  }
  node->dirty = for_write;
  Node* raw = node.get();
  parent->children.emplace(name, std::move(node));
  return raw;
}

absl::StatusOr<TreeEditor::Node*> TreeEditor::Walk(const VolumePath& dir, bool for_write) {
  if (!root_loaded_) {
    absl::StatusOr<Tree> tree = ReadTree(store_, root_id_);
    if (!tree.ok()) return tree.status();
    root_->tree = *std::move(tree);
    root_loaded_ = true;
  }
  Node* node = root_.get();
  if (for_write) node->dirty = true;
  for (const std::string& part : dir.parts) {
    absl::StatusOr<Node*> next = Child(node, part, for_write);
    if (!next.ok()) {
      return absl::Status(next.status().code(),
                          absl::StrCat("cannot use ", ShowBytes(dir.ToString()), ": ", next.status().message()));
    }
    if (*next == nullptr) return nullptr;
    node = *next;
  }
  return node;
}

absl::StatusOr<std::optional<Entry>> TreeEditor::Lookup(const VolumePath& path) {
  if (path.is_root()) {
    absl::StatusOr<Node*> root = Walk(path, false);
    if (!root.ok()) return root.status();
    Entry e;
    e.type = EntryType::kDir;
    e.mode = 0755;
    e.tree = root_id_;  // meaningful while the editor has not changed the root
    e.files = (*root)->tree.TotalFiles();
    e.size = (*root)->tree.TotalBytes();
    return e;
  }
  absl::StatusOr<Node*> dir = Walk(path.Parent(), false);
  if (!dir.ok()) return dir.status();
  if (*dir == nullptr) return std::nullopt;
  const Entry* e = (*dir)->tree.Find(path.Name());
  if (e == nullptr) return std::nullopt;
  return *e;
}

absl::StatusOr<std::vector<Entry>> TreeEditor::List(const VolumePath& path) {
  absl::StatusOr<std::optional<Entry>> e = Lookup(path);
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(absl::StrCat("no such path: ", path.ToString()));
  if (!(*e)->is_dir()) {
    return absl::FailedPreconditionError(absl::StrCat(path.ToString(), " is not a directory"));
  }
  absl::StatusOr<Node*> dir = Walk(path, false);
  if (!dir.ok()) return dir.status();
  return (*dir)->tree.entries;
}

absl::Status TreeEditor::Put(const VolumePath& path, Entry entry) {
  if (path.is_root()) return absl::InvalidArgumentError("cannot replace the volume root");
  absl::StatusOr<Node*> dir = Walk(path.Parent(), true);
  if (!dir.ok()) return dir.status();
  Node* parent = *dir;
  entry.name = path.Name();
  parent->children.erase(entry.name);  // a replaced directory's loaded contents are stale
  auto slot = FindSlot(parent->tree, entry.name);
  if (slot != parent->tree.entries.end() && slot->name == entry.name) {
    *slot = std::move(entry);
  } else {
    parent->tree.entries.insert(slot, std::move(entry));
  }
  return absl::OkStatus();
}

absl::Status TreeEditor::PutDir(const VolumePath& path, uint32_t mode, int64_t mtime_ns) {
  if (path.is_root()) return absl::OkStatus();
  absl::StatusOr<Node*> dir = Walk(path, true);  // creates it (or replaces a file), else checks it is a directory
  if (!dir.ok()) return dir.status();
  absl::StatusOr<Node*> parent = Walk(path.Parent(), true);
  if (!parent.ok()) return parent.status();
  auto slot = FindSlot((*parent)->tree, path.Name());
  slot->mode = mode & 07777;
  slot->mtime_ns = mtime_ns;
  return absl::OkStatus();
}

absl::Status TreeEditor::PutDirMeta(const VolumePath& path, const Entry& meta) {
  if (path.is_root()) return absl::OkStatus();
  if (absl::Status s = PutDir(path, meta.mode, meta.mtime_ns); !s.ok()) return s;
  absl::StatusOr<Node*> parent = Walk(path.Parent(), true);
  if (!parent.ok()) return parent.status();
  auto slot = FindSlot((*parent)->tree, path.Name());
  slot->xattrs = meta.xattrs;
  slot->owner = meta.owner;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Entry>> TreeEditor::Resolve(const VolumePath& path) {
  if (path.is_root()) {
    absl::StatusOr<ObjectId> id = Flush();
    if (!id.ok()) return id.status();
    return Lookup(path);
  }
  absl::StatusOr<Node*> dir = Walk(path.Parent(), false);
  if (!dir.ok()) return dir.status();
  if (*dir == nullptr) return std::nullopt;
  Node* parent = *dir;
  auto slot = FindSlot(parent->tree, path.Name());
  if (slot == parent->tree.entries.end() || slot->name != path.Name()) return std::nullopt;
  if (auto child = parent->children.find(path.Name()); child != parent->children.end() && child->second->dirty) {
    absl::StatusOr<ObjectId> id = FlushNode(child->second.get());
    if (!id.ok()) return id.status();
    slot->tree = *id;
    slot->files = child->second->tree.TotalFiles();
    slot->size = child->second->tree.TotalBytes();
  }
  return *slot;
}

absl::Status TreeEditor::Remove(const VolumePath& path) {
  if (path.is_root()) return absl::InvalidArgumentError("cannot remove the volume root");
  absl::StatusOr<std::optional<Entry>> e = Lookup(path);
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(absl::StrCat("no such path: ", path.ToString()));
  absl::StatusOr<Node*> dir = Walk(path.Parent(), true);
  if (!dir.ok()) return dir.status();
  (*dir)->children.erase(path.Name());
  (*dir)->tree.entries.erase(FindSlot((*dir)->tree, path.Name()));
  return absl::OkStatus();
}

absl::StatusOr<ObjectId> TreeEditor::FlushNode(Node* node) {
  for (auto& [name, child] : node->children) {
    if (!child->dirty) continue;
    absl::StatusOr<ObjectId> id = FlushNode(child.get());
    if (!id.ok()) return id.status();
    auto slot = FindSlot(node->tree, name);
    slot->tree = *id;
    slot->files = child->tree.TotalFiles();
    slot->size = child->tree.TotalBytes();
  }
  absl::StatusOr<ObjectId> id = WriteTree(store_, node->tree);
  if (!id.ok()) return id.status();
  ++trees_written_;
  node->dirty = false;
  return id;
}

absl::StatusOr<ObjectId> TreeEditor::Flush() {
  if (!root_loaded_) {
    absl::StatusOr<Node*> root = Walk(VolumePath{}, false);
    if (!root.ok()) return root.status();
  }
  if (root_->dirty) {
    absl::StatusOr<ObjectId> id = FlushNode(root_.get());
    if (!id.ok()) return id.status();
    root_id_ = *id;
  }
  total_files_ = root_->tree.TotalFiles();
  total_bytes_ = root_->tree.TotalBytes();
  return root_id_;
}

}  // namespace vol
