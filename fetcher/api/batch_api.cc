// libvol: batch uploads — files, directories and streams added one by one,
// published as one commit (include/vol/volume.h).
//
// Invariants:
//   - Content is uploaded as it is added; the commit only edits trees, and is
//     re-applied on the newest head when another writer commits first.
//   - Every addition is checked against `preview` — the head when the batch
//     began, with the batch's additions applied in memory — before its bytes
//     are sent, so a conflict (a file already there, a file over a directory)
//     is reported by the call that causes it; the commit checks again against
//     the head it lands on.
//   - The batch holds a WriteLock from its first upload until it commits or
//     is dropped, so `vol gc` anywhere keeps what it uploaded however long
//     the program takes.
//   - A batch whose addition failed half way (some chunks stored, no entry)
//     is still consistent: the failed addition left no entry behind.
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fetcher/api/api_error.h"
#include "fetcher/api/api_volume.h"
#include "fetcher/transfer/upload.h"
#include "fetcher/util/fs.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/place_entry.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/volume/volume_writer.h"
#include "fetcher/volume/write_lock.h"
#include "vol/volume.h"

using namespace vol;
using namespace vol::api;

struct vol_batch {
  vol_volume* v = nullptr;
  PlaceOptions place;
  std::unique_ptr<WriteLock> lock;
  std::unique_ptr<TreeEditor> preview;
  ChangeStats preview_stats;
  struct Item {
    VolumePath dest;
    Entry entry;
    std::string what;  // the local file, for messages
  };
  std::vector<Item> items;
  UploadStats stats;
  int open_writers = 0;
};

struct vol_writer {
  vol_batch* batch = nullptr;
  VolumePath dest;
  Entry entry;
  std::unique_ptr<ChunkedUpload> upload;
};

namespace {

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Stat of a local file a caller named, as an error the caller understands.
absl::StatusOr<struct stat> StatLocal(const char* local) {
  struct stat st;
  if (stat(local, &st) != 0) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("no such local file or directory: ", local));
    return ErrnoError(absl::StrCat("cannot read ", local), err);
  }
  return st;
}

// Uploads `items` after checking each against the preview, then records them.
int AddItems(vol_batch* b, const std::vector<LocalItem>& items) {
  for (const LocalItem& item : items) {
    Entry probe;
    probe.type = item.type;
    if (absl::Status s = CheckPlacement(*b->preview, item.dest, probe, item.local, b->place); !s.ok()) {
      return Fail(s);
    }
  }
  absl::StatusOr<std::vector<Entry>> entries = UploadItems(*b->v->store, items, b->stats, nullptr);
  if (!entries.ok()) return Fail(entries.status());
  for (size_t i = 0; i < items.size(); ++i) {
    absl::Status s = PlaceEntry(*b->preview, items[i].dest, (*entries)[i], items[i].local, b->place,
                                b->preview_stats);
    if (!s.ok()) return Fail(s);
    b->items.push_back({items[i].dest, (*entries)[i], items[i].local});
  }
  return 0;
}

}  // namespace

