#include "fetcher/session/committer.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/material_mode.h"
#include "fetcher/session/open_writers.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/transfer/upload.h"
#include "fetcher/util/fs.h"
#include "fetcher/volume/volume_writer.h"

namespace vol {
namespace {

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// One edit of the tree, computed (and uploaded) before the commit.
struct Op {
  VolumePath path;
  enum Kind { kRemove, kPut, kRebuildDir } kind = kPut;
  Entry entry;                     // kPut, and the directory itself for kRebuildDir
  std::vector<std::pair<VolumePath, Entry>> below;  // kRebuildDir: everything below, parents first
                                                    // (a directory with a tree: put as it is)
  std::vector<VolumePath> keep;    // kRebuildDir: open files whose old entries stay
};

class Planner {
 public:
  Planner(const SessionMount& m, ViewIndex& index, const absl::flat_hash_set<FileKey>* open)
      : m_(m), index_(index), open_(open) {}

  // The snapshot entry an unchanged view object mirrors (a content file, an
  // unpopulated directory), or nullopt.
  std::optional<Entry> OriginOf(const struct stat& st) {
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return std::nullopt;
    std::optional<Entry> e = index_.Origin(st.st_dev, st.st_ino);
    if (e && (e->is_dir() != S_ISDIR(st.st_mode) || (e->is_file() && e->size != static_cast<uint64_t>(st.st_size)))) {
      return std::nullopt;
    }
    return e;
  }

  // The entry for the view object at `local`, or nullopt when it is left out
  // (open for writing). Files to upload are queued in `uploads`.
  absl::StatusOr<std::optional<Entry>> EntryFor(const std::string& local, const VolumePath& path,
                                                const struct stat& st, std::vector<Entry*>* patch) {
    Entry e;
    e.mode = st.st_mode & 07777;
    e.mtime_ns = MtimeNs(st);
    if (S_ISLNK(st.st_mode)) {
      e.type = EntryType::kSymlink;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlink(local.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoError(absl::StrCat("cannot read link ", local), errno);
      target.resize(static_cast<size_t>(n));
      // Targets into the view were written for the kernel; the volume keeps the mount's.
      e.target = RewriteSymlinkTarget(target, m_.view, m_.mount);
      e.size = e.target.size();
      return e;
    }
    if (std::optional<Entry> origin = OriginOf(st)) {
      // Unchanged since the snapshot: a content file as it was; an
      // unpopulated directory's contents (its own mode and mtime are the view's).
      if (origin->is_dir()) {
        origin->mode = e.mode;
        origin->mtime_ns = e.mtime_ns;
      }
      return *origin;
    }
    if (S_ISDIR(st.st_mode)) {
      e.type = EntryType::kDir;
      e.tree = EmptyTreeId();
      return e;
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path.ToString(), " is not a file, directory or symlink and cannot be committed"));
    }
    // Upload from a hard link taken now: a program that replaces the file
    // (write tmp, rename over) while the commit reads it cannot mix two
    // versions; the link pins the inode whose size and mode are recorded.
    std::string pinned = local;
    struct stat pst = st;
    if (!scratch_.empty()) {
      std::string link_path = absl::StrCat(scratch_, "/", links_++);
      if (link(local.c_str(), link_path.c_str()) == 0 && lstat(link_path.c_str(), &pst) == 0) {
        pinned = link_path;
      } else {
        pst = st;
      }
    }
    if (open_ != nullptr && open_->contains(FileKey{pst.st_dev, pst.st_ino})) return std::nullopt;
    e.mode = pst.st_mode & 07777;
    e.mtime_ns = MtimeNs(pst);
    e.type = EntryType::kFile;
    e.size = static_cast<uint64_t>(pst.st_size);
    if (e.size > 0) {
      uploads_.push_back({path, pinned, EntryType::kFile, e.size, e.mode, e.mtime_ns, ""});
      if (patch) patch->push_back(nullptr);  // filled after the upload
    }
    return e;
  }

