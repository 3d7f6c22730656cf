#include "fetcher/session/written_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/material_mode.h"
#include "fetcher/format/object_id.h"
#include "fetcher/transfer/entry_metadata.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

// The chunks of the file open at fd, as `vol put` and commits cut them.
absl::StatusOr<std::vector<ChunkRef>> HashChunks(int fd, uint64_t size) {
  std::vector<ChunkRef> chunks;
  std::string buf(std::min<uint64_t>(size, kChunkSize), '\0');
  for (uint64_t off = 0; off < size; off += kChunkSize) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkSize, size - off));
    if (absl::Status s = PreadFull(fd, buf.data(), n, static_cast<off_t>(off)); !s.ok()) return s;
    chunks.push_back({ObjectId::Of(absl::string_view(buf.data(), n)), n});
  }
  return chunks;
}

}  // namespace

void WrittenFiles::Note(const vol_request& req) {
  if (req.op != VOL_OP_CHANGED || paths_.size() >= kMaxPaths) return;
  size_t first = strnlen(req.path, sizeof req.path);
  if (first >= sizeof req.path) return;
  switch (req.offset) {
    case VOL_CHANGED_PATH:
    case VOL_CHANGED_OPEN_WRITE:
    case VOL_CHANGED_CLOSE_WRITE:
      paths_.insert(std::string(req.path, first));
      break;
    case VOL_CHANGED_RENAME: {  // "OLD\0NEW\0": the file is now at NEW
      const char* to = req.path + first + 1;
      size_t room = sizeof req.path - first - 1;
      size_t n = strnlen(to, room);
      if (n < room) paths_.insert(std::string(to, n));
      break;
    }
    default:
      break;
  }
}

uint64_t WrittenFiles::AdoptAll(ContentCache& cache, const FetchEngine& engine, uint64_t budget) {
  uint64_t adopted = 0;
  for (const std::string& path : paths_) {
    for (const SessionMount& m : mounts_) {
      if (m.read_only || !absl::StartsWith(path, m.mount) || path.size() <= m.mount.size() + 1 ||
          path[m.mount.size()] != '/') {
        continue;
      }
      adopted += Adopt(cache, engine, m, absl::StrCat(m.view, path.substr(m.mount.size())), &budget);
      break;
    }
  }
  return adopted;
}

bool WrittenFiles::Adopt(ContentCache& cache, const FetchEngine& engine, const SessionMount& m,
                         const std::string& view_path, uint64_t* budget) {
  UniqueFd fd(open(view_path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.ok() || fstat(fd.get(), &st) != 0) return false;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  // A private file of this view: content files (shared, or linked twice) are
  // in the cache already, and a file the program linked elsewhere may change.
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || size == 0 || size > *budget ||
      engine.EntryOf(st.st_dev, st.st_ino).has_value()) {
    return false;
  }
  // Nobody else may have it open while it is hashed and linked: a write
  // lease is granted only then, and an open meanwhile breaks it (signalled
  // with SIGURG, which is ignored, rather than SIGIO, which would end us).
  fcntl(fd.get(), F_SETSIG, SIGURG);
  if (fcntl(fd.get(), F_SETLEASE, F_WRLCK) != 0) return false;
  bool adopted = false;
  absl::StatusOr<std::vector<ChunkRef>> chunks = HashChunks(fd.get(), size);
  absl::StatusOr<std::vector<Xattr>> xattrs = ReadUserXattrs(fd.get(), "");
  struct stat now;
  if (chunks.ok() && xattrs.ok() && fcntl(fd.get(), F_GETLEASE) == F_WRLCK && fstat(fd.get(), &now) == 0 &&
      now.st_size == st.st_size && MtimeNs(now) == MtimeNs(st) && now.st_mode == st.st_mode) {
    // The entry a commit of this file makes, as the next session materialises it.
    Entry e;
    e.type = EntryType::kFile;
    e.size = size;
    e.mode = MaterialMode(st.st_mode & 07777, EntryType::kFile, m.preserve_special_modes);
    e.mtime_ns = MtimeNs(st);
    e.chunks = *std::move(chunks);
    e.xattrs = *std::move(xattrs);
    e.owner = OwnerToPublish(st, nullptr);
    absl::StatusOr<bool> done = cache.Adopt(fd.get(), e);
    adopted = done.ok() && *done;
  }
  fcntl(fd.get(), F_SETLEASE, F_UNLCK);
  if (adopted) *budget -= size;
  return adopted;
}

}  // namespace vol