extern "C" {

int vol_batch_begin(vol_volume* v, int force, vol_batch** out) {
  return Guard([&] {
    if (v == nullptr || out == nullptr) return Fail(EINVAL, "vol_batch_begin: no volume");
    *out = nullptr;
    if (v->read_only) return ReadOnlyError(v);
    auto b = std::make_unique<vol_batch>();
    b->v = v;
    b->place.force = force != 0;
    b->place.force_hint = "force=True";
    absl::StatusOr<CommitInfo> head = ReadHead(*v->store, v->info.id);
    if (!head.ok()) return Fail(head.status());
    b->preview = std::make_unique<TreeEditor>(*v->store, head->root);
    absl::StatusOr<std::unique_ptr<WriteLock>> lock =
        WriteLock::Acquire(*v->store, absl::StrCat("batch upload to ", v->info.name));
    if (!lock.ok()) return Fail(lock.status());
    b->lock = *std::move(lock);
    *out = b.release();
    return 0;
  });
}

int vol_batch_put_file(vol_batch* b, const char* local, const char* remote) {
  return Guard([&] {
    if (b == nullptr || local == nullptr) return Fail(EINVAL, "vol_batch_put_file: no batch or file");
    absl::StatusOr<VolumePath> dest = PathArg(remote);
    if (!dest.ok()) return Fail(dest.status());
    absl::StatusOr<struct stat> st = StatLocal(local);
    if (!st.ok()) return Fail(st.status());
    if (S_ISDIR(st->st_mode)) {
      return Fail(EISDIR, absl::StrCat(local, " is a directory (use put_directory to upload it)"));
    }
    if (!S_ISREG(st->st_mode)) {
      return Fail(EINVAL, absl::StrCat("cannot upload ", local, ": only regular files can be put"));
    }
    if (absl::EndsWith(remote, "/")) *dest = dest->Child(BaseName(local));
    LocalItem item;
    item.dest = *dest;
    item.local = local;
    item.type = EntryType::kFile;
    item.size = static_cast<uint64_t>(st->st_size);
    item.mode = st->st_mode & 07777;
    item.mtime_ns = MtimeNs(*st);
    return AddItems(b, {item});
  });
}

int vol_batch_put_directory(vol_batch* b, const char* local, const char* remote) {
  return Guard([&] {
    if (b == nullptr || local == nullptr) return Fail(EINVAL, "vol_batch_put_directory: no batch or directory");
    absl::StatusOr<VolumePath> dest = PathArg(remote);
    if (!dest.ok()) return Fail(dest.status());
    absl::StatusOr<struct stat> st = StatLocal(local);
    if (!st.ok()) return Fail(st.status());
    if (!S_ISDIR(st->st_mode)) {
      return Fail(ENOTDIR, absl::StrCat(local, " is not a directory (use put_file to upload a file)"));
    }
    std::vector<LocalItem> items;
    if (absl::Status s = ScanLocal(local, *dest, items); !s.ok()) return Fail(s);
    return AddItems(b, items);
  });
}

int vol_batch_open_file(vol_batch* b, const char* remote, uint32_t mode, vol_writer** out) {
  return Guard([&] {
    if (b == nullptr || out == nullptr) return Fail(EINVAL, "vol_batch_open_file: no batch");
    *out = nullptr;
    absl::StatusOr<VolumePath> dest = PathArg(remote);
    if (!dest.ok()) return Fail(dest.status());
    auto w = std::make_unique<vol_writer>();
    w->batch = b;
    w->dest = *dest;
    w->entry.type = EntryType::kFile;
    w->entry.mode = mode == 0 ? 0644 : (mode & 07777);
    if (absl::Status s = CheckPlacement(*b->preview, w->dest, w->entry, "a stream", b->place); !s.ok()) {
      return Fail(s);
    }
    w->upload = std::make_unique<ChunkedUpload>(*b->v->store, nullptr);
    ++b->open_writers;
    *out = w.release();
    return 0;
  });
}

int vol_writer_write(vol_writer* w, const void* data, size_t len) {
  return Guard([&] {
    if (w == nullptr || (data == nullptr && len > 0)) return Fail(EINVAL, "vol_writer_write: no writer");
    return Fail(w->upload->Write(absl::string_view(static_cast<const char*>(data), len)));
  });
}

int vol_writer_close(vol_writer* w) {
  std::unique_ptr<vol_writer> owned(w);
  return Guard([&] {
    if (w == nullptr) return Fail(EINVAL, "vol_writer_close: no writer");
    vol_batch* b = w->batch;
    --b->open_writers;
    w->entry.mtime_ns = absl::GetCurrentTimeNanos();
    if (absl::Status s = w->upload->Finish(w->entry, b->stats); !s.ok()) return Fail(s);
    ++b->stats.files;
    absl::Status s = PlaceEntry(*b->preview, w->dest, w->entry, "a stream", b->place, b->preview_stats);
    if (!s.ok()) return Fail(s);
    b->items.push_back({w->dest, w->entry, "a stream"});
    return 0;
  });
}

void vol_writer_abort(vol_writer* w) {
  if (w != nullptr) --w->batch->open_writers;
  delete w;
}

int vol_batch_commit(vol_batch* b, uint64_t* seq) {
  std::unique_ptr<vol_batch> owned(b);
  return Guard([&] {
    if (b == nullptr) return Fail(EINVAL, "vol_batch_commit: no batch");
    if (seq != nullptr) *seq = 0;
    if (b->open_writers > 0) {
      return Fail(EINVAL, "a file of this batch is still being written: close it before committing");
    }
    if (b->items.empty()) return 0;
    if (absl::Status s = b->lock->Check(); !s.ok()) return Fail(s);
    absl::StatusOr<MutationResult> r = CommitMutation(
        *b->v->store, b->v->info,
        absl::StrCat("batch upload: ", b->stats.files, b->stats.files == 1 ? " file" : " files"),
        [&](TreeEditor& tree, ChangeStats& stats) -> absl::Status {
          for (const vol_batch::Item& item : b->items) {
            absl::Status s = PlaceEntry(tree, item.dest, item.entry, item.what, b->place, stats);
            if (!s.ok()) return s;
          }
          return absl::OkStatus();
        });
    if (!r.ok()) return Fail(r.status());
    if (seq != nullptr && r->committed) *seq = r->commit.seq;
    return 0;
  });
}

void vol_batch_abort(vol_batch* b) { delete b; }

}  // extern "C"
