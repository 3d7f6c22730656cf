#include "fetcher/session/change_scanner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/transfer/entry_metadata.h"
#include "fetcher/util/dir_fd.h"
#include "fetcher/volume/tree_editor.h"

namespace vol {
namespace {

// A path for a message: whole unless it is very long.
std::string Shown(const VolumePath& path) {
  std::string s = ShowBytes(path.ToString());
  if (s.size() <= 160) return s;
  return absl::StrCat(s.substr(0, 80), "…", s.substr(s.size() - 60));
}

// What the view has at one path: a local object (`dirfd`, `name`, `st`), or
// an entry of a directory that was never materialised (`snapshot`).
struct ViewItem {
  int dirfd = -1;
  std::string name;
  struct stat st = {};
  const Entry* snapshot = nullptr;

  bool is_dir() const { return snapshot ? snapshot->is_dir() : S_ISDIR(st.st_mode); }
  bool is_special() const {
    return snapshot == nullptr && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode);
  }
};

class Scanner {
 public:
  Scanner(ObjectStore& store, const ObjectId& base, const std::string& view, const std::string& mount,
          ViewIndex& index, const ScanOptions& options)
      : store_(store), bstar_(store, base), view_(view), mount_(mount), index_(index), options_(options) {
    bstar_.set_replace_files_in_the_way(true);
  }

