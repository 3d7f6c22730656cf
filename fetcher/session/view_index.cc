#include "fetcher/session/view_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol {

std::optional<Entry> SessionViewIndex::Origin(uint64_t dev, uint64_t ino) {
  if (std::optional<Entry> e = engine_.EntryOf(dev, ino)) return e;
  if (!populator_.Unpopulated(dev, ino)) return std::nullopt;  // its contents may have changed
  return populator_.DirEntry(dev, ino);
}

bool SessionViewIndex::Unpopulated(uint64_t dev, uint64_t ino) { return populator_.Unpopulated(dev, ino); }

absl::StatusOr<std::unique_ptr<DeadViewIndex>> DeadViewIndex::Open(const std::string& path, ObjectStore& store) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot open ", path), errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(vol_presence_header)) {
    return absl::DataLossError(absl::StrCat(path, " is not a presence table"));
  }
  size_t len = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return ErrnoError(absl::StrCat("cannot map ", path), errno);
  std::unique_ptr<DeadViewIndex> index(new DeadViewIndex(p, len, store));
  const auto* h = static_cast<const vol_presence_header*>(p);
  if (h->magic != VOL_PRESENCE_MAGIC || h->version != VOL_PRESENCE_VERSION || h->table_slots == 0 ||
      h->table_offset + h->table_slots * sizeof(vol_presence_file) > len) {
    return absl::DataLossError(absl::StrCat(path, " is not a presence table this vol reads"));
  }
  return index;
}

DeadViewIndex::~DeadViewIndex() { munmap(base_, len_); }

const vol_presence_file* DeadViewIndex::Find(uint64_t dev, uint64_t ino) const {
  const auto* h = static_cast<const vol_presence_header*>(base_);
  const auto* slots =
      reinterpret_cast<const vol_presence_file*>(static_cast<const char*>(base_) + h->table_offset);
  uint64_t mask = h->table_slots - 1;
  for (uint64_t i = vol_presence_hash(ino) & mask, n = 0; n < h->table_slots; i = (i + 1) & mask, ++n) {
    if (slots[i].ino == 0) return nullptr;
    if (slots[i].ino == ino && slots[i].dev == dev) return &slots[i];
  }
  return nullptr;
}

std::optional<Entry> DeadViewIndex::Origin(uint64_t dev, uint64_t ino) {
  const vol_presence_file* s = Find(dev, ino);
  if (s == nullptr || (s->kind != VOL_SLOT_FILE && s->kind != VOL_SLOT_DIR)) return std::nullopt;
  if (s->kind == VOL_SLOT_DIR && s->complete != 0) return std::nullopt;  // its contents may have changed
  ObjectId tree = ObjectId::FromBytes(s->origin_tree);
  if (s->origin_index == VOL_ORIGIN_ROOT) {
    Entry root;
    root.type = EntryType::kDir;
    root.mode = 0755;
    root.tree = tree;
    return root;
  }
  auto it = trees_.find(tree);
  if (it == trees_.end()) {
    absl::StatusOr<Tree> t = ReadTree(store_, tree);
    if (!t.ok()) {
      status_ = t.status();
      return std::nullopt;
    }
    it = trees_.emplace(tree, *std::move(t)).first;
  }
  if (s->origin_index >= it->second.entries.size()) return std::nullopt;
  Entry e = it->second.entries[s->origin_index];
  bool want_dir = s->kind == VOL_SLOT_DIR;
  if (e.is_dir() != want_dir) return std::nullopt;
  e.name.clear();
  return e;
}

bool DeadViewIndex::Unpopulated(uint64_t dev, uint64_t ino) {
  const vol_presence_file* s = Find(dev, ino);
  return s != nullptr && s->kind == VOL_SLOT_DIR && s->complete == 0;
}

}  // namespace vol
