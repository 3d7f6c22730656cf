#include "fetcher/session/view_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol {
namespace {

bool AtOrBelow(const std::string& path, const std::string& dir) {
  return path == dir || dir.empty() ||
         (path.size() > dir.size() && absl::StartsWith(path, dir) && path[dir.size()] == '/');
}

class SessionViewIndex : public ViewIndex {
 public:
  SessionViewIndex(FetchEngine& engine, ViewPopulator& populator) : engine_(engine), populator_(populator) {}
  absl::StatusOr<std::optional<Entry>> Origin(uint64_t dev, uint64_t ino) override {
    if (std::optional<Entry> e = engine_.EntryOf(dev, ino)) return e;
    if (!populator_.Unpopulated(dev, ino)) return std::nullopt;  // its contents may have changed
    return populator_.DirEntry(dev, ino);
  }
  bool Unpopulated(uint64_t dev, uint64_t ino) override { return populator_.Unpopulated(dev, ino); }

 private:
  FetchEngine& engine_;
  ViewPopulator& populator_;
};

// Over the presence table of a dead session (read-only) and the store.
class DeadViewIndex : public ViewIndex {
 public:
  explicit DeadViewIndex(ObjectStore& store) : store_(store) {}
  ~DeadViewIndex() override {
    if (base_ != nullptr) munmap(base_, len_);
  }
  absl::Status Open(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.ok()) return ErrnoError(absl::StrCat("cannot open ", path), errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(vol_presence_header)) {
      return absl::DataLossError(absl::StrCat(path, " is not a presence table"));
    }
    len_ = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, len_, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return ErrnoError(absl::StrCat("cannot map ", path), errno);
    base_ = p;
    const auto* h = static_cast<const vol_presence_header*>(p);
    if (h->magic != VOL_PRESENCE_MAGIC || h->version != VOL_PRESENCE_VERSION || h->table_slots == 0 ||
        h->table_offset + h->table_slots * sizeof(vol_presence_file) > len_) {
      return absl::DataLossError(absl::StrCat(path, " is not a presence table this vol reads"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<Entry>> Origin(uint64_t dev, uint64_t ino) override {
    const vol_presence_file* s = Find(dev, ino);
    if (s == nullptr) return std::nullopt;  // made or written by the program: the view holds it
    if (s->kind == VOL_SLOT_DIR && s->complete != 0) return std::nullopt;  // populated: its contents may have changed
    if (s->kind != VOL_SLOT_DIR && !(s->kind == VOL_SLOT_FILE && (s->flags & VOL_SLOT_SHARED))) return std::nullopt;
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
      // Never published from the view's bytes: an unfetched file reads as zeros there.
      if (!t.ok()) return t.status();
      it = trees_.emplace(tree, *std::move(t)).first;
    }
    if (s->origin_index >= it->second.entries.size() ||
        it->second.entries[s->origin_index].is_dir() != (s->kind == VOL_SLOT_DIR)) {
      return absl::DataLossError(absl::StrCat("the presence table names an origin its tree ", tree.Hex(),
                                              " does not have"));
    }
    Entry e = it->second.entries[s->origin_index];
    e.name.clear();
    return e;
  }
  bool Unpopulated(uint64_t dev, uint64_t ino) override {
    const vol_presence_file* s = Find(dev, ino);
    return s != nullptr && s->kind == VOL_SLOT_DIR && s->complete == 0;
  }

 private:
  const vol_presence_file* Find(uint64_t dev, uint64_t ino) const {
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

  ObjectStore& store_;
  void* base_ = nullptr;
  size_t len_ = 0;
  absl::flat_hash_map<ObjectId, Tree> trees_;
};

class MapViewIndex : public ViewIndex {
 public:
  MapViewIndex(absl::flat_hash_map<InodeKey, Entry> origins, absl::flat_hash_set<InodeKey> unpopulated)
      : origins_(std::move(origins)), unpopulated_(std::move(unpopulated)) {}
  absl::StatusOr<std::optional<Entry>> Origin(uint64_t dev, uint64_t ino) override {
    auto it = origins_.find(InodeKey{dev, ino});
    if (it == origins_.end()) return std::nullopt;
    return it->second;
  }
  bool Unpopulated(uint64_t dev, uint64_t ino) override { return unpopulated_.contains(InodeKey{dev, ino}); }

 private:
  absl::flat_hash_map<InodeKey, Entry> origins_;
  absl::flat_hash_set<InodeKey> unpopulated_;
};

}  // namespace

std::string PathBeforeRenames(std::string path, const std::vector<ViewRename>& renames) {
  for (auto r = renames.rbegin(); r != renames.rend(); ++r) {
    if (AtOrBelow(path, r->to) && !r->to.empty()) path = r->from + path.substr(r->to.size());
  }
  return path;
}

std::unique_ptr<ViewIndex> NewSessionViewIndex(FetchEngine& engine, ViewPopulator& populator) {
  return std::make_unique<SessionViewIndex>(engine, populator);
}

absl::StatusOr<std::unique_ptr<ViewIndex>> NewDeadViewIndex(ObjectStore& store, const std::string& presence) {
  auto index = std::make_unique<DeadViewIndex>(store);
  if (absl::Status s = index->Open(presence); !s.ok()) return s;
  return index;
}

std::unique_ptr<ViewIndex> NewMapViewIndex(absl::flat_hash_map<InodeKey, Entry> origins,
                                           absl::flat_hash_set<InodeKey> unpopulated) {
  return std::make_unique<MapViewIndex>(std::move(origins), std::move(unpopulated));
}

}  // namespace vol
