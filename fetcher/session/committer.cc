#include "fetcher/session/committer.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fetcher/session/change_scanner.h"
#include "fetcher/session/open_writers.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/transfer/upload.h"
#include "fetcher/volume/change_replay.h"
#include "fetcher/volume/volume_writer.h"

namespace vol {
namespace {

// `a` is `b`, or above or below it.
bool Related(const std::string& a, const std::string& b) {
  auto below = [](const std::string& p, const std::string& d) {
    return d.empty() || (p.size() > d.size() && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/');
  };
  return a == b || below(a, b) || below(b, a);
}

}  // namespace

absl::StatusOr<CommitReport> CommitChanges(ObjectStore& store, const SessionMount& mount, ViewIndex& index,
                                           const CommitRequest& request) {
  const uint64_t epoch = request.writers != nullptr ? request.writers->Epoch() : 0;
  absl::flat_hash_set<FileKey> open;
  if (request.skip_open) open = FilesOpenForWriting();  // writers the shim does not see (static binaries)
  absl::flat_hash_set<std::string> cut_short(request.cut_short.begin(), request.cut_short.end());
  // Beside the view, on its file system, so that hard links work.
  std::string scratch = absl::StrCat(mount.view, ".commit");
  RemoveTreeForce(scratch).IgnoreError();
  bool have_scratch = mkdir(scratch.c_str(), 0700) == 0;
  struct CleanUp {
    std::string dir;
    ~CleanUp() { RemoveTreeForce(dir).IgnoreError(); }
  } cleanup{have_scratch ? scratch : ""};

  ScanOptions options;
  options.dirty = request.changed;
  options.full = request.full;
  options.renames = request.renames;
  options.open_for_writing = request.skip_open ? &open : nullptr;
  options.in_flux = [&](const std::string& rel) {
    return cut_short.contains(rel) ||
           (request.writers != nullptr && request.writers->InFlux(request.writers_mount, rel, !request.skip_open));
  };
  options.scratch = have_scratch ? scratch : "";
  absl::StatusOr<ScanResult> scan = ScanChanges(store, mount.base_root, mount.view, mount.mount, index, options);
  if (!scan.ok()) return scan.status();

  // Upload what the program wrote, then fill in those entries' chunks.
  UploadStats up;
  absl::StatusOr<std::vector<Entry>> uploaded = UploadItems(store, scan->uploads, up, nullptr);
  if (!uploaded.ok()) return uploaded.status();
  for (size_t i = 0; i < scan->uploads.size(); ++i) {
    scan->changes[scan->upload_change[i]].entry->chunks = (*uploaded)[i].chunks;
  }
  scan->pins.clear();
  if (request.writers != nullptr) {
    // A file opened for writing while it was read may have been uploaded
    // half old, half new: it waits for the next commit.
    std::vector<bool> drop(scan->changes.size(), false);
    bool any = false;
    for (size_t i = 0; i < scan->uploads.size(); ++i) {
      std::string rel = scan->uploads[i].dest.ToString().substr(1);
      if (!request.writers->OpenedSince(request.writers_mount, rel, epoch)) continue;
      drop[scan->upload_change[i]] = any = true;
      scan->open.push_back(rel);
    }
    if (any) {
      std::vector<Change> kept;
      for (size_t i = 0; i < scan->changes.size(); ++i) {
        if (!drop[i]) kept.push_back(std::move(scan->changes[i]));
      }
      scan->changes = std::move(kept);
    }
  }

  CommitReport report;
  report.base = mount.base_root;
  report.bytes_uploaded = up.uploaded;
  if (!scan->changes.empty()) {
    // What was uploaded is safe from vol gc only while the lock held (FORMAT.md).
    if (request.lock != nullptr) {
      if (absl::Status s = request.lock->Check(); !s.ok()) return s;
    }
    const std::vector<Change>& changes = scan->changes;
    absl::StatusOr<MutationResult> r = CommitMutation(
        store, mount.volume, absl::StrCat("vol run on ", HostName()),
        [&changes](TreeEditor& tree, ChangeStats& stats) { return ReplayChanges(tree, changes, stats); });
    if (!r.ok()) return r.status();
    report.committed = r->committed;
    report.seq = r->commit.seq;
    report.files = r->commit.files_changed;
    report.trees_written = r->trees_written;
    // The session's new base: the same changes on the old one.
    TreeEditor base(store, mount.base_root);
    ChangeStats ignored;
    if (absl::Status s = ReplayChanges(base, changes, ignored); !s.ok()) return s;
    absl::StatusOr<ObjectId> id = base.Flush();
    if (!id.ok()) return id.status();
    report.base = *id;
  }
  report.skipped = scan->open;
  report.special = scan->special;
  std::vector<std::string> changed = request.changed;
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  for (const std::string& p : changed) {
    bool left = std::any_of(scan->open.begin(), scan->open.end(), [&](const std::string& o) { return Related(o, p); });
    (left ? report.skipped : report.done).push_back(p);
  }
  std::sort(report.skipped.begin(), report.skipped.end());
  report.skipped.erase(std::unique(report.skipped.begin(), report.skipped.end()), report.skipped.end());
  return report;
}

}  // namespace vol
