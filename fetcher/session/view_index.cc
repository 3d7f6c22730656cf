#include "fetcher/session/view_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/util/dir_fd.h"
#include "fetcher/volume/tree_editor.h"
#include "vol/session.h"

namespace vol {
namespace {

using FileKey = std::pair<uint64_t, uint64_t>;

bool AtOrBelow(const std::string& path, const std::string& dir) {
  return path == dir || dir.empty() ||
         (path.size() > dir.size() && absl::StartsWith(path, dir) && path[dir.size()] == '/');
}

class RecordsViewIndex : public ViewIndex {
 public:
  explicit RecordsViewIndex(const absl::flat_hash_map<std::string, FetchEngine::Record>& records) {
    for (const auto& [path, r] : records) {
      if (r.ino == 0 || (r.complete && r.dirty)) continue;  // its bytes are in the view
      origins_[{r.dev, r.ino}] = r.entry;
    }
  }
  absl::StatusOr<std::optional<Entry>> Origin(uint64_t dev, uint64_t ino) override {
    auto it = origins_.find(FileKey{dev, ino});
    if (it == origins_.end()) return std::nullopt;
    return it->second;
  }
  bool Unpopulated(uint64_t, uint64_t) override { return false; }

 private:
  absl::flat_hash_map<FileKey, Entry> origins_;
};

// The presence table of a dead session, read-only.
class DeadPresence {
 public:
  ~DeadPresence() {
    if (base_ != nullptr) munmap(base_, len_);
  }
  absl::Status Open(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(absl::StrCat("cannot open ", path), errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(vol_presence_header)) {
      close(fd);
      return absl::DataLossError(absl::StrCat(path, " is not a presence table"));
    }
    len_ = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, len_, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return ErrnoError(absl::StrCat("cannot map ", path), errno);
    base_ = p;
    const auto* h = static_cast<const vol_presence_header*>(base_);
    if (h->magic != VOL_PRESENCE_MAGIC || h->table_slots == 0 ||
        h->table_offset + h->table_slots * sizeof(vol_presence_file) > len_) {
      return absl::DataLossError(absl::StrCat(path, " is not a presence table"));
    }
    return absl::OkStatus();
  }
  const vol_presence_file* Find(uint64_t dev, uint64_t ino) const {
    const auto* h = static_cast<const vol_presence_header*>(base_);
    const auto* slots = reinterpret_cast<const vol_presence_file*>(static_cast<const char*>(base_) + h->table_offset);
    uint64_t mask = h->table_slots - 1;
    for (uint64_t i = vol_presence_hash(ino) & mask, n = 0; n < h->table_slots; i = (i + 1) & mask, ++n) {
      if (slots[i].ino == 0) return nullptr;
      if (slots[i].ino == ino && slots[i].dev == dev) return &slots[i];
    }
    return nullptr;
  }
  // Complete: every byte is in the view file (fetched, or discarded and rewritten).
  bool Incomplete(uint64_t dev, uint64_t ino) const {
    const vol_presence_file* slot = Find(dev, ino);
    return slot != nullptr && __atomic_load_n(&slot->complete, __ATOMIC_ACQUIRE) == 0;
  }

 private:
  void* base_ = nullptr;
  size_t len_ = 0;
};

class DeadViewIndex : public ViewIndex {
 public:
  DeadViewIndex(ObjectStore& store, const ObjectId& base, std::vector<ViewRename> renames, std::string view)
      : base_(store, base), renames_(std::move(renames)), view_(std::move(view)) {}

  absl::Status Open(const std::string& presence) { return presence_.Open(presence); }

  absl::StatusOr<std::optional<Entry>> Origin(uint64_t dev, uint64_t ino) override {
    if (!presence_.Incomplete(dev, ino)) return std::nullopt;
    if (!indexed_) {
      indexed_ = true;
      UniqueFd root(open(view_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!root.ok()) return ErrnoError(absl::StrCat("cannot open ", view_), errno);
      if (absl::Status s = Index(root.get(), ""); !s.ok()) return s;
    }
    auto it = origins_.find(FileKey{dev, ino});
    if (it == origins_.end()) {
      return absl::DataLossError(absl::StrCat("a file of ", view_, " (inode ", ino,
                                              ") was never fetched whole and is not in the view"));
    }
    return it->second;
  }
  bool Unpopulated(uint64_t, uint64_t) override { return false; }

 private:
  // Every file of the view whose content was never fetched whole: where it
  // came from in the base snapshot.
  absl::Status Index(int dirfd, const std::string& rel) {
    absl::StatusOr<std::vector<std::string>> names = ListDirFd(dirfd);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      std::string path = rel.empty() ? name : absl::StrCat(rel, "/", name);
      struct stat st;
      if (!StatAt(dirfd, name, &st)) continue;
      if (S_ISDIR(st.st_mode)) {
        absl::StatusOr<UniqueFd> sub = OpenDirAt(dirfd, name);
        if (!sub.ok()) continue;
        if (absl::Status s = Index(sub->get(), path); !s.ok()) return s;
        continue;
      }
      if (!S_ISREG(st.st_mode) || !presence_.Incomplete(st.st_dev, st.st_ino)) continue;
      std::string origin = PathBeforeRenames(path, renames_);
      absl::StatusOr<VolumePath> vp = ParseVolumePath(origin);
      absl::StatusOr<std::optional<Entry>> e =
          vp.ok() ? base_.Lookup(*vp) : absl::StatusOr<std::optional<Entry>>(vp.status());
      if (!e.ok()) return e.status();
      if (!e->has_value() || !(*e)->is_file() || (*e)->size != static_cast<uint64_t>(st.st_size)) {
        return absl::DataLossError(absl::StrCat(
            "cannot publish ", ShowBytes(path), ": its content was never fetched and its committed version (/",
            ShowBytes(origin), " in the session's base snapshot) is not known"));
      }
      origins_[{st.st_dev, st.st_ino}] = **e;
    }
    return absl::OkStatus();
  }

  TreeEditor base_;
  std::vector<ViewRename> renames_;
  std::string view_;
  DeadPresence presence_;
  bool indexed_ = false;
  absl::flat_hash_map<FileKey, Entry> origins_;
};

}  // namespace

std::string PathBeforeRenames(std::string path, const std::vector<ViewRename>& renames) {
  for (auto r = renames.rbegin(); r != renames.rend(); ++r) {
    if (AtOrBelow(path, r->to) && !r->to.empty()) path = r->from + path.substr(r->to.size());
  }
  return path;
}

std::unique_ptr<ViewIndex> NewRecordsViewIndex(
    const absl::flat_hash_map<std::string, FetchEngine::Record>& records) {
  return std::make_unique<RecordsViewIndex>(records);
}

absl::StatusOr<std::unique_ptr<ViewIndex>> NewDeadViewIndex(ObjectStore& store, const ObjectId& base,
                                                            std::vector<ViewRename> renames,
                                                            const std::string& view,
                                                            const std::string& presence) {
  auto index = std::make_unique<DeadViewIndex>(store, base, std::move(renames), view);
  if (absl::Status s = index->Open(presence); !s.ok()) return s;
  return index;
}

}  // namespace vol