  absl::StatusOr<ScanResult> Run() {
    RaiseOpenFileLimit();
    if (!options_.scratch.empty()) {
      scratch_.reset(open(options_.scratch.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    if (absl::Status s = Moves(); !s.ok()) return s;
    UniqueFd root(open(view_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.ok()) return ErrnoError(absl::StrCat("cannot open the view ", view_), errno);
    if (options_.full) {
      absl::StatusOr<std::vector<Entry>> bs = bstar_.List(VolumePath{});
      if (!bs.ok()) return bs.status();
      if (absl::Status s = DiffLocalDir(VolumePath{}, *bs, root.get()); !s.ok()) return s;
    } else {
      std::vector<std::pair<std::string, UniqueFd>> chain;  // open directories of the last top's parent
      for (const VolumePath& top : Tops(options_.dirty)) {
        if (absl::Status s = DiffTop(top, root.get(), chain); !s.ok()) return s;
      }
    }
    return std::move(result_);
  }

 private:
  // The changed paths, sorted, without those below another (the diff of a
  // path covers everything below it). The root itself is left out: its own
  // mode and mtime are not stored, and its entries are changed paths of their own.
  static std::vector<VolumePath> Tops(const std::vector<std::string>& dirty) {
    std::vector<VolumePath> paths;
    for (const std::string& d : dirty) {
      absl::StatusOr<VolumePath> p = ParseVolumePath(d);
      if (p.ok() && !p->is_root()) paths.push_back(*std::move(p));  // one outside the mount is not ours
    }
    // By components, so that everything below a path comes right after it.
    std::sort(paths.begin(), paths.end(), [](const VolumePath& a, const VolumePath& b) { return a.parts < b.parts; });
    std::vector<VolumePath> tops;
    for (VolumePath& p : paths) {
      const VolumePath* last = tops.empty() ? nullptr : &tops.back();
      if (last != nullptr && p.parts.size() >= last->parts.size() &&
          std::equal(last->parts.begin(), last->parts.end(), p.parts.begin())) {
        continue;
      }
      tops.push_back(std::move(p));
    }
    return tops;
  }

  static std::string Rel(const VolumePath& p) { return p.ToString().substr(1); }

  void Push(Change::Kind kind, const VolumePath& path, std::optional<Entry> entry = std::nullopt) {
    Change c;
    c.kind = kind;
    c.path = path;
    c.entry = std::move(entry);
    result_.changes.push_back(std::move(c));
  }

  // The session's renames, replayed on the base (B*) and listed as moves.
  absl::Status Moves() {
    for (const ViewRename& r : options_.renames) {
      absl::StatusOr<VolumePath> from = ParseVolumePath(r.from), to = ParseVolumePath(r.to);
      if (!from.ok()) return from.status();
      if (!to.ok()) return to.status();
      if (from->is_root() || to->is_root() || *from == *to) continue;
      Change c;
      c.kind = Change::Kind::kMove;
      c.from = *from;
      c.path = *to;
      absl::StatusOr<std::optional<Entry>> before = bstar_.Resolve(*from);
      if (!before.ok()) return before.status();
      c.entry = *before;
      ChangeStats ignored;
      if (absl::Status s = ReplayChanges(bstar_, {c}, ignored); !s.ok()) return s;
      result_.changes.push_back(std::move(c));
    }
    return absl::OkStatus();
  }

  // Compares B* and the view at `top`. `chain` holds the directories opened
  // for the previous top, reused for the part of the path they share.
  absl::Status DiffTop(const VolumePath& top, int root, std::vector<std::pair<std::string, UniqueFd>>& chain) {
    absl::StatusOr<std::optional<Entry>> b = bstar_.Lookup(top);
    if (!b.ok()) return b.status();
    const std::vector<std::string>& parts = top.parts;
    size_t keep = 0;
    while (keep < chain.size() && keep + 1 < parts.size() && chain[keep].first == parts[keep]) ++keep;
    chain.resize(keep);
    bool reachable = true;
    for (size_t i = keep; i + 1 < parts.size(); ++i) {
      absl::StatusOr<UniqueFd> fd = OpenDirAt(chain.empty() ? root : chain.back().second.get(), parts[i]);
      if (!fd.ok()) {
        // Gone, or no longer a directory (a symlink now): nothing is below it
        // in the view; the change of the directory itself is another path's.
        if (absl::IsNotFound(fd.status()) || absl::IsFailedPrecondition(fd.status())) {
          reachable = false;
          break;
        }
        return fd.status();
      }
      chain.emplace_back(parts[i], *std::move(fd));
    }
    ViewItem v;
    v.dirfd = chain.empty() ? root : chain.back().second.get();
    v.name = top.Name();
    bool present = reachable && StatAt(v.dirfd, v.name, &v.st);
    return Diff(top, *b, present ? &v : nullptr);
  }

  absl::Status Diff(const VolumePath& path, const std::optional<Entry>& b, const ViewItem* v) {
    if (v != nullptr && v->is_special()) {
      result_.special.push_back(Rel(path));
      v = nullptr;
    }
    if (v == nullptr) return b ? Removal(path, *b) : absl::OkStatus();
    if (path.parts.size() > kMaxDepth) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot commit ", Shown(path), ": it is ", path.parts.size(), " directories deep and a volume holds at most ",
          kMaxDepth));
    }
    if (path.Name().size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot commit ", Shown(path), ": its name is longer than 255 bytes"));
    }
    if (!v->is_dir()) {
      const Entry* before = nullptr;
      if (b && b->is_dir()) {
        if (absl::Status s = Removal(path, *b); !s.ok()) return s;
      } else if (b) {
        before = &*b;
      }
      return PutFile(path, before, *v);
    }
    bool b_dir = b && b->is_dir();
    absl::StatusOr<Entry> meta = DirMeta(*v, b_dir ? &*b : nullptr);
    // Removed since it was listed: the removal is a change of its own, for
    // the next commit (the program reported it).
    if (absl::IsNotFound(meta.status())) return absl::OkStatus();
    if (!meta.ok()) return meta.status();
    if (b && !b_dir) Push(Change::Kind::kRemove, path);
    if (!b_dir || !SameMetadata(*b, *meta)) Push(Change::Kind::kPutDir, path, *meta);
    std::vector<Entry> bs;
    if (b_dir) {
      absl::StatusOr<std::vector<Entry>> listed = bstar_.List(path);
      if (!listed.ok()) return listed.status();
      bs = *std::move(listed);
    }
    // Contents that are a snapshot tree: nothing changed when B* has that tree.
    const Entry* snapshot = v->snapshot;
    std::optional<Entry> origin;
    if (snapshot == nullptr && index_.Unpopulated(v->st.st_dev, v->st.st_ino)) {
      absl::StatusOr<std::optional<Entry>> o = index_.Origin(v->st.st_dev, v->st.st_ino);
      if (!o.ok()) return o.status();
      if (!o->has_value() || !(*o)->is_dir()) {
        return absl::InternalError(absl::StrCat(Shown(path), " is an unpopulated directory without a snapshot"));
      }
      origin = **o;
      snapshot = &*origin;
    }
    if (snapshot != nullptr) {
      if (b_dir) {
        absl::StatusOr<std::optional<Entry>> resolved = bstar_.Resolve(path);
        if (!resolved.ok()) return resolved.status();
        if (resolved->has_value() && (*resolved)->tree == snapshot->tree) return absl::OkStatus();
      }
      absl::StatusOr<Tree> tree = ReadTree(store_, snapshot->tree);
      if (!tree.ok()) return tree.status();
      std::vector<ViewItem> vs(tree->entries.size());
      for (size_t i = 0; i < vs.size(); ++i) {
        vs[i].name = tree->entries[i].name;
        vs[i].snapshot = &tree->entries[i];
      }
      return DiffChildren(path, bs, vs);
    }
    absl::StatusOr<UniqueFd> fd = OpenDirAt(v->dirfd, v->name);
    if (!fd.ok()) {
      // Removed or replaced since it was looked at: the program's next
      // change report brings it back to a commit.
      if (absl::IsNotFound(fd.status()) || absl::IsFailedPrecondition(fd.status())) {
        return DiffChildren(path, bs, {});
      }
      return fd.status();
    }
    return DiffLocalDir(path, bs, fd->get());
  }

  absl::Status DiffLocalDir(const VolumePath& path, const std::vector<Entry>& bs, int fd) {
    absl::StatusOr<std::vector<std::string>> names = ListDirFd(fd);
    if (!names.ok()) return names.status();
    std::vector<ViewItem> vs;
    vs.reserve(names->size());
    for (std::string& n : *names) {
      ViewItem v;
      v.dirfd = fd;
      v.name = std::move(n);
      if (StatAt(fd, v.name, &v.st)) vs.push_back(std::move(v));
    }
    return DiffChildren(path, bs, vs);
  }

  // Both sorted by name.
  absl::Status DiffChildren(const VolumePath& path, const std::vector<Entry>& bs, const std::vector<ViewItem>& vs) {
    size_t i = 0, j = 0;
    while (i < bs.size() || j < vs.size()) {
      absl::Status s;
      if (j == vs.size() || (i < bs.size() && bs[i].name < vs[j].name)) {
        s = Diff(path.Child(bs[i].name), bs[i], nullptr);
        ++i;
      } else if (i == bs.size() || vs[j].name < bs[i].name) {
        s = Diff(path.Child(vs[j].name), std::nullopt, &vs[j]);
        ++j;
      } else {
        s = Diff(path.Child(vs[j].name), bs[i], &vs[j]);
        ++i, ++j;
      }
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // What this session saw at `path` goes: files first, then each directory
  // if nothing is left in it.
  absl::Status Removal(const VolumePath& path, const Entry& b) {
    if (!b.is_dir()) {
      Push(Change::Kind::kRemove, path);
      return absl::OkStatus();
    }
    absl::StatusOr<std::vector<Entry>> below = bstar_.List(path);
    if (!below.ok()) return below.status();
    for (const Entry& e : *below) {
      if (absl::Status s = Removal(path.Child(e.name), e); !s.ok()) return s;
    }
    Push(Change::Kind::kRemoveDirIfEmpty, path);
    return absl::OkStatus();
  }

  absl::StatusOr<Entry> DirMeta(const ViewItem& v, const Entry* b) {
    if (v.snapshot) return *v.snapshot;
    Entry e;
    e.name = v.name;
    e.type = EntryType::kDir;
    e.mode = v.st.st_mode & 07777;
    e.mtime_ns = MtimeNs(v.st);
    e.tree = EmptyTreeId();
    absl::StatusOr<std::vector<Xattr>> x = ReadUserXattrs(v.dirfd, v.name);
    if (!x.ok()) return x.status();
    e.xattrs = *std::move(x);
    e.owner = OwnerToPublish(v.st, b);
    return e;
  }

  absl::Status PutFile(const VolumePath& path, const Entry* b, const ViewItem& v) {
    if (v.snapshot) {
      if (b == nullptr || !SameButName(*b, *v.snapshot)) Push(Change::Kind::kPut, path, *v.snapshot);
      return absl::OkStatus();
    }
    Entry e;
    e.name = v.name;
    e.mode = v.st.st_mode & 07777;
    e.mtime_ns = MtimeNs(v.st);
    e.owner = OwnerToPublish(v.st, b);
    if (S_ISLNK(v.st.st_mode)) {
      absl::StatusOr<std::string> target = ReadLinkAt(v.dirfd, v.name);
      if (!target.ok()) return absl::OkStatus();  // gone meanwhile: its removal is reported
      e.type = EntryType::kSymlink;
      // Targets into the view were written for the kernel; the volume keeps the mount's.
      e.target = RewriteSymlinkTarget(*target, view_, mount_);
      e.size = e.target.size();
      if (b == nullptr || !SameButName(*b, e)) Push(Change::Kind::kPut, path, std::move(e));
      return absl::OkStatus();
    }
    e.type = EntryType::kFile;
    absl::StatusOr<std::optional<Entry>> origin = index_.Origin(v.st.st_dev, v.st.st_ino);
    if (!origin.ok()) return origin.status();
    if (origin->has_value()) {
      // A content file of the shared cache: the program never changed it (it
      // would have got a private copy first), so it is its snapshot entry,
      // metadata included — whatever its inode shows, which is shared.
      const Entry& o = **origin;
      if (!o.is_file() || o.size != static_cast<uint64_t>(v.st.st_size)) {
        return absl::DataLossError(absl::StrCat(
            "cannot commit ", Shown(path), ": the view holds ", v.st.st_size,
            " bytes of it but its committed version has ", o.size, " and the rest were never fetched"));
      }
      e = o;
      e.name = v.name;
      if (b == nullptr || !SameButName(*b, e)) Push(Change::Kind::kPut, path, std::move(e));
      return absl::OkStatus();
    }
    // Only a file the program writes counts as open: a content file is open
    // for writing by the fetchers filling it, which the program never sees.
    if (IsOpen(v.st) || InFlux(path)) {
      result_.open.push_back(Rel(path));
      return absl::OkStatus();
    }
    // The view holds the content: pin the inode, then upload from the pin.
    std::string local;
    struct stat pst;
    absl::StatusOr<std::vector<Xattr>> x;
    std::string link_name = absl::StrCat(links_++);
    if (scratch_.ok() && linkat(v.dirfd, v.name.c_str(), scratch_.get(), link_name.c_str(), 0) == 0 &&
        fstatat(scratch_.get(), link_name.c_str(), &pst, AT_SYMLINK_NOFOLLOW) == 0) {
      local = absl::StrCat(options_.scratch, "/", link_name);
      x = ReadUserXattrs(scratch_.get(), link_name);
    } else {
      UniqueFd fd(openat(v.dirfd, v.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.ok()) {
        if (errno == ENOENT || errno == ELOOP) return absl::OkStatus();  // gone or replaced meanwhile
        return ErrnoError(absl::StrCat("cannot read ", Shown(path)), errno);
      }
      if (fstat(fd.get(), &pst) != 0) return ErrnoError(absl::StrCat("cannot read ", Shown(path)), errno);
      if (!S_ISREG(pst.st_mode)) return absl::OkStatus();  // replaced meanwhile
      local = FdPath(fd.get());
      x = ReadUserXattrs(fd.get(), "");
      result_.pins.push_back(std::move(fd));
    }
    if (!x.ok()) return x.status();
    if (IsOpen(pst) || InFlux(path)) {
      result_.open.push_back(Rel(path));
      return absl::OkStatus();
    }
    e.xattrs = *std::move(x);
    e.mode = pst.st_mode & 07777;
    e.mtime_ns = MtimeNs(pst);
    e.owner = OwnerToPublish(pst, b);
    e.size = static_cast<uint64_t>(pst.st_size);
    if (e.size > 0) {
      result_.uploads.push_back({path, local, EntryType::kFile, e.size, e.mode, e.mtime_ns, ""});
      result_.upload_change.push_back(result_.changes.size());
    }
    Push(Change::Kind::kPut, path, std::move(e));
    return absl::OkStatus();
  }

  bool InFlux(const VolumePath& path) const { return options_.in_flux && options_.in_flux(Rel(path)); }

  bool IsOpen(const struct stat& st) const {
    return options_.open_for_writing != nullptr &&
           options_.open_for_writing->contains(FileKey{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
  }

  ObjectStore& store_;
  TreeEditor bstar_;  // the base with the session's renames replayed
  std::string view_;
  std::string mount_;
  ViewIndex& index_;
  const ScanOptions& options_;
  UniqueFd scratch_;
  uint64_t links_ = 0;
  ScanResult result_;
};

}  // namespace

absl::StatusOr<ScanResult> ScanChanges(ObjectStore& store, const ObjectId& base, const std::string& view,
                                       const std::string& mount, ViewIndex& index, const ScanOptions& options) {
  return Scanner(store, base, view, mount, index, options).Run();
}

}  // namespace vol