  absl::Status Walk(const std::string& local, const VolumePath& path, Op& op) {
    absl::StatusOr<std::vector<std::string>> names = ListDir(local);
    if (!names.ok()) return names.status();
    for (const std::string& n : *names) {
      std::string child = absl::StrCat(local, "/", n);
      struct stat st;
      if (lstat(child.c_str(), &st) != 0) continue;  // removed meanwhile
      VolumePath cp = path.Child(n);
      absl::StatusOr<std::optional<Entry>> e = EntryFor(child, cp, st, nullptr);
      if (!e.ok()) return e.status();
      if (!e->has_value()) {
        op.keep.push_back(cp);
        skipped_.push_back(cp);
        continue;
      }
      op.below.emplace_back(cp, **e);
      if (S_ISDIR(st.st_mode) && (*e)->tree == EmptyTreeId()) {
        if (absl::Status s = Walk(child, cp, op); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  std::vector<LocalItem> uploads_;
  std::vector<VolumePath> skipped_;
  std::string scratch_;  // where the hard links go ("" = upload from the view directly)
  uint64_t links_ = 0;

 private:
  const SessionMount& m_;
  ViewIndex& index_;
  const absl::flat_hash_set<FileKey>* open_;
};

bool Below(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && absl::StartsWith(path, dir) && path[dir.size()] == '/';
}

}  // namespace

absl::StatusOr<CommitReport> CommitChanges(ObjectStore& store, const SessionMount& mount,
                                           const std::vector<std::string>& changed_in, ViewIndex& index,
                                           bool skip_open) {
  CommitReport report;
  std::vector<std::string> changed = changed_in;
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  // A changed path below another changed path is covered by it.
  std::vector<std::string> top;
  for (const std::string& p : changed) {
    if (p.empty()) continue;  // the root itself: its children carry the changes
    if (!top.empty() && Below(p, top.back())) continue;
    top.push_back(p);
  }

  absl::flat_hash_set<FileKey> open;
  if (skip_open) open = FilesOpenForWriting();
  Planner planner(mount, index, skip_open ? &open : nullptr);
  // Beside the view, on its file system, so that hard links work.
  std::string scratch = absl::StrCat(mount.view, ".commit");
  RemoveTreeForce(scratch).IgnoreError();
  if (mkdir(scratch.c_str(), 0700) == 0) planner.scratch_ = scratch;
  struct CleanUp {
    std::string dir;
    ~CleanUp() { RemoveTreeForce(dir).IgnoreError(); }
  } cleanup{scratch};
  std::vector<Op> ops;
  absl::flat_hash_set<std::string> skipped_top;
  for (const std::string& p : top) {
    absl::StatusOr<VolumePath> vp = ParseVolumePath(p);
    if (!vp.ok()) return vp.status();
    std::string local = absl::StrCat(mount.view, "/", p);
    Op op;
    op.path = *vp;
    struct stat st;
    if (lstat(local.c_str(), &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) return ErrnoError(absl::StrCat("cannot read ", local), errno);
      op.kind = Op::kRemove;
      ops.push_back(std::move(op));
      continue;
    }
    absl::StatusOr<std::optional<Entry>> e = planner.EntryFor(local, *vp, st, nullptr);
    if (!e.ok()) return e.status();
    if (!e->has_value()) {
      skipped_top.insert(p);
      continue;
    }
    op.entry = **e;
    if (S_ISDIR(st.st_mode) && op.entry.tree == EmptyTreeId()) {
      op.kind = Op::kRebuildDir;
      if (absl::Status s = planner.Walk(local, *vp, op); !s.ok()) return s;
    }
    ops.push_back(std::move(op));
  }

  // Upload what the program wrote, then fill in those entries' chunks.
  UploadStats up;
  absl::StatusOr<std::vector<Entry>> uploaded = UploadItems(store, planner.uploads_, up, nullptr);
  if (!uploaded.ok()) return uploaded.status();
  absl::flat_hash_map<std::string, const Entry*> by_path;
  for (size_t i = 0; i < planner.uploads_.size(); ++i) {
    by_path[planner.uploads_[i].dest.ToString()] = &(*uploaded)[i];
  }
  auto fill = [&](const VolumePath& p, Entry& e) {
    if (!e.is_file() || e.size == 0 || !e.chunks.empty()) return;
    auto it = by_path.find(p.ToString());
    if (it != by_path.end()) e.chunks = it->second->chunks;
  };
  for (Op& op : ops) {
    fill(op.path, op.entry);
    for (auto& [p, e] : op.below) fill(p, e);
  }

  Mutation mutate = [&ops](TreeEditor& tree, ChangeStats& stats) -> absl::Status {
    for (const Op& op : ops) {
      absl::StatusOr<std::optional<Entry>> old = tree.Lookup(op.path);
      if (!old.ok()) return old.status();
      switch (op.kind) {
        case Op::kRemove:
          if (old->has_value()) {
            if (absl::Status s = tree.Remove(op.path); !s.ok()) return s;
            stats.files += (*old)->is_dir() ? std::max<uint64_t>((*old)->files, 1) : 1;
          }
          break;
        case Op::kPut:
          if (old->has_value() && **old == [&] { Entry e = op.entry; e.name = (*old)->name; return e; }()) break;
          if (absl::Status s = tree.Put(op.path, op.entry); !s.ok()) return s;
          stats.files += 1;
          stats.bytes += op.entry.is_file() ? op.entry.size : 0;
          break;
        case Op::kRebuildDir: {
          // Open files keep the entries they had.
          std::vector<std::pair<VolumePath, Entry>> kept;
          for (const VolumePath& k : op.keep) {
            absl::StatusOr<std::optional<Entry>> e = tree.Lookup(k);
            if (e.ok() && e->has_value()) kept.emplace_back(k, **e);
          }
          if (old->has_value()) {
            if (absl::Status s = tree.Remove(op.path); !s.ok()) return s;
          }
          if (absl::Status s = tree.PutDir(op.path, op.entry.mode, op.entry.mtime_ns); !s.ok()) return s;
          for (const auto& [p, e] : op.below) {
            absl::Status s = e.is_dir() && e.tree == EmptyTreeId() ? tree.PutDir(p, e.mode, e.mtime_ns) : tree.Put(p, e);
            if (!s.ok()) return s;
            if (!e.is_dir()) {
              stats.files += 1;
              stats.bytes += e.is_file() ? e.size : 0;
            }
          }
          for (const auto& [p, e] : kept) {
            if (absl::Status s = tree.Put(p, e); !s.ok()) return s;
          }
          stats.files += 1;
          break;
        }
      }
    }
    return absl::OkStatus();
  };
  if (!ops.empty()) {
    absl::StatusOr<MutationResult> r =
        CommitMutation(store, mount.volume, absl::StrCat("vol run on ", HostName()), mutate);
    if (!r.ok()) return r.status();
    report.committed = r->committed;
    report.seq = r->commit.seq;
    report.files = r->commit.files_changed;
    report.trees_written = r->trees_written;
  }
  report.bytes_uploaded = up.uploaded;
  absl::flat_hash_set<std::string> skipped;
  for (const VolumePath& p : planner.skipped_) skipped.insert(p.ToString().substr(1));
  for (const std::string& p : skipped_top) skipped.insert(p);
  for (const std::string& p : changed) {
    bool left = skipped.contains(p);
    for (const std::string& s : skipped) left = left || Below(s, p) || Below(p, s);
    (left ? report.skipped : report.done).push_back(p);
  }
  return report;
}

}  // namespace vol
