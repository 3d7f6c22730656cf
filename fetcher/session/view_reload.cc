#include "fetcher/session/view_reload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>

#include "absl/strings/str_cat.h"
#include "fetcher/format/material_mode.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/view_builder.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

struct timespec ToTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : absl::StrCat(dir, "/", name);
}

void AddTree(ObjectStore& store, const Entry& e, const std::string& path, std::vector<ReloadEdit>& out,
             absl::Status& status);

absl::Status Diff(ObjectStore& store, const ObjectId& from, const ObjectId& to, const std::string& dir,
                  std::vector<ReloadEdit>& out) {
  if (from == to) return absl::OkStatus();
  absl::StatusOr<Tree> a = ReadTree(store, from);
  if (!a.ok()) return a.status();
  absl::StatusOr<Tree> b = ReadTree(store, to);
  if (!b.ok()) return b.status();
  std::map<std::string, std::pair<const Entry*, const Entry*>> both;
  for (const Entry& e : a->entries) both[e.name].first = &e;
  for (const Entry& e : b->entries) both[e.name].second = &e;
  for (const auto& [name, pair] : both) {
    const auto [old, now] = pair;
    std::string path = Join(dir, name);
    if (now == nullptr) {
      out.push_back({path, ReloadEdit::kRemove, {}});
      continue;
    }
    if (old != nullptr && old->type == now->type) {
      if (now->is_dir()) {
        if (old->mode != now->mode || old->mtime_ns != now->mtime_ns) {
          out.push_back({path, ReloadEdit::kPut, *now});
        }
        if (absl::Status s = Diff(store, old->tree, now->tree, path, out); !s.ok()) return s;
        continue;
      }
      Entry x = *old, y = *now;
      x.name = y.name = "";
      if (x == y) continue;
    } else if (old != nullptr) {
      out.push_back({path, ReloadEdit::kRemove, {}});
    }
    absl::Status s;
    AddTree(store, *now, path, out, s);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void AddTree(ObjectStore& store, const Entry& e, const std::string& path, std::vector<ReloadEdit>& out,
             absl::Status& status) {
  out.push_back({path, ReloadEdit::kPut, e});
  if (e.is_dir()) status = Diff(store, EmptyTreeId(), e.tree, path, out);
}

bool Matches(const struct stat& st, const Entry& e, bool preserve_special_modes) {
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return S_ISREG(st.st_mode) && e.is_file() && static_cast<uint64_t>(st.st_size) == e.size &&
         (st.st_mode & 07777) == MaterialMode(e.mode, e.type, preserve_special_modes) && mtime == e.mtime_ns;
}

std::atomic<uint64_t> g_tmp{0};

}  // namespace

absl::StatusOr<std::vector<ReloadEdit>> PlanReload(ObjectStore& store, const ObjectId& from,
                                                   const ObjectId& to) {
  std::vector<ReloadEdit> out;
  if (absl::Status s = Diff(store, from, to, "", out); !s.ok()) return s;
  return out;
}

absl::Status ApplyReload(const std::vector<ReloadEdit>& edits, const std::string& view,
                         const std::string& mount, FetchEngine& engine,
                         const std::function<bool(const std::string&)>& keep, bool preserve_special_modes) {
  std::vector<const ReloadEdit*> dirs;  // modes and times last
  for (const ReloadEdit& ed : edits) {
    if (keep(ed.path)) continue;
    std::string local = absl::StrCat(view, "/", ed.path);
    struct stat st;
    bool exists = lstat(local.c_str(), &st) == 0;
    if (ed.kind == ReloadEdit::kRemove) {
      if (!exists) continue;
      if (S_ISDIR(st.st_mode)) {
        // Files below with content still to come keep getting it in their inodes.
        for (const auto& [path, rec] : engine.Records()) {
          if (path.size() > local.size() && path.compare(0, local.size(), local) == 0 && path[local.size()] == '/') {
            engine.Detach(path);
          }
        }
        if (absl::Status s = RemoveTreeForce(local); !s.ok()) return s;
      } else {
        engine.Detach(local);
        if (unlink(local.c_str()) != 0 && errno != ENOENT) return ErrnoError(absl::StrCat("cannot remove ", local), errno);
      }
      continue;
    }
    const Entry& e = ed.entry;
    switch (e.type) {
      case EntryType::kDir:
        if (exists && !S_ISDIR(st.st_mode)) {
          engine.Detach(local);
          unlink(local.c_str());
          exists = false;
        }
        if (!exists && mkdir(local.c_str(), 0700) != 0) {
          return ErrnoError(absl::StrCat("cannot create view directory ", local), errno);
        }
        dirs.push_back(&ed);
        break;
      case EntryType::kSymlink: {
        std::string tmp = absl::StrCat(local, ".vol-reload.", g_tmp++);
        std::string target = RewriteSymlinkTarget(e.target, mount, view);
        if (symlink(target.c_str(), tmp.c_str()) != 0) return ErrnoError(absl::StrCat("cannot create ", local), errno);
        struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(e.mtime_ns)};
        utimensat(AT_FDCWD, tmp.c_str(), times, AT_SYMLINK_NOFOLLOW);
        if (exists && S_ISDIR(st.st_mode)) RemoveTreeForce(local).IgnoreError();
        engine.Detach(local);
        if (rename(tmp.c_str(), local.c_str()) != 0) return ErrnoError(absl::StrCat("cannot replace ", local), errno);
        break;
      }
      case EntryType::kFile: {
        if (exists && Matches(st, e, preserve_special_modes)) continue;  // the session's own commit: already there
        std::string tmp = absl::StrCat(local, ".vol-reload.", g_tmp++);
        std::vector<ViewFile> made;
        UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd.ok()) return ErrnoError(absl::StrCat("cannot create view file ", tmp), errno);
        if (e.size > 0 && ftruncate(fd.get(), static_cast<off_t>(e.size)) != 0) {
          return ErrnoError(absl::StrCat("cannot size view file ", tmp), errno);
        }
        fchmod(fd.get(), MaterialMode(e.mode, e.type, preserve_special_modes));
        struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(e.mtime_ns)};
        futimens(fd.get(), times);
        struct stat nst;
        fstat(fd.get(), &nst);
        fd.reset();
        engine.Detach(local);
        if (e.size > 0) {
          // The slot exists before the file appears at its path: no reader sees zeros.
          ViewFile vf;
          vf.path = local;
          vf.entry = e;
          vf.dev = nst.st_dev;
          vf.ino = nst.st_ino;
          if (absl::Status s = engine.AddFile(vf); !s.ok()) {
            unlink(tmp.c_str());
            return s;
          }
        }
        if (exists && S_ISDIR(st.st_mode)) RemoveTreeForce(local).IgnoreError();
        if (rename(tmp.c_str(), local.c_str()) != 0) return ErrnoError(absl::StrCat("cannot replace ", local), errno);
        break;
      }
    }
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    std::string local = absl::StrCat(view, "/", (*it)->path);
    chmod(local.c_str(), MaterialMode((*it)->entry.mode, EntryType::kDir, preserve_special_modes));
    struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec((*it)->entry.mtime_ns)};
    utimensat(AT_FDCWD, local.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  return absl::OkStatus();
}

}  // namespace vol
